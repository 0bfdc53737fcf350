"""Two trainings of the same configurations side by side: the committed runs and the same configs trained again
(e.g. on another machine). For each run folder present in both, its metrics and the first step where the loss
histories differ.

    python benchmarks/compare_runs.py results/shared2d results/reproduce/shared2d_epyc_avx512 \
        --out results/reproduce/shared2d_epyc_avx512.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from weakpose.tables import to_markdown

METRICS = ("mpjpe", "p_mpjpe", "mpjpe_2d_px256")


def compare(a: Path, b: Path) -> pd.DataFrame:
    """One row per run folder of ``b`` that ``a`` also holds."""
    rows = []
    for run in sorted(p for p in b.iterdir() if (p / "metrics.json").is_file() and (a / p.name / "metrics.json").is_file()):
        ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a / run.name, run))
        ha, hb = (pd.read_csv(d / "history.csv") for d in (a / run.name, run))
        n = min(len(ha), len(hb))
        diff = (ha["total"].values[:n] != hb["total"].values[:n]).nonzero()[0]
        row = {"run": run.name, "first_differing_step": int(ha["step"].values[diff[0]]) if len(diff) else "none"}
        for k in METRICS:
            row[f"{k} ({a.name})"], row[f"{k} ({b.name})"] = ma[k], mb[k]
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", type=Path, help="folder of run folders (e.g. results/shared2d)")
    p.add_argument("b", type=Path, help="folder of the same run folders trained again")
    p.add_argument("--out", type=Path, required=True, help="markdown file to write")
    args = p.parse_args(argv)
    df = compare(args.a, args.b)
    if df.empty:
        raise SystemExit(f"no run folder of {args.b} has a metrics.json in both {args.a} and {args.b}")
    args.out.write_text(f"# The same configurations trained twice\n\nFrom `python benchmarks/compare_runs.py {args.a} "
                        f"{args.b} --out {args.out}`.\n\n{to_markdown(df)}\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
