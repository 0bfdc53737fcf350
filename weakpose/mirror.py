"""The mirror test (config ``mirror_test_every``; off in both formulations): a periodic vote on the handedness of
the multi-view poses, and the exact flip of the network's depth sign when the vote says the bodies are mirrored.

Why (docs/weak-supervision.md, `benchmarks/mirror_rung.py`): with eq. 10's fitted rotations, the views of a group
all mirrored in depth about their own pelvis (z^r -> -z^r) are exactly as consistent as the truth (two mirrors
differ by the proper rotation D R D, D = diag(1, 1, -1)), and L_B is mirror-symmetric. The handedness hinges of
`losses.chirality_loss` break the symmetry, but only on the joints they hinge (nose, knees): a mirrored body clears
them by moving those joints alone along their rays, which costs little L_MC, and descent then stays in the mirror's
basin. The test therefore votes with handedness signals the loss does NOT hinge (the elbows by default: they bend
forwards, right on 93-96 % of the synthetic H poses): a mirrored body has no reason to fake them. When the mean vote
of the last ``mirror_test_every`` main steps is below -``mirror_test_margin``, the depth layer (`PoseNet.depth`, a 1x1 conv whose output
enters eq. 5 linearly) and its Adam first moments are negated: every prediction's z^r changes sign exactly, the 2D
is untouched, and L_MC and L_B keep their values (up to perspective), so training continues from the mirror image
of itself.
"""
from __future__ import annotations

import torch

from weakpose import losses


def mirror_vote(points: torch.Tensor, terms: str = "elbows") -> torch.Tensor:
    """Each pose's handedness on the signals ``terms`` ('+'-joined names of `losses.handedness`), averaged over
    the signals: (..., J, 3) -> (...,) in [-1, 1]; positive for a real body, negative for a depth-mirrored one."""
    return losses.handedness(points, tuple(t for t in terms.split("+") if t)).mean(-1)


@torch.no_grad()
def flip_depth_sign(model: torch.nn.Module, opt: torch.optim.Optimizer | None = None) -> None:
    """Negate the latent-depth layer of a `PoseNet` (weight and bias) and, with ``opt`` (Adam), their first
    moments: z^r of every image changes sign exactly (eq. 5 is linear in the depth maps), the heatmaps do not."""
    for p in (model.depth.weight, model.depth.bias):
        p.neg_()
        if opt is not None and p in opt.state and "exp_avg" in opt.state[p]:
            opt.state[p]["exp_avg"].neg_()


def mirror_test(model: torch.nn.Module, opt: torch.optim.Optimizer | None, votes: torch.Tensor, margin: float,
                world: int = 1) -> tuple[bool, float, int]:
    """The trainer's test: ``votes`` (2,) = (summed `mirror_vote`, number of views) since the last test (summed
    over the ranks under DDP); when their mean is below -``margin``, `flip_depth_sign`. Returns (flipped, mean,
    views)."""
    votes = votes.clone()
    if world > 1:
        torch.distributed.all_reduce(votes)
    mean = float(votes[0] / votes[1].clamp_min(1.0))
    flip = mean < -margin
    if flip:
        flip_depth_sign(model, opt)
    return flip, mean, int(votes[1])


class MirrorTest:
    """The trainer's state of the test: the votes since the last test and the main steps after which it flipped;
    also the outcome of the basin test (`weakpose.basin`), empty until it ran."""

    def __init__(self, device):
        self.votes, self.flips, self.basin = torch.zeros(2, device=device), [], {}

    def add(self, vote: torch.Tensor, main_step: int, model, opt, cfg, world: int = 1, verbose: bool = False) -> bool:
        """Accumulate one step's vote (2,); every ``cfg.mirror_test_every`` main steps run `mirror_test`."""
        self.votes = self.votes + vote
        if main_step % cfg.mirror_test_every:
            return False
        flip, mean, n = mirror_test(model, opt, self.votes, cfg.mirror_test_margin, world)
        if flip:
            self.flips.append(main_step)
        if verbose and mean < 0:
            print(f"[weakpose] mirror test at main step {main_step}: mean vote {mean:+.3f} over {n} views: "
                  f"{'depth sign flipped' if flip else 'kept'}", flush=True)
        self.votes = torch.zeros_like(self.votes)
        return flip

    def state(self) -> dict:
        return {"mirror_votes": self.votes, "mirror_flips": list(self.flips), "basin_test": dict(self.basin)}

    def load(self, state: dict) -> None:
        self.votes = state.get("mirror_votes", self.votes).to(self.votes.device)
        self.flips = [int(s) for s in state.get("mirror_flips", [])]
        self.basin = dict(state.get("basin_test", {}))

    def summary(self, cfg) -> dict:
        """What metrics.json records of the two tests: the flips of the mirror test, the basin test's outcome."""
        return {**({"mirror_flips": self.flips} if cfg.mirror_test_every and cfg.mv else {}),
                **({"basin_test": self.basin} if self.basin else {})}
