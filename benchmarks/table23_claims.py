"""The paper's claims on Tables 2 and 3, checked on the committed runs (synthetic twins).

    python benchmarks/table23_claims.py --profile cpu --out results/tables/table23_claims.md

Every claim is computed from results/<table>/*/metrics.json through `tables.collect_results` (a Table-1 run that
is also a Table-2 row counts for both: FS H = Table 1's FS, WS H = WS M/H, WS H+I+Q = WS M/H+I+Q), both sides
averaged over the seeds they share, and printed as "holds" / "does not hold" / "missing" (a row not run yet) with
its numbers. Where a claim does not hold, the cause column says "not measured" unless a measurement is named.
Nothing is tuned here.

Table 2 (MPJPE on the H test split): FS < semi < WS for H and for H+I+Q; adding I+Q lowers semi and WS (the paper:
62.8 -> 59.7, 69.1 -> 67.4) and leaves FS within 5 % (55.5 -> 56.1); each `*` (ground-truth root) below its row.
Table 3 (the H+I+Q models on the I test split): PCK FS >= semi >= WS; WS+R `*` above WS; each row's PCK above the
flat pose of its own 2D model (Table 3's rows "2d-only M": Table 1's 2D-only model evaluated on I, for the WS rows;
"2d-only H+M", for FS and semi). Table 2's WS rows also against their flat pose on H (Table 1's 2D-only M row).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weakpose.tables import collect_results, to_markdown  # noqa: E402

# (table, claim, left row, left metric, relation, right row, right metric); relation: "<", ">", ">=", "~5%"
CLAIMS = [
    (2, "FS < semi (H)", "FS H", "mpjpe", "<", "semi H", "mpjpe"),
    (2, "semi < WS (H)", "semi H", "mpjpe", "<", "WS H", "mpjpe"),
    (2, "FS < semi (H+I+Q)", "FS H+I+Q", "mpjpe", "<", "semi H+I+Q", "mpjpe"),
    (2, "semi < WS (H+I+Q)", "semi H+I+Q", "mpjpe", "<", "WS H+I+Q", "mpjpe"),
    (2, "I+Q lowers semi (62.8 -> 59.7)", "semi H+I+Q", "mpjpe", "<", "semi H", "mpjpe"),
    (2, "I+Q lowers WS (69.1 -> 67.4)", "WS H+I+Q", "mpjpe", "<", "WS H", "mpjpe"),
    (2, "I+Q leaves FS within 5 % (55.5 -> 56.1)", "FS H+I+Q", "mpjpe", "~5%", "FS H", "mpjpe"),
    *[(2, f"* below its row ({r})", r, "mpjpe_gtroot", "<", r, "mpjpe")
      for r in ("FS H", "FS H+I+Q", "semi H", "semi H+I+Q", "WS H", "WS H+I+Q")],
    (3, "PCK FS >= semi", "FS H+I+Q", "pck", ">=", "semi H+I+Q", "pck"),
    (3, "PCK semi >= WS", "semi H+I+Q", "pck", ">=", "WS H+I+Q", "pck"),
    (3, "WS+R * above WS (PCK)", "WS+R H+I+Q", "pck_gtroot", ">", "WS H+I+Q", "pck"),
    (2, "WS below its flat pose (P-MPJPE, H)", "WS H", "p_mpjpe", "<", "table1:2d-only M/-/-", "p_mpjpe"),
    (2, "WS below its flat pose (P-MPJPE, H+I+Q)", "WS H+I+Q", "p_mpjpe", "<", "table1:2d-only M/-/-", "p_mpjpe"),
    (3, "FS above its flat pose (PCK)", "FS H+I+Q", "pck", ">", "2d-only H+M", "pck"),
    (3, "semi above its flat pose (PCK)", "semi H+I+Q", "pck", ">", "2d-only H+M", "pck"),
    (3, "WS above its flat pose (PCK)", "WS H+I+Q", "pck", ">", "2d-only M", "pck"),
    (3, "WS+R * above its flat pose * (PCK)", "WS+R H+I+Q", "pck_gtroot", ">", "2d-only M", "pck_gtroot"),
]

# The measured cause of a claim that does not hold, by claim (shown only where the claim does not hold); each names
# the file its numbers come from. A claim without an entry says "not measured".
CAUSES: dict[str, str] = {
    "I+Q lowers WS (69.1 -> 67.4)": (
        "measured: WS M/H+I+Q falls into the depth mirror with a lean at seeds 0 and 1 (60 % / 65 % of the H test "
        "images mirrored, lean -0.35 / -0.45, P-MPJPE 140.6 / 138.3 against its own flat pose's 142.6 / 139.5), "
        "with known rotations (WS+R M/H+I+Q) it does not (4 % / 2 %): results/diagnostics/ws_HIQ.md. The M-only "
        "2D is 18-20 % worse on I's views than on H's (results/diagnostics/hiq_views.md), but after training the "
        "row's 2D on H equals WS M/H's, and no step has batch L_MC above 5 (history.csv)"),
    "FS < semi (H)": (
        "not measured; semi H is 2 % below FS H, and FS with the multi-view terms (FS H+I+Q) is at semi's level "
        "(128.7): the terms semi has and FS H has not weigh as much here as the 3D labels of S5-S8"),
}


def _runs(ours: pd.DataFrame, table: int, row: str, formulation: str) -> pd.DataFrame:
    """The runs of ``row`` of Table ``table`` ("table1:<row>": of Table 1) under ``formulation``."""
    if row.startswith("table1:"):
        table, row = 1, row.split(":", 1)[1]
    col = f"row_table{table}"
    if col not in ours:
        return ours.iloc[0:0]
    return ours[(ours[col] == row) & (ours["formulation"] == formulation)]


def check_claims(ours: pd.DataFrame, formulation: str = "ours", causes: dict | None = None) -> pd.DataFrame:
    """One line per claim of `CLAIMS` for one formulation: both sides over the seeds they share."""
    causes = causes or {}
    lines = []
    for table, claim, left, lm, rel, right, rm in CLAIMS:
        L, R = _runs(ours, table, left, formulation), _runs(ours, table, right, formulation)
        seeds = sorted(set(L["seed"]) & set(R["seed"]))
        a = float(L[L["seed"].isin(seeds)][lm].mean()) if seeds and lm in L else float("nan")
        b = float(R[R["seed"].isin(seeds)][rm].mean()) if seeds and rm in R else float("nan")
        if pd.isna(a) or pd.isna(b):
            status = "missing"
        else:
            ok = {"<": a < b, ">": a > b, ">=": a >= b, "~5%": abs(a - b) <= 0.05 * b}[rel]
            status = "holds" if ok else "does not hold"
        lines.append({"table": table, "formulation": formulation, "claim": claim,
                      "left": f"{left} {lm} = {a:.1f}", "relation": rel, "right": f"{right} {rm} = {b:.1f}",
                      "seeds": ",".join(str(int(s)) for s in seeds) or "-", "status": status,
                      "cause": (causes.get(claim, "not measured") if status == "does not hold" else "")})
    return pd.DataFrame(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="cpu")
    p.add_argument("--results", default="results")
    p.add_argument("--out", default="")
    a = p.parse_args(argv)
    ours = collect_results(a.results)
    ours = ours[ours["profile"] == a.profile].copy()
    df = pd.concat([check_claims(ours, f, CAUSES) for f in ("ours", "paper")], ignore_index=True)
    df = df[(df["formulation"] == "ours") | (df["status"] != "missing")]   # the literal one: only what it has
    print(df.to_string(index=False))
    counts = df[df["formulation"] == "ours"]["status"].value_counts().to_dict()
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("holds", "does not hold", "missing"))
    print("ours:", summary)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(f"# Tables 2 and 3: the paper's claims (profile {a.profile}, synthetic twins)\n\n"
                               f"From `python benchmarks/table23_claims.py --profile {a.profile} --out {a.out}`. "
                               "Both sides averaged over the seeds they share; \"missing\": a row not run yet. "
                               f"Formulation ours: {summary}.\n\n" + to_markdown(df))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
