"""The `cpu` profile's speed and accuracy beside the 1000-step schedule it replaced, from the committed files.

    python benchmarks/cpu_profile_rows.py --out results/bench/cpu_profile_rows.md

Reads the Table-1 rows FS H+M/H, 2D-only M, WS M/H and WS+R H+M/H under ours at seeds 0 and 1 from
``results/table1/`` (profile ``cpu`` as it is now) and from ``results/archive/cpu1000/table1/`` (the 1000-step
schedule), their shared 2D models, and the quickstart timings of ``results/bench/quickstart.json``
(`benchmarks/quickstart_time.py`). Rows are matched by their row fields (2D / 3D / multi-view data, known
rotations, L_H) and formulation, not by profile, so both schedules are read the same way. Prints the issue-style
checks per seed: WS M/H P-MPJPE <= 0.6 x its flat pose, MPJPE <= 1.6 x FS, WS+R H+M/H <= 1.3 x FS, WS M/H 2D
error <= 1.05 x the 2D-only row's. Nothing is trained here.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from weakpose.config import ROW_DEFAULTS, config_from_dict, formulations_of  # noqa: E402
from weakpose.tables import TABLE1  # noqa: E402

ROWS = ("FS H+M/H/-", "2d-only M/-/-", "WS M/-/H", "WS+R H+M/-/H")
SCHEDULES = {"now": REPO / "results", "1000-step": REPO / "results" / "archive" / "cpu1000"}
KEYS = ("sup2d", "sup3d", "mv", "known_R", "use_heatmap_loss")
METRICS = ("mpjpe", "n_mpjpe", "p_mpjpe", "mpjpe_2d_px256")


def _key(cfg) -> tuple:
    return tuple("+".join(v) if isinstance(v, tuple) else v for v in (getattr(cfg, k) for k in KEYS))


def _row_of(cfg) -> str:
    """The name in `ROWS` whose row fields (`config.ROW_DEFAULTS` where the row does not name them) are cfg's."""
    for name in ROWS:
        row = {**ROW_DEFAULTS, **TABLE1[name]}
        if _key(cfg) == tuple(row[k] for k in KEYS):
            return name
    return ""


def read_rows(root: Path) -> dict:
    """{(row, seed): {metrics..., "steps": main steps, "run": folder}} of ours (FS / 2D-only count for ours) under
    ``root/table1``, and {("shared 2D " + sources, seed): ...} of ``root/shared2d``."""
    out, sizes = {}, set()
    for m in sorted((root / "table1").glob("*/metrics.json")):
        cfg = config_from_dict(json.loads((m.parent / "config.json").read_text()))
        name = _row_of(cfg)
        if not name or cfg.sup3d_subjects or "ours" not in formulations_of(cfg):
            continue
        sizes.add(cfg.input_size)
        met = json.loads(m.read_text())
        out[(name, cfg.seed)] = {**{k: met[k] for k in METRICS}, "steps": cfg.iterations, "run": m.parent.name}
    for m in sorted((root / "shared2d").glob("*/metrics.json")):
        cfg = config_from_dict(json.loads((m.parent / "config.json").read_text()))
        if not cfg.warmup_2d_size or cfg.input_size not in sizes:
            continue  # a warm-up stage (not the model rows start from), or a model for rows at another input size
        met = json.loads(m.read_text())
        out[(f"shared 2D {cfg.sup2d}", cfg.seed)] = {"mpjpe_2d_px256": met["mpjpe_2d_px256"], "steps": cfg.iterations,
                                                       "run": m.parent.name}
    return out


def checks(rows: dict, seed: int) -> list[tuple[str, float, float, str]]:
    """(check, left, right bound, PASS / FAIL / MISSING) of one seed."""
    def get(row, metric):
        return rows.get((row, seed), {}).get(metric, float("nan"))
    spec = [("WS M/H P-MPJPE <= 0.6 x flat pose", get("WS M/-/H", "p_mpjpe"), 0.6 * get("2d-only M/-/-", "p_mpjpe")),
            ("WS M/H MPJPE <= 1.6 x FS", get("WS M/-/H", "mpjpe"), 1.6 * get("FS H+M/H/-", "mpjpe")),
            ("WS+R H+M/H MPJPE <= 1.3 x FS", get("WS+R H+M/-/H", "mpjpe"), 1.3 * get("FS H+M/H/-", "mpjpe")),
            ("WS M/H 2D <= 1.05 x 2D-only", get("WS M/-/H", "mpjpe_2d_px256"),
             1.05 * get("2d-only M/-/-", "mpjpe_2d_px256"))]
    return [(n, a, b, "MISSING" if a != a or b != b else "PASS" if a <= b else "FAIL") for n, a, b in spec]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=None, help="Markdown file to write (default: print)")
    a = p.parse_args(argv)
    data = {name: read_rows(root) for name, root in SCHEDULES.items()}
    lines = ["# Profile `cpu`: speed and accuracy beside the 1000-step schedule", "",
             "From `python benchmarks/cpu_profile_rows.py --out results/bench/cpu_profile_rows.md`. Rows under "
             "ours, synthetic twins; MPJPE / P-MPJPE in mm, 2D in px at 256. \"now\": profile `cpu` (96 px, 2D "
             "1500 steps at 64 px + 500 at 96 px, 560 main steps, 2 threads); \"1000-step\": the schedule it "
             "replaced (128 px, 4000 + 1000 2D steps, 1000 main steps, 1 thread; `results/archive/cpu1000/`). "
             "steps: main steps (a shared 2D model: its steps at the rows' input size).", ""]
    qs = REPO / "results" / "bench" / "quickstart.json"
    if qs.is_file():
        recs = json.loads(qs.read_text())
        lines += ["## Wall time from a fresh clone (`results/bench/quickstart.json`)", "",
                  "| run | commit | CPU | cores | quickstart (WS M/H + its shared 2D model + data) | second row (WS+R M/H) |",
                  "|---:|---|---|---:|---:|---:|"]
        for i, r in enumerate(recs, 1):
            s = r["seconds"]
            lines.append(f"| {i} | {r['commit'][:7]} | {r['cpu']} ({r['cpu_capability']}) | {r['cores']} | "
                         f"{s['quickstart'] / 60:.1f} min | {s['second_row'] / 60:.1f} min |")
        shas = [{k: v["sha256"] for k, v in r["metrics"].items()} for r in recs]
        same = all(s == shas[0] for s in shas[1:]) and len(shas) > 1
        lines += ["", f"Every metrics.json of the {len(recs)} runs byte-identical across runs: "
                      f"{'yes' if same else 'NO'} ({len(shas[0])} files each).", ""]
    lines += ["## Rows", "", "| row | seed | " + " | ".join(f"{m} ({s})" for s in SCHEDULES for m in
                                                         ("steps", "mpjpe", "p_mpjpe", "px256")) + " |",
              "|---|---:|" + "---:|" * 4 * len(SCHEDULES)]
    names = [*ROWS, "shared 2D M", "shared 2D H+M"]
    for name in names:
        for seed in (0, 1):
            cells = []
            for s in SCHEDULES:
                r = data[s].get((name, seed), {})
                cells += [str(r.get("steps", "-"))] + [f"{r[m]:.1f}" if m in r else "-"
                                                       for m in ("mpjpe", "p_mpjpe", "mpjpe_2d_px256")]
            lines.append(f"| {name} | {seed} | " + " | ".join(cells) + " |")
    lines += ["", "## Checks per seed", "", "| schedule | seed | check | left | bound | status |",
              "|---|---:|---|---:|---:|---|"]
    for s in SCHEDULES:
        for seed in (0, 1):
            for n, left, bound, st in checks(data[s], seed):
                lines.append(f"| {s} | {seed} | {n} | {left:.1f} | {bound:.1f} | {st} |")
    text = "\n".join(lines) + "\n"
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
        print(f"wrote {a.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
