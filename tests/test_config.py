"""The one config: profiles, overrides, run ids, the loss terms each stage switches on, flat row parameters and
device resolution (weakpose.config)."""
import dataclasses
import json

import pytest
import torch

from weakpose import config as C


def test_profiles_and_overrides():
    cfg = C.make_config("smoke", mv="H+I", iterations=3)
    assert cfg.profile == "smoke" and cfg.backbone == "resnet18" and cfg.mv == "H+I" and cfg.iterations == 3
    assert C.make_config("paper").iterations == 60_000  # Appendix A
    with pytest.raises(ValueError, match="profile"):
        C.make_config("huge")
    with pytest.raises(ValueError, match="unknown config keys"):
        C.make_config("smoke", lr_typo=1.0)


def test_run_id_is_readable_stable_and_changes_with_the_config():
    a, b = C.make_config("smoke", mv="H"), C.make_config("smoke", mv="H")
    assert a.run_id() == b.run_id() and a.run_id().startswith("ws_2d-HM_3d-none_mv-H_smoke_s0_")
    assert C.make_config("smoke", mv="H", lr=1e-3).run_id() != a.run_id()
    assert C.make_config("smoke", mv="H", known_R=True).run_id().startswith("ws+r_")
    assert C.make_config("smoke", mv="H", use_heatmap_loss=False).run_id().split("_smoke")[0].endswith("_noLH")


def test_config_round_trips_through_json():
    cfg = C.make_config("smoke", sup3d="H", sup3d_subjects=("S1",), mv="H")
    assert C.config_from_dict(json.loads(json.dumps(dataclasses.asdict(cfg)))) == cfg


@pytest.mark.parametrize("row, terms", [
    (dict(sup3d="H", mv=""), {"heatmap": True, "depth": True, "mc": False, "limb": False, "validity": False, "chirality": False, "foreshortening": False}),
    (dict(mv="H"), {"heatmap": True, "depth": False, "mc": True, "limb": True, "validity": False, "chirality": False, "foreshortening": False}),
    (dict(mv="H", use_heatmap_loss=False), {"heatmap": False, "depth": False, "mc": True, "limb": True, "validity": False, "chirality": False, "foreshortening": False}),
    (dict(sup2d="M", mv=""), {"heatmap": True, "depth": False, "mc": False, "limb": False, "validity": False, "chirality": False, "foreshortening": False}),
])
def test_loss_terms_by_stage(row, terms):
    cfg = C.make_config("smoke", **row)
    assert cfg.loss_terms("main") == terms
    assert cfg.loss_terms("pretrain") == {"heatmap": True, "depth": False, "mc": False, "limb": False,
                                          "validity": False, "chirality": False, "foreshortening": False}
    with pytest.raises(ValueError, match="stage"):
        cfg.loss_terms("warmup")


def test_validity_term_needs_the_hinge():
    cfg = C.make_config("smoke", mv="H", invalid_views="hinge", validity_weight=100.0)
    assert cfg.loss_terms()["validity"] and not C.make_config("smoke", mv="H", invalid_views="hinge").loss_terms()["validity"]
    with pytest.raises(ValueError, match="validity_weight needs"):
        C.make_config("smoke", mv="H", validity_weight=1.0)
    with pytest.raises(ValueError, match="invalid_views"):
        C.make_config("smoke", mv="H", invalid_views="drop")


def test_make_run_config_flat_parameters():
    cfg = C.make_run_config("smoke", seed=3, sup3d="H", sup3d_subjects="S1, S5", mv="H")
    assert cfg.sup3d_subjects == ("S1", "S5") and cfg.seed == 3 and cfg.mode == "semi"
    assert C.make_run_config("smoke") == C.make_config("smoke", **{**C.ROW_DEFAULTS, "sup3d_subjects": ()},
                                                       **C.FORMULATIONS["ours"], source="synthetic", data_root="",
                                                       device="auto", seed=0)
    assert C.make_run_config().profile == "cpu" and C.formulation_of(C.make_run_config()) == "ours"
    with pytest.raises(ValueError, match="unknown row parameters"):
        C.make_run_config("smoke", lr=1.0)


def test_resolve_device():
    assert C.resolve_device("cpu") == torch.device("cpu")
    assert C.resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert C.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            C.resolve_device("cuda")


def test_formulations_are_told_apart_by_what_they_compute():
    """A weak run is "ours" or "paper" only with exactly that preset; any other weak setting makes it custom; a run
    without weak terms is both (`formulations_of`), and `tables.match_rows` finds its row under either."""
    from weakpose.tables import ROWS, match_rows
    ws = C.make_run_config("cpu", formulation="ours", **ROWS["table1"]["WS M/-/H"])
    assert C.formulation_of(ws) == "ours" and match_rows(ws)["table1"] == "WS M/-/H"
    for k, v in (("mv_grad_clip", 2.0), ("foreshortening_margin", 0.85), ("chirality_terms", "nose")):
        odd = dataclasses.replace(ws, **{k: v})
        assert C.formulation_of(odd) == "custom" and match_rows(odd) == {}
    fs = C.make_run_config("cpu", formulation="paper", **ROWS["table1"]["FS H+M/H/-"])
    assert C.formulation_of(fs) == "both" and match_rows(fs)["table1"] == "FS H+M/H/-"
    assert C.FORMULATIONS["ours"]["chirality_terms"] == "nose+knees" and C.FORMULATIONS["ours"]["mv_grad_clip"] == 3.0
    with pytest.raises(ValueError, match="chirality_terms"):
        C.make_config("cpu", chirality_terms="nose+toes")


def test_the_cpu_profiles_shared_2d_model_warms_up_at_64_px():
    """The cpu profile's rows start from a shared 2D model (`shared_2d_config`: 500 steps at 96 px, L_H only) that
    itself starts from its warm-up stage (`warmup_2d_config`: 1500 steps at 64 px from scratch)."""
    row = C.make_run_config("cpu", **{"sup2d": "M", "mv": "H"})
    shared = C.shared_2d_config(row)
    warm = C.warmup_2d_config(shared)
    assert (shared.mv, shared.sup2d, shared.input_size, shared.iterations, shared.pretrain_2d) == ("", "M", 96, 500, False)
    assert (warm.input_size, warm.iterations, warm.lr_drop_step, warm.warmup_2d_iterations) == (64, 1500, 1500, 0)
    assert C.pretrain_steps(row) == 0 and C.pretrain_steps(C.make_config("paper")) == 20_000
    with pytest.raises(ValueError, match="warmup"):
        C.make_config("smoke", warmup_2d_size=64)


def test_every_table_row_builds_its_shared_2d_model_and_ws_r_shares_the_ws_rows():
    """Every row of Tables 1-3 at profile cpu has a buildable shared 2D model (a WS+R row's known_R does not reach
    it: the shared model has no multi-view data), and rows with the same 2D data share one."""
    from weakpose import tables
    for table, rows in tables.ROWS.items():
        for name, row in rows.items():
            cfg = tables.row_config(table, name, "cpu")
            shared = C.init_config(cfg)
            assert shared is not None and not shared.known_R and not shared.mv, (table, name)
            assert C.init_config(shared) is not None                         # its 64 px warm-up
    ws, wsr = (tables.row_config("table1", n, "cpu") for n in ("WS M/-/H", "WS+R M/-/H"))
    assert C.init_config(ws).run_id() == C.init_config(wsr).run_id()
