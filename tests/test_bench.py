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


def test_profile_table_splits_the_step_into_the_trainers_phases(tmp_path, monkeypatch):
    from weakpose.bench import profile_step
    monkeypatch.setenv("WEAKPOSE_DATA", str(tmp_path / "data"))
    cfg = make_config("smoke", sup2d="M", mv="H", device="cpu")
    text = profile_step(cfg, str(tmp_path / "run"), main=True, steps=1, warmup=1)
    for phase in ("batch", "loss_terms", "backward", "optimizer"):
        assert f"| {phase}" in text
    assert "Self CPU" in text and "2D-stage" in profile_step(cfg, str(tmp_path / "r2"), main=False, steps=1, warmup=0)


def test_cpu_bf16_switches_autocast_on_the_cpu_only_when_asked(tmp_path, monkeypatch):
    from weakpose.trainer import Run
    monkeypatch.setenv("WEAKPOSE_DATA", str(tmp_path / "data"))
    for cpu_bf16, want in ((False, False), (True, True)):
        cfg = make_config("smoke", mv="", device="cpu", bf16=True, cpu_bf16=cpu_bf16)
        assert Run(cfg, tmp_path / f"r{cpu_bf16}", verbose=False).autocast is want
    assert make_config("smoke").run_id() == make_config("smoke", cpu_bf16=False).run_id()
