#!/usr/bin/env python
"""When does a failing weak run part from a learning one? The weak objective a run minimised (eq. 7 without L_H and
L_z: alpha L_MC + beta L_B + the formulation's hinges, `losses.weighted_total` of the loss terms in its history.csv,
with its own config's weights), averaged over windows of main steps, beside the run's final MPJPE / P-MPJPE.

No network and no checkpoint: it reads each run's config.json, history.csv and metrics.json, so it works on a clean
clone. Default runs: the WS M/H and WS M/H+I+Q rows of formulation ours in results/table1 (profile cpu).

    python benchmarks/objective_history.py --out results/diagnostics/objective_history.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from weakpose import losses
from weakpose.config import config_from_dict, formulation_of
from weakpose.tables import write_diagnostic

WINDOWS = ((0, 35), (35, 140), (140, 280), (280, 420), (420, 560))


def weak_objective(history: pd.DataFrame, cfg) -> pd.Series:
    """Per logged step: `losses.weak_total` of the history's terms."""
    return losses.weak_total({k: history[k] for k in losses.LOSS_NAMES[1:]}, cfg)


def run_row(run: Path, windows=WINDOWS) -> dict:
    cfg = config_from_dict(json.loads((run / "config.json").read_text()))
    hist = pd.read_csv(run / "history.csv")
    hist = hist[hist["stage"] == "main"]
    step = hist["step"] - hist["step"].min()
    w = weak_objective(hist, cfg)
    m = json.loads((run / "metrics.json").read_text())
    row = {"run": f"{run.parent.name}/{run.name}", "formulation": formulation_of(cfg), "mv": cfg.mv,
           "seed": cfg.seed, "mpjpe": m["mpjpe"], "p_mpjpe": m["p_mpjpe"]}
    for a, b in windows:
        row[f"weak {a}-{b}"] = float(w[(step >= a) & (step < b)].mean())
    return row


def default_runs(results: Path) -> list[Path]:
    out = []
    for d in sorted((results / "table1").glob("ws_2d-M_3d-none_mv-*_cpu_s*")):
        cfg = json.loads((d / "config.json").read_text())
        if cfg["mv"] in ("H", "H+I+Q") and cfg["use_heatmap_loss"] and (d / "metrics.json").is_file() \
                and formulation_of(config_from_dict(cfg)) == "ours":
            out.append(d)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", help="run folders (default: see the docstring)")
    p.add_argument("--results", default="results")
    p.add_argument("--out", default="runs/diagnostics/objective_history.md")
    a = p.parse_args(argv)
    runs = [Path(r) for r in a.runs] or default_runs(Path(a.results))
    df = pd.DataFrame([run_row(r) for r in runs]).sort_values(["mv", "seed"])
    print(write_diagnostic(
        df, a.out, "The weak objective along training, by window of main steps",
        f"python benchmarks/objective_history.py --out {a.out}{''.join(' ' + str(r) for r in a.runs)}",
        ": the mean over each window of the weak objective the run minimised (its history.csv, its own weights; "
        "L_H and L_z left out), and its final MPJPE / P-MPJPE in mm.", 2))


if __name__ == "__main__":
    main()
