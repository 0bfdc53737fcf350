"""benchmarks/mv_spikes.py: the replay of a weak run is the run, and the per-view geometry is the eq. 3 one."""
import importlib.util
from pathlib import Path

import pandas as pd
import torch

from weakpose import skeleton
from weakpose.trainer import main

_spec = importlib.util.spec_from_file_location(
    "mv_spikes", Path(__file__).resolve().parents[1] / "benchmarks" / "mv_spikes.py")
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)


def test_group_rows_hand_case():
    g = torch.Generator().manual_seed(0)
    pose = torch.randn(17, 3, generator=g, dtype=torch.float64) * 0.3
    pose[:, 2] += 10.0
    points = torch.stack([pose, pose])[None]                       # two identical views: L_MC 0
    points[0, 1] *= 3.0                                            # the same rays, three times deeper and larger
    conf = torch.ones(1, 2, 17)
    rows = ms.group_rows(points, conf, torch.ones(1, 2, dtype=torch.bool), distance="squared")
    assert [r["view"] for r in rows] == [0, 1] and rows[0]["mc"] == rows[1]["mc"] > 0
    n, p = pose[skeleton.NECK], pose[skeleton.PELVIS]
    np2d = float((n[:2] / n[2] - p[:2] / p[2]).norm())
    for r, k in zip(rows, (1.0, 3.0)):
        assert abs(r["root_z"] - k * float(p[2])) < 1e-9
        assert abs(r["neck_pelvis_2d"] - np2d) < 1e-9          # projection is scale-free: the same 2D for both
        assert abs(r["extent"] - k * float((pose - pose.mean(0)).norm(dim=-1).max())) < 1e-9
    same = ms.group_rows(torch.stack([pose, pose])[None], conf, torch.ones(1, 2, dtype=torch.bool), distance="squared")
    assert same[0]["mc"] < 1e-12


def test_replay_reproduces_the_run_history(tmp_path):
    over = [f"data_root={tmp_path / 'data'}", "device=cpu", "sup2d=M", "mv=H", "detach_2d_3d=true",
            "mc_distance=squared", "iterations=4", "log_every=1"]
    main(["--profile", "smoke", "--out", str(tmp_path / "ws"), "--set", *over])
    out = tmp_path / "spikes.md"
    ms.main([str(tmp_path / "ws"), "--shared-root", str(tmp_path / "shared"), "--steps", "4", "--threshold", "0",
             "--out", str(out)])
    views = pd.read_csv(out.with_suffix(".csv"))
    assert views.step.nunique() == 4 and set(views.source) == {"H"}
    assert (views.neck_pelvis_2d > 0).all() and views.root_z.notna().all()
    text = out.read_text()
    dev = float(text.split("L_H): ")[1].split(".\n")[0])
    assert dev < 1e-4                                              # the replay is the run, step for step
    assert pd.read_csv(tmp_path / "spikes_steps.csv").step.tolist() == sorted(set(views.step))
    assert "The spikes" in text and "Per 25 steps" in text    # threshold 0: every group is listed
