"""The weak-loss path: from the network's 2.5D prediction of the multi-view images to the terms of eq. 7 that need
no 3D labels, and the gradient clip of the steps that carry them.

    2.5D (uv, z_rel) -> [ours: labelled 2D detached] -> eqs. 1-3 (`PoseNet.reconstruct`, fp32)
        -> L_MC (eqs. 8-10, or known rotations: WS+R), L_B (eq. 11)
        -> ours: validity hinge on views without a real root, handedness hinges (nose, knees), torso hinge

Every switch is a `TrainConfig` field that `config.FORMULATIONS` sets: "paper" leaves them at the literal eqs.
7-11, "ours" turns on what docs/weak-supervision.md measured. The trainer calls `weak_losses` once per main-stage
step and `clip_gradient` after the backward pass; nothing else in the trainer depends on the formulation.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from weakpose import geometry, losses, mirror
from weakpose.clipping import clip_to_running_norm


def weak_losses(model, out: dict[str, torch.Tensor], K: torch.Tensor, bm: dict, cfg,
                mean_bone: torch.Tensor) -> dict[str, torch.Tensor]:
    """The weak terms of one multi-view batch that ``cfg.loss_terms()`` switches on.

    Args:
        model: the `PoseNet` (its `reconstruct` holds the invalid-view treatment).
        out: `PoseNet.forward` of the B x C multi-view images only, in batch-major view order.
        K: (B * C, 3, 3) px intrinsics of those network inputs.
        bm: the multi-view batch (view_mask (B, C); R and has_extrinsics for WS+R).
        mean_bone: (16,) scale-normalised mean bone lengths of eq. 11.
    Returns {"mc", "limb", and those of "validity", "chirality", "foreshortening" that are on}: scalars; with
    ``mirror_test_every`` also "vote": (2,) the summed `mirror.mirror_vote` of the views in the loss and their
    number (no gradient), which the trainer accumulates for its mirror test.
    """
    B, C = bm["view_mask"].shape
    uv, probs = out["uv"], out["probs"]
    if cfg.detach_2d_3d:
        # ours: the 3D path sees the 2D detached (uv and eq. 5's weights), so the weak losses train the depth
        # maps; except the joints no 2D source labels (``free_2d_joints``), whose 2D only the weak losses train
        free = torch.zeros(uv.shape[1], dtype=torch.bool, device=uv.device)
        free[list(cfg.free_2d_joints)] = True
        uv = torch.where(free[:, None], uv, uv.detach())
        z_rel = geometry.relative_depth(torch.where(free[:, None, None], probs, probs.detach()), out["depth_maps"])
    else:
        z_rel = out["z_rel"]
    rec = model.reconstruct(uv, z_rel, K)
    points = rec["points"].reshape(B, C, -1, 3)
    conf = out["conf"].reshape(B, C, -1)
    view_mask = bm["view_mask"]
    # masked (the paper): invalid views leave L_MC / L_B; hinge (ours): they stay, placed at the closest approach
    # of eq. 3, and the validity penalty pulls them back
    mask = view_mask & (rec["valid"].reshape(B, C) if cfg.invalid_views == "mask" else True)
    penalty = rec["validity"].reshape(B, C) if "validity" in rec else None
    terms = losses.weak_terms(points, conf, mask, cfg, mean_bone, view_mask, penalty,
                              rotations=bm["R"] if cfg.known_R else None,
                              known=bm["has_extrinsics"].all(-1) if cfg.known_R else None)
    if cfg.mirror_test_every:
        with torch.no_grad():
            m = mask.to(points.dtype)
            terms["vote"] = torch.stack([(mirror.mirror_vote(points.detach(), cfg.mirror_test_terms) * m).sum(),
                                         m.sum()])
    return terms


def clip_gradient(params: Iterable[torch.nn.Parameter], running: torch.Tensor, cfg) -> torch.Tensor:
    """After the backward pass of a main-stage step with multi-view losses: with ``mv_grad_clip`` > 0 (ours),
    clip the gradient norm to that many times its running mean (`clipping.clip_to_running_norm`: L_MC spikes of
    badly conditioned eq. 3 roots). Returns the running mean (unchanged when the clip is off)."""
    if cfg.mv_grad_clip > 0 and cfg.loss_terms()["mc"]:
        return clip_to_running_norm(params, running, cfg.mv_grad_clip)
    return running
