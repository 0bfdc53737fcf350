"""Figures build without error (Agg backend), plotly HTML is written, and the model inspection behind them: a model
rebuilt from its checkpoint's own config, eq. 10 alignment of views."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from weakpose import evaluate, figures, skeleton, viz  # noqa: E402
from weakpose.data import loaders  # noqa: E402
from weakpose.model import load_checkpoint  # noqa: E402
from weakpose.config import make_config  # noqa: E402

from helpers import random_pose, random_rotation  # noqa: E402


def _fake_result(n=2, size=64, heat=16):
    rng = np.random.default_rng(0)
    uv = rng.uniform(5, size - 5, (n, skeleton.J, 2))
    pose = random_pose(rng, n).numpy() + np.array([0, 0, 4000.0])
    probs = rng.random((n, skeleton.J, heat, heat))
    return {"input": rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8), "uv": uv, "gt2d": uv + 2,
            "vis2d": np.ones((n, skeleton.J), bool), "probs": probs / probs.sum((-2, -1), keepdims=True),
            "depth_maps": rng.normal(size=(n, skeleton.J, heat, heat)), "pose_mm": pose, "gt3d": pose + 10,
            "conf": rng.uniform(0.2, 1, (n, skeleton.J)), "rows": np.arange(n)}


def test_pose_figures(tmp_path):
    res = _fake_result()
    fig = viz.new_figure(3, 3)
    vis = np.ones(skeleton.J, bool)
    vis[7] = False
    viz.draw_pose_2d(fig.add_subplot(1, 1, 1), res["uv"][0], vis, image=res["input"][0], title="x")
    fig.savefig(tmp_path / "pose2d.png")
    viz.predictions_2d_figure(res).savefig(tmp_path / "pred2d.png")
    viz.maps_figure(res, "l_ankle", "maps").savefig(tmp_path / "maps.png")
    assert (tmp_path / "maps.png").stat().st_size > 1000


def test_plotly_3d_and_html(tmp_path):
    res = _fake_result(3)
    one = viz.pose3d_figure({"a": res["pose_mm"][0]})
    assert len(one.data) == 3 and one.data[0].line.color == viz.COLOURS["left"]
    many = viz.predictions_3d_figure(res)
    assert len(many.data) == 3 * 6 and sum(t.showlegend for t in many.data) == 6
    assert viz.group_3d_figure(res).data
    path = viz.save_html(many, tmp_path / "sub" / "viewer.html", self_contained=False)
    text = path.read_text()
    assert path.is_file() and "plotly" in text and "#0 ground truth" in text


def test_history_figure(tmp_path):
    steps = np.arange(20)
    hist = pd.DataFrame({"step": steps, "stage": ["pretrain"] * 5 + ["main"] * 15, "lr": 5e-4, "total": 1 + steps,
                         "heatmap": 1.0, "depth": 0.0, "mc": np.r_[np.zeros(5), np.ones(15)], "limb": 0.0,
                         "images_per_s": 10.0})
    hist.to_csv(tmp_path / "history.csv", index=False)
    fig = viz.history_figure(tmp_path / "history.csv")
    assert len(fig.axes) == 4  # total, heatmap, mc (terms that are ever non-zero) and lr
    with pytest.raises(ValueError, match="empty"):
        viz.history_figure(hist.iloc[:0])


def test_bar_compare_with_missing_values(tmp_path):
    df = pd.DataFrame({"row": ["a", "b"], "3D mm (paper)": [55.5, np.nan], "3D mm (ours)": [60.0, 70.0]})
    fig = viz.bar_compare(df, "row", ["3D mm (paper)", "3D mm (ours)"], "t", "mm")
    fig.savefig(tmp_path / "bars.png")
    assert len(fig.axes[0].patches) == 4


def test_align_views_undoes_rigid_motions():
    rng = np.random.default_rng(1)
    P = random_pose(rng, 1)[0]
    R = random_rotation(rng, 4)
    views = torch.einsum("cij,nj->cni", R, P) + torch.tensor(rng.normal(0, 500, (4, 1, 3)))
    aligned = viz.align_views(views.numpy())
    assert np.allclose(aligned, aligned[0], atol=1e-6) and viz.spread_mm(aligned) < 1e-6
    noisy = views.numpy() + rng.normal(0, 20, views.shape)
    assert 5 < viz.spread_mm(viz.align_views(noisy, np.ones((4, skeleton.J)))) < 40


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained smoke model saved by the trainer itself (config inside), with tiny twins in data_root."""
    from weakpose.trainer import Run

    root = tmp_path_factory.mktemp("viz")
    cfg = make_config("smoke", data_root=str(root / "data"), device="cpu")
    run = Run(cfg, root / "run", device=torch.device("cpu"), verbose=False)
    run.save()
    return run.ckpt, run.model, cfg


@pytest.mark.slow
def test_load_checkpoint_rebuilds_the_model(checkpoint):
    path, model, cfg = checkpoint
    loaded, cfg2, state = load_checkpoint(path, "cpu")
    assert cfg2 == cfg and state["step"] == 0 and not loaded.training
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(FileNotFoundError):
        load_checkpoint(path.parent / "missing.pt")


@pytest.mark.slow
def test_inference_figures_on_the_twins(checkpoint, tmp_path):
    import cv2

    path, _, cfg = checkpoint
    model, cfg, _ = load_checkpoint(path)
    ds = loaders.open_for(cfg, "H")
    rows = evaluate.group_rows(ds, 0, max_views=3)
    assert len(rows) == 3 and (ds.split_mask("test")[rows]).all() and len(set(ds.group[rows])) == 1
    res = evaluate.infer_rows(model, cfg, ds, rows)
    h = cfg.input_size // cfg.stride
    assert res["heatmaps"].shape == (3, skeleton.J, h, h) and res["pose_mm"].shape == (3, skeleton.J, 3)
    assert np.isfinite(res["gt3d"]).all() and res["input"].shape == (3, cfg.input_size, cfg.input_size, 3)
    viz.maps_figure(res).savefig(tmp_path / "maps.png")
    viz.group_3d_figure(res)
    fig, spread = figures.figure2([("only", path)], max_views=4)
    fig.savefig(tmp_path / "fig2.png")
    assert spread["views"].iloc[0] == 4 and np.isfinite(spread["spread_mm"]).all()
    assert figures.skeleton_viewer([("a", path), ("b", path)]).data
    cv2.imwrite(str(tmp_path / "person.jpg"), np.full((80, 50, 3), 128, np.uint8))
    img = evaluate.infer_image(model, cfg, tmp_path / "person.jpg")
    assert img["uv"].shape == (1, skeleton.J, 2) and not img["vis2d"].any()
    with pytest.raises(FileNotFoundError):
        evaluate.infer_image(model, cfg, tmp_path / "none.jpg")
