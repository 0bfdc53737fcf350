"""benchmarks/compare_runs.py: the same configurations trained twice, side by side."""
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

_spec = importlib.util.spec_from_file_location("compare_runs", Path(__file__).parents[1] / "benchmarks" / "compare_runs.py")
compare_runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_runs)


def _run(root: Path, name: str, totals: list[float], mpjpe: float) -> None:
    d = root / name
    d.mkdir(parents=True)
    pd.DataFrame({"step": range(len(totals)), "total": totals}).to_csv(d / "history.csv", index=False)
    (d / "metrics.json").write_text(json.dumps({"mpjpe": mpjpe, "p_mpjpe": mpjpe / 2, "mpjpe_2d_px256": 5.0}))


def test_compare_runs_finds_the_first_differing_step_and_both_metrics(tmp_path):
    _run(tmp_path / "a", "same", [3.0, 2.0, 1.0], 100.0)
    _run(tmp_path / "b", "same", [3.0, 2.0, 1.0], 100.0)
    _run(tmp_path / "a", "diverges", [3.0, 2.0, 1.0], 100.0)
    _run(tmp_path / "b", "diverges", [3.0, 2.5, 1.0], 110.0)
    _run(tmp_path / "b", "only_in_b", [1.0], 1.0)
    df = compare_runs.compare(tmp_path / "a", tmp_path / "b").set_index("run")
    assert list(df.index) == ["diverges", "same"]
    assert df.loc["same", "first_differing_step"] == "none" and df.loc["diverges", "first_differing_step"] == 1
    assert df.loc["diverges", "mpjpe (a)"] == 100.0 and df.loc["diverges", "mpjpe (b)"] == 110.0
    out = tmp_path / "cmp.md"
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    assert "| diverges | 1 |" in out.read_text()
    with pytest.raises(SystemExit, match="no run folder"):
        compare_runs.main([str(tmp_path / "a"), str(tmp_path / "a" / "same"), "--out", str(out)])
