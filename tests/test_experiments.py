"""The rows of the paper's tables, the papermill runner (2 smoke rows), reuse between tables and the tables built
from the results files."""
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weakpose import config, runs, tables
from weakpose import experiments as ex
from weakpose.config import config_from_dict

PAPER_TABLE1 = [  # (method, 2D, 3D, MV) as printed in the paper's Table 1, in order
    ("FS", "H+M", "H", "-"), ("WS + R", "H+M", "-", "H"), ("WS", "H+M", "-", "H"), ("2d-only", "M", "-", "-"),
    ("WS + R", "M", "-", "H"), ("WS", "M", "-", "H"), ("WS", "M", "-", "I"), ("WS", "M", "-", "I+Q"),
    ("WS", "M", "-", "H+I+Q"), ("WS + R", "M", "-", "H+I+Q"),
]
RUNNER_ROWS = ["2d-only M/-/-", "WS M/-/H"]


def test_table1_rows_are_the_papers_ten_plus_the_degenerate_one():
    names = list(tables.TABLE1)
    assert len(names) == 11 and names[-1] == "WS M/-/H without L_H" and tables.TABLE1_EXTRA == (names[-1],)
    for name, (method, sup2d, sup3d, mv) in zip(names[:10], PAPER_TABLE1):
        row = tables.TABLE1[name]
        assert row == dict(sup2d=sup2d, sup3d="" if sup3d == "-" else sup3d, mv="" if mv == "-" else mv,
                           known_R=method == "WS + R", use_heatmap_loss=True), name
    assert tables.TABLE1["WS M/-/H without L_H"] == dict(sup2d="M", sup3d="", mv="H", known_R=False, use_heatmap_loss=False)
    pub = tables.published(1, raw=True)
    assert list(zip(pub["method"], pub["2D"], pub["3D"], pub["MV"])) == PAPER_TABLE1
    assert list(pub["row"]) == names[:10]


def test_modes_of_the_rows():
    mode = {t: {n: tables.row_config(t, n, "smoke").mode for n in tables.ROWS[t]} for t in tables.TABLES}
    assert [mode["table1"][n] for n in tables.TABLE1] == ["fs", "ws+r", "ws", "2d", "ws+r", "ws", "ws", "ws", "ws", "ws+r", "ws"]
    assert mode["table2"] == {"FS H": "fs", "FS H+I+Q": "fs+mv", "semi H": "semi", "semi H+I+Q": "semi",
                              "WS H": "ws", "WS H+I+Q": "ws"}
    assert mode["table3"] == {"FS H+I+Q": "fs+mv", "semi H+I+Q": "semi", "WS H+I+Q": "ws", "WS+R H+I+Q": "ws+r",
                              "2d-only M": "2d", "2d-only H+M": "2d"}
    assert tables.row_config("table2", "semi H", "smoke").sup3d_subjects == ("S1",)
    assert tables.TABLE3_EXTRA == ("2d-only M", "2d-only H+M") and tables.EXTRA[3] == tables.TABLE3_EXTRA
    for name in tables.TABLE3:  # Table 3 = Table 2's H+I+Q models evaluated on I, and the flat poses of their 2D
        c3 = tables.row_config("table3", name, "smoke")
        assert c3.eval_on == "I" and c3.mv == ("" if name in tables.TABLE3_EXTRA else "H+I+Q")
        if name in tables.TABLE2:
            assert dataclasses.replace(c3, eval_on="H") == tables.row_config("table2", name, "smoke")
    # the WS rows' flat pose on I is Table 1's 2D-only model evaluated on I (the runner reuses it, no training)
    assert dataclasses.replace(tables.row_config("table3", "2d-only M", "smoke"), eval_on="H") == \
        tables.row_config("table1", "2d-only M/-/-", "smoke")
    assert tables.row_config("table3", "2d-only H+M", "smoke").sup2d == "H+M"


def test_published_rows_point_at_our_rows():
    for n in (1, 2, 3):
        pub = tables.published(n)
        assert (pub["source"] == f"published (Iqbal et al. CVPR 2020, Table {n})").all()
        assert set(pub.loc[pub["row"] != "", "row"]) <= set(tables.ROWS[f"table{n}"])
    assert len(tables.published(2)) == 31 and len(tables.published(3)) == 13  # peers included
    t2 = tables.published(2)
    assert t2.loc[t2["method"] == "Ours* - H - baseline", ["MPJPE", "row", "gtroot"]].values.tolist() == [[50.2, "FS H", True]]


def test_run_id_is_the_notebooks():
    """The runner's run-id is what the notebook computes from the parameters the runner passes."""
    for table in tables.TABLES:
        for name in tables.ROWS[table]:
            p = ex.notebook_params(table, name, "smoke", "/r", data_root="/d", device="cpu", seed=3)
            run = dict(source=p["source"], data_root=p["data_root"], device=p["device"], seed=p["seed"])
            if table == "table1":  # the ablation notebook's call
                cfg = config.make_run_config(p["profile"], **run, sup2d=p["sup2d"], sup3d=p["sup3d"], mv=p["mv"],
                                         known_R=p["known_R"], use_heatmap_loss=p["use_heatmap_loss"])
            else:  # the sota notebooks' call
                cfg = tables.row_config(table, p["row"], p["profile"], **run)
            assert cfg.run_id() == tables.row_config(table, name, "smoke", **run).run_id()
            assert tables.match_rows(cfg)[table] == name


def test_unknown_rows_raise():
    with pytest.raises(ValueError, match="no row"):
        tables.row_config("table2", "WS H+Q", "smoke")
    with pytest.raises(ValueError, match="unknown row parameters"):
        config.make_run_config("smoke", mvv="H")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Runs the runner on 2 smoke rows of Table 1 (two papermill executions) into a fresh results folder."""
    root = tmp_path_factory.mktemp("results")
    mp = pytest.MonkeyPatch()
    mp.setenv("WEAKPOSE_DATA", str(tmp_path_factory.mktemp("data")))
    mp.setenv("WEAKPOSE_NOTEBOOK_PROFILE", "small")  # the runner must switch the notebooks' test hook off
    log = ex.run_table("table1", "smoke", results=root, rows=RUNNER_ROWS, device="cpu", progress=False)
    yield root, log
    mp.undo()


@pytest.mark.slow
def test_runner_executes_each_row_into_its_run_dir(results):
    root, log = results
    assert list(log["row"]) == RUNNER_ROWS and (log["status"] == "ran").all(), log.to_string()
    for _, line in log.iterrows():
        out = root / "table1" / tables.row_config("table1", line["row"], "smoke", device="cpu").run_id()
        assert str(out) == line["out"]
        for f in ("notebook.ipynb", "config.json", "metrics.json", "history.csv", "per_sample.csv", "checkpoints/last.pt"):
            assert (out / f).is_file(), f
        nb = json.loads((out / "notebook.ipynb").read_text())
        assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
        assert np.isfinite(json.loads((out / "metrics.json").read_text())["mpjpe"])


@pytest.mark.slow
def test_executed_notebooks_stay_small(results):
    """The training cell's progress is a few plain lines (no output per tqdm refresh, no carriage return or cursor
    movement), and the executed notebook stays small (its figures are most of it)."""
    root, log = results
    for out in log["out"]:
        path = Path(out) / "notebook.ipynb"
        assert path.stat().st_size < 400_000, f"{path}: {path.stat().st_size} bytes"
        bars = ""
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            streams = [o for o in cell.get("outputs", []) if o["output_type"] == "stream"]
            text = "".join("".join(o["text"]) for o in streams)
            assert len(streams) < 50 and len(text) < 20_000, f"{path} cell {i}: {len(streams)} stream outputs"
            assert "\r" not in text and "\x1b" not in text, f"{path} cell {i}: terminal control characters"
            bars += text
        assert re.search(r"100%\|#+\| (\d+)/\1 \[", bars), f"{path}: no finished training bar in the outputs"


@pytest.mark.slow
def test_runner_skips_finished_rows(results, capsys):
    root, _ = results
    code = ex.main(["table1", "--profile", "smoke", "--results", str(root), "--device", "cpu", "--rows", *RUNNER_ROWS])
    out = capsys.readouterr().out
    assert code == 0 and out.count("skipped") == 2 and "ran" not in out.split()


@pytest.mark.slow
def test_reuse_between_tables(results):
    """Table 1's 'WS M/-/H' is Table 2's 'WS H' (copied checkpoint, re-evaluated); Table 3's model is Table 2's,
    evaluated on I."""
    root, _ = results
    cfg2 = tables.row_config("table2", "WS H", "smoke", device="cpu")
    m2 = runs.run(cfg2, runs.run_dir(root, "table2", cfg2), verbose=False)
    m1 = json.loads((runs.run_dir(root, "table1", cfg2) / "metrics.json").read_text())
    assert m2["mpjpe"] == pytest.approx(m1["mpjpe"]) and m2["steps"] == m1["steps"]
    cfg3 = dataclasses.replace(cfg2, eval_on="I")
    out3 = runs.run_dir(root, "table3", cfg3)
    m3 = runs.run(cfg3, out3)
    assert m3["eval_on"] == "I" and "pck" in m3 and m3["model_from"] == f"table1/{cfg2.run_id()}/checkpoints/last.pt"
    assert config_from_dict(json.loads((out3 / "config.json").read_text())) == cfg3
    assert runs.checkpoint_of(out3) is not None


@pytest.mark.slow
def test_tables_put_the_paper_next_to_ours(results):
    root, _ = results
    ours = tables.collect_results(root)
    label = "ours (synthetic, smoke)"
    # the 2D-only row is the same run under both formulations: it stands in the literal formulation's column too
    assert set(ours["label"]) == {label, "literal (synthetic, smoke)"} and "FS H+M/H/-" not in set(ours["row_table1"])
    assert set(ours.loc[ours["label"] != label, "row_table1"]) == {"2d-only M/-/-"}
    side = tables.side_by_side(1, ours)
    cols = list(side.columns)
    assert cols.index("3D mm (paper)") < cols.index(f"3D mm ({label})") and f"3D mm sd ({label})" in cols
    ws = side.set_index("row").loc["WS M/-/H"]
    m = json.loads((runs.run_dir(root, "table1", tables.row_config("table1", "WS M/-/H", "smoke", device="cpu"))
                    / "metrics.json").read_text())
    assert ws["3D mm (paper)"] == 69.1 and ws[f"3D mm ({label})"] == pytest.approx(m["mpjpe"])
    assert ws[f"2D px ({label})"] == pytest.approx(m["mpjpe_2d_px256"])
    assert np.isnan(side.set_index("row").loc["2d-only M/-/-", f"3D mm ({label})"])  # a 2D model has no 3D
    t1 = tables.paper_table(1, ours)
    i = t1.index[(t1["row"] == "WS M/-/H") & (t1["source"] == label)][0]
    assert t1.loc[i - 1, "source"].startswith("published") and t1.loc[i - 1, "row"] == "WS M/-/H"
    t2 = tables.paper_table(2, ours)  # the same run is Table 2's "WS H", counted once
    mine = t2[t2["source"] == label]
    assert list(mine["method"]) == ["Ours - H"] and mine["note"].str.startswith("1 run").all()
    assert len(t2) == 31 + 1
    md = tables.to_markdown(t2)
    assert "| 77.75 |" in md and "| Ours - H |" in md


def test_tables_without_results(tmp_path):
    ours = tables.collect_results(tmp_path)
    assert ours.empty and "row_table1" in ours
    for n, rows in ((1, 10), (2, 31), (3, 13)):
        assert len(tables.paper_table(n, ours)) == rows
        assert not tables.side_by_side(n, ours).empty
    assert tables.figure2_runs(ours) == [] and tables.viewer_runs(ours) == []


def test_figure2_picks_before_and_after():
    base = dict(mode="ws", use_heatmap_loss=True, source="synthetic", profile="smoke", label="ours (synthetic, smoke)")
    ours = pd.DataFrame([
        {**base, "mv": "H", "checkpoint": "/a.pt", "written": pd.Timestamp(1)},
        {**base, "mv": "H+I+Q", "checkpoint": "/b.pt", "written": pd.Timestamp(2)},
        {**base, "mv": "I", "checkpoint": "/c.pt", "written": pd.Timestamp(3)},
        {**base, "mv": "H", "checkpoint": "", "written": pd.Timestamp(4)},
    ])
    picked = tables.figure2_runs(ours)
    assert [str(p) for _, p in picked] == ["/a.pt", "/b.pt"] and picked[0][0].startswith("before")
    assert [str(p) for _, p in tables.figure2_runs(ours.iloc[[0]])] == ["/a.pt"]


def test_figure2_pairs_one_formulation_and_seed_and_prefers_ws():
    base = dict(use_heatmap_loss=True, source="synthetic", profile="cpu")
    a, b = "literal (synthetic, cpu)", "ours (synthetic, cpu)"
    ours = pd.DataFrame([
        {**base, "mode": "ws", "mv": "H", "label": b, "seed": 1, "checkpoint": "/b_h.pt", "written": pd.Timestamp(9)},
        {**base, "mode": "ws", "mv": "H", "label": a, "seed": 1, "checkpoint": "/a_h.pt", "written": pd.Timestamp(2)},
        {**base, "mode": "ws", "mv": "H", "label": a, "seed": 0, "checkpoint": "/a_h0.pt", "written": pd.Timestamp(5)},
        {**base, "mode": "ws+r", "mv": "H+I+Q", "label": a, "seed": 1, "checkpoint": "/a_rq.pt",
         "written": pd.Timestamp(8)},
        {**base, "mode": "ws", "mv": "H+I+Q", "label": a, "seed": 1, "checkpoint": "/a_q.pt",
         "written": pd.Timestamp(3)},
    ])
    # the newest Q run is formulation a, seed 1: both panels come from a / seed 1, each a WS run
    assert [str(p) for _, p in tables.figure2_runs(ours)] == ["/a_h.pt", "/a_q.pt"]
    # without a no-Q run of a / seed 1 the panels fall back to the newest of the source and profile
    assert [str(p) for _, p in tables.figure2_runs(ours.drop(index=1))] == ["/b_h.pt", "/a_q.pt"]


def test_markdown_keeps_published_precision():
    md = tables.to_markdown(pd.DataFrame({"a": ["x|y"], "b": [77.75], "c": [45.0], "d": [521.18443], "e": [np.nan]}))
    assert md.splitlines()[2] == "| x\\|y | 77.75 | 45.0 | 521.2 | - |"


@pytest.mark.slow
def test_results_notebook_with_no_results(tmp_path, monkeypatch):
    """results.ipynb works before any run exists: the paper's tables and figures, no viewer, no Figure 2."""
    import papermill as pm

    monkeypatch.delenv("WEAKPOSE_RESULTS", raising=False)
    pm.execute_notebook(str(ex.NOTEBOOK_DIR / "results.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                        parameters={"results_root": str(tmp_path / "results"), "out_root": str(tmp_path / "results")},
                        progress_bar=False)
    assert (tmp_path / "results" / "tables" / "table2.md").read_text().count("published") == 31
    assert (tmp_path / "results" / "figures" / "table1_3d.png").is_file()
    assert not (tmp_path / "results" / "figures" / "skeleton_viewer.html").exists()


def test_table_writers(tmp_path):
    """save_table: csv with every digit, Markdown to the asked decimals; write_diagnostic:
    the same files with a title and the command that regenerates them, returning the Markdown it wrote."""
    df = pd.DataFrame({"row": ["a|b", "c"], "mpjpe": [1.23456, 20.0]})
    csv, md = tables.save_table(df, tmp_path / "t")
    assert md.read_text().splitlines() == ["| row | mpjpe |", "|---|---:|", "| a\\|b | 1.2 |", "| c | 20.0 |"]
    assert pd.read_csv(csv)["mpjpe"].tolist() == [1.23456, 20.0]
    text = tables.write_diagnostic(df, tmp_path / "d" / "diag.md", "Title", "python x.py", ": why.", digits=2)
    assert text == (tmp_path / "d" / "diag.md").read_text()
    assert text.startswith("# Title\n\nFrom `python x.py`: why.\n\n| row | mpjpe |") and "| 1.23 |" in text
    assert pd.read_csv(tmp_path / "d" / "diag.csv")["mpjpe"].tolist() == [1.23456, 20.0]
    tables.write_diagnostic(df, tmp_path / "d" / "diag.txt", "T", "c", "")  # written where it is asked to be
    assert (tmp_path / "d" / "diag.txt").read_text().startswith("# T\n")
