"""benchmarks/cpu_profile_rows.py: the shared 2D model listed beside a schedule's rows is the one at their input
size, not a model trained for a row at another size (results/scale) nor a warm-up stage."""
import dataclasses
import importlib.util
import json
from pathlib import Path

from weakpose.config import init_config, make_run_config

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("cpu_profile_rows", ROOT / "benchmarks" / "cpu_profile_rows.py")
cpr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cpr)


def _write(folder: Path, cfg, px: float) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    (folder / "metrics.json").write_text(json.dumps({"mpjpe": 1.0, "n_mpjpe": 1.0, "p_mpjpe": 1.0,
                                                     "mpjpe_2d_px256": px}))


def test_the_shared_model_of_the_rows_input_size_is_listed(tmp_path):
    row = make_run_config("cpu", sup2d="H+M", mv="H", known_R=True)
    _write(tmp_path / "table1" / row.run_id(), row, 7.9)
    shared = init_config(row)
    big = init_config(dataclasses.replace(row, input_size=2 * row.input_size))
    _write(tmp_path / "shared2d" / shared.run_id(), shared, 8.2)
    _write(tmp_path / "shared2d" / big.run_id(), big, 7.2)                 # e.g. for a row at another input size
    _write(tmp_path / "shared2d" / init_config(shared).run_id(), init_config(shared), 20.0)   # its warm-up stage
    rows = cpr.read_rows(tmp_path)
    assert rows[("WS+R H+M/-/H", 0)]["mpjpe_2d_px256"] == 7.9
    assert rows[("shared 2D H+M", 0)]["mpjpe_2d_px256"] == 8.2
