#!/usr/bin/env python
"""What the basin test (`weakpose.basin`) would see, and what flipping would buy, at a checkpoint of a trained run.

From a run's checkpoint at a main step (its ``checkpoints/step-NNNNNN.pt``), two branches are trained exactly as
the basin test trains them: the network as it is, and with its depth sign flipped (`mirror.flip_depth_sign`, the
Adam first moments too), each on the same batches. At the start and after each of the given lengths, each branch
is scored by `basin.score` on the test's 16 fixed multi-view batches (the weak objective the test compares) and
evaluated on the run's test split (MPJPE, P-MPJPE: labels the test never sees). It answers two questions: does the
weak objective prefer the branch with the better 3D pose, and is the failing network's depth a sign error that
flipping repairs?

    python benchmarks/basin_branches.py --out results/diagnostics/basin_branches.md --at 280 --lengths 70,140 \\
        results/table1/<run> [...]

Needs the runs' checkpoints (not in git: a clone retrains the row first, `python -m weakpose.experiments table1
--results results --seed S --rows "..."`, which reproduces the committed metrics on the same machine).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from weakpose import basin, checkpoints, mirror
from weakpose.config import config_from_dict, pretrain_steps
from weakpose.tables import write_diagnostic
from weakpose.trainer import Run


def branches(run_dir: Path, at: int, lengths: list[int], scratch: Path) -> list[dict]:
    """Rows (branch, length, score, mpjpe, p_mpjpe) of both branches from ``run_dir``'s checkpoint at main step
    ``at``; ``scratch`` receives nothing but the Run's empty folder (evaluations are not written)."""
    cfg = config_from_dict(json.loads((run_dir / "config.json").read_text()))
    path = run_dir / "checkpoints" / f"step-{at + pretrain_steps(cfg):06d}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (checkpoints are not in git: retrain the run first)")
    run = Run(cfg, scratch / run_dir.name, torch.device("cpu"), verbose=False, init_from=path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    checkpoints.load_states(path, state, run.model, run.opt)
    run.step, run.pseudo, run.pseudo_ready = state["step"], state["pseudo"], state["pseudo_ready"]
    run.grad_norm = state.get("grad_norm", run.grad_norm)
    fixed = basin.fixed_batches(run)   # the batches `basin.basin_test` scores on
    start, rows = basin.snapshot(run), []
    for name in ("as is", "flipped"):
        basin.restore(run, start)
        if name == "flipped":
            mirror.flip_depth_sign(run.model, run.opt)
        done = 0
        for length in [0, *lengths]:
            basin.branch(run, length - done)   # the test's own branch, continued: the same batches
            done = length
            m = run.evaluate(write=False)
            rows.append({"run": f"{run_dir.parent.name}/{run_dir.name}", "seed": cfg.seed, "main_step": at,
                         "branch": name, "steps": length, "score": basin.score(run, fixed), "mpjpe": m["mpjpe"],
                         "p_mpjpe": m["p_mpjpe"]})
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run folders with config.json and checkpoints/step-*.pt")
    p.add_argument("--at", type=int, default=280, help="main step of the checkpoint to branch from")
    p.add_argument("--lengths", default="70,140", help="branch lengths (steps) to score and evaluate at")
    p.add_argument("--scratch", default="runs/diagnostics/basin_branches")
    p.add_argument("--out", default="runs/diagnostics/basin_branches.md")
    a = p.parse_args(argv)
    t0 = time.time()
    lengths = [int(x) for x in a.lengths.split(",") if x]
    df = pd.DataFrame([r for run in a.runs for r in branches(Path(run), a.at, lengths, Path(a.scratch))])
    print(write_diagnostic(
        df, a.out, "The basin test's two branches at a trained run's checkpoint",
        f"python benchmarks/basin_branches.py --out {a.out} --at {a.at} --lengths {a.lengths}"
        f"{''.join(' ' + r for r in a.runs)}",
        f" ({time.time() - t0:.0f} s). Score: the weak objective `basin.score` compares (lower is kept); MPJPE / "
        "P-MPJPE in mm on the run's test split (definitions in the script's docstring).", 2))


if __name__ == "__main__":
    main()
