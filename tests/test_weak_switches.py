"""The switches of formulation "ours" (`weak.py`), each one field away from the paper's literal formulation: the 2D
kept out of the 3D path, free unlabelled joints, the invalid-view hinge, the handedness and torso hinges, the
gradient clip; and the shared 2D model every row starts from."""
import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from weakpose import losses, weak
from weakpose.config import PROFILES, make_config, make_run_config, shared_2d_config, warmup_2d_config
from weakpose.model import PoseNet
from weakpose.trainer import Run, main, train

K4 = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(4, 1, 1)


def _weak_backward(net, cfg, x, K=K4):
    """The trainer's weak path on one group of 4 views: `weak.weak_losses`, L_MC backward; returns the output."""
    out = net(x)
    bm = {"view_mask": torch.ones(1, 4, dtype=torch.bool)}
    t = weak.weak_losses(net, out, K, bm, cfg, torch.ones(16))
    t["mc"].backward()
    return out, t


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


def test_detach_2d_3d_keeps_the_weak_gradient_off_the_heatmaps():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64) * 255
    K = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(4, 1, 1)
    grads = {}
    for detach in (False, True):
        torch.manual_seed(1)
        net = PoseNet("resnet18", head_channels=16, feature_stride=16)
        torch.nn.init.normal_(net.depth.weight, std=1e-3)   # a non-flat pose, so L_MC has a gradient
        cfg = make_config("smoke", sup2d="H+M", mv="H", detach_2d_3d=detach)
        out, t = _weak_backward(net, cfg, x, K)
        g = net.heat.weight.grad
        grads[detach] = (0.0 if g is None else g.abs().sum().item(), net.depth.weight.grad.abs().sum().item(),
                         t["mc"].detach())
    assert grads[False][0] > 0 and grads[True][0] == 0.0          # no weak gradient into the 2D heatmaps
    assert grads[True][1] > 0                                     # the depth maps still learn
    torch.testing.assert_close(grads[False][2], grads[True][2])   # same forward values


def test_a_run_starts_from_a_shared_2d_model(data_root, tmp_path):
    twod = make_config("smoke", data_root=data_root, sup2d="M", mv="", iterations=4, pretrain_2d=False)
    Run(twod, tmp_path / "2d", device=torch.device("cpu"), verbose=False).fit()
    ckpt = tmp_path / "2d" / "checkpoints" / "last.pt"
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", shared_2d=True, iterations=3)
    run = Run(cfg, tmp_path / "ws", device=torch.device("cpu"), verbose=False, init_from=ckpt)
    src = torch.load(ckpt, map_location="cpu", weights_only=False)["model"]
    assert torch.equal(run.model.heat.weight, src["heat.weight"]) and not run.model.depth.weight.any()
    run.fit()
    hist = pd.read_csv(tmp_path / "ws" / "history.csv")
    assert (hist["stage"] == "main").all() and len(hist) == 3     # no pre-training of its own
    bad = make_config("smoke", data_root=data_root, sup2d="M", mv="H", shared_2d=True, head_channels=8)
    with pytest.raises(ValueError, match="architecture"):
        Run(bad, tmp_path / "bad", device=torch.device("cpu"), verbose=False, init_from=ckpt)
    # another input size is allowed (fully convolutional): the same weights, at 96 px
    bigger = make_config("smoke", data_root=data_root, sup2d="M", mv="H", shared_2d=True, input_size=96)
    run96 = Run(bigger, tmp_path / "96", device=torch.device("cpu"), verbose=False, init_from=ckpt)
    assert torch.equal(run96.model.heat.weight, src["heat.weight"])


def test_a_run_trains_again_from_its_own_config(data_root, tmp_path, capsys):
    over = ["iterations=3", "pretrain_iterations=2", f"data_root={data_root}", "device=cpu", "sup2d=M", "mv=H"]
    main(["--profile", "smoke", "--out", str(tmp_path / "a"), "--set", *over])
    main(["--config", str(tmp_path / "a" / "config.json"), "--out", str(tmp_path / "b")])
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("a", "b"))
    assert a == b and np.isfinite(a["mpjpe"])
    with pytest.raises(SystemExit, match="weakpose.trainer"):
        main(["--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "c")])


def test_hinge_keeps_invalid_views_in_the_loss_with_a_gradient_back(data_root, tmp_path):
    torch.manual_seed(0)
    net = PoseNet("resnet18", head_channels=16, feature_stride=16, invalid_views="hinge", hinge_margin=0.01)
    torch.nn.init.normal_(net.depth.weight, std=5.0)       # a wild depth head: eq. 3 has no real root for some views
    x = torch.rand(6, 3, 64, 64) * 255
    K = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(6, 1, 1)
    pred = net(x)
    out = net.reconstruct(pred["uv"], pred["z_rel"], K)
    bad = ~out["valid"]
    assert bad.any() and (out["validity"][bad] > 0).all() and torch.isfinite(out["points"]).all()
    losses.validity_penalty(out["validity"]).backward()
    assert net.depth.weight.grad.abs().sum() > 0             # the penalty reaches the depth maps
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", invalid_views="hinge", validity_weight=100.0,
                      hinge_margin=0.01, iterations=3, pretrain_iterations=1)
    Run(cfg, tmp_path / "hinge", device=torch.device("cpu"), verbose=False).fit()
    hist = pd.read_csv(tmp_path / "hinge" / "history.csv")
    assert "validity" in hist and np.isfinite(hist["validity"]).all()


def test_chirality_term_is_off_by_default_and_reaches_the_depth_when_on(data_root, tmp_path):
    """Issue 12: the handedness hinge (`losses.chirality_loss`) is a switch: off, the run id and loss are the
    paper's; on, the trainer adds chirality_weight x the hinge on the multi-view poses, and its gradient reaches the
    depth maps (a mirrored body is pushed back towards the real handedness)."""
    base = make_config("smoke", data_root=data_root, sup2d="M", mv="H")
    assert not base.loss_terms()["chirality"]
    assert make_config("smoke", data_root=data_root, sup2d="M", mv="H", chirality_margin=0.1).run_id() == base.run_id()
    on = make_config("smoke", data_root=data_root, sup2d="M", mv="H", chirality_weight=10.0, iterations=3,
                     pretrain_iterations=1)
    assert on.loss_terms()["chirality"] and on.run_id() != base.run_id()
    Run(on, tmp_path / "chi", device=torch.device("cpu"), verbose=False).fit()
    hist = pd.read_csv(tmp_path / "chi" / "history.csv")
    main_rows = hist[hist["stage"] == "main"]
    assert np.isfinite(main_rows["chirality"]).all() and (main_rows["chirality"] >= 0).all()
    # the gradient: a depth-mirrored body scores the hinge, and backward reaches z_rel
    body = torch.tensor(np.random.default_rng(0).normal(size=(1, 17, 3)))
    body.requires_grad_(True)
    mirrored = body * torch.tensor([1.0, 1.0, -1.0], dtype=body.dtype)
    c = losses.chirality(body.detach())
    loss = losses.chirality_loss(mirrored if c > 0 else body, margin=0.1)
    assert loss > 0
    loss.backward()
    assert body.grad[..., 2].abs().sum() > 0


def test_unlabelled_joints_are_the_ones_no_2d_source_annotates():
    from weakpose import skeleton
    assert skeleton.unlabelled_joints(("M",)) == (7, 9)            # MPII: no spine, no neck/nose
    assert skeleton.unlabelled_joints(("H", "M")) == () == skeleton.unlabelled_joints(("H",))
    assert make_config("smoke", sup2d="M", free_unlabelled_2d=True).free_2d_joints == (7, 9)
    assert make_config("smoke", sup2d="M").free_2d_joints == ()     # off: the paper / the earlier "ours"
    assert make_config("smoke", sup2d="H+M", free_unlabelled_2d=True).free_2d_joints == ()


def test_free_2d_joints_take_the_weak_gradient_and_the_others_do_not():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64) * 255
    K = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(4, 1, 1)
    torch.manual_seed(1)
    net = PoseNet("resnet18", head_channels=16, feature_stride=16)
    torch.nn.init.normal_(net.depth.weight, std=1e-3)
    cfg = make_config("smoke", sup2d="M", mv="H", detach_2d_3d=True, free_unlabelled_2d=True)
    assert cfg.free_2d_joints == (7, 9)
    _weak_backward(net, cfg, x, K)
    per_joint = net.heat.weight.grad.abs().flatten(1).sum(1)      # (17,): one heatmap channel per joint
    assert (per_joint[[7, 9]] > 0).all()
    assert (per_joint[[j for j in range(17) if j not in (7, 9)]] == 0).all()


def test_free_2d_joints_get_no_pseudo_labels(data_root, tmp_path):
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", free_unlabelled_2d=True, detach_2d_3d=True,
                      pseudo_tau=0.0)
    run = Run(cfg, tmp_path / "free", device=torch.device("cpu"), verbose=False)
    run.make_pseudo_labels()
    lab = run.pseudo[0]
    assert (lab[:, [7, 9], 2] == 0).all() and (lab[:, [0, 8], 2] > 0).any()


def test_the_shared_2d_model_and_its_warm_up_are_trained_first_and_reused(data_root, tmp_path, monkeypatch):
    """`train` of a row with ``shared_2d`` trains its warm-up stage (at the smaller size), then its shared 2D model
    from it, then the row from that; a second row reuses both. A clone holds a shared model's committed files but
    not its checkpoint: it is trained again, to the same metrics."""
    monkeypatch.setitem(PROFILES, "tinycpu", dict(PROFILES["smoke"], input_size=96, shared_2d=True,
                                                  pretrain_iterations=2, warmup_2d_size=64, warmup_2d_iterations=2))
    ws = make_run_config("tinycpu", data_root=data_root, device="cpu", **{"sup2d": "M", "mv": "H"})
    shared = tmp_path / "shared2d"
    train(ws, tmp_path / "table1" / "ws", verbose=False)
    scfg = shared_2d_config(ws)
    names = sorted(p.name for p in shared.iterdir())
    assert names == sorted([scfg.run_id(), warmup_2d_config(scfg).run_id()])
    assert json.loads((shared / warmup_2d_config(scfg).run_id() / "config.json").read_text())["input_size"] == 64
    assert json.loads((shared / scfg.run_id() / "config.json").read_text())["input_size"] == 96
    first = (shared / scfg.run_id() / "metrics.json").read_text()
    shutil.rmtree(shared / scfg.run_id() / "checkpoints")
    train(make_run_config("tinycpu", data_root=data_root, device="cpu", **{"sup2d": "M", "mv": ""}),
          tmp_path / "table1" / "2d", verbose=False)
    assert sorted(p.name for p in shared.iterdir()) == names
    assert (shared / scfg.run_id() / "metrics.json").read_text() == first


def test_mv_grad_clip_is_a_weak_row_switch(data_root, tmp_path):
    """Off by default; a field of the multi-view term (`TERM_FIELDS`): the FS / 2D-only rows keep their run id; on a
    weak row the trainer clips, keeps the running norm in its checkpoint and resumes it."""
    import pandas as pd
    from weakpose.config import make_config
    from weakpose.trainer import Run
    fs = make_config("smoke", data_root=data_root, sup3d="H", mv="")
    assert fs == make_config("smoke", data_root=data_root, sup3d="H", mv="", mv_grad_clip=3.0)
    on = make_config("smoke", data_root=data_root, sup2d="M", mv="H", mv_grad_clip=3.0, iterations=4,
                     pretrain_iterations=1, ckpt_every=2)
    assert on.run_id() != make_config("smoke", data_root=data_root, sup2d="M", mv="H", iterations=4,
                                      pretrain_iterations=1, ckpt_every=2).run_id()
    run = Run(on, tmp_path / "clip", device=torch.device("cpu"), verbose=False)
    run.fit()
    assert run.grad_norm > 0
    state = torch.load(tmp_path / "clip" / "checkpoints" / "last.pt", weights_only=True)
    torch.testing.assert_close(state["grad_norm"], run.grad_norm)
    again = Run(on, tmp_path / "clip", device=torch.device("cpu"), verbose=False)
    assert again.try_resume() and torch.equal(again.grad_norm, run.grad_norm)
    assert pd.read_csv(tmp_path / "clip" / "history.csv")["total"].notna().all()


def test_foreshortening_term_is_a_weak_row_switch(data_root, tmp_path):
    """Off by default (the paper); its weight and margin are fields of its term (`TERM_FIELDS`): the FS row keeps its
    run id; on a weak row the trainer adds foreshortening_weight x the hinge and logs it."""
    fs = make_config("smoke", data_root=data_root, sup3d="H", mv="")
    assert fs.run_id() == make_config("smoke", data_root=data_root, sup3d="H", mv="", foreshortening_weight=10.0).run_id()
    base = make_config("smoke", data_root=data_root, sup2d="M", mv="H")
    assert not base.loss_terms()["foreshortening"]
    on = make_config("smoke", data_root=data_root, sup2d="M", mv="H", foreshortening_weight=10.0, iterations=3,
                     pretrain_iterations=1)
    assert on.loss_terms()["foreshortening"] and on.run_id() != base.run_id()
    Run(on, tmp_path / "fore", device=torch.device("cpu"), verbose=False).fit()
    main_rows = pd.read_csv(tmp_path / "fore" / "history.csv").query("stage == 'main'")
    assert np.isfinite(main_rows["foreshortening"]).all() and (main_rows["foreshortening"] >= 0).all()
    # its gradient reaches the depth: a body turned into depth is pushed back towards the image plane
    body = torch.tensor(np.random.default_rng(0).normal(size=(1, 17, 3)) * [0.1, 0.1, 1.0], requires_grad=True)
    loss = losses.foreshortening_loss(body, margin=0.5)
    assert loss > 0
    loss.backward()
    assert body.grad[..., 2].abs().sum() > 0
    # foreshortening_bones="torso" (the neck-pelvis bone alone) is a field of the same term, and what weak_terms adds
    assert fs.run_id() == make_config("smoke", data_root=data_root, sup3d="H", mv="", foreshortening_bones="torso").run_id()
    torso = dataclasses.replace(on, foreshortening_bones="torso")
    assert torso.run_id() != on.run_id()
    pts = torch.tensor(np.random.default_rng(1).normal(size=(2, 4, 17, 3)))
    conf, mask = torch.ones(2, 4, 17, dtype=torch.float64), torch.ones(2, 4, dtype=torch.bool)
    mean_bone = torch.ones(16, dtype=torch.float64)
    for cfg, bones in ((on, "all"), (torso, "torso")):
        got = losses.weak_terms(pts, conf, mask, cfg, mean_bone)["foreshortening"]
        torch.testing.assert_close(got, losses.foreshortening_loss(pts.flatten(0, 1), margin=0.5, bones=bones))
