"""The one training loop on the 'smoke' profile with the tiny synthetic twins (CPU, seconds per test)."""
import json

import numpy as np
import pytest
import torch

from weakpose.config import make_config
from weakpose.trainer import LOSS_NAMES, Run

MODES = {
    "fs": dict(sup2d="H+M", sup3d="H", mv=""),
    "ws+r": dict(sup2d="H+M", mv="H", known_R=True),
    "ws": dict(sup2d="M", mv="H+I+Q"),
    "2d": dict(sup2d="M", mv=""),
    "semi": dict(sup2d="H+M", sup3d="H", sup3d_subjects=("S1",), mv="H"),
}
EXPECTED_ON = {
    "fs": {"heatmap", "depth"}, "ws+r": {"heatmap", "mc", "limb"}, "ws": {"heatmap", "mc", "limb"},
    "2d": {"heatmap"}, "semi": {"heatmap", "depth", "mc", "limb"},
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("data")
    os.environ["WEAKPOSE_DATA"] = str(root)
    yield str(root)
    os.environ.pop("WEAKPOSE_DATA", None)


@pytest.mark.parametrize("mode", list(MODES))
def test_mode_switches_exactly_its_loss_terms(mode, data_root, tmp_path):
    cfg = make_config("smoke", data_root=data_root, **MODES[mode])
    assert cfg.mode == mode
    run = Run(cfg, tmp_path, device=torch.device("cpu"), verbose=False)
    metrics = run.fit()
    hist = np.genfromtxt(tmp_path / "history.csv", delimiter=",", names=True, dtype=None, encoding=None)
    main = hist[hist["stage"] == "main"]
    assert len(hist) == cfg.pretrain_iterations + cfg.iterations and len(main) == cfg.iterations
    for name in LOSS_NAMES:
        assert np.isfinite(hist[name]).all()
    on = {n for n in LOSS_NAMES[1:] if (np.abs(main[n]) > 0).any()}
    assert on == EXPECTED_ON[mode]
    pre = hist[hist["stage"] == "pretrain"]
    assert {n for n in LOSS_NAMES[1:] if (np.abs(pre[n]) > 0).any()} == {"heatmap"}
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == metrics and np.isfinite(saved["mpjpe"]) and saved["num_samples"] > 0
    assert (tmp_path / "checkpoints" / "last.pt").is_file()


def test_without_heatmap_loss_only_weak_terms(data_root, tmp_path):
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", use_heatmap_loss=False, pseudo_labels=False)
    Run(cfg, tmp_path, device=torch.device("cpu"), verbose=False).fit()
    hist = np.genfromtxt(tmp_path / "history.csv", delimiter=",", names=True, dtype=None, encoding=None)
    main = hist[hist["stage"] == "main"]
    assert (main["heatmap"] == 0).all() and (main["mc"] > 0).any()


def test_resume_is_exact(data_root, tmp_path):
    cfg = make_config("smoke", data_root=data_root, sup2d="H+M", mv="H+Q", iterations=6, ckpt_every=4)
    full = Run(cfg, tmp_path / "full", device=torch.device("cpu"), verbose=False)
    full.fit()
    crashed = Run(cfg, tmp_path / "resumed", device=torch.device("cpu"), verbose=False)
    assert crashed.fit(stop_after=7) is None  # dies 3 steps after the checkpoint at step 4
    resumed = Run(cfg, tmp_path / "resumed", device=torch.device("cpu"), verbose=False)
    resumed.fit()
    assert resumed.step == full.step
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), n
    h1 = (tmp_path / "full" / "history.csv").read_text().splitlines()
    h2 = (tmp_path / "resumed" / "history.csv").read_text().splitlines()
    assert [r.split(",")[:8] for r in h1] == [r.split(",")[:8] for r in h2]  # same losses, no duplicated rows


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="mv"):
        make_config("smoke", mv="H+X")
    with pytest.raises(ValueError, match="unknown config keys"):
        make_config("smoke", learning_rate=1)
    with pytest.raises(ValueError, match="known_R"):
        make_config("smoke", mv="", known_R=True)


def test_evaluation_uses_univ_annot3_sidecar_when_present(data_root, tmp_path):
    """Real 3DHP is scored against univ_annot3 (extra/univ_joints3d.npy), as the official protocol does."""
    import shutil

    import numpy as np

    from weakpose.data.format import CanonicalDataset
    from weakpose.data.loaders import Eval3D, open_dataset
    from weakpose.evaluate import evaluate
    from weakpose.model import PoseNet

    src = open_dataset("I", "synthetic", data_root=data_root, size="tiny")
    copy = tmp_path / "I-copy"
    shutil.copytree(src.path, copy)
    ds = CanonicalDataset(copy)
    model = PoseNet("resnet18", feature_stride=16, head_channels=8)
    bones = torch.tensor(ds.meta["bone_stats"]["mean_mm"], dtype=torch.float64)
    _, plain = evaluate(model, Eval3D(ds, "test"), bones, "cpu", 64)
    univ = np.asarray(ds.joints3d, np.float32) * 1.3  # a rescaled skeleton, as univ_annot3 is
    (copy / "extra").mkdir(exist_ok=True)
    np.save(copy / "extra" / "univ_joints3d.npy", univ)
    _, scored = evaluate(model, Eval3D(CanonicalDataset(copy), "test"), bones, "cpu", 64)
    assert abs(scored["mpjpe"] - plain["mpjpe"]) > 1.0
    assert scored["mpjpe_2d_px"] == pytest.approx(plain["mpjpe_2d_px"])


def test_parse_overrides_types():
    from weakpose.config import parse_overrides

    over = parse_overrides(["mv=H+I+Q", "known_R=true", "iterations=7", "lr=1e-3", "sup3d_subjects=S1,S5"])
    assert over == {"mv": "H+I+Q", "known_R": True, "iterations": 7, "lr": 1e-3, "sup3d_subjects": ("S1", "S5")}
    with pytest.raises(ValueError, match="unknown config key"):
        parse_overrides(["mv2=x"])
