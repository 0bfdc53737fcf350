"""The basin test (config ``basin_test_at``): at one main step, train the next ``basin_test_steps`` steps twice
from the same state, once as it is and once with the depth sign flipped (`mirror.flip_depth_sign`), on the same
batches with the same augmentations, and keep the branch whose weak objective is lower on ``basin_test_batches``
fixed multi-view batches. It uses no label: the objective is eq. 7 without L_H and L_z, i.e. alpha L_MC + beta
L_B (eqs. 8-11) plus the formulation's hinges, exactly `losses.weighted_total` of what the trainer minimises.

Why (docs/weak-supervision.md, 1.4 and 3.1): under eq. 10's fitted rotations a body mirrored in depth in every view
is as consistent as the truth (two mirrors differ by the proper rotation D R D), and L_B is mirror-symmetric, so
the mirror is a basin of its own. The handedness hinges only tilt it: a mirrored body clears them by moving the
nose or a knee along its ray, so descent that has entered the mirror's basin stays there, whatever the hinges
say. The ladder (`benchmarks/mirror_rung.py`, at the trained models' 2D error) puts the end of a descent from the
mirror above the end of a descent from the truth on 83 % of the groups and well above it on their mean, so the
objective itself, pooled over many groups, can tell which basin a network is in once each branch has settled into
its own. The flip is exact (eq. 5 is linear in the depth maps) and the 2D is untouched, so the flipped branch
starts from the mirror image of the network and differs from the kept one only in the sign of its depth.

Both branches start from the same state and the same data streams, so the test is a pure function of the state at
``basin_test_at``: a run interrupted during the test and resumed from its checkpoint runs the same test again.
The kept branch's loss terms become that stretch of history.csv. Cost: one branch's steps more, plus scoring.
"""
from __future__ import annotations

import copy

import torch

from weakpose import losses, mirror
from weakpose.config import pretrain_steps
from weakpose.history import loss_row

SCORE_STEP = 1_000_000_007  # the augmentation seed of the scoring batches (`Trainer.loss_terms`): never a training step
SCORE_BATCH = 1_000_000     # the batch index the scoring batches start at: never reached by training


def steps(cfg) -> tuple[int, int]:
    """(the main step of the test, the length of each branch) from the fractions ``basin_test_at`` and
    ``basin_test_steps`` of the main steps (``iterations``); each at least 1."""
    return max(1, round(cfg.basin_test_at * cfg.iterations)), max(1, round(cfg.basin_test_steps * cfg.iterations))


def due(trainer) -> bool:
    """True at the main step of the test in a run with multi-view losses (off while ``basin_test_at`` is 0)."""
    cfg = trainer.cfg
    return bool(cfg.basin_test_at and trainer.setsmv and cfg.loss_terms()["mc"]
                and trainer.step == pretrain_steps(cfg) + steps(cfg)[0])


def fixed_batches(trainer) -> list[tuple[dict, dict]]:
    """The ``basin_test_batches`` (2D batch, multi-view batch) pairs `score` uses: the same in every call."""
    it2, it_mv = trainer.loader_2d(SCORE_BATCH), trainer.loader_mv(SCORE_BATCH)
    return [trainer.next_batches(it2, it_mv) for _ in range(trainer.cfg.basin_test_batches)]


def snapshot(trainer) -> dict:
    return {"model": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
            "opt": copy.deepcopy(trainer.opt.state_dict()), "grad_norm": trainer.grad_norm.clone(),
            "step": trainer.step}


def restore(trainer, snap: dict) -> None:
    trainer.model.load_state_dict(snap["model"])
    trainer.opt.load_state_dict(snap["opt"])
    trainer.grad_norm, trainer.step = snap["grad_norm"].clone(), snap["step"]


def score(trainer, batches: list[tuple[dict, dict]]) -> float:
    """The weak objective of the network on ``batches`` (a list of (2D batch, multi-view batch) on the device):
    `losses.weak_total` (L_H and L_z left out), averaged over the batches; the network in eval mode
    (BatchNorm's running statistics, so the score changes nothing) and each batch augmented alike in every call."""
    was_training = trainer.model.training
    trainer.model.eval()
    total = 0.0
    with torch.no_grad():
        for i, (b2, bm) in enumerate(batches):
            total += float(losses.weak_total(trainer.loss_terms(b2, bm, SCORE_STEP + i, True), trainer.cfg))
    trainer.model.train(was_training)
    return total / max(len(batches), 1)


def branch(trainer, steps: int) -> list[torch.Tensor]:
    """``steps`` main steps from the trainer's state, with fresh data streams at its step (so both branches see
    the same batches, and two calls see what one call of their summed length does); returns each step's loss
    terms as history rows (`history.loss_row`)."""
    it2, it_mv = trainer.loader_2d(trainer.step), trainer.loader_mv(trainer.step - pretrain_steps(trainer.cfg))
    rows = []
    for _ in range(steps):
        b2, bm = trainer.next_batches(it2, it_mv)
        terms = trainer.train_step(b2, bm, True)
        rows.append(loss_row(terms))
    return rows


def basin_test(trainer) -> list[torch.Tensor]:
    """Run the test at the trainer's current step (see the module docstring). Leaves the trainer in the kept
    branch's state, one branch's length (`steps`) later, records the outcome in ``trainer.mirror.basin`` and returns
    the kept branch's loss-term rows for history.csv."""
    fixed = fixed_batches(trainer)
    start = snapshot(trainer)
    main_step, n = steps(trainer.cfg)
    rows_kept = branch(trainer, n)
    s_kept = score(trainer, fixed)
    kept = snapshot(trainer)
    restore(trainer, start)
    mirror.flip_depth_sign(trainer.model, trainer.opt)
    rows_flip = branch(trainer, n)
    s_flip = score(trainer, fixed)
    flipped = s_flip < s_kept
    if not flipped:
        restore(trainer, kept)
    trainer.mirror.basin = {"main_step": main_step, "score_kept": s_kept, "score_flipped": s_flip,
                            "flipped": bool(flipped)}
    if trainer.verbose:
        print(f"[weakpose] basin test at main step {main_step}: weak objective {s_kept:.4f} as is, {s_flip:.4f} "
              f"with the depth sign flipped: {'flipped' if flipped else 'kept'}", flush=True)
    return rows_flip if flipped else rows_kept
