"""The committed results/ folder: every run folder is named by its own configuration, the retained rows kept their
numbers through the rename to the consolidated ids, and the committed rows are the Table-1 rows the README says."""
import csv
import hashlib
import json
from pathlib import Path

import pytest

from weakpose.config import config_from_dict, formulations_of
from weakpose.tables import TABLE1, match_rows

RESULTS = Path(__file__).resolve().parent.parent / "results"
ARCHIVE = RESULTS / "archive"


def _run_folders():
    return sorted(p.parent for p in RESULTS.rglob("config.json") if ARCHIVE not in p.parents)


def test_there_are_committed_runs():
    assert len(_run_folders()) >= 31 + 8


@pytest.mark.parametrize("folder", _run_folders(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_config_gives_back_its_folder_name(folder):
    cfg = config_from_dict(json.loads((folder / "config.json").read_text()))
    assert cfg.run_id() == folder.name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["run_id"] == folder.name


def test_renamed_rows_kept_every_byte_of_their_metrics_but_the_run_id():
    rows = list(csv.DictReader((ARCHIVE / "RENAMES.csv").open()))
    assert len(rows) == 31 + 8
    for r in rows:
        new = RESULTS / r["new"] / "metrics.json"
        old_id, new_id = Path(r["old"]).name, Path(r["new"]).name
        text = new.read_text()
        assert text.count(f'"run_id": "{new_id}"') == 1
        before = text.replace(f'"run_id": "{new_id}"', f'"run_id": "{old_id}"').encode()
        assert hashlib.sha256(before).hexdigest() == r["metrics_sha256_before"], r["new"]
        assert not (RESULTS / r["old"]).exists()


def test_committed_table1_rows_are_ours_at_seeds_0_and_1_and_the_literal_formulation_at_seed_0():
    found = set()
    for d in (RESULTS / "table1").iterdir():
        cfg = config_from_dict(json.loads((d / "config.json").read_text()))
        assert cfg.profile == "cpu"
        row = match_rows(cfg)["table1"]
        for form in formulations_of(cfg):
            found.add((row, form, cfg.seed))
    want = {(r, "ours", s) for r in TABLE1 for s in (0, 1)} | {(r, "paper", 0) for r in TABLE1}
    assert want <= found
