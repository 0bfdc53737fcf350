"""benchmarks/hiq_views.py: the hidden 2D of an unlabelled twin is mapped to input px exactly as the labels are,
and each source gets its 2D error, confidence and label kind."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from weakpose.config import make_config
from weakpose.evaluate import infer_rows
from weakpose.model import PoseNet

_spec = importlib.util.spec_from_file_location(
    "hiq_views", Path(__file__).resolve().parents[1] / "benchmarks" / "hiq_views.py")
hv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hv)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cfg = make_config("smoke", data_root=str(tmp_path_factory.mktemp("data")))
    torch.manual_seed(0)
    return cfg, PoseNet.from_config(cfg)


def test_hidden_2d_goes_through_the_labels_affine(setup):
    cfg, model = setup
    ds = hv.open_for(cfg, "I")                     # labelled: both paths must agree
    rows = np.nonzero(ds.split_mask("train"))[0][:5]
    res = infer_rows(model, cfg, ds, rows)
    np.testing.assert_allclose(hv.input_px(ds, cfg, np.asarray(ds.joints2d[rows])), res["gt2d"], atol=1e-9)


def test_view_stats_per_source(setup):
    cfg, model = setup
    i, q = hv.view_stats(model, cfg, "I", 6), hv.view_stats(model, cfg, "Q", 6)
    assert i["I labels"] == "2D" and q["Q labels"] == "hidden"    # Q's images have no 2D labels
    for key, st in (("I", i), ("Q", q)):
        assert np.isfinite(st[f"{key} px256"]) and st[f"{key} px256"] > 0
        assert 0 <= st[f"{key} phi>tau"] <= 1 and 0 < st[f"{key} phi"] <= 1
