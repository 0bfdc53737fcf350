"""The same entry point under torchrun (DDP, gloo on CPU, 2 processes)."""
import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path):
    env = {**os.environ, "WEAKPOSE_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "weakpose.trainer",
           "--profile", "smoke", "--out", str(out), "--set", "sup2d=M", "mv=H", "device=cpu"]
    # both ranks open the same twins: the first generates them, the other waits on the lock file
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 9 and metrics["num_samples"] > 0
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 9  # one writer (rank 0), one row per step
