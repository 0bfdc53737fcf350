"""The paper's Tables 1-3 as rows of configurations (flat notebook parameters), and every run's files collected
into tables laid out like the paper's, next to the published numbers (results/published/), as pandas frames,
Markdown and CSV. Also which runs the results notebook's figures show.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from weakpose.config import PROFILES, TrainConfig, config_from_dict, formulations_of, make_run_config
from weakpose.runs import checkpoint_of, results_dir

TABLES: tuple[str, ...] = ("table1", "table2", "table3")
PUBLISHED_DIR = Path(__file__).resolve().parent.parent / "results" / "published"


def _row(sup2d, sup3d, mv, known_R=False, use_heatmap_loss=True):
    return dict(sup2d=sup2d, sup3d=sup3d, mv=mv, known_R=known_R, use_heatmap_loss=use_heatmap_loss)


# Table 1 (ablation, evaluated on H): "method 2D/3D/MV" as printed in the paper, plus one row the paper describes
# but does not tabulate (Sec. 3.3: without L_H the model can collapse to a degenerate solution).
TABLE1: dict[str, dict] = {
    "FS H+M/H/-": _row("H+M", "H", ""),
    "WS+R H+M/-/H": _row("H+M", "", "H", known_R=True),
    "WS H+M/-/H": _row("H+M", "", "H"),
    "2d-only M/-/-": _row("M", "", ""),
    "WS+R M/-/H": _row("M", "", "H", known_R=True),
    "WS M/-/H": _row("M", "", "H"),
    "WS M/-/I": _row("M", "", "I"),
    "WS M/-/I+Q": _row("M", "", "I+Q"),
    "WS M/-/H+I+Q": _row("M", "", "H+I+Q"),
    "WS+R M/-/H+I+Q": _row("M", "", "H+I+Q", known_R=True),
    "WS M/-/H without L_H": _row("M", "", "H", use_heatmap_loss=False),
}
TABLE1_EXTRA = ("WS M/-/H without L_H",)

# Table 2 (H36M): the paper's own rows; the '*' rows are the *_gtroot metrics of the same runs.
TABLE2: dict[str, dict] = {
    "FS H": dict(sup2d="H+M", sup3d="H", mv=""),
    "FS H+I+Q": dict(sup2d="H+M", sup3d="H", mv="H+I+Q"),
    "semi H": dict(sup2d="H+M", sup3d="H", sup3d_subjects="S1", mv="H"),
    "semi H+I+Q": dict(sup2d="H+M", sup3d="H", sup3d_subjects="S1", mv="H+I+Q"),
    "WS H": dict(sup2d="M", mv="H"),
    "WS H+I+Q": dict(sup2d="M", mv="H+I+Q"),
}
# Table 3 (3DHP): the H+I+Q models of Table 2 evaluated on I (the paper: "the same models used for evaluation on
# H36M"); '* + R' is the WS model trained with known rotations, reported with the ground-truth root.
TABLE3: dict[str, dict] = {
    "FS H+I+Q": {**TABLE2["FS H+I+Q"], "eval_on": "I"},
    "semi H+I+Q": {**TABLE2["semi H+I+Q"], "eval_on": "I"},
    "WS H+I+Q": {**TABLE2["WS H+I+Q"], "eval_on": "I"},
    "WS+R H+I+Q": {**TABLE2["WS H+I+Q"], "known_R": True, "eval_on": "I"},
    # Not in the paper: the flat pose (no depth) of each row's own 2D model on I, the trivial baseline every learned
    # row is compared with: Table 1's 2D-only M model (the WS rows' 2D), and the same for H+M (FS and semi's 2D).
    "2d-only M": dict(sup2d="M", mv="", eval_on="I"),
    "2d-only H+M": dict(sup2d="H+M", mv="", eval_on="I"),
}
TABLE3_EXTRA = ("2d-only M", "2d-only H+M")
EXTRA = {1: TABLE1_EXTRA, 2: (), 3: TABLE3_EXTRA}
ROWS = {"table1": TABLE1, "table2": TABLE2, "table3": TABLE3}


# ----------------------------------------------------------------------------------------------- configs
def row_config(table: str, name: str, profile: str, **run) -> TrainConfig:
    """The configuration of row ``name`` of ``table`` ("table1" | "table2" | "table3")."""
    return make_run_config(profile, **run, **_lookup(table, name))


def _lookup(table: str, name: str) -> dict:
    if table not in ROWS:
        raise ValueError(f"table must be one of {TABLES}, got {table!r}")
    if name not in ROWS[table]:
        raise ValueError(f"{table} has no row {name!r}; rows: {list(ROWS[table])}")
    return dict(ROWS[table][name])


# How the two formulations are labelled in tables: ours, and the paper's literal losses as trained by us.
LABELS = {"ours": "ours", "paper": "literal"}


def match_rows(cfg: TrainConfig) -> dict[str, str]:
    """{table: row name} of every table row whose configuration is exactly ``cfg`` (same profile, source, seed,
    under one of the two formulations)."""
    forms = formulations_of(cfg)
    if not forms or cfg.profile not in PROFILES:
        return {}
    run = dict(source=cfg.source, data_root=cfg.data_root, device=cfg.device, seed=cfg.seed, formulation=forms[0])
    out = {}
    for table, rows in ROWS.items():
        for name, row in rows.items():
            try:
                if make_run_config(cfg.profile, **run, **row) == cfg:
                    out[table] = name
            except ValueError:
                pass
    return out


def describe_row(n: int, cfg: TrainConfig) -> str:
    """One line naming what ``cfg`` is: its Table-n row (or none), its formulation and the paper's numbers of
    that row, e.g. 'Table 1 row "WS M/-/H+I+Q", formulation "ours"; the paper: 2D px 6.9, 3D mm 67.4'."""
    name = match_rows(cfg).get(f"table{n}", "")
    forms = formulations_of(cfg)
    form = "ours" if "ours" in forms else forms[0] if forms else "custom"
    shown = f'"{name}"' if name else "none of the paper's rows"
    line = f'Table {n} row {shown}, formulation "{form}", profile "{cfg.profile}"'
    pub = published(n)
    p = pub[(pub["row"] == name) & ~(pub["gtroot"] if "gtroot" in pub else False)] if name else pub.iloc[:0]
    if len(p):
        vals = [f"{c} {p[c].iloc[0]:g}" for c in METRICS[n] if pd.notna(p[c].iloc[0])]
        line += "; the paper: " + (", ".join(vals) if vals else "no number")
    return line


def metrics_frame(metrics: dict) -> pd.DataFrame:
    """One run's metrics as a two-column table: with the eq. 12 scale and with the ground-truth root (*)."""
    names = [k for k in ("mpjpe", "n_mpjpe", "p_mpjpe", "pck", "npck", "auc") if k in metrics]
    df = pd.DataFrame({"eq. 12 scale": [metrics[k] for k in names],
                       "GT root (*)": [metrics.get(k + "_gtroot", np.nan) for k in names]}, index=names)
    extra = pd.DataFrame({"eq. 12 scale": [metrics.get("mpjpe_2d_px"), metrics.get("mpjpe_2d_px256"),
                                            metrics.get("valid_fraction"), metrics.get("num_samples")]},
                         index=["mpjpe_2d_px (input px)", "mpjpe_2d_px256", "valid_fraction", "num_samples"])
    return pd.concat([df, extra]).round(2)


# ----------------------------------------------------------------------------------------------- tables
# Paper column -> our metric key (Table 1's "2D px" is the 2D error at the paper's 256 px input; 3D metrics in mm).
METRICS = {1: {"2D px": "mpjpe_2d_px256", "3D mm": "mpjpe"},
           2: {"MPJPE": "mpjpe", "NMPJPE": "n_mpjpe", "PMPJPE": "p_mpjpe"},
           3: {"MPJPE": "mpjpe", "NMPJPE": "n_mpjpe", "PCK": "pck", "NPCK": "npck"}}
CONFIG_COLUMNS = ("profile", "source", "seed", "mode", "sup2d", "sup3d", "sup3d_subjects", "mv", "known_R",
                  "use_heatmap_loss", "eval_on", "data_size", "backbone", "input_size", "iterations")
METRIC_COLUMNS = ("mpjpe", "n_mpjpe", "p_mpjpe", "mpjpe_gtroot", "n_mpjpe_gtroot", "p_mpjpe_gtroot", "mpjpe_2d_px",
                  "mpjpe_2d_px256", "pck", "npck", "auc", "pck_gtroot", "npck_gtroot", "auc_gtroot")
RESULT_COLUMNS = ("folder", "run_id", "label", "formulation", *(f"row_{t}" for t in TABLES), *CONFIG_COLUMNS,
                  *METRIC_COLUMNS, "checkpoint", "run_dir", "written")


def collect_results(root: str | os.PathLike = "results") -> pd.DataFrame:
    """Every ``<root>/**/metrics.json`` with its config.json, one line per run and formulation it stands for
    (`config.formulations_of`: an FS run is one line under "ours" and one under "paper"; ``results/archive/`` is left out): the
    folder under ``root`` (table1/2/3, runs, ...), run_id, formulation, label "<ours | literal> (<source>,
    <profile>)" ("literal" = the paper's formulation trained by us), the row of each table whose configuration
    the run is (``row_table1`` ...; "" if none), the main config fields, every metric, its checkpoint and the time
    metrics.json was written. An empty frame (with these columns) when there is nothing yet."""
    root = results_dir(root)
    recs = []
    for m in sorted(root.rglob("metrics.json")) if root.is_dir() else []:
        d = m.parent
        if "archive" in d.relative_to(root).parts:
            continue
        try:
            metrics = json.loads(m.read_text())
            cfg = config_from_dict(json.loads((d / "config.json").read_text()))
        except (OSError, ValueError, TypeError) as e:
            print(f"[weakpose] skipping {d}: {type(e).__name__}: {e}")
            continue
        rows = match_rows(cfg)
        c = dataclasses.asdict(cfg)
        c["sup3d_subjects"] = ",".join(cfg.sup3d_subjects)
        c["mode"] = cfg.mode
        for form in formulations_of(cfg) or ("custom",):
            recs.append({"folder": d.relative_to(root).parts[0], "run_id": metrics.get("run_id") or cfg.run_id(),
                         "label": f"{LABELS.get(form, form)} ({cfg.source}, {cfg.profile})", "formulation": form,
                         **{f"row_{t}": rows.get(t, "") for t in TABLES}, **{k: c[k] for k in CONFIG_COLUMNS},
                         **{k: float(v) for k, v in metrics.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)},
                         "checkpoint": str(checkpoint_of(d) or ""), "run_dir": str(d),
                         "written": pd.Timestamp(m.stat().st_mtime, unit="s")})
    if not recs:
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    df = pd.DataFrame(recs).reindex(columns=list(dict.fromkeys([*RESULT_COLUMNS, *pd.DataFrame(recs).columns])))
    loose = df[(df[[f"row_{t}" for t in TABLES]] == "").all(axis=1)].drop_duplicates("run_dir")
    if len(loose):
        print(f"[weakpose] {len(loose)} run(s) under {root} are no row of Tables 1-3 with the current profiles (other "
              f"settings, or written by an older weakpose): they stay out of the paper tables: "
              f"{', '.join(loose['folder'] + '/' + loose['run_id'])}")
    return df


def published(n: int, raw: bool = False) -> pd.DataFrame:
    """The paper's Table n (1, 2, 3) as transcribed in results/published/table<n>.csv, peers included. Metric
    columns are numbers (NaN where the paper prints '-' or 'n/a'; ``raw`` keeps the printed text)."""
    if n not in METRICS:
        raise ValueError(f"the paper has Tables 1, 2 and 3, got {n!r}")
    df = pd.read_csv(PUBLISHED_DIR / f"table{n}.csv", dtype=str, keep_default_na=False)
    if raw:
        return df
    for col in METRICS[n]:
        df[col] = pd.to_numeric(df[col].replace({"-": None, "n/a": None}))
    if "gtroot" in df:
        df["gtroot"] = df["gtroot"] == "True"
    return df


def _ours(n: int, ours: pd.DataFrame, name: str, gtroot: bool = False) -> list[dict]:
    """Our values for row ``name`` of Table n, one dict per label: the mean over seeds in paper column names, and
    the standard deviation over seeds of each (``spread``, NaN for one seed)."""
    col = f"row_table{n}"
    if ours is None or ours.empty or col not in ours:
        return []
    sel = ours[ours[col] == name]
    if "written" in sel:  # the same run reused in several tables' folders counts once
        sel = sel.sort_values("written", ascending=False)
    sel = sel.drop_duplicates(["run_id", "label"])
    out = []
    for label, g in sel.groupby("label", sort=True):
        vals, spread = {}, {}
        for paper_col, key in METRICS[n].items():
            key = key + "_gtroot" if gtroot else key
            has = key in g and g[key].notna().any()
            vals[paper_col] = float(g[key].mean()) if has else np.nan
            spread[paper_col] = float(g[key].std()) if has and g[key].notna().sum() > 1 else np.nan
        note = f"{len(g)} run(s), seeds {sorted(set(int(s) for s in g['seed']))}"
        if n == 1 and (g["mode"] == "2d").all():
            vals["3D mm"] = spread["3D mm"] = np.nan  # a 2D-only model's depth head is never trained: no 3D to score
            note += "; no 3D for a 2D-only model"
        out.append({"label": label, "values": vals, "spread": spread, "note": note, "seeds": len(g)})
    return out


def _extra_row(n: int, name: str) -> dict:
    """The label columns of one of our rows the paper does not print (`EXTRA`)."""
    if n == 3:
        return {"section": "Baselines (not in the paper)", "row": name,
                "method": f"flat pose of the 2D model ({ROWS['table3'][name]['sup2d']})"}
    row = TABLE1[name]
    return {"method": "WS" + (" + R" if row["known_R"] else "") + ("" if row["use_heatmap_loss"] else " without L_H"),
            "2D": row["sup2d"], "3D": row["sup3d"] or "-", "MV": row["mv"] or "-", "row": name}


def paper_table(n: int, ours: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table n laid out like the paper (sections, peers' rows, the paper's own rows), with each of our runs as a
    row right under the paper's row it reproduces (``source`` "ours (<source>, <profile>)") and our extra rows
    (Table 1's "without L_H", Table 3's flat poses: `EXTRA`) at the end. Metric columns are numbers, NaN where
    nothing is reported; ``note`` says which cells the paper prints as 'n/a' and how many runs an 'ours' row
    averages."""
    raw, num = published(n, raw=True), published(n)
    keys = [c for c in raw.columns if c not in ("row", "gtroot", "source", *METRICS[n])]
    out = []
    for i, p in num.iterrows():
        na = [c for c in METRICS[n] if raw.at[i, c] == "n/a"]
        out.append({**{k: p[k] for k in keys}, **{c: p[c] for c in METRICS[n]}, "source": p["source"],
                    "row": p["row"], "note": f"n/a in the paper: {', '.join(na)}" if na else ""})
        if p["row"]:
            for o in _ours(n, ours, p["row"], bool(p.get("gtroot", False))):
                out.append({**{k: p[k] for k in keys}, **o["values"], "source": o["label"], "row": p["row"],
                            "note": o["note"]})
    for name in EXTRA[n]:
        for o in _ours(n, ours, name):
            out.append({**_extra_row(n, name), **o["values"], "source": o["label"], "note": o["note"]})
    return pd.DataFrame(out, columns=[*keys, *METRICS[n], "source", "row", "note"])


def side_by_side(n: int, ours: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's own rows of Table n, three things side by side per metric: the published number "<metric>
    (paper)", ours "<metric> (ours (<source>, <profile>))" with its standard deviation over seeds "<metric> sd
    (...)" and number of seeds "seeds (...)", and the literal formulation trained by us, "(literal (...))", the
    same way; one line per row (the `EXTRA` rows included)."""
    num = published(n)
    own = num[num["row"] != ""]
    has_row = set(ours.loc[ours[f"row_table{n}"] != "", "label"]) if ours is not None and not ours.empty else set()
    labels = sorted(has_row, key=lambda lab: (lab.startswith("literal"), lab))  # ours before literal
    wanted = [(p["row"], bool(p.get("gtroot", False)), p) for _, p in own.iterrows()]
    wanted += [(name, False, None) for name in EXTRA[n]]
    lines = []
    for row, gt, p in wanted:
        extra = _extra_row(n, row) if p is None else {}
        line = {"row": row + (" *" if gt else ""), "method": p["method"] if p is not None else extra["method"]}
        if n > 1:
            line["section"] = (p["section"] if p is not None else extra["section"]).split(" - ")[0]
        found = {o["label"]: o for o in _ours(n, ours, row, gt)}
        for c in METRICS[n]:
            line[f"{c} (paper)"] = p[c] if p is not None else np.nan
            for lab in labels:
                o = found.get(lab, {})
                line[f"{c} ({lab})"] = o.get("values", {}).get(c, np.nan)
                line[f"{c} sd ({lab})"] = o.get("spread", {}).get(c, np.nan)
        for lab in labels:
            line[f"seeds ({lab})"] = found.get(lab, {}).get("seeds", 0)
        lines.append(line)
    return pd.DataFrame(lines)


def pck_curves(ours: pd.DataFrame, formulation: str = "ours") -> pd.DataFrame:
    """Table 3's PCK against the threshold: one line per row of ours (mean over its seeds) with the curve of its
    metrics.json (``pck_curve``; the `*` variant for the paper's `*` rows), its AUC and, where the paper prints one,
    its PCK at 150 mm. Columns: row, variant ("" | "*"), seeds, auc, paper_pck, then one column per threshold (mm)."""
    lines = []
    sel = ours[(ours.get("row_table3", "") != "") & (ours["formulation"] == formulation)] if len(ours) else ours
    pub = published(3)
    for name in ROWS["table3"]:
        runs = sel[sel["row_table3"] == name].drop_duplicates("run_id") if len(sel) else sel
        curves = {}
        for d in runs["run_dir"] if len(runs) else []:
            c = json.loads((Path(d) / "metrics.json").read_text()).get("pck_curve")
            if c:
                curves[d] = c
        if not curves:
            continue
        printed = pub[pub["row"] == name]          # the paper's lines of this row: plain and / or '*'
        for gt in sorted(set(printed["gtroot"])) or [False]:
            mean = np.mean([c["pck_gtroot" if gt else "pck"] for c in curves.values()], axis=0)
            th = next(iter(curves.values()))["threshold_mm"]
            p = printed.loc[printed["gtroot"] == gt, "PCK"]
            lines.append({"row": name, "variant": "*" if gt else "", "seeds": len(curves), "auc": float(np.mean(mean)),
                          "paper_pck": float(p.iloc[0]) if len(p) else np.nan,
                          **{float(t): float(m) for t, m in zip(th, mean)}})
    return pd.DataFrame(lines)


def to_markdown(df: pd.DataFrame, digits: int = 1) -> str:
    """A GitHub Markdown table (numbers to ``digits`` decimals, NaN as '-')."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            if np.isnan(v):
                return "-"
            # the paper's own precision survives (77.75 stays 77.75), computed values get ``digits``
            d = next((d for d in range(digits, 3) if abs(round(v, d) - v) < 1e-9), digits)
            return f"{v:.{d}f}"
        return str(v).replace("|", "\\|") if str(v) != "" else " "
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---" for c in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def _write_table(df: pd.DataFrame, md_path: Path, digits: int, header: str = "") -> str:
    """Write ``md_path`` (``header``, then the table to ``digits`` decimals) and beside it the csv (every digit);
    returns the Markdown written."""
    md_path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(md_path.with_suffix(".csv"), index=False)
    md = header + to_markdown(df, digits)
    md_path.write_text(md)
    return md


def write_diagnostic(df: pd.DataFrame, out: str | os.PathLike, title: str, command: str, text: str,
                     digits: int = 1) -> str:
    """Write a benchmark's table as ``out`` (Markdown: "# title", then "From `command`" followed by ``text``,
    then the table to ``digits`` decimals) and beside it as ``out`` with the suffix .csv (every digit); returns the
    Markdown. Every diagnostic in results/ is written this way, so its first line says how to regenerate it."""
    return _write_table(df, Path(out), digits, header=f"# {title}\n\nFrom `{command}`{text}\n\n")


def save_table(df: pd.DataFrame, stem: str | os.PathLike, digits: int = 1) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (every digit) and ``<stem>.md`` (the table to ``digits`` decimals); returns both paths."""
    md = Path(stem).with_suffix(".md")
    _write_table(df, md, digits)
    return md.with_suffix(".csv"), md


def run_vs_paper(n: int, cfg: TrainConfig, metrics: dict) -> pd.DataFrame:
    """One run next to the paper's numbers of the Table-n row it reproduces (NaN where the paper has none): the
    eq. 12 metrics, and for Tables 2-3 also the ground-truth-root (*) ones of the same run."""
    name = match_rows(cfg).get(f"table{n}", "")
    pub = published(n)
    lines = []
    for gt in ((False,) if n == 1 else (False, True)):
        p = pub[(pub["row"] == name) & ((pub["gtroot"] == gt) if "gtroot" in pub else True)] if name else pub.iloc[:0]
        for col, key in METRICS[n].items():
            ours = metrics.get(key + ("_gtroot" if gt else ""), np.nan)
            if n == 1 and col == "3D mm" and cfg.mode == "2d":
                ours = np.nan  # a 2D-only model has no trained depth: the paper prints '-' too
            lines.append({"row": name or "(not a row of this table)", "metric": col + (" *" if gt else ""),
                          "paper": p[col].iloc[0] if len(p) else np.nan, "ours": ours})
    return pd.DataFrame(lines)


def viewer_runs(ours: pd.DataFrame, max_runs: int = 6) -> list[tuple[str, Path]]:
    """(label, checkpoint) of up to ``max_runs`` distinct runs with a checkpoint, newest first, all on the same data
    as the newest one (same source, data size and seed, so they can be shown on the same test image)."""
    if ours is None or ours.empty:
        return []
    ok = ours[ours["checkpoint"] != ""].sort_values("written", ascending=False).drop_duplicates("run_id")
    if ok.empty:
        return []
    first = ok.iloc[0]
    same = ok[(ok["source"] == first["source"]) & (ok["data_size"] == first["data_size"]) & (ok["seed"] == first["seed"])]
    out = []
    for _, r in same.drop_duplicates("checkpoint").head(max_runs).iterrows():
        name = next((r[f"row_{t}"] for t in TABLES if r[f"row_{t}"]), r["mode"])
        out.append((f"{name} ({r['profile']})", Path(r["checkpoint"])))
    return out


def _prefer(df: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """The rows of ``df`` where ``mask`` holds, or all of ``df`` where it holds nowhere."""
    return df[mask] if mask.any() else df


def figure2_runs(ours: pd.DataFrame) -> list[tuple[str, Path]]:
    """Checkpoints for the Figure-2-style view: a weakly-supervised run whose multi-view data has no MQC (Q) -
    'before', preferably MV=H as in the paper's left panel - and one with Q - 'after', preferably MV=H+I+Q; each a
    WS run (the paper's mode) where there is one, then the preferred MV; the newest of each, from the same source
    and profile, and from one formulation (label) and seed where that has both panels. Only those that exist are
    returned."""
    if ours is None or ours.empty:
        return []
    ws = ours[ours["mode"].isin(["ws", "ws+r"]) & (ours["checkpoint"] != "")].sort_values("written", ascending=False)
    ws = ws[ws["use_heatmap_loss"].astype(bool)]
    if ws.empty:
        return []
    ws = ws.assign(has_q=ws["mv"].str.contains("Q"))
    pref = _prefer(ws, ws["has_q"]).iloc[0]
    same = ws[(ws["source"] == pref["source"]) & (ws["profile"] == pref["profile"])]
    keys = [k for k in ("label", "seed") if k in same]
    paired = same[(same[keys] == pref[keys]).all(axis=1)] if keys else same
    if paired["has_q"].any() and not paired["has_q"].all():
        same = paired   # like for like: only the multi-view data differs between the panels
    out = []
    for tag, q, best in (("before: no MQC in MV", False, "H"), ("after: MQC in MV", True, "H+I+Q")):
        cand = same[same["has_q"] == q]
        if cand.empty:
            continue
        cand = _prefer(cand, cand["mode"] == "ws")
        pick = _prefer(cand, cand["mv"] == best).iloc[0]
        out.append((f"{tag} ({pick['mode'].upper()}, MV={pick['mv']}, {pick['label']})", Path(pick["checkpoint"])))
    return out
