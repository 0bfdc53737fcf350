"""Is the literal formulation's failure a matter of scale? The paper's own sanity row, WS+R H+M/-/H (2D labels
from H and M, multi-view H with the known rotations, no 3D label), under the formulation ``paper`` (eqs. 7-11 as
written, Appendix A's weights) at every input size it was trained at, beside ``ours`` where it exists.

L_H is summed over heatmap pixels and eq. 3's root depth is as sensitive to a pixel of 2D error as the input is
small (docs/weak-supervision.md 1.2, 1.6), so the balance of eq. 7 and the cost of 2D noise both move with the input
size. Each line is one run folder: its input size, main steps, MPJPE / P-MPJPE (mm), 2D error (px at 256), the
fraction of test views with a real root of eq. 3, and the shared 2D model it started from (found by its
configuration among ``--shared``: same 2D sources, seed, input size, backbone, twin size and steps; for an archived
row, a model of that configuration kept at a later commit), whose flat pose (every relative depth 0) and 2D error
are what the row must beat. ``ours`` has no 64 px row of its final form and no 256 px row.

From each row's history.csv: ``L_H start`` / ``L_H end``, the mean heatmap loss over the first 25 and the last 100
main steps (a 2D being destroyed shows as L_H rising), and ``weak/L_H start``, alpha L_MC + beta L_B over L_H in
the first 25 main steps (eq. 7's balance at the switch to the weak losses, at the row's own weights).

    python benchmarks/literal_scale.py --out results/diagnostics/literal_scale.md

Reads each run's config.json, metrics.json and history.csv (no checkpoint), as plain dicts rather than through
`weakpose.config`: the 64 px row's archived config.json has fields (init_2d, oracle_2d_3d) that today's TrainConfig
no longer reads. The 256 px row is trained by
``python -m weakpose.trainer --profile cpu --formulation paper --set sup2d=H+M mv=H known_R=true input_size=256
--out results/scale/ws+r_2d-HM_3d-none_mv-H_cpu_s0_c7c620 --shared-root results/shared2d``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

RUNS = [  # (run folder, schedule): the literal rows, then ours at the sizes it has
    ("results/archive/table1/ws+r_2d-HM_3d-none_mv-H_cpu_s0_106ac2", "64 px profile (16238c3)"),
    ("results/table1/ws+r_2d-HM_3d-none_mv-H_cpu_s0_ba387c", "cpu profile"),
    ("results/archive/cpu1000/table1/ws+r_2d-HM_3d-none_mv-H_cpu_s0_3a2e87", "1000-step schedule (b889c2d)"),
    ("results/scale/ws+r_2d-HM_3d-none_mv-H_cpu_s0_c7c620", "cpu profile at 256 px"),
    ("results/table1/ws+r_2d-HM_3d-none_mv-H_cpu_s0_913395", "cpu profile"),
    ("results/archive/cpu1000/table1/ws+r_2d-HM_3d-none_mv-H_cpu_s0_a2ff0b", "1000-step schedule (b889c2d)"),
]
SHARED = ["results/shared2d", "results/archive/cpu1000/shared2d"]
MATCH = ("sup2d", "seed", "input_size", "backbone", "data_size")


def _read(folder: Path, name: str) -> dict:
    path = folder / name
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"literal_scale: cannot read {path}: {e}") from None


def shared_model(cfg: dict, roots: list[str]) -> dict | None:
    """The metrics of the shared 2D model ``cfg`` starts from: a finished 2D-only run under ``roots`` with the same
    `MATCH` fields and as many steps as ``cfg``'s pre-training; None when there is none."""
    for root in roots:
        for c in sorted(Path(root).glob("*/config.json")):
            other = json.loads(c.read_text())
            if (all(other.get(k) == cfg.get(k) for k in MATCH) and other.get("iterations") == cfg.get("pretrain_iterations")
                    and not other.get("mv") and not other.get("sup3d") and (c.parent / "metrics.json").is_file()):
                return _read(c.parent, "metrics.json")
    return None


def history_balance(folder: Path, cfg: dict) -> dict:
    """``L_H start``, ``L_H end`` and ``weak/L_H start`` of the module docstring, from ``folder``/history.csv."""
    h = pd.read_csv(folder / "history.csv")
    main = h[h["stage"] == "main"]
    first, last = main.head(25), main.tail(100)
    weak = cfg["alpha"] * first["mc"].mean() + cfg["beta"] * first["limb"].mean()
    return {"L_H start": round(first["heatmap"].mean(), 2), "L_H end": round(last["heatmap"].mean(), 2),
            "weak/L_H start": round(weak / first["heatmap"].mean(), 2)}


def formulation(cfg: dict) -> str:
    """"paper" when the run has eq. 7's literal settings (no detach, beta 100), else "ours"."""
    return "paper" if not cfg.get("detach_2d_3d") and cfg.get("beta") == 100.0 else "ours"


def table(runs: list[tuple[str, str]], roots: list[str]) -> pd.DataFrame:
    lines = []
    for folder, schedule in runs:
        f = Path(folder)
        if not (f / "metrics.json").is_file():
            cfg = _read(f, "config.json") if (f / "config.json").is_file() else {}
            lines.append({"run": folder, "formulation": formulation(cfg) if cfg else "-",
                          "input px": cfg.get("input_size", 0), "main steps": cfg.get("iterations", 0),
                          "schedule": schedule, "note": "training (no metrics.json yet)" if cfg else "not run"})
            continue
        cfg, m = _read(f, "config.json"), _read(f, "metrics.json")
        s = shared_model(cfg, roots) or {}
        lines.append({"run": folder, "formulation": formulation(cfg), "input px": cfg["input_size"],
                      "main steps": cfg["iterations"], "schedule": schedule, "mpjpe": round(m["mpjpe"], 1),
                      "p_mpjpe": round(m["p_mpjpe"], 1), "2D px@256": round(m["mpjpe_2d_px256"], 1),
                      "valid views": round(m.get("valid_fraction", float("nan")), 2),
                      "2D model px@256": round(s.get("mpjpe_2d_px256", float("nan")), 1),
                      "flat mpjpe": round(s.get("mpjpe", float("nan")), 1),
                      "flat p_mpjpe": round(s.get("p_mpjpe", float("nan")), 1), **history_balance(f, cfg),
                      "note": ""})
    return pd.DataFrame(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", nargs="*", default=SHARED, help="folders of shared 2D models")
    p.add_argument("--out", default="")
    a = p.parse_args(argv)
    df = table(RUNS, a.shared)
    print(df.to_string(index=False))
    if a.out:
        from weakpose.tables import write_diagnostic
        write_diagnostic(df, a.out, "WS+R H+M/-/H by input size, the literal formulation and ours (seed 0, synthetic "
                         "twins)", f"python benchmarks/literal_scale.py --out {a.out}",
                         "; definitions in the script's docstring. 'flat' is the shared 2D model's pose with every "
                         "relative depth 0 (what a row must beat); '-': its shared model is not kept.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
