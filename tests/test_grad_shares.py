"""benchmarks/grad_shares.py: which weighted loss term reaches which parameter group, on a smoke weak run."""
import importlib.util
from pathlib import Path

import pandas as pd

from weakpose.trainer import main

_spec = importlib.util.spec_from_file_location(
    "grad_shares", Path(__file__).resolve().parents[1] / "benchmarks" / "grad_shares.py")
gs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gs)


def test_detached_weak_terms_reach_the_shared_features_only_through_the_depth_maps(tmp_path):
    over = [f"data_root={tmp_path / 'data'}", "device=cpu", "sup2d=M", "mv=H", "detach_2d_3d=true",
            "chirality_weight=10", "iterations=6", "keep_checkpoints=4"]
    main(["--profile", "smoke", "--formulation", "paper", "--out", str(tmp_path / "ws"), "--set", *over])
    out = tmp_path / "gs.md"
    gs.main([str(tmp_path / "ws"), "--shared-root", str(tmp_path / "shared"), "--batches", "2", "--out", str(out)])
    df = pd.read_csv(out.with_suffix(".csv"))
    assert sorted(set(df.step)) == [3, 6, 9] and set(df.term) == {"heatmap", "mc", "limb", "chirality"}
    weak, lh = df[df.term != "heatmap"], df[df.term == "heatmap"]
    assert (weak.heat == 0).all() and (lh.depth == 0).all()   # detached 2D: the weak terms never touch the heatmaps
    assert (lh[["backbone", "shared", "heat"]] > 0).all().all()
    late = weak[weak.step == 9]
    assert (late.depth > 0).all() and (late.shared > 0).any()   # once the depth layer is non-zero they reach the features
    assert "weak/L_H shared" in out.read_text()
