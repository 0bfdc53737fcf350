"""The 2D error of trained runs per joint (px at a 256 px input) on the first ``--n`` test rows of their
evaluation split, with the mean confidence phi per joint. It shows what blocks the 2D=M rows: MPII labels no spine
and no neck/nose (`skeleton.unlabelled_joints`), so a model trained on it alone never had a target there, yet its
neck/nose heatmap is confident; with ``free_unlabelled_2d`` the weak losses are the only thing that trains them.

    python benchmarks/joint_errors_2d.py --out runs/diagnostics/joint_errors_2d.md <run folders>

Columns: ``px256`` (all joints, the metrics.json value on these rows), ``labelled_px256`` (the joints the run's 2D
sources label) and ``unlabelled_px256`` (the others; empty for H+M), then one column per joint, then ``conf_<joint>``
for the unlabelled joints. Needs the runs' checkpoints (gitignored: retrain a run from its config.json).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from weakpose import skeleton
from weakpose.config import formulation_of
from weakpose.runs import infer_test_rows
from weakpose.tables import write_diagnostic


def joint_errors(uv: np.ndarray, gt2d: np.ndarray, vis: np.ndarray, input_size: int) -> np.ndarray:
    """(J,) mean 2D error per joint in px of a 256 px input over the images where the joint is visible (NaN where it
    never is). uv, gt2d: (N, J, 2) input px; vis: (N, J) bool."""
    e = np.linalg.norm(uv - gt2d, axis=-1) * 256.0 / input_size
    e = np.where(vis, e, np.nan)
    with np.errstate(invalid="ignore"):
        return np.nanmean(e, 0) if vis.any() else np.full(e.shape[1], np.nan)


def summarise(per_joint: np.ndarray, counts: np.ndarray, unlabelled: tuple[int, ...]) -> dict[str, float]:
    """Visibility-weighted means of ``per_joint`` (J,) over all, the labelled and the unlabelled joints."""
    def mean(idx):
        idx = [j for j in idx if counts[j] > 0]
        return float(np.average(per_joint[idx], weights=counts[idx])) if idx else float("nan")
    lab = [j for j in range(skeleton.J) if j not in unlabelled]
    return {"px256": mean(range(skeleton.J)), "labelled_px256": mean(lab), "unlabelled_px256": mean(unlabelled)}


def measure(run: Path, n: int) -> dict:
    cfg, res = infer_test_rows(run, n)
    line = {"run": f"{run.parent.name}/{run.name}", "formulation": formulation_of(cfg), "mode": cfg.mode,
            "sup2d": cfg.sup2d, "mv": cfg.mv, "input": cfg.input_size, "free_unlabelled_2d": cfg.free_unlabelled_2d}
    if res is None:
        return {**line, "note": "no checkpoint"}
    per = joint_errors(res["uv"], res["gt2d"], res["vis2d"], cfg.input_size)
    free = skeleton.unlabelled_joints(cfg.sup2d_keys)
    out = {**line, **summarise(per, res["vis2d"].sum(0), free)}
    out.update({name: float(v) for name, v in zip(skeleton.JOINT_NAMES, per)})
    out.update({f"conf_{skeleton.JOINT_NAMES[j]}": float(res["conf"][:, j].mean()) for j in free})
    return {**out, "note": ""}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--n", type=int, default=320, help="test rows per run")
    p.add_argument("--out", default="runs/diagnostics/joint_errors_2d.md")
    a = p.parse_args()
    torch.set_num_threads(1)
    df = pd.DataFrame([measure(Path(r), a.n) for r in a.runs])
    print(write_diagnostic(
        df, a.out, "2D error per joint (px@256, synthetic test rows)",
        f"python benchmarks/joint_errors_2d.py --out {a.out} <runs>",
        f" on the first {a.n} test rows of each run's evaluation split; definitions in the script's docstring.", 1))


if __name__ == "__main__":
    main()
