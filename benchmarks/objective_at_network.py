"""Is a weak run's failure the objective's or the optimisation's? On H-twin TRAINING groups (4 views), with
a trained run's own 2D (uv, phi) and K' = A K, the run's weak objective alpha L_MC + beta L_B (+ gamma validity, its
own formulation: distance, invalid views, known R for WS+R) is scored for four depths per view:

- ``net``: the run's predicted z^r;  ``gt``: the ground-truth z^r (same 2D);
- ``flat``: z^r = 0;  ``mirror``: -(ground-truth z^r);  ``-net``: the network's depth sign flipped (what the basin
  test of `weakpose.basin` starts its second branch from).

``net < gt`` on most groups means the objective, given this 2D, prefers the network's answer to the true depth: the
objective (not the optimiser) is what fails. ``gt < flat`` and ``gt < mirror`` say whether it can tell the truth
from the trivial and the mirrored pose at all.

    python benchmarks/objective_at_network.py --out runs/diagnostics/objective_at_network.md

Needs the runs' checkpoints (see benchmarks/depth_diagnostics.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from weakpose import camera, geometry, losses
from weakpose.config import config_from_dict, formulation_of
from weakpose.data.loaders import open_for
from weakpose.evaluate import infer
from weakpose.model import load_checkpoint
from weakpose.runs import checkpoint_of
from weakpose.tables import write_diagnostic

CANDIDATES = ("net", "gt", "flat", "mirror", "-net")


def objective(cfg, uv, z, K_in, conf, bone_norm, R=None) -> float:
    """The run's weak objective of one group: uv (C, J, 2), z (C, J), K_in (C, 3, 3), conf (C, J), R (C, 3, 3) or
    None. The trainer's terms (`losses.weak_terms`: those its config switches on) weighted by the trainer's
    `losses.weighted_total`, without
    L_H and L_z (the 2D is fixed here and the weak rows have no 3D labels)."""
    rec = geometry.reconstruct(uv, z, K_in, invalid=cfg.invalid_views, hinge_margin=cfg.hinge_margin)
    pts, valid = rec[0], rec[2]
    C = uv.shape[0]
    mask = valid[None] if cfg.invalid_views == "mask" else torch.ones(1, C, dtype=torch.bool)
    on = cfg.loss_terms("main")
    zero = torch.zeros((), dtype=pts.dtype)
    t = {name: zero for name in losses.LOSS_NAMES[1:]}
    t.update(losses.weak_terms(pts[None], conf[None], mask, cfg, bone_norm,
                               penalty=rec[3] if on["validity"] else None, rotations=None if R is None else R[None]))
    return float(losses.weighted_total(t, cfg))


@torch.no_grad()
def score_run(run: Path, n_groups: int) -> dict:
    cfg = config_from_dict(json.loads((run / "config.json").read_text()))
    ckpt = checkpoint_of(run)
    if ckpt is None:
        raise FileNotFoundError(f"{run} has no checkpoint (checkpoints/ is not in git: retrain the run first)")
    model, mcfg, _ = load_checkpoint(ckpt, "cpu")
    ds = open_for(cfg, "H")
    bone_norm = torch.tensor(ds.meta["bone_stats"]["mean_normalised"], dtype=torch.float64)
    groups = [g for g in ds.groups(ds.split_mask("train")) if len(g) >= 4][:n_groups]
    scores = {c: [] for c in CANDIDATES}
    for g in groups:
        rows = g[np.linspace(0, len(g) - 1, 4).round().astype(int)]
        images = torch.from_numpy(np.stack([ds.image(int(r)) for r in rows]))
        K = torch.from_numpy(np.asarray(ds.K[rows], np.float64))
        out = infer(model.eval(), images, K, ds.crop_size, float(ds.meta["crop_margin"]), mcfg.input_size)
        K_in = camera.crop_intrinsics(out["A"], K).double()
        uv, conf = out["uv"].double(), out["conf"].double()
        zgt = losses.relative_depth_target(torch.from_numpy(np.asarray(ds.joints3d[rows], np.float64)))
        R = torch.from_numpy(np.asarray(ds.R[rows], np.float64)) if cfg.known_R else None
        depth = {"net": out["z_rel"].double(), "gt": zgt, "flat": torch.zeros_like(zgt), "mirror": -zgt,
                 "-net": -out["z_rel"].double()}
        for c in CANDIDATES:
            scores[c].append(objective(cfg, uv, depth[c], K_in, conf, bone_norm, R))
    s = {c: np.array(v) for c, v in scores.items()}
    return {"run": f"{run.parent.name}/{run.name}", "formulation": formulation_of(cfg), "mode": cfg.mode,
            "sup2d": cfg.sup2d, "input": cfg.input_size, "groups": len(groups),
            **{f"obj_{c}": float(np.median(s[c])) for c in CANDIDATES},
            "net<gt": float(np.mean(s["net"] < s["gt"])), "gt<flat": float(np.mean(s["gt"] < s["flat"])),
            "gt<mirror": float(np.mean(s["gt"] < s["mirror"])), "net<-net": float(np.mean(s["net"] < s["-net"])),
            "mean_net": float(np.mean(s["net"])), "mean_-net": float(np.mean(s["-net"])),
            "mean_gt": float(np.mean(s["gt"]))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run folders with config.json and a checkpoint")
    p.add_argument("--groups", type=int, default=48)
    p.add_argument("--out", default="runs/diagnostics/objective_at_network.md")
    a = p.parse_args()
    torch.set_num_threads(1)
    df = pd.DataFrame([score_run(Path(r), a.groups) for r in a.runs])
    print(write_diagnostic(
        df, a.out, "The weak objective at a trained network's own 2D (H-twin training groups)",
        f"python benchmarks/objective_at_network.py --out {a.out}{''.join(' ' + r for r in a.runs)}",
        f"; median objective over {a.groups} groups of 4 views per depth candidate, and the fraction of groups where "
        "one candidate scores lower than another (definitions in the script's docstring).", 3))


if __name__ == "__main__":
    main()
