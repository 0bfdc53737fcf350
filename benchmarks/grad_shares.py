"""Which loss term moves which part of the network, along a weak run. For each of a run's checkpoints
(``checkpoints/step-*.pt``: the trainer keeps the newest ``keep_checkpoints``), on ``--batches`` of its own
training batches at that step, the gradient norm of each WEIGHTED term of eq. 7 (what `losses.weighted_total` adds:
L_H, alpha L_MC, beta L_B, gamma validity, the chirality hinge) on four parameter groups: the backbone, the shared
head conv (`PoseNet.shared`), the 1x1 heatmap layer and the 1x1 latent-depth layer.

With ``detach_2d_3d`` the weak terms reach the backbone and the shared conv only through the depth maps (and the free
unlabelled joints): their norm there against L_H's says how much of the shared features' update the 3D path takes
from the 2D (Adam normalises the SUM, so a term 4 x L_H's norm sets the direction of the step).

    python benchmarks/grad_shares.py --shared-root DIR --out runs/diagnostics/grad_shares.md <run folders>

Needs the runs' checkpoints (gitignored: retrain a run from its config.json) and their shared 2D models.
"""
from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import pandas as pd
import torch

from weakpose import checkpoints, losses
from weakpose.config import config_from_dict, formulation_of, pretrain_steps
from weakpose.tables import to_markdown
from weakpose.trainer import Run, shared_2d_checkpoint

GROUPS = ("backbone", "shared", "heat", "depth")


def term_grad_norms(run: Run, terms: dict, names: list[str]) -> list[dict]:
    """One row per weighted term in ``names``: its gradient norm on each of `GROUPS` (the same graph for all)."""
    params = {g: [p for p in getattr(run.model, g).parameters() if p.requires_grad] for g in GROUPS}
    rows = []
    zero = torch.zeros_like(terms["total"])
    for name in names:
        # the term as eq. 7 weighs it: `losses.weighted_total` of the terms with all others zero
        weighted = losses.weighted_total({**{k: zero for k in losses.LOSS_NAMES[1:]}, name: terms[name]}, run.cfg)
        grads = torch.autograd.grad(weighted, [p for g in GROUPS for p in params[g]], retain_graph=True,
                                    allow_unused=True)
        it, row = iter(grads), {"term": name}
        for g in GROUPS:
            sq = sum(float((x.float() ** 2).sum()) for x in (next(it) for _ in params[g]) if x is not None)
            row[g] = sq ** 0.5
        rows.append(row)
    return rows


def grad_shares(run_dir: Path, shared_root: Path, batches: int) -> pd.DataFrame:
    """The gradient norms of every checkpoint of one run (mean over ``batches`` batches at each step)."""
    cfg = config_from_dict(json.loads((run_dir / "config.json").read_text()))
    steps = sorted((int(m.group(1)), p) for p in (run_dir / "checkpoints").glob("step-*.pt")
                   if (m := re.fullmatch(r"step-(\d+)\.pt", p.name)))
    on = cfg.loss_terms("main")
    names = [k for k in losses.LOSS_NAMES[1:] if on[k]]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(cfg, Path(tmp) / "run", torch.device("cpu"), verbose=False,
                  init_from=shared_2d_checkpoint(cfg, shared_root, torch.device("cpu"), verbose=False))
        for step, path in steps:
            state = checkpoints.read_checkpoint(path, map_location="cpu")
            run.model.load_state_dict(state["model"])
            run.pseudo, run.pseudo_ready = state["pseudo"], state["pseudo_ready"]
            run.model.train()
            it2, itmv = run.loader_2d(step), run.loader_mv(step - pretrain_steps(cfg))
            rows = []
            for b in range(batches):
                b2, bm = run.next_batches(it2, itmv)
                rows += term_grad_norms(run, run.loss_terms(b2, bm, step + b, True), names)
            df = pd.DataFrame(rows).groupby("term", sort=False).mean().reset_index()
            df.insert(0, "step", step)
            out.append(df)
    res = pd.concat(out, ignore_index=True)
    res.insert(0, "formulation", formulation_of(cfg))
    res.insert(0, "run", run_dir.name)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders with config.json and checkpoints/step-*.pt")
    ap.add_argument("--shared-root", type=Path, required=True, help="folder of the runs' shared 2D models")
    ap.add_argument("--batches", type=int, default=4, help="training batches per checkpoint (default 4)")
    ap.add_argument("--out", type=Path, required=True, help="markdown file; a .csv is written next to it")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    df = pd.concat([grad_shares(r, args.shared_root, args.batches) for r in args.runs], ignore_index=True)
    h = df[df.term == "heatmap"].set_index(["run", "step"])[["backbone", "shared"]]
    weak = df[df.term != "heatmap"].groupby(["run", "step"])[["backbone", "shared"]].sum()
    ratio = (weak / h).reset_index().rename(columns={"backbone": "weak/L_H backbone", "shared": "weak/L_H shared"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out.with_suffix(".csv"), index=False)
    args.out.write_text(
        "# Gradient norm of each weighted loss term on each parameter group\n\n"
        f"From `python benchmarks/grad_shares.py --batches {args.batches} ...` (each checkpoint's own training "
        "batches; mean over the batches).\n\n" + to_markdown(df, digits=2) +
        "\n\nSum of the weak terms' norms over L_H's (per group; the weak terms reach these groups only through the "
        "depth maps and the free joints under detach_2d_3d):\n\n" + to_markdown(ratio, digits=3) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
