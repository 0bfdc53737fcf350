"""How a trained run's depth is wrong, not only how much. For every run folder given (or every cpu-profile
weak row of results/table1), on the first ``--n`` test rows of its evaluation split:

- ``mirrored``: fraction of images whose root-relative predicted depth z_p fits the ground truth z_g with a negative
  least-squares slope (z_p ~ s z_g, s < 0): the depth sign is flipped, the mirror eq. 10 cannot see;
- ``slope``: median of s (1 = right depth scale, 0 = a flat pose, < 0 = mirrored);
- ``lean``: median slope of the depth error (z_p - z_g) against the ground-truth image-vertical coordinate y: a
  pose leaning towards / away from the camera (0 = upright; -1 = 45 degrees, head away, feet near);
- ``xy_ratio``: mean |x, y| of the predicted root-relative joints over the ground truth's (the eq. 12 scale);
- ``depth_ratio``: mean |z_p| over mean |z_g|;
- ``p_mpjpe_sub``: P-MPJPE (mm) on these rows; ``p_mpjpe_unmirrored``: the same with each mirrored image's
  root-relative depth negated (a sign oracle): how much of the error the mirror alone explains;
  ``flat_p_mpjpe``: the same rows with the depth set to zero (the flat pose of the same 2D).
- ``chiral_ok``: fraction of predictions whose handedness (`losses.chirality`) clears the chirality prior's margin
  0.1; ``mirrored_chiral_ok``: the same over the mirrored images only (high = the prior is satisfied although the
  body is mirrored: the triple product hinges on the nose's depth, which a mirrored body can keep unmirrored);
  ``nose_forward_agree``: fraction of images whose nose-minus-thorax depth has the ground truth's sign;
  ``knees_ok`` / ``mirrored_knees_ok``: the same as chiral_ok for the knees (`losses.knee_handedness` > 0 on both:
  both knees bend backwards), over all / the mirrored images (the ground truth: 100 %);
- ``elbows_ok`` / ``mirrored_elbows_ok``: the same for the elbows (`losses.elbow_handedness` > 0 on both; the
  ground truth: 93-96 %), which no loss hinges; ``elbow_vote`` / ``mirrored_elbow_vote``: the mean
  `mirror.mirror_vote` (elbows) the trainer's mirror test accumulates (the ground truth: +0.33);
- ``inplane``: median share of the predicted bone length in the image plane (`losses.foreshortening`; the ground
  truth: 0.85-0.88; the end-on collapse: ~0.3).

    python benchmarks/depth_diagnostics.py --out runs/diagnostics/depth_diagnostics.md

Needs the runs' checkpoints (gitignored: retrain a row with ``python -m weakpose.trainer --config
<run>/config.json --out <run> --shared-root results/shared2d``); runs without one are listed as such.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from weakpose import losses, metrics, mirror, skeleton
from weakpose.config import formulation_of
from weakpose.runs import infer_test_rows
from weakpose.tables import write_diagnostic


def depth_stats(pose_mm: np.ndarray, gt3d: np.ndarray) -> dict[str, float]:
    """The statistics of the module docstring from predicted and ground-truth poses (N, J, 3) in camera mm."""
    P, G = pose_mm - pose_mm[:, :1], gt3d - gt3d[:, :1]
    zp, zg = P[..., 2], G[..., 2]
    s = (zp * zg).sum(1) / np.maximum((zg * zg).sum(1), 1e-9)
    lean = np.array([np.polyfit(y, a - b, 1)[0] for y, a, b in zip(G[..., 1], zp, zg)])
    return {"mirrored": float(np.mean(s < 0)), "slope": float(np.median(s)), "lean": float(np.median(lean)),
            "xy_ratio": float(np.linalg.norm(P[..., :2], axis=-1).mean() / np.linalg.norm(G[..., :2], axis=-1).mean()),
            "depth_ratio": float(np.abs(zp).mean() / max(np.abs(zg).mean(), 1e-9)),
            "p_mpjpe_sub": float(metrics.p_mpjpe(P, G).mean()),
            "p_mpjpe_unmirrored": float(metrics.p_mpjpe(_with_depth(P, np.where(s[:, None] < 0, -1, 1) * zp), G).mean()),
            "flat_p_mpjpe": float(metrics.p_mpjpe(_with_depth(P, 0 * zp), G).mean()),
            **handedness(P, G, s < 0)}


def handedness(P: np.ndarray, G: np.ndarray, mirrored: np.ndarray, margin: float = 0.1) -> dict[str, float]:
    """The chirality statistics of the module docstring; P, G root-relative (N, J, 3), mirrored (N,) bool."""
    Pt = torch.from_numpy(np.asarray(P, np.float64))
    ok = losses.chirality(Pt).numpy() > margin
    nose = skeleton.NECK + 1
    agree = np.sign(P[:, nose, 2] - P[:, skeleton.NECK, 2]) == np.sign(G[:, nose, 2] - G[:, skeleton.NECK, 2])
    knees = (losses.knee_handedness(Pt).numpy() > 0).all(-1)
    elbows = (losses.elbow_handedness(Pt).numpy() > 0).all(-1)
    vote = mirror.mirror_vote(Pt, "elbows").numpy()
    sub = lambda x: float(x[mirrored].mean()) if mirrored.any() else float("nan")  # noqa: E731
    return {"chiral_ok": float(ok.mean()), "mirrored_chiral_ok": sub(ok), "nose_forward_agree": float(agree.mean()),
            "knees_ok": float(knees.mean()), "mirrored_knees_ok": sub(knees),
            "elbows_ok": float(elbows.mean()), "mirrored_elbows_ok": sub(elbows),
            "elbow_vote": float(vote.mean()), "mirrored_elbow_vote": sub(vote),
            "inplane": float(np.median(losses.foreshortening(Pt).numpy()))}


def _with_depth(P: np.ndarray, z: np.ndarray) -> np.ndarray:
    out = P.copy()
    out[..., 2] = z
    return out


def diagnose(run: Path, n: int) -> dict:
    cfg, res = infer_test_rows(run, n)
    m = json.loads((run / "metrics.json").read_text())
    line = {"run": f"{run.parent.name}/{run.name}", "formulation": formulation_of(cfg), "mode": cfg.mode,
            "sup2d": cfg.sup2d, "mv": cfg.mv, "seed": cfg.seed, "beta": cfg.beta,
            "chirality_weight": cfg.chirality_weight, "mpjpe": m["mpjpe"], "p_mpjpe": m["p_mpjpe"],
            "px256": m["mpjpe_2d_px256"]}
    if res is None:
        return {**line, "note": "no checkpoint"}
    return {**line, **depth_stats(res["pose_mm"], res["gt3d"]), "note": ""}


def default_runs(results: Path) -> list[Path]:
    rows = [d for d in sorted((results / "table1").glob("*_cpu_s*")) if d.name.startswith("ws")]
    return [d for d in rows if (d / "metrics.json").is_file()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", help="run folders (default: the cpu weak rows of results/table1)")
    p.add_argument("--results", default="results")
    p.add_argument("--n", type=int, default=200, help="test rows per run")
    p.add_argument("--out", default="runs/diagnostics/depth_diagnostics.md")
    a = p.parse_args()
    torch.set_num_threads(1)
    runs = [Path(r) for r in a.runs] or default_runs(Path(a.results))
    df = pd.DataFrame([diagnose(r, a.n) for r in runs])
    print(write_diagnostic(
        df, a.out, "Depth diagnostics of the weak runs (synthetic H test rows)",
        f"python benchmarks/depth_diagnostics.py --out {a.out}{''.join(' ' + r for r in a.runs)}",
        f" on the first {a.n} test rows of each run's evaluation split; definitions in the script's docstring.", 2))


if __name__ == "__main__":
    main()
