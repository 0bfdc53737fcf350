"""What a newcomer meets: two formulations, four profiles, defaults that are a row of the paper, user runs that
never touch the committed results/, a short README, and no development-history words anywhere."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from weakpose import config, runs, tables
from weakpose.config import FORMULATIONS, PROFILES, make_run_config
from weakpose.trainer import Run

ROOT = Path(__file__).resolve().parent.parent
HISTORY = re.compile(r"\b(stop|session|issue)s? [0-9]+|\bthis (stop|session)\b|\bnew this (stop|session)\b", re.I)


def test_two_formulations_and_four_profiles():
    assert list(FORMULATIONS) == ["paper", "ours"] and FORMULATIONS["paper"] == {}
    assert list(PROFILES) == ["smoke", "cpu", "gpu", "paper"]


def test_no_development_history_words_in_readme_docs_notebooks_and_package():
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "notebooks").glob("*.ipynb"),
             *(ROOT / "notebooks").glob("*.py"), *(ROOT / "weakpose").rglob("*.py")]
    hits = [f"{f.relative_to(ROOT)}:{i}: {line.strip()}" for f in files
            for i, line in enumerate(f.read_text().splitlines(), 1) if HISTORY.search(line)]
    assert not hits, "\n".join(hits)


def test_history_pattern_finds_what_it_must():
    assert HISTORY.search("as measured in stop 24") and HISTORY.search("new this stop") and HISTORY.search("issue 12")
    assert not HISTORY.search("stops the run") and not HISTORY.search("a session of training")


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_trainer_help_lists_the_profiles_and_formulations_that_exist():
    out = subprocess.run([sys.executable, "-m", "weakpose.trainer", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for name in (*PROFILES, *FORMULATIONS):
        assert name in out
    for gone in ("cpu128", "ours_clip", "small"):
        assert gone not in out


def test_an_fs_row_is_one_run_under_both_formulations_and_a_weak_row_is_not():
    fs = [make_run_config("cpu", formulation=f, **tables.TABLE1["FS H+M/H/-"]) for f in FORMULATIONS]
    assert fs[0] == fs[1] and fs[0].run_id() == fs[1].run_id()
    assert config.formulations_of(fs[0]) == ("paper", "ours")
    ws = [make_run_config("cpu", formulation=f, **tables.TABLE1["WS M/-/H"]) for f in FORMULATIONS]
    assert ws[0] != ws[1] and [config.formulations_of(c) for c in ws] == [("paper",), ("ours",)]
    assert config.formulations_of(config.make_config("cpu", chirality_weight=3.0)) == ()


def test_a_term_that_is_off_keeps_its_parameters_at_their_defaults():
    fs = config.make_config("cpu", sup3d="H", mv="", beta=1.0, mc_distance="squared", chirality_weight=5.0)
    assert (fs.beta, fs.mc_distance, fs.chirality_weight) == (100.0, "euclidean", 0.0)
    ws = config.make_config("cpu", mv="H", chirality_margin=0.3)  # chirality off: its margin is moot
    assert ws.chirality_margin == 0.1
    assert config.make_config("cpu", mv="H", chirality_weight=1.0, chirality_margin=0.3).chirality_margin == 0.3
    two_d = config.make_config("cpu", mv="", psi=1.0, sup3d_subjects=("S1",))
    assert (two_d.psi, two_d.sup3d_subjects) == (5.0, ())


def test_notebook_defaults_are_the_papers_row_ws_m_h_under_ours_at_cpu():
    params = json.loads((ROOT / "notebooks" / "ablation.ipynb").read_text())["cells"][1]["source"]
    text = "".join(params)
    for line in ('sup2d = "M"', 'mv = "H"', 'profile = "cpu"', 'formulation = "ours"', 'results_root = "runs"'):
        assert line in text
    cfg = make_run_config("cpu", sup2d="M", mv="H")
    assert tables.describe_row(1, cfg).startswith('Table 1 row "WS M/-/H", formulation "ours", profile "cpu"')


def test_building_a_run_trains_nothing(tmp_path):
    cfg = config.make_config("smoke", shared_2d=True)
    assert config.init_config(cfg) == config.shared_2d_config(cfg)
    with pytest.raises(ValueError, match="init_from"):
        Run(cfg, tmp_path / "run", verbose=False)
    assert not any(tmp_path.iterdir())


def test_a_committed_row_without_checkpoint_is_shown_from_its_files_not_retrained(tmp_path, capsys):
    src = sorted((ROOT / "results" / "table1").glob("ws_2d-M_3d-none_mv-H_cpu_s0_*"))[0]
    row = tmp_path / "results" / "table1" / src.name
    shutil.copytree(src, row, ignore=shutil.ignore_patterns("checkpoints"))  # as a clone has it (gitignored)
    before = {p.name: p.read_bytes() for p in row.iterdir() if p.is_file()}
    cfg = config.config_from_dict(json.loads((row / "config.json").read_text()))
    metrics = runs.run(cfg, row)
    assert metrics == json.loads(before["metrics.json"])
    assert {p.name: p.read_bytes() for p in row.iterdir() if p.is_file()} == before
    assert "not retraining it" in capsys.readouterr().out


def test_the_users_command_reports_its_row_and_writes_nothing_under_results(tmp_path, monkeypatch):
    """`papermill notebooks/ablation.ipynb out.ipynb -p mv H+I+Q` at profile smoke, run from a folder of its own
    (runs/ goes there), names Table 1's "WS M/-/H+I+Q" under ours in its first output line."""
    import papermill as pm

    for k in ("WEAKPOSE_NOTEBOOK_PROFILE", "WEAKPOSE_RESULTS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WEAKPOSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("WEAKPOSE_PROGRESS", "off")
    results = ROOT / "results"
    before = sorted((str(p), p.stat().st_mtime_ns) for p in results.rglob("*"))
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "ablation.ipynb"), str(out), parameters={"mv": "H+I+Q",
                        "profile": "smoke"}, kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code" and c.get("outputs")]
    first = "".join(cells[0]["outputs"][0]["text"]).splitlines()[0]
    assert first.startswith('Table 1 row "WS M/-/H+I+Q", formulation "ours", profile "smoke"; the paper:')
    assert sorted((str(p), p.stat().st_mtime_ns) for p in results.rglob("*")) == before
    assert len(list((tmp_path / "runs" / "table1").glob("ws_2d-M_3d-none_mv-HIQ_smoke_s0_*/metrics.json"))) == 1
