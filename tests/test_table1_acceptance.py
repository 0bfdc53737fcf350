"""benchmarks/table1_acceptance.py: the checks compare both sides over the seeds they share."""
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

_spec = importlib.util.spec_from_file_location(
    "table1_acceptance", Path(__file__).resolve().parents[1] / "benchmarks" / "table1_acceptance.py")
ta = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ta)


def _frame():
    rows = [("FS H+M/H/-", "paper", 0, 100.0), ("FS H+M/H/-", "paper", 1, 120.0),
            ("WS+R H+M/-/H", "ours", 0, 125.0), ("WS+R H+M/-/H", "ours", 1, 160.0),
            ("WS M/-/H", "ours", 0, 150.0), ("WS M/-/H", "ours", 1, 400.0)]
    df = pd.DataFrame(rows, columns=["row_table1", "formulation", "seed", "mpjpe"])
    df["run_id"] = [f"r{i}" for i in range(len(df))]
    for c in ("p_mpjpe", "mpjpe_2d_px256", "valid_fraction"):
        df[c] = 1.0
    return df


def test_checks_pair_seeds_and_use_each_formulations_own_lines():
    """`tables.collect_results` lists an FS run once per formulation it computes the same as; the checks of one
    formulation use only its lines (the frame's FS rows are "both" runs listed under each)."""
    df = _frame()
    df = pd.concat([df, df[df["row_table1"] == "FS H+M/H/-"].assign(formulation="ours")], ignore_index=True)
    out = ta.check_table(df, "ours").set_index("check")
    wsr = out.loc["WS+R H+M/H <= 1.3 x FS MPJPE"]
    assert wsr["seeds"] == "0,1" and wsr["status"] == "PASS"           # (125 + 160) / 2 <= 1.3 x 110
    ws = out.loc["WS M/H <= 1.6 x FS MPJPE"]
    assert ws["status"] == "FAIL" and "275.0" in ws["left"]            # the mean over both seeds
    assert out.loc["WS+R M/H <= WS M/H MPJPE", "status"] == "MISSING"  # no WS+R M/H run at all
    df = df[~((df["row_table1"] == "WS M/-/H") & (df["seed"] == 1))]   # WS M/H only at seed 0
    ws = ta.check_table(df, "ours").set_index("check").loc["WS M/H <= 1.6 x FS MPJPE"]
    assert ws["seeds"] == "0" and "100.0" in ws["right"] and ws["status"] == "PASS"
    # the literal formulation has FS but no weak run of its own: its weak checks are MISSING, not borrowed
    assert ta.check_table(df, "paper").set_index("check").loc["WS M/H <= 1.6 x FS MPJPE", "status"] == "MISSING"


def test_rows_table_gives_each_row_per_formulation_with_ratios_over_shared_seeds():
    df = _frame()
    flat = pd.DataFrame([{"row_table1": "2d-only M/-/-", "formulation": "paper", "seed": 0, "mpjpe": 300.0,
                          "p_mpjpe": 4.0, "mpjpe_2d_px256": 1.0, "valid_fraction": 1.0, "run_id": "flat"}])
    both = pd.concat([df[df["row_table1"] == "FS H+M/H/-"], flat])     # FS and 2D-only: the same runs under ours
    df = pd.concat([df, flat, both.assign(formulation="ours")], ignore_index=True)
    rows = ta.rows_table(df).set_index(["row", "formulation"])
    assert ("WS M/-/H", "paper") not in rows.index                    # no literal WS M/H run: no line
    ws = rows.loc[("WS M/-/H", "ours")]
    assert ws["seeds"] == "0,1" and ws["mpjpe"] == 275.0
    assert ws["x FS"] == round(275.0 / 110.0, 2)                       # FS over both seeds
    assert ws["P x flat"] == round(1.0 / 4.0, 2)                      # the flat pose only at seed 0: seed 0 alone
    assert list(rows.index.get_level_values(0).unique()) == ["FS H+M/H/-", "WS+R H+M/-/H", "2d-only M/-/-",
                                                             "WS M/-/H"]   # the paper's order


def test_seed_table_lists_rows_with_several_seeds():
    df = _frame()
    df = pd.concat([df, pd.DataFrame([{"row_table1": "2d-only M/-/-", "formulation": "paper", "seed": 0,
                                       "mpjpe": np.nan, "run_id": "x"}])], ignore_index=True)
    seeds = ta.seed_table(df)
    assert set(seeds["row"]) == {"FS H+M/H/-", "WS+R H+M/-/H", "WS M/-/H"} and len(seeds) == 6


def test_objective_at_network_scores_the_ground_truth_with_the_trainers_terms(tmp_path):
    """benchmarks/objective_at_network.objective on one tiny H-twin group with the exact 2D: L_MC vanishes at the
    ground-truth depth (known R and Procrustes), so the objective is beta L_B there; the mirror costs more with known R."""
    import torch

    from weakpose import losses
    from weakpose.config import make_config
    from weakpose.data.loaders import open_dataset

    spec = importlib.util.spec_from_file_location(
        "objective_at_network", Path(__file__).resolve().parents[1] / "benchmarks" / "objective_at_network.py")
    oan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oan)
    ds = open_dataset("H", "synthetic", data_root=str(tmp_path), size="tiny", seed=0)
    g = [g for g in ds.groups() if len(g) >= 4][0][:4]
    uv = torch.from_numpy(np.asarray(ds.joints2d[g], np.float64))
    K = torch.from_numpy(np.asarray(ds.K[g], np.float64))
    R = torch.from_numpy(np.asarray(ds.R[g], np.float64))
    zgt = losses.relative_depth_target(torch.from_numpy(np.asarray(ds.joints3d[g], np.float64)))
    conf = torch.ones(4, 17, dtype=torch.float64)
    bones = torch.tensor(ds.meta["bone_stats"]["mean_normalised"], dtype=torch.float64)
    for known in (True, False):
        cfg = make_config("smoke", mv="H", known_R=known, mc_distance="squared", beta=10.0)
        at_gt = oan.objective(cfg, uv, zgt, K, conf, bones, R if known else None)
        pts = oan.geometry.reconstruct(uv, zgt, K)[0]
        limb = float(losses.limb_length_loss(pts, conf, bones))
        assert abs(at_gt - cfg.beta * limb) < 1e-6 * max(1.0, at_gt)
    cfg = make_config("smoke", mv="H", known_R=True, mc_distance="squared", beta=10.0)
    assert oan.objective(cfg, uv, -zgt, K, conf, bones, R) > oan.objective(cfg, uv, zgt, K, conf, bones, R) + 1e-3


def test_seed_checks_compare_each_seeds_ws_row_with_its_own_references_and_count_report_seeds_apart():
    """Seed by seed: WS M/H against the FS and 2D-only rows of the same seed; a seed without its FS row is
    MISSING, not borrowed from another seed (but a seed failing another check FAILs); the pass rate counts report seeds and development seeds apart."""
    def line(row, seed, mpjpe, n, p, px):
        return {"row_table1": row, "formulation": "ours", "seed": seed, "mpjpe": mpjpe, "n_mpjpe": n,
                "p_mpjpe": p, "mpjpe_2d_px256": px, "run_id": f"{row}{seed}"}
    rows = [line("FS H+M/H/-", 0, 100.0, 90, 70, 5), line("2d-only M/-/-", 0, 250, 220, 200, 10),
            line("WS M/-/H", 0, 150.0, 140, 110, 9),                         # passes: 110 <= 120, 140 < 220, ...
            line("FS H+M/H/-", 10, 100.0, 90, 70, 5), line("2d-only M/-/-", 10, 250, 220, 200, 10),
            line("WS M/-/H", 10, 150.0, 230, 130, 9),                        # P 130 > 120, N 230 > 220: fails
            line("2d-only M/-/-", 11, 250, 220, 200, 10), line("WS M/-/H", 11, 120.0, 100, 90, 8),
            line("2d-only M/-/-", 12, 250, 220, 200, 10), line("WS M/-/H", 12, 120.0, 100, 130, 8),  # no FS, P fails
            line("FS H+M/H/-", 13, 100.0, 90, 125, 5), line("2d-only M/-/-", 13, 250, 220, 200, 10),
            line("WS M/-/H", 13, 150.0, 140, 110, 9)]                        # passes, though FS's P 125 > 120
    out = ta.seed_checks(pd.DataFrame(rows)).set_index("seed")
    assert out.loc[0, "all"] == "PASS" and out.loc[0, "seeds"] == "development"
    assert out.loc[0, "P-MPJPE <= 0.6 x flat"] == "110.0 / 120.0 PASS"
    assert out.loc[10, "all"] == "FAIL" and out.loc[10, "seeds"] == "report"
    assert out.loc[10, "N-MPJPE < flat's"].endswith("FAIL") and out.loc[10, "MPJPE <= 1.6 x FS"].endswith("PASS")
    assert out.loc[11, "all"] == "MISSING" and out.loc[11, "MPJPE <= 1.6 x FS"] == "-"
    assert out.loc[12, "all"] == "FAIL" and out.loc[12, "MPJPE <= 1.6 x FS"] == "-"   # a missing check rescues nothing
    ref = "FS against the P bound (reference)"     # FS's P 70 against 0.6 x 200: reported, never counted
    assert out.loc[0, ref] == "70.0 / 120.0 in" and out.loc[11, ref] == "-"
    assert out.loc[13, ref] == "125.0 / 120.0 OUT" and out.loc[13, "all"] == "PASS"
    assert ta.pass_rate(out.reset_index(), "report") == "1 of 3"
    assert ta.pass_rate(out.reset_index(), "development") == "1 of 1"
