"""benchmarks/literal_scale.py: each row is read from its own folder and set beside the shared 2D model of its own
configuration, and the committed table is what the committed rows regenerate."""
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("literal_scale", ROOT / "benchmarks" / "literal_scale.py")
ls = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ls)

BASE = dict(sup2d="H+M", seed=0, backbone="resnet18", data_size="small")


def _run(folder: Path, config: dict, metrics: dict) -> str:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return str(folder)


def test_a_row_is_set_beside_the_shared_model_of_its_own_configuration(tmp_path):
    m = dict(mpjpe=400.0, p_mpjpe=300.0, mpjpe_2d_px256=50.0, valid_fraction=0.5)
    row = _run(tmp_path / "r", {**BASE, "input_size": 256, "iterations": 560, "pretrain_iterations": 500,
                                "beta": 100.0, "alpha": 10.0, "detach_2d_3d": False, "mv": "H", "sup3d": ""}, m)
    pd.DataFrame({"step": range(1, 151), "stage": ["pretrain"] * 10 + ["main"] * 140,   # L_H 9 before the switch,
                  "heatmap": [9.0] * 10 + [2.0] * 25 + [3.0] * 15 + [4.0] * 100,      # then 2, 3, 4
                  "mc": 0.1, "limb": 0.01}).to_csv(tmp_path / "r" / "history.csv", index=False)
    shared = tmp_path / "shared"
    flat = dict(mpjpe=180.0, p_mpjpe=130.0, mpjpe_2d_px256=6.0)
    _run(shared / "a", {**BASE, "input_size": 96, "iterations": 500, "mv": "", "sup3d": ""}, {**flat, "mpjpe": 1.0})
    _run(shared / "b", {**BASE, "seed": 1, "input_size": 256, "iterations": 500, "mv": "", "sup3d": ""}, {**flat, "mpjpe": 2.0})
    _run(shared / "c", {**BASE, "input_size": 256, "iterations": 500, "mv": "", "sup3d": ""}, flat)
    df = ls.table([(row, "x"), (str(tmp_path / "missing"), "y")], [str(shared)]).set_index("schedule")
    assert df.loc["x", "formulation"] == "paper" and df.loc["x", "input px"] == 256
    assert df.loc["x", "mpjpe"] == 400.0 and df.loc["x", "valid views"] == 0.5
    assert df.loc["x", "flat mpjpe"] == 180.0 and df.loc["x", "2D model px@256"] == 6.0  # c, not a (96 px) or b (seed 1)
    assert (df.loc["x", "L_H start"], df.loc["x", "L_H end"]) == (2.0, 4.0)
    assert df.loc["x", "weak/L_H start"] == pytest.approx((10 * 0.1 + 100 * 0.01) / 2.0)
    assert df.loc["y", "note"] == "not run" and df.loc["y", "input px"] == 0


def test_ours_is_told_apart_from_the_literal_formulation():
    assert ls.formulation({"beta": 100.0, "detach_2d_3d": False}) == "paper"
    assert ls.formulation({"beta": 10.0, "detach_2d_3d": True}) == "ours"


def test_the_committed_table_is_regenerated_by_the_committed_rows():
    path = ROOT / "results" / "diagnostics" / "literal_scale.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing: python benchmarks/literal_scale.py --out results/diagnostics/literal_scale.md")
    committed = pd.read_csv(path)
    runs = [(str(ROOT / r), s) for r, s in ls.RUNS]
    fresh = ls.table(runs, [str(ROOT / s) for s in ls.SHARED])
    cols = ["mpjpe", "p_mpjpe", "2D px@256", "flat mpjpe"]
    pd.testing.assert_frame_equal(fresh[cols].reset_index(drop=True), committed[cols].reset_index(drop=True),
                                  check_dtype=False)


def test_the_command_writes_the_table_and_its_csv_and_says_how_it_was_made(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "d" / "literal_scale.md"
    assert ls.main(["--out", str(out)]) == 0
    md = out.read_text().splitlines()
    assert md[0].startswith("# WS+R H+M/-/H by input size")
    assert md[2].startswith(f"From `python benchmarks/literal_scale.py --out {out}`; definitions")
    assert md[4].startswith("| run | formulation | input px |")
    assert len(pd.read_csv(out.with_suffix(".csv"))) == len(ls.RUNS) == len(md) - 6
