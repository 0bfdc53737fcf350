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
                                                       source="synthetic", data_root="", device="auto", seed=0)
    with pytest.raises(ValueError, match="unknown row parameters"):
        C.make_run_config("smoke", lr=1.0)


def test_resolve_device():
    assert C.resolve_device("cpu") == torch.device("cpu")
    assert C.resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert C.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            C.resolve_device("cuda")


def test_chirality_terms_rename_and_relabel_only_the_rows_that_use_the_prior():
    """Fields of a loss term that is off (`TERM_FIELDS`) leave the run id and the formulation alone: the knees added
    to "ours" do not touch the FS / 2D-only rows (no multi-view images, no prior), and do rename the weak rows."""
    from weakpose.config import FORMULATIONS, formulation_of
    ours, ours1 = FORMULATIONS["ours"], FORMULATIONS["ours1"]
    fs = [C.make_config("cpu128", sup3d="H", mv="", **f) for f in (ours, ours1)]
    assert fs[0].run_id() == fs[1].run_id() and formulation_of(fs[0]) == formulation_of(fs[1]) == "ours"
    ws = [C.make_config("cpu128", sup2d="M", mv="H", **f) for f in (ours, ours1, FORMULATIONS["ours2"])]
    assert len({c.run_id() for c in ws}) == 3
    assert [formulation_of(c) for c in ws] == ["ours", "ours1", "ours2"]
    # a measured, unadopted switch on top of a formulation makes the run "custom", not that formulation
    for k, v in (("mv_grad_clip", 2.0), ("depth_grad_scale", 0.1), ("foreshortening_weight", 5.0),
                 ("foreshortening_margin", 0.85)):
        assert formulation_of(C.make_config("cpu128", sup2d="M", mv="H", **{**ours, k: v})) == "custom"
    with pytest.raises(ValueError, match="chirality_terms"):
        C.make_config("cpu128", chirality_terms="nose+toes")


def test_rows_without_the_prior_match_the_table_row_in_every_formulation_that_shares_them():
    """An FS run trained under "ours1" (nose-only prior, which FS never uses) is the FS row of "ours" too:
    `tables.match_rows` compares what a run computes, not the fields of a term it has off."""
    from weakpose.config import FORMULATIONS
    from weakpose.tables import ROWS, match_rows
    fs = C.make_run_config("cpu128", formulation="ours1", **ROWS["table1"]["FS H+M/H/-"])
    assert fs != C.make_run_config("cpu128", formulation="ours", **ROWS["table1"]["FS H+M/H/-"])
    assert match_rows(fs)["table1"] == "FS H+M/H/-"
    ws = C.make_run_config("cpu128", formulation="ours1", **ROWS["table1"]["WS M/-/H"])
    assert match_rows(ws)["table1"] == "WS M/-/H" and C.formulation_of(ws) == "ours1"
    assert FORMULATIONS["ours"]["chirality_terms"] == "nose+knees"


def test_a_formulation_matches_only_where_its_terms_would_be_off_too():
    """`formulations_of` leaves a term's own fields out only when the term is off both in the run and under the
    preset: a weak run without the torso hinge is "ours2", not "ours" (whose hinge would be on), while an FS or
    2D-only run, which has no weak term under any preset, is the same computation in every formulation but "paper"
    (whose beta / distance / invalid-view handling differ in fields that are not a term's own)."""
    from weakpose.config import FORMULATIONS, formulation_of, formulations_of
    ours2 = C.make_config("cpu128", sup2d="M", mv="H", **FORMULATIONS["ours2"])
    assert formulations_of(ours2) == ["ours2"]
    hinge = dataclasses.replace(ours2, foreshortening_weight=10.0)   # the hinge on at the default bones / margin
    assert formulation_of(hinge) == "custom"
    fs = C.make_config("cpu128", sup3d="H", mv="", **FORMULATIONS["ours2"])
    assert formulations_of(fs) == ["ours_clip", "ours", "ours2", "ours1"] and formulation_of(fs) == "ours"
    assert formulations_of(dataclasses.replace(fs, foreshortening_weight=0.0)) == formulations_of(fs)
    assert formulation_of(C.make_config("cpu128", sup3d="H", mv="")) == "paper"


def test_tables_label_every_formulation_apart():
    """The results tables keep each formulation's runs on their own line: "ours" is ", fixed", its earlier versions
    ", fixed v2" / "v1" / "v0", the paper's literal losses carry no suffix and anything else is ", custom"."""
    from weakpose.config import FORMULATIONS
    from weakpose.tables import label_of
    labels = {f: label_of(C.make_config("cpu128", sup2d="M", mv="H", **p)) for f, p in FORMULATIONS.items()}
    assert labels["ours"] == "ours (synthetic, cpu128, fixed)" and labels["paper"] == "ours (synthetic, cpu128)"
    assert labels["ours2"].endswith("fixed v2)") and len(set(labels.values())) == len(FORMULATIONS)
    assert label_of(C.make_config("cpu128", sup2d="M", mv="H", mv_grad_clip=3.0)).endswith("custom)")
    assert labels["ours_clip"] == "ours (synthetic, cpu128, fixed + clip)"


def test_ours_clip_is_ours_plus_the_clip_and_keeps_the_shared_rows_labelled_ours():
    """"ours_clip" differs from "ours" in `mv_grad_clip` alone; a weak run with it is ours_clip (not ours, not
    custom), while FS, with no L_MC to clip, is the same run id under both and stays labelled "ours"."""
    from weakpose.config import FORMULATIONS, formulation_of
    from weakpose.tables import ROWS
    assert FORMULATIONS["ours_clip"] == {**FORMULATIONS["ours"], "mv_grad_clip": 3.0}
    ws = [C.make_run_config("cpu128", formulation=f, **ROWS["table1"]["WS M/-/H+I+Q"]) for f in ("ours", "ours_clip")]
    assert [formulation_of(c) for c in ws] == ["ours", "ours_clip"] and ws[0].run_id() != ws[1].run_id()
    fs = [C.make_run_config("cpu128", formulation=f, **ROWS["table1"]["FS H+M/H/-"]) for f in ("ours", "ours_clip")]
    assert fs[0].run_id() == fs[1].run_id() and formulation_of(fs[1]) == "ours"


def test_ours_clip_rows_copied_from_the_clip_ablations_are_those_ablations():
    """The Table-1 ours_clip runs that were first trained as `mv_grad_clip=3` ablations (a PROVENANCE.txt in their
    folder) are copies of those runs, and their config is exactly the row's ours_clip config (same run id)."""
    from pathlib import Path
    from weakpose.tables import ROWS, match_rows
    root = Path(__file__).resolve().parent.parent / "results"
    copied = sorted((root / "table1").glob("*/PROVENANCE.txt"))
    if not copied:
        pytest.skip("no copied runs in results/table1")
    for prov in copied:
        d = prov.parent
        cfg = C.config_from_dict(json.loads((d / "config.json").read_text()))
        assert cfg.run_id() == d.name and C.formulation_of(cfg) == "ours_clip"
        row = match_rows(cfg)["table1"]
        made = C.make_run_config(cfg.profile, seed=cfg.seed, formulation="ours_clip", **ROWS["table1"][row])
        assert made == cfg
        ablation = root / "ablations" / prov.read_text().split("results/ablations/")[1].split()[0]
        for f in ("config.json", "history.csv", "metrics.json", "per_sample.csv"):
            assert (d / f).read_bytes() == (ablation / f).read_bytes(), (d, f)

