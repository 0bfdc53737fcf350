"""Figures of trained runs: they open a run's data and checkpoint, run the model through the one inference path
(`weakpose.evaluate.infer_rows`) and hand arrays to `weakpose.viz`, which only draws. What the table notebooks and
results.ipynb show."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import torch

from weakpose import viz
from weakpose.config import config_from_dict
from weakpose.data.loaders import open_for
from weakpose.evaluate import group_rows, infer_rows, test_rows
from weakpose.model import load_checkpoint
from weakpose.runs import checkpoint_of


def run_predictions(out_dir: str | os.PathLike, n: int = 3, device: str | torch.device = "cpu") -> dict:
    """`infer_rows` on n test rows of the split a run was evaluated on (its config.json), with the run's model."""
    out = Path(out_dir)
    ckpt = checkpoint_of(out)
    if ckpt is None:
        raise FileNotFoundError(f"{out} has no checkpoint (and names none it was evaluated from)")
    run_cfg = config_from_dict(json.loads((out / "config.json").read_text()))
    model, cfg, _ = load_checkpoint(ckpt, device)
    ds = open_for(run_cfg, run_cfg.eval_on)
    return infer_rows(model, cfg, ds, test_rows(ds, n), device)


def skeleton_viewer(runs: list[tuple[str, str | os.PathLike]], sample: int = 0, device: str | torch.device = "cpu"):
    """Plotly: the ground truth of one H test image and every run's prediction of it (root-relative mm); click the
    legend to compare runs. ``runs``: (label, checkpoint) pairs on the same data (`tables.viewer_runs`)."""
    poses, title = {}, "no runs with a checkpoint yet"
    for label, ckpt in runs:
        model, cfg, _ = load_checkpoint(ckpt, device)
        ds = open_for(cfg, "H")
        res = infer_rows(model, cfg, ds, test_rows(ds, sample + 1)[-1:], device)
        poses.setdefault("ground truth", viz.root_relative(res["gt3d"][0]))
        poses[label] = viz.root_relative(res["pose_mm"][0])
        title = f"H test row {res['rows'][0]} ({cfg.source}, {cfg.data_size}): ground truth and each run's prediction"
    return viz.pose3d_figure(poses, title, colours={"ground truth": "#222222"})


def figure2(models: list[tuple[str, str | os.PathLike]], group: int = 0, max_views: int = 8,
            device: str | torch.device = "cpu"):
    """A Figure-2-style view: for each (label, checkpoint), the 3D poses it predicts for the views of one static MQC
    (twin Q) tracklet, aligned onto the first view with eq. 10 and overlaid; the closer they lie, the more
    consistent the model. Returns the figure and a table label / views / spread_mm / checkpoint."""
    panels, lines = [], []
    for label, ckpt in models:
        model, cfg, _ = load_checkpoint(ckpt, device)
        ds = open_for(cfg, "Q")
        res = infer_rows(model, cfg, ds, group_rows(ds, group, max_views), device)
        aligned = viz.align_views(res["pose_mm"], res["conf"])
        panels.append((label, aligned))
        lines.append({"label": label, "views": len(aligned), "spread_mm": viz.spread_mm(aligned),
                      "checkpoint": str(ckpt)})
    return viz.figure2_panels(panels), pd.DataFrame(lines)
