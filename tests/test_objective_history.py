"""benchmarks/objective_history.py: the weak objective of a history is the trainer's weighted total without L_H and
L_z, and the committed diagnostic is what the committed rows regenerate."""
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from weakpose import losses
from weakpose.config import make_run_config

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("objective_history", ROOT / "benchmarks" / "objective_history.py")
oh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oh)


def test_the_weak_objective_is_the_weighted_total_without_the_2d_and_3d_terms():
    cfg = make_run_config("smoke", formulation="ours", sup2d="M", mv="H")
    h = pd.DataFrame({k: [1.0, 2.0] for k in losses.LOSS_NAMES})
    w = oh.weak_objective(h, cfg)
    one = cfg.alpha + cfg.beta + cfg.validity_weight + cfg.chirality_weight + cfg.foreshortening_weight
    assert list(w) == pytest.approx([one, 2 * one])


def test_the_committed_diagnostic_is_regenerated_by_the_committed_rows():
    committed = pd.read_csv(ROOT / "results" / "diagnostics" / "objective_history.csv")
    runs = oh.default_runs(ROOT / "results")
    assert len(runs) == len(committed) >= 10
    fresh = pd.DataFrame([oh.run_row(r) for r in runs]).set_index("run").loc[committed["run"]]
    for col in committed.columns.drop(["run", "formulation", "mv"]):
        assert list(fresh[col]) == pytest.approx(list(committed[col]), rel=1e-9), col
