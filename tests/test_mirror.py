"""The depth mirror: the objective of formulation ours scores a mirrored body worse than the truth, and the mirror
test (`weakpose.mirror`) votes and flips the depth sign exactly (docs/weak-supervision.md, 'The depth mirror')."""
import dataclasses

import numpy as np
import pytest
import torch

from weakpose import geometry, losses, mirror, skeleton
from weakpose.config import make_config, make_run_config
from weakpose.data.loaders import open_dataset
from weakpose.model import PoseNet


def _groups(root, n_views=4):
    """Every train group of the tiny H twin with >= n_views views: GT 2D projection, z^r, K, camera-frame 3D."""
    ds = open_dataset("H", "synthetic", data_root=root, size="tiny")
    rows = np.stack([g[:n_views] for g in ds.groups(ds.split_mask("train")) if len(g) >= n_views])
    flat = rows.reshape(-1)
    j3d = torch.from_numpy(np.asarray(ds.joints3d[flat], np.float64))
    K = torch.from_numpy(np.asarray(ds.K[flat], np.float64))
    uv = (j3d / j3d[..., 2:]) @ K.transpose(-1, -2)
    mean_bone = torch.tensor(ds.meta["bone_stats"]["mean_normalised"], dtype=torch.float64)
    return rows.shape, uv[..., :2], losses.relative_depth_target(j3d), K, j3d, mean_bone


def _scores(cfg, shape, uv, z, K, mean_bone):
    """The trainer's weak objective (`losses.weak_terms` + `losses.weighted_total`, phi = 1) of every group."""
    B, C = shape
    rec = geometry.reconstruct(uv, z, K, invalid=cfg.invalid_views, hinge_margin=cfg.hinge_margin)
    pts = rec[0].reshape(B, C, skeleton.J, 3)
    out = []
    for b in range(B):
        zero = torch.zeros((), dtype=pts.dtype)
        t = {k: zero for k in losses.LOSS_NAMES[1:]}
        ok = torch.ones(1, C, dtype=torch.bool)
        pen = rec[3].reshape(B, C)[b:b + 1] if cfg.invalid_views == "hinge" else None
        t.update(losses.weak_terms(pts[b:b + 1], torch.ones(1, C, skeleton.J, dtype=pts.dtype), ok, cfg, mean_bone,
                                   ok, pen))
        out.append(float(losses.weighted_total(t, cfg)))
    return np.array(out), rec[0]


def test_ours_scores_the_mirrored_truth_and_the_lean_worse_than_the_truth_on_every_group(data_root):
    """The ladder's pin (benchmarks/mirror_rung.py, measurement 1): with the exact 2D, the objective of ours puts the
    truth below its depth mirror, below the mirror with the failing seed's lean, and below the lean, on every group."""
    shape, uv, zg, K, j3d, mb = _groups(data_root)
    assert shape[0] >= 4
    cfg = make_run_config("smoke", formulation="ours", sup2d="M", mv="H")
    s = (j3d[:, skeleton.NECK] - j3d[:, skeleton.PELVIS]).norm(dim=-1)
    y = (j3d[..., 1] - j3d[:, skeleton.PELVIS, None, 1]) / s[:, None]
    truth, _ = _scores(cfg, shape, uv, zg, K, mb)
    for name, z in {"mirror": -zg, "mirror+lean": -zg - 0.55 * y, "lean": zg - 0.55 * y,
                    "lean+": zg + 0.55 * y}.items():
        other, _ = _scores(cfg, shape, uv, z, K, mb)
        assert (truth < other).all(), (name, truth, other)


def test_the_vote_is_positive_on_the_truth_and_negative_on_its_mirror(data_root):
    """The population vote the trainer takes (elbows, which ours does not hinge): right on the twin's bodies, and a
    depth mirror of every view flips it."""
    shape, uv, zg, K, _, _ = _groups(data_root)
    pts = geometry.reconstruct(uv, zg, K)[0]
    mir = geometry.reconstruct(uv, -zg, K)[0]
    v, vm = mirror.mirror_vote(pts), mirror.mirror_vote(mir)
    assert v.shape == (uv.shape[0],)
    assert v.sum() > 0 and vm.sum() < 0 and (v > 0).float().mean() > 0.8
    # a rigid body mirrored exactly: every signal changes sign
    body = pts[0]
    torch.testing.assert_close(mirror.mirror_vote(body * torch.tensor([1.0, 1.0, -1.0], dtype=body.dtype)),
                               -mirror.mirror_vote(body))
    both = mirror.mirror_vote(body, "knees+elbows")
    torch.testing.assert_close(both, (losses.knee_handedness(body).mean() + losses.elbow_handedness(body).mean()) / 2)


def test_flip_depth_sign_negates_every_relative_depth_and_nothing_else():
    torch.manual_seed(0)
    model = PoseNet("resnet18", head_channels=8, feature_stride=16).eval()
    torch.nn.init.normal_(model.depth.weight)
    torch.nn.init.normal_(model.depth.bias)
    opt = torch.optim.Adam(model.parameters())
    x = torch.rand(2, 3, 64, 64) * 255
    model(x)["z_rel"].sum().backward()
    opt.step()
    m = opt.state[model.depth.weight]["exp_avg"].clone()
    v = opt.state[model.depth.weight]["exp_avg_sq"].clone()
    with torch.no_grad():
        a = model(x)
        mirror.flip_depth_sign(model, opt)
        b = model(x)
    torch.testing.assert_close(b["z_rel"], -a["z_rel"])
    torch.testing.assert_close(b["uv"], a["uv"])
    torch.testing.assert_close(b["heatmaps"], a["heatmaps"])
    torch.testing.assert_close(opt.state[model.depth.weight]["exp_avg"], -m)
    torch.testing.assert_close(opt.state[model.depth.weight]["exp_avg_sq"], v)


def test_trainer_flips_on_a_negative_vote_records_it_and_resumes_with_it(data_root, tmp_path):
    from weakpose.trainer import Run
    cfg = make_config("smoke", data_root=str(data_root), sup2d="M", mv="H", iterations=6, ckpt_every=3,
                      chirality_weight=1.0, mirror_test_every=2)
    run = Run(cfg, tmp_path / "run", torch.device("cpu"), verbose=False)
    w = run.model.depth.weight.detach().clone()
    assert not run.mirror.add(torch.tensor([-1.5, 10.0]), 1, run.model, run.opt, cfg)   # not a test step
    assert run.mirror.add(torch.tensor([0.0, 0.0]), 2, run.model, run.opt, cfg)         # mean -0.15 < -0.1: flip
    assert run.mirror.flips == [2]
    torch.testing.assert_close(run.model.depth.weight.detach(), -w)
    assert not run.mirror.add(torch.tensor([-0.5, 10.0]), 4, run.model, run.opt, cfg)  # -0.05: within the margin
    assert run.mirror.flips == [2] and float(run.mirror.votes.abs().sum()) == 0.0
    metrics = Run(cfg, tmp_path / "fit", torch.device("cpu"), verbose=False).fit()
    assert isinstance(metrics["mirror_flips"], list)
    again = Run(cfg, tmp_path / "fit", torch.device("cpu"), verbose=False)
    assert again.try_resume() and again.mirror.flips == metrics["mirror_flips"]


def test_the_mirror_test_is_a_weak_term_switch():
    """Off without multi-view data (FS and 2D-only rows are the same runs under both formulations) and its terms
    are checked."""
    cfg = make_config("smoke", sup2d="H+M", sup3d="H", mv="", mirror_test_every=5, mirror_test_terms="knees")
    assert cfg.mirror_test_every == 0 and cfg.mirror_test_terms == "elbows"
    with pytest.raises(ValueError, match="mirror_test_terms"):
        make_config("smoke", mv="H", mirror_test_terms="toes")
    assert dataclasses.replace(make_config("smoke", mv="H"), mirror_test_every=3).mirror_test_every == 3
