import torch

from weakpose.bench import run_bench
from weakpose.config import make_config


def test_bench_runs_on_cpu_and_reports_ratio(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKPOSE_DATA", str(tmp_path / "data"))
    cfg = make_config("smoke", sup2d="M", mv="H+I+Q", device="cpu")
    res = run_bench(cfg, str(tmp_path / "run"), steps=2, warmup=1)
    assert res["bare_step_s"] > 0 and res["full_step_s"] > 0
    assert abs(res["ratio_full_over_bare_rate"] - res["bare_step_s"] / res["full_step_s"]) < 1e-12
    assert res["batch"] == "4 + 2 x 4" and res["torch"] == torch.__version__
