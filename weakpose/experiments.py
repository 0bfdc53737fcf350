"""The papermill runner: one execution of a table's notebook per row of the paper's Tables 1-3, and its CLI.

    python -m weakpose.experiments table1                                # Table 1 (11 rows), ours, cpu, into runs/
    python -m weakpose.experiments table1 --formulation paper --results results   # regenerate committed rows
    python -m weakpose.experiments all --profile paper --source real --data-root /data/weakpose

A row's configuration is always ``make_run_config(profile, source, data_root, device, seed, **row)``: the runner
and the notebooks call the same function, so the run directory ``<results>/<table>/<cfg.run_id()>/`` the runner
expects is the one the notebook writes.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from weakpose.config import FORMULATIONS, PROFILES
from weakpose.progress import ENV as ENV_PROGRESS
from weakpose.runs import USER_RESULTS, project_root, results_dir, run_dir
from weakpose.tables import ROWS, TABLES, _lookup, row_config

NOTEBOOKS = {"table1": "ablation.ipynb", "table2": "sota_h36m.ipynb", "table3": "sota_3dhp.ipynb"}
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
ENV_PROFILE, ENV_RESULTS = "WEAKPOSE_NOTEBOOK_PROFILE", "WEAKPOSE_RESULTS"


# ----------------------------------------------------------------------------------------------- the runner
def notebook_params(table: str, name: str, profile: str, results: str | os.PathLike, source: str = "synthetic",
                    data_root: str = "", device: str = "auto", seed: int = 0, reuse: bool = True,
                    formulation: str = "ours") -> dict:
    """The papermill parameters of one row: Table 1 passes the row's flat configuration, Tables 2-3 its name."""
    common = dict(profile=profile, source=source, data_root=data_root, device=device, seed=seed,
                  results_root=str(results), reuse=reuse, formulation=formulation)
    row = _lookup(table, name)  # raises for an unknown row
    return {**row, **common} if table == "table1" else {"row": name, **common}


@contextlib.contextmanager
def _without_test_overrides():
    """The notebooks' test hook (WEAKPOSE_NOTEBOOK_PROFILE / WEAKPOSE_RESULTS) is switched off while the runner
    executes them: it passes the profile and results folder explicitly and must find the run where it expects.
    Their kernels have no frontend, so their progress bars print plain lines (WEAKPOSE_PROGRESS=log), even when
    the runner itself is called from a JupyterLab kernel (whose environment they inherit)."""
    keys = (ENV_PROFILE, ENV_RESULTS, ENV_PROGRESS)
    saved = {k: os.environ.pop(k) for k in keys if k in os.environ}
    os.environ[ENV_PROGRESS] = "log"
    try:
        yield
    finally:
        os.environ.pop(ENV_PROGRESS, None)
        os.environ.update(saved)


def run_table(table: str, profile: str, results: str | os.PathLike = USER_RESULTS, source: str = "synthetic",
              data_root: str = "", device: str = "auto", seed: int = 0, rerun: bool = False,
              rows: list[str] | None = None, notebooks: str | os.PathLike | None = None,
              progress: bool = True, formulation: str = "ours") -> pd.DataFrame:
    """Execute the table's notebook once per row with papermill (kernel python3) into
    ``<results>/<table>/<run-id>/notebook.ipynb``. Rows whose metrics.json exists are skipped unless ``rerun``
    (which deletes the row's folder first: a fresh training, no reuse). A failed row is reported and the next
    one runs. With ``progress``, one line per row is printed when it starts and when it ends, and the kernel's
    own output (the training's progress lines) is copied to this process's stdout / stderr as it comes.
    Returns one line per row: table, row, run_id, status, seconds, mpjpe, out."""
    import papermill as pm

    nb = Path(notebooks or NOTEBOOK_DIR) / NOTEBOOKS[table]
    if not nb.is_file():
        raise FileNotFoundError(f"notebook {nb} not found (the runner needs the repository's notebooks/ folder; "
                                "pass notebooks=... / --notebooks)")
    results = results_dir(results)
    data_root = str(Path(data_root).expanduser().resolve()) if data_root else ""
    names = list(ROWS[table]) if not rows else rows
    log = []
    say = (lambda msg: print(f"[weakpose] {msg}", flush=True)) if progress else (lambda msg: None)
    streams = dict(stdout_file=sys.stdout, stderr_file=sys.stderr) if progress else {}
    for i, name in enumerate(names, 1):
        cfg = row_config(table, name, profile, source=source, data_root=data_root, device=device, seed=seed,
                         formulation=formulation)
        out = run_dir(results, table, cfg)
        line = dict(table=table, row=name, run_id=cfg.run_id(), status="skipped", seconds=0.0, mpjpe=np.nan, out=str(out))
        if (out / "metrics.json").is_file() and not rerun:
            line["mpjpe"] = json.loads((out / "metrics.json").read_text()).get("mpjpe", np.nan)
            log.append(line)
            say(f"{table} row {i}/{len(names)} {name!r}: metrics.json exists, kept (--rerun retrains it)")
            continue
        if rerun and out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        params = notebook_params(table, name, profile, results, source, data_root, device, seed, reuse=not rerun,
                                 formulation=formulation)
        t0 = time.perf_counter()
        say(f"{table} row {i}/{len(names)} {name!r}: executing {nb.name} into {out / 'notebook.ipynb'}")
        try:
            with _without_test_overrides():
                pm.execute_notebook(str(nb), str(out / "notebook.ipynb"), parameters=params, kernel_name="python3",
                                    progress_bar=False, cwd=str(project_root()), **streams)
            if not (out / "metrics.json").is_file():
                raise RuntimeError(f"the notebook finished but wrote no {out / 'metrics.json'}")
            line["status"] = "ran"
            line["mpjpe"] = json.loads((out / "metrics.json").read_text()).get("mpjpe", np.nan)
        except Exception as e:  # noqa: BLE001 - one failed row must not stop the table
            line["status"] = f"FAILED: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        line["seconds"] = round(time.perf_counter() - t0, 1)
        log.append(line)
        mm = line["mpjpe"] if isinstance(line["mpjpe"], (int, float)) else np.nan
        say(f"{table} row {i}/{len(names)} {name!r}: {line['status']} in {line['seconds']:.0f} s, mpjpe "
            + (f"{mm:.1f} mm" if np.isfinite(mm) else "- (no 3D)"))
    return pd.DataFrame(log)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m weakpose.experiments",
        description="Run the rows of the paper's tables, one papermill execution per row.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="inputs: the table's notebook (notebooks/, or --notebooks) and the datasets of its rows\n"
               "  (synthetic twins generated on first use, or --source real under --data-root).\n"
               "outputs: <results>/<table>/<run-id>/ per row: notebook.ipynb (executed), config.json, metrics.json,\n"
               "  history.csv, per_sample.csv, checkpoints/last.pt; a line per row while it runs and a summary at the\n"
               "  end. Tables and figures: papermill notebooks/results.ipynb results/results-out.ipynb.")
    p.add_argument("table", choices=[*TABLES, "all"])
    p.add_argument("--profile", choices=list(PROFILES), default="cpu", help="default cpu (README 'Profiles')")
    p.add_argument("--formulation", choices=list(FORMULATIONS), default="ours",
                   help="ours (default) | paper: the paper's literal eqs. 7-11 (docs/weak-supervision.md)")
    p.add_argument("--rerun", action="store_true", help="re-execute rows that already have metrics.json")
    p.add_argument("--source", choices=["synthetic", "real"], default="synthetic")
    p.add_argument("--data-root", default="", help="dataset root (default: $WEAKPOSE_DATA or ~/.cache/weakpose)")
    p.add_argument("--results", default=USER_RESULTS, help=f"results root (default {USER_RESULTS}/, ignored by git; "
                   "relative: from the repository root); --results results regenerates the committed rows")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows", nargs="*", default=None, help="only these row names (see weakpose.experiments.ROWS)")
    p.add_argument("--notebooks", default=None, help="folder holding the notebooks (default: the repository's)")
    a = p.parse_args(argv)
    tables = list(TABLES) if a.table == "all" else [a.table]
    if a.rows and len(tables) > 1:
        p.error("--rows needs a single table")
    summary = pd.concat([run_table(t, a.profile, a.results, a.source, a.data_root, a.device, a.seed, a.rerun, a.rows,
                                   a.notebooks, formulation=a.formulation) for t in tables], ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(summary.drop(columns=["out"]).to_string(index=False))
    print(f"[weakpose] results under {results_dir(a.results)}; tables and figures: run notebooks/results.ipynb")
    return int(summary["status"].str.startswith("FAILED").any())


if __name__ == "__main__":
    raise SystemExit(main())
