"""The one inference path and the scoring (weakpose.evaluate): metrics of a prediction made from the ground truth,
the GT-root (*) variant, the summary of a run, and `infer` on a model."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from weakpose import camera, evaluate, geometry
from weakpose.config import make_config
from weakpose.data.loaders import Eval3D, open_dataset
from weakpose.model import PoseNet


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return open_dataset("H", "synthetic", data_root=tmp_path_factory.mktemp("data"), size="tiny")


def _perfect_prediction(batch, ds, input_size):
    """What `infer` would return for a model that predicts the ground truth exactly (uv in input px, eqs. 1-3)."""
    n = len(batch["image"])
    A = camera.identity_affines(n, ds.crop_size, float(ds.meta["crop_margin"]), input_size, "cpu")
    gt = batch["joints3d"].double()
    s = (gt[:, 8] - gt[:, 0]).norm(dim=-1)                      # neck-pelvis scale of eq. 1
    uv = camera.project(gt, camera.crop_intrinsics(A, batch["K"]))
    bone_mm = torch.tensor(ds.meta["bone_stats"]["mean_mm"], dtype=torch.float64)
    points = gt / s[:, None, None]
    scale = geometry.fit_scale(points, bone_mm)
    return {"A": A, "uv": uv, "points": points, "z_root": gt[:, 0, 2] / s, "valid": torch.ones(n, dtype=torch.bool),
            "pose_mm": scale[:, None, None] * points}


def test_scoring_a_perfect_prediction(twin):
    test = Eval3D(twin, "test")
    batch = next(iter(DataLoader(test, batch_size=8)))
    p = _perfect_prediction(batch, twin, 64)
    df = evaluate._score(p, batch["joints3d"].double(), batch, 64, pck=True)
    # the ground-truth root restores the metric scale exactly; the eq. 12 scale only up to the body's own bones
    # (stored 2D labels are float32: 1e-3 px)
    assert df["mpjpe_gtroot"].max() < 1e-6 and df["p_mpjpe"].max() < 1e-6 and df["mpjpe_2d_px"].max() < 1e-3
    assert (df["mpjpe"] > 1e-3).any() and df["n_mpjpe"].max() < 1e-6 <= df["mpjpe"].min() + 1e-6
    assert (df["pck_gtroot"] == 100).all() and np.allclose(df["mpjpe_2d_px256"], df["mpjpe_2d_px"] * 4)
    curve = [f"{evaluate.CURVE}pck_gtroot@{t:g}" for t in range(0, 151, 5)]
    assert (df[curve[0]] == 0).all() and (df[curve[1:]] == 100).all().all()


def test_evaluate_on_i_summarises_the_pck_curve_and_keeps_per_sample_scalars(twin):
    torch.manual_seed(0)
    cfg = make_config("smoke")
    model = PoseNet.from_config(cfg)
    bone_mm = torch.tensor(twin.meta["bone_stats"]["mean_mm"], dtype=torch.float64)
    df, summary = evaluate.evaluate(model, Eval3D(twin, "test"), bone_mm, "cpu", cfg.input_size, max_samples=6, pck=True)
    assert not [c for c in df.columns if c.startswith(evaluate.CURVE)]          # per_sample.csv: scalars only
    c = summary["pck_curve"]
    assert c["threshold_mm"] == [float(t) for t in range(0, 151, 5)] and len(c["pck"]) == len(c["pck_gtroot"]) == 31
    assert c["pck"][-1] == pytest.approx(summary["pck"]) and np.mean(c["pck"]) == pytest.approx(summary["auc"])
    assert np.mean(c["pck_gtroot"]) == pytest.approx(summary["auc_gtroot"])
    _, plain = evaluate.evaluate(model, Eval3D(twin, "test"), bone_mm, "cpu", cfg.input_size, max_samples=6)
    assert "pck_curve" not in plain and "pck" not in plain


def test_evaluate_and_infer_on_a_model(twin):
    torch.manual_seed(0)
    cfg = make_config("smoke")
    model = PoseNet.from_config(cfg)
    bone_mm = torch.tensor(twin.meta["bone_stats"]["mean_mm"], dtype=torch.float64)
    df, summary = evaluate.evaluate(model, Eval3D(twin, "test"), bone_mm, "cpu", cfg.input_size, max_samples=6)
    assert summary["num_samples"] == len(df) == 6 and np.isfinite(summary["mpjpe"])
    cfg_run = make_config("smoke", data_root=str(twin.path.parent.parent))
    line = evaluate.run_summary(cfg_run, "test", 7, summary, model_from="x.pt")
    assert line["run_id"] == cfg_run.run_id() and line["steps"] == 7 and line["model_from"] == "x.pt"
    assert line["mpjpe"] == summary["mpjpe"]
    rows = evaluate.test_rows(twin, 3)
    images = torch.from_numpy(np.stack([twin.image(int(r)) for r in rows]))
    K = torch.from_numpy(np.asarray(twin.K[rows], np.float64))
    out = evaluate.infer(model.eval(), images, K, twin.crop_size, float(twin.meta["crop_margin"]), cfg.input_size,
                         bone_mm=bone_mm)
    assert out["x"].shape == (3, 3, 64, 64) and out["probs"].shape[1] == 17
    torch.testing.assert_close(out["probs"].sum((-2, -1)), torch.ones(3, 17))
    torch.testing.assert_close(out["pose_mm"], out["scale"][:, None, None] * out["points"].double())
    two_d = evaluate.infer(model, images, None, twin.crop_size, float(twin.meta["crop_margin"]), cfg.input_size)
    assert "points" not in two_d and torch.equal(two_d["uv"], out["uv"])
