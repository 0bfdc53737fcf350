"""The weak-supervision acceptance checks on Table 1 (synthetic twins), from the committed run files.

    python benchmarks/table1_acceptance.py --profile cpu --out results/tables/table1_acceptance.md

For each formulation with runs ("paper": the literal losses, "ours": `config.FORMULATIONS`), every check is
computed from results/table1/*/metrics.json and printed as PASS / FAIL / MISSING (a row not trained yet) with
the numbers it compares. Nothing is tuned here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from weakpose.config import FORMULATIONS
from weakpose.tables import TABLE1, collect_results

CHECKS = [
    # (name, left row, metric, op, factor, right row, right metric)
    ("WS+R H+M/H <= 1.3 x FS MPJPE", "WS+R H+M/-/H", "mpjpe", 1.3, "FS H+M/H/-", "mpjpe"),
    ("WS M/H <= 1.6 x FS MPJPE", "WS M/-/H", "mpjpe", 1.6, "FS H+M/H/-", "mpjpe"),
    ("WS M/H P-MPJPE <= 0.6 x flat pose (2D-only row)", "WS M/-/H", "p_mpjpe", 0.6, "2d-only M/-/-", "p_mpjpe"),
    ("WS+R M/H <= WS M/H MPJPE", "WS+R M/-/H", "mpjpe", 1.0, "WS M/-/H", "mpjpe"),
    ("WS+R H+M/H <= WS H+M/H MPJPE", "WS+R H+M/-/H", "mpjpe", 1.0, "WS H+M/-/H", "mpjpe"),
    ("WS M/H 2D error <= 1.05 x 2D-only", "WS M/-/H", "mpjpe_2d_px256", 1.05, "2d-only M/-/-", "mpjpe_2d_px256"),
    ("WS without L_H >= 1.5 x WS M/H MPJPE", "WS M/-/H", "mpjpe", 1 / 1.5, "WS M/-/H without L_H", "mpjpe"),
]


def row_runs(ours: pd.DataFrame, row: str, formulation: str) -> pd.DataFrame:
    """The runs of one Table-1 row for one formulation (`tables.collect_results` lists a run once for every
    formulation it computes the same as: an FS run is the FS row of both)."""
    return ours[(ours["row_table1"] == row) & (ours["formulation"] == formulation)]


def _mean(pick: pd.DataFrame, metric: str, seeds) -> float:
    pick = pick[pick["seed"].isin(seeds)]
    return float(pick[metric].mean()) if len(pick) else float("nan")


def check_table(ours: pd.DataFrame, formulation: str) -> pd.DataFrame:
    """One line per check for one formulation (the runs of each side: `row_runs`), both sides over the seeds they
    share."""
    lines = []
    for name, left, lm, factor, right, rm in CHECKS:
        L, Rr = row_runs(ours, left, formulation), row_runs(ours, right, formulation)
        seeds = sorted(set(L["seed"]) & set(Rr["seed"]))   # paired: both sides over the same seeds
        a, b = _mean(L, lm, seeds), _mean(Rr, rm, seeds)
        status = "MISSING" if pd.isna(a) or pd.isna(b) else ("PASS" if a <= factor * b else "FAIL")
        lines.append({"formulation": formulation, "check": name, "left": f"{left} {lm} = {a:.1f}",
                      "right": f"{right} {rm} = {b:.1f}", "bound": f"{factor:.3g} x {b:.1f} = {factor * b:.1f}",
                      "seeds": ",".join(str(int(x)) for x in seeds) or "-", "status": status})
    return pd.DataFrame(lines)


# Seeds the formulation's settings were chosen on (development) and seeds that chose nothing (report seeds,
# each run once after the formulation was frozen): a pass rate is evidence only on the report seeds.
DEV_SEEDS = frozenset({0, 1, 2, *range(20, 30)})
SEED_CHECKS = [
    # (name, metric of WS M/H, factor, reference row, its metric): WS M/H of one seed against its own references
    ("P-MPJPE <= 0.6 x flat", "p_mpjpe", 0.6, "2d-only M/-/-", "p_mpjpe"),
    ("N-MPJPE < flat's", "n_mpjpe", 1.0, "2d-only M/-/-", "n_mpjpe"),
    ("MPJPE <= 1.6 x FS", "mpjpe", 1.6, "FS H+M/H/-", "mpjpe"),
    ("2D <= 1.05 x 2D-only", "mpjpe_2d_px256", 1.05, "2d-only M/-/-", "mpjpe_2d_px256"),
]
# Not a check of WS M/H: the fully supervised row of the same seed against WS M/H's P-MPJPE bound, i.e. whether
# the bound is within reach of the profile's network when every training image has its 3D label.
FS_REFERENCE = ("FS against the P bound (reference)", "FS H+M/H/-", "p_mpjpe", 0.6, "2d-only M/-/-", "p_mpjpe")


def seed_checks(ours: pd.DataFrame, formulation: str = "ours") -> pd.DataFrame:
    """WS M/H of each seed against the FS and 2D-only rows of the same seed (`SEED_CHECKS`): one line per seed
    with WS M/H, each check's "left / bound", and "all": FAIL when any check fails (a check that cannot be made
    cannot rescue it), PASS when every check is made and passes, else MISSING (a reference row is not run). The
    last column (`FS_REFERENCE`, not counted in "all") puts the FS row's P-MPJPE against the same P bound."""
    ws = row_runs(ours, "WS M/-/H", formulation)
    lines = []
    for seed in sorted(set(ws["seed"])):
        line = {"seed": int(seed), "seeds": "development" if seed in DEV_SEEDS else "report"}
        ok = []
        for name, metric, factor, ref, rmetric in SEED_CHECKS:
            a = _mean(ws, metric, [seed])
            b = _mean(row_runs(ours, ref, formulation), rmetric, [seed])
            if pd.isna(a) or pd.isna(b):
                line[name], status = "-", None
            else:
                status = a < b if name.endswith("flat's") else a <= factor * b
                line[name] = f"{a:.1f} / {factor * b:.1f} {'PASS' if status else 'FAIL'}"
            ok.append(status)
        line["all"] = "FAIL" if False in ok else ("MISSING" if None in ok else "PASS")
        name, row, metric, factor, ref, rmetric = FS_REFERENCE
        a = _mean(row_runs(ours, row, formulation), metric, [seed])
        b = _mean(row_runs(ours, ref, formulation), rmetric, [seed])
        line[name] = "-" if pd.isna(a) or pd.isna(b) else f"{a:.1f} / {factor * b:.1f} {'in' if a <= factor * b else 'OUT'}"
        lines.append(line)
    return pd.DataFrame(lines, columns=["seed", "seeds", *[c[0] for c in SEED_CHECKS], "all", FS_REFERENCE[0]])


def pass_rate(checks: pd.DataFrame, kind: str) -> str:
    """"k of n" over the seeds of one kind ("development" | "report") that are decided (PASS or FAIL)."""
    done = checks[(checks["seeds"] == kind) & (checks["all"] != "MISSING")]
    return f"{int((done['all'] == 'PASS').sum())} of {len(done)}"


def rows_table(ours: pd.DataFrame, formulations=("paper", "ours")) -> pd.DataFrame:
    """Every Table-1 row under each formulation: the metrics averaged over its seeds, MPJPE over FS's and P-MPJPE
    over the flat pose's (the 2D-only row's), each ratio over the seeds both rows have."""
    lines = []
    for row in TABLE1:  # the paper's order
        for f in formulations:
            runs = row_runs(ours, row, f)
            if not len(runs):
                continue
            seeds = sorted(set(runs["seed"]))
            fs, flat = row_runs(ours, "FS H+M/H/-", f), row_runs(ours, "2d-only M/-/-", f)
            s_fs = sorted(set(seeds) & set(fs["seed"]))
            s_flat = sorted(set(seeds) & set(flat["seed"]))
            lines.append({"row": row, "formulation": f, "seeds": ",".join(str(int(x)) for x in seeds),
                          **{m: round(_mean(runs, m, seeds), 1) for m in ("mpjpe", "p_mpjpe", "mpjpe_2d_px256")},
                          "valid_fraction": round(_mean(runs, "valid_fraction", seeds), 2),
                          "x FS": round(_mean(runs, "mpjpe", s_fs) / _mean(fs, "mpjpe", s_fs), 2),
                          "P x flat": round(_mean(runs, "p_mpjpe", s_flat) / _mean(flat, "p_mpjpe", s_flat), 2)})
    return pd.DataFrame(lines)


def seed_table(ours: pd.DataFrame) -> pd.DataFrame:
    """One line per (row, formulation, seed) for the rows that have more than one seed."""
    cols = ["mpjpe", "p_mpjpe", "mpjpe_2d_px256", "valid_fraction"]
    df = ours[ours["row_table1"] != ""].drop_duplicates(["run_id", "formulation"])
    multi = df.groupby(["row_table1", "formulation"])["seed"].transform("nunique") > 1
    out = df[multi][["row_table1", "formulation", "seed", *cols]].sort_values(["row_table1", "formulation", "seed"])
    return out.rename(columns={"row_table1": "row"}).reset_index(drop=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="cpu")
    p.add_argument("--results", default="results")
    p.add_argument("--out", default="")
    a = p.parse_args(argv)
    ours = collect_results(a.results)
    ours = ours[(ours["folder"] == "table1") & (ours["profile"] == a.profile)].copy()
    forms = [f for f in FORMULATIONS if (ours["formulation"] == f).any()] or list(FORMULATIONS)
    df = pd.concat([check_table(ours, f) for f in forms], ignore_index=True)
    seeds = seed_table(ours)
    rows = rows_table(ours, forms)
    per_seed = seed_checks(ours, "ours")
    rates = {k: pass_rate(per_seed, k) for k in ("development", "report")}
    print(df.to_string(index=False))
    print(per_seed.to_string(index=False))
    print("WS M/H passes all four on", ", ".join(f"{v} {k} seeds" for k, v in rates.items()))
    print(rows.to_string(index=False))
    print(seeds.to_string(index=False))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        from weakpose.tables import to_markdown
        Path(a.out).write_text(f"# Table 1 acceptance checks (profile {a.profile}, synthetic twins)\n\n"
                               f"From `python benchmarks/table1_acceptance.py --profile {a.profile} --out {a.out}`. "
                               "Both sides of a check are averaged over the seeds they share (column seeds).\n\n"
                               + to_markdown(df) + "\n## WS M/H seed by seed (formulation ours)\n\n"
                               "Each seed's WS M/H against the FS and 2D-only rows of the same seed (left / bound). "
                               "Development seeds (0, 1, 2 and 20-29, `DEV_SEEDS`) chose settings; report seeds "
                               f"chose nothing. WS M/H passes all four checks on {rates['report']} report seeds "
                               f"and on {rates['development']} development seeds (a seed counts once it passes every check "
                               "or fails one; 'MISSING': a reference row is not run and no check failed). The "
                               "checks at the top average seeds; this table is the evidence. The last column is not "
                               "a check: the fully supervised row of the seed against WS M/H's P-MPJPE bound "
                               "('OUT': not even FS reaches it).\n\n"
                               + to_markdown(per_seed) + "\n## All rows, the paper's literal formulation and ours\n\n"
                               "Each row's metrics averaged over its seeds (MPJPE / P-MPJPE in mm, 2D in px at 256); "
                               "x FS = MPJPE / FS's, P x flat = P-MPJPE / the 2D-only row's (the flat pose), both "
                               "over the seeds the two rows share.\n\n" + to_markdown(rows)
                               + "\n## Seeds\n\nEvery row trained with more than one seed, each seed's value (the seed "
                               "also draws the synthetic twins and the shared 2D model).\n\n"
                               + to_markdown(seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
