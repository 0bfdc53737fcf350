"""Our switches for weak supervision (issue: weak rows must learn 3D), each one setting away from the paper's
literal formulation: the 2D kept out of the 3D path, a shared 2D model, and the run ids that must not move."""
import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from weakpose import losses
from weakpose.config import make_config
from weakpose.model import PoseNet
from weakpose.tables import row_config
from weakpose.trainer import Run, main


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


def test_new_switches_at_their_defaults_keep_the_committed_run_ids():
    # ids of the committed smoke/small Table-1 rows, written before these switches existed
    assert row_config("table1", "WS H+M/-/H", "smoke", device="cpu").run_id() == "ws_2d-HM_3d-none_mv-H_smoke_s0_1f4955"
    assert row_config("table1", "FS H+M/H/-", "small").run_id() == "fs_2d-HM_3d-H_mv-none_small_s0_8044b7"
    assert row_config("table1", "WS H+M/-/H", "smoke", device="cpu").run_id() != \
        make_config("smoke", device="cpu", mv="H", detach_2d_3d=True).run_id()


def test_detach_2d_3d_keeps_the_weak_gradient_off_the_heatmaps():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64) * 255
    K = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(4, 1, 1)
    grads = {}
    for detach in (False, True):
        torch.manual_seed(1)
        net = PoseNet("resnet18", head_channels=16, feature_stride=16, detach_2d_3d=detach)
        torch.nn.init.normal_(net.depth.weight, std=1e-3)   # a non-flat pose, so L_MC has a gradient
        out = net(x, K)
        pts, conf = out["points"].reshape(1, 4, 17, 3), out["conf"].reshape(1, 4, 17)
        loss = losses.multiview_consistency(pts, conf, out["valid"].reshape(1, 4))
        loss.backward()
        g = net.heat.weight.grad
        grads[detach] = (0.0 if g is None else g.abs().sum().item(), net.depth.weight.grad.abs().sum().item(),
                         out["points"].detach())
    assert grads[False][0] > 0 and grads[True][0] == 0.0          # no weak gradient into the 2D heatmaps
    assert grads[True][1] > 0                                     # the depth maps still learn
    torch.testing.assert_close(grads[False][2], grads[True][2])   # same forward values


def test_init_2d_starts_from_a_shared_2d_model(data_root, tmp_path):
    twod = make_config("smoke", data_root=data_root, sup2d="M", mv="", iterations=4, pretrain_2d=False)
    Run(twod, tmp_path / "2d", device=torch.device("cpu"), verbose=False).fit()
    ckpt = tmp_path / "2d" / "checkpoints" / "last.pt"
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", init_2d=str(ckpt), iterations=3)
    run = Run(cfg, tmp_path / "ws", device=torch.device("cpu"), verbose=False)
    src = torch.load(ckpt, map_location="cpu", weights_only=False)["model"]
    assert torch.equal(run.model.heat.weight, src["heat.weight"]) and not run.model.depth.weight.any()
    run.fit()
    hist = pd.read_csv(tmp_path / "ws" / "history.csv")
    assert (hist["stage"] == "main").all() and len(hist) == 3     # no pre-training of its own
    bad = make_config("smoke", data_root=data_root, sup2d="M", mv="H", init_2d=str(ckpt), head_channels=8)
    with pytest.raises(ValueError, match="architecture"):
        Run(bad, tmp_path / "bad", device=torch.device("cpu"), verbose=False)
    # another input size is allowed (fully convolutional): the same weights, at 96 px
    bigger = make_config("smoke", data_root=data_root, sup2d="M", mv="H", init_2d=str(ckpt), input_size=96)
    run96 = Run(bigger, tmp_path / "96", device=torch.device("cpu"), verbose=False)
    assert torch.equal(run96.model.heat.weight, src["heat.weight"])


def test_a_run_trains_again_from_its_own_config(data_root, tmp_path, capsys):
    over = ["iterations=3", "pretrain_iterations=2", f"data_root={data_root}", "device=cpu", "sup2d=M", "mv=H"]
    main(["--profile", "smoke", "--out", str(tmp_path / "a"), "--set", *over])
    main(["--config", str(tmp_path / "a" / "config.json"), "--out", str(tmp_path / "b")])
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("a", "b"))
    assert a == b and np.isfinite(a["mpjpe"])
    with pytest.raises(SystemExit, match="weakpose.trainer"):
        main(["--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "c")])


def test_oracle_2d_in_the_3d_path(data_root, tmp_path):
    with pytest.raises(ValueError, match="oracle_2d_3d"):
        make_config("smoke", mv="H+Q", oracle_2d_3d=True)
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", oracle_2d_3d=True, detach_2d_3d=True,
                      iterations=3, pretrain_iterations=1)
    run = Run(cfg, tmp_path / "oracle", device=torch.device("cpu"), verbose=False)
    run.fit()
    hist = pd.read_csv(tmp_path / "oracle" / "history.csv")
    main_rows = hist[hist["stage"] == "main"]
    assert len(main_rows) == 3 and np.isfinite(main_rows[["mc", "limb"]].to_numpy()).all()
    assert (main_rows["limb"] > 0).all()   # the oracle 3D path is on and valid


def test_hinge_keeps_invalid_views_in_the_loss_with_a_gradient_back(data_root, tmp_path):
    torch.manual_seed(0)
    net = PoseNet("resnet18", head_channels=16, feature_stride=16, invalid_views="hinge", hinge_margin=0.01)
    torch.nn.init.normal_(net.depth.weight, std=5.0)       # a wild depth head: eq. 3 has no real root for some views
    x = torch.rand(6, 3, 64, 64) * 255
    K = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(6, 1, 1)
    out = net(x, K)
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


@pytest.mark.parametrize("scale", [0.0, 0.25])
def test_depth_grad_scale_scales_what_reaches_the_shared_features(scale):
    x = torch.rand(2, 3, 64, 64) * 255
    grads = {}
    for s in (1.0, scale):
        torch.manual_seed(0)
        net = PoseNet("resnet18", head_channels=16, feature_stride=16, depth_grad_scale=s)
        torch.nn.init.normal_(net.depth.weight, std=1e-2)
        out = net(x)
        out["depth_maps"].square().sum().backward()   # the depth maps alone: no heatmap path
        g = net.shared[1].weight.grad
        grads[s] = (torch.zeros_like(net.shared[1].weight) if g is None else g.clone(), net.depth.weight.grad.clone(),
                    out["z_rel"].detach())
    torch.testing.assert_close(grads[scale][2], grads[1.0][2])                # same forward
    torch.testing.assert_close(grads[scale][1], grads[1.0][1])                # the depth layer learns as before
    torch.testing.assert_close(grads[scale][0], scale * grads[1.0][0], atol=1e-6, rtol=1e-4)  # the rest scaled


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
    net = PoseNet("resnet18", head_channels=16, feature_stride=16, detach_2d_3d=True, free_2d_joints=(7, 9))
    torch.nn.init.normal_(net.depth.weight, std=1e-3)
    out = net(x, K)
    loss = losses.multiview_consistency(out["points"].reshape(1, 4, 17, 3), out["conf"].reshape(1, 4, 17),
                                        out["valid"].reshape(1, 4))
    loss.backward()
    per_joint = net.heat.weight.grad.abs().flatten(1).sum(1)      # (17,): one heatmap channel per joint
    assert (per_joint[[7, 9]] > 0).all()
    assert (per_joint[[j for j in range(17) if j not in (7, 9)]] == 0).all()


@pytest.mark.parametrize("scale", [0.0, 0.5])
def test_free_2d_grad_scale_bounds_what_the_free_joints_send_into_the_shared_features(scale):
    """The free joints' heatmaps keep their values and their 1x1 layer's gradient; what they send into the shared
    features is scaled (the labelled joints' path is untouched: here they get no weak gradient at all)."""
    x = torch.rand(4, 3, 64, 64) * 255
    K = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(4, 1, 1)
    got = {}
    for s in (1.0, scale):
        torch.manual_seed(1)
        net = PoseNet("resnet18", head_channels=16, feature_stride=16, detach_2d_3d=True, free_2d_joints=(7, 9),
                      free_2d_grad_scale=s, depth_grad_scale=0.0)   # the free joints' 2D path alone reaches
        torch.nn.init.normal_(net.depth.weight, std=1e-3)                     # the shared features
        out = net(x, K)
        losses.multiview_consistency(out["points"].reshape(1, 4, 17, 3), out["conf"].reshape(1, 4, 17),
                                     out["valid"].reshape(1, 4)).backward()
        got[s] = (out["points"].detach(), net.heat.weight.grad.clone(), net.shared[1].weight.grad.clone())
    torch.testing.assert_close(got[scale][0], got[1.0][0])                   # same forward
    torch.testing.assert_close(got[scale][1], got[1.0][1])                   # the heatmap layer learns as before
    assert got[1.0][2].abs().sum() > 0
    torch.testing.assert_close(got[scale][2], scale * got[1.0][2], atol=1e-7, rtol=1e-4)  # the rest scaled
    assert make_config("smoke", sup2d="M", mv="", free_2d_grad_scale=0.0).run_id() == \
        make_config("smoke", sup2d="M", mv="").run_id()                      # moot without multi-view losses


def test_free_2d_joints_get_no_pseudo_labels(data_root, tmp_path):
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", free_unlabelled_2d=True, detach_2d_3d=True,
                      pseudo_tau=0.0)
    run = Run(cfg, tmp_path / "free", device=torch.device("cpu"), verbose=False)
    run.make_pseudo_labels()
    lab = run.pseudo[0]
    assert (lab[:, [7, 9], 2] == 0).all() and (lab[:, [0, 8], 2] > 0).any()


def test_the_128px_profile_fine_tunes_the_cpu_profiles_shared_2d_model():
    from weakpose.config import shared_2d_config, with_profile
    for row in ("WS M/-/H", "FS H+M/H/-"):
        big, small = (row_config("table1", row, p, formulation="ours") for p in ("cpu128", "cpu"))
        s128 = shared_2d_config(big)
        assert s128.input_size == 128 and s128.iterations == 1000 and s128.init_2d == "shared:cpu"
        assert not s128.pretrain_from and s128.mv == ""
        # the model it starts from is exactly the committed cpu row's shared 2D model (same id, same folder)
        assert shared_2d_config(with_profile(s128, "cpu")).run_id() == shared_2d_config(small).run_id()
    with pytest.raises(ValueError, match="profile"):
        with_profile(big, "nope")


def test_init_2d_shared_profile_trains_that_profiles_shared_model_first(data_root, tmp_path):
    from weakpose.config import shared_2d_config, with_profile
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", init_2d="shared:smoke", iterations=2)
    run = Run(cfg, tmp_path / "runs" / "ws", device=torch.device("cpu"), verbose=False, shared_root=tmp_path / "sh")
    want = tmp_path / "sh" / shared_2d_config(with_profile(cfg, "smoke")).run_id()
    assert (want / "metrics.json").is_file() and [p.name for p in (tmp_path / "sh").iterdir()] == [want.name]
    src = torch.load(want / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)["model"]
    assert torch.equal(run.model.heat.weight, src["heat.weight"])
    # a fresh clone holds a shared model's committed files but not its checkpoint (not in git): it is trained
    # again, to the same metrics, instead of failing on the missing checkpoint
    first = (want / "metrics.json").read_text()
    shutil.rmtree(want / "checkpoints")
    again = Run(cfg, tmp_path / "runs" / "ws2", device=torch.device("cpu"), verbose=False, shared_root=tmp_path / "sh")
    assert (want / "checkpoints" / "last.pt").is_file() and (want / "metrics.json").read_text() == first
    torch.testing.assert_close(again.model.heat.weight, run.model.heat.weight, rtol=0, atol=0)


def test_mv_grad_clip_is_a_weak_row_switch(data_root, tmp_path):
    """Off by default; a field of the multi-view term (`TERM_FIELDS`): the FS / 2D-only rows keep their run id; on a
    weak row the trainer clips, keeps the running norm in its checkpoint and resumes it."""
    import pandas as pd
    from weakpose.config import make_config
    from weakpose.trainer import Run
    fs = make_config("smoke", data_root=data_root, sup3d="H", mv="")
    assert fs.run_id() == make_config("smoke", data_root=data_root, sup3d="H", mv="", mv_grad_clip=3.0).run_id()
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


def test_root_depth_bones_is_what_the_model_reconstructs_and_survives_init_and_checkpoints(data_root, tmp_path):
    from weakpose import geometry
    from weakpose.model import load_checkpoint
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64) * 255
    K = torch.tensor([[[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]]]).repeat(4, 1, 1)
    mean_bone = torch.rand(16) * 0.5 + 0.5
    torch.manual_seed(1)
    net = PoseNet("resnet18", head_channels=16, feature_stride=16, root_depth="bones", mean_bone=mean_bone)
    torch.nn.init.normal_(net.depth.weight, std=1e-2)
    out = net(x, K)
    ref = geometry.reconstruct(out["uv"], out["z_rel"], K, root_depth="bones", mean_bone=mean_bone)
    torch.testing.assert_close(out["points"], ref[0])
    neck = geometry.reconstruct(out["uv"], out["z_rel"], K)
    assert not torch.allclose(out["z_root"], neck[1])            # a different root depth than eq. 3's
    with pytest.raises(ValueError, match="mean_bone"):
        PoseNet("resnet18", head_channels=16, feature_stride=16, root_depth="bones")
    # the switch leaves a default run's id alone, and a shared 2D model (root_depth "neck") starts a "bones" run
    from weakpose.config import formulation_of
    assert make_config("smoke", root_depth="bones").run_id() != make_config("smoke").run_id()
    assert formulation_of(make_config("smoke", mv="H", root_depth="bones")) == "custom"
    twod = make_config("smoke", data_root=data_root, sup2d="M", mv="", iterations=2, pretrain_2d=False)
    Run(twod, tmp_path / "2d", device=torch.device("cpu"), verbose=False).fit()
    cfg = make_config("smoke", data_root=data_root, sup2d="M", mv="H", iterations=3, root_depth="bones",
                      init_2d=str(tmp_path / "2d" / "checkpoints" / "last.pt"))
    run = Run(cfg, tmp_path / "ws", device=torch.device("cpu"), verbose=False)
    torch.testing.assert_close(run.model.mean_bone, run.bone_norm.float())  # the run's eq. 11 means
    run.fit()
    model, back, _ = load_checkpoint(tmp_path / "ws" / "checkpoints" / "last.pt")
    assert back.root_depth == "bones"
    torch.testing.assert_close(model.mean_bone, run.bone_norm.float())      # restored from the checkpoint
