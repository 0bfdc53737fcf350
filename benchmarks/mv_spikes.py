"""Where a weak run's L_MC spikes come from. Replays the first ``--steps`` main steps of a run from its own
config.json (the trainer's own `Run.train_step`, so the replay IS the run: the report checks its step losses against
the run's history.csv) and records, for every multi-view group of every step, the group's own L_MC (eq. 8, the
tested `losses.multiview_consistency` on that group alone) and for each of its views the eq. 3 root depth Z (the
pelvis depth of the scale-normalised pose, neck-pelvis = 1), the projected neck-pelvis length |x_n/z_n - x_p/z_p| (in
units of the focal length), the pose's extent (largest joint distance from its centroid) and the neck / pelvis
confidences phi.

Eq. 3 gives Z ~ 1 / (projected neck-pelvis length): a view whose 2D neck and pelvis (nearly) coincide gets a huge
root depth, the whole pose scales with it, and the squared L_MC of its group explodes.

    python benchmarks/mv_spikes.py --shared-root results/shared2d --steps 200 \
        --out runs/diagnostics/mv_spikes.md <run folder>

Needs the run's shared 2D model checkpoint (a clone trains it again under ``--shared-root``) and its data.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

import pandas as pd
import torch

from weakpose import losses, skeleton
from weakpose.config import config_from_dict, formulation_of, pretrain_steps
from weakpose.tables import to_markdown
from weakpose.trainer import Run, shared_2d_checkpoint


def group_rows(points, conf, mask, rotations=None, known=None, distance="euclidean") -> list[dict]:
    """One row per view of every group: the group's own L_MC and the view's eq. 3 geometry.
    points: (B, C, J, 3); conf: (B, C, J); mask: (B, C) bool (the views L_MC sees)."""
    rows = []
    with torch.no_grad():
        p, cf = points.detach().double(), conf.detach().double()
        uv = p[..., :2] / p[..., 2:3]
        np2d = (uv[..., skeleton.NECK, :] - uv[..., skeleton.PELVIS, :]).norm(dim=-1)            # (B, C)
        ext = (p - p.mean(-2, keepdim=True)).norm(dim=-1).max(-1).values                          # (B, C)
        for b in range(p.shape[0]):
            sl = slice(b, b + 1)
            mc = float(losses.multiview_consistency(p[sl], cf[sl], mask[sl],
                                                    rotations=None if rotations is None else rotations[sl],
                                                    known=None if known is None else known[sl], distance=distance))
            for c in range(p.shape[1]):
                rows.append(dict(group=b, view=c, in_mc=bool(mask[b, c]), mc=mc,
                                 root_z=float(p[b, c, skeleton.PELVIS, 2]), neck_pelvis_2d=float(np2d[b, c]),
                                 extent=float(ext[b, c]), conf_neck=float(cf[b, c, skeleton.NECK]),
                                 conf_pelvis=float(cf[b, c, skeleton.PELVIS])))
    return rows


@contextlib.contextmanager
def spy_weak_terms(sink: list):
    """Record the inputs of every `losses.weak_terms` call (the trainer calls it through the module) while active."""
    orig = losses.weak_terms

    def spy(points, conf, mask, cfg, *args, rotations=None, known=None, **kw):
        sink.append(group_rows(points, conf, mask, rotations, known, cfg.mc_distance))
        return orig(points, conf, mask, cfg, *args, rotations=rotations, known=known, **kw)
    losses.weak_terms = spy
    try:
        yield
    finally:
        losses.weak_terms = orig


def replay(cfg, shared_root: Path, steps: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-view rows of every group, per-step losses) of the first ``steps`` main steps of a run's config ``cfg``."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(cfg, Path(tmp) / "run", torch.device("cpu"), verbose=False,
                  init_from=shared_2d_checkpoint(cfg, shared_root, torch.device("cpu"), verbose=False))
        first = pretrain_steps(cfg)
        if first:  # the run's own 2D pre-training, exactly as `fit` runs it
            run.fit(stop_after=first)
        if cfg.pseudo_labels:
            run.make_pseudo_labels()
        it2, itmv = run.loader_2d(first), run.loader_mv(0)
        views, losses_rows, sink = [], [], []
        with spy_weak_terms(sink):
            for s in range(steps):
                b2, bm = run.next_batches(it2, itmv)
                sink.clear()
                t = run.train_step(b2, bm, True)
                src = bm["source"].tolist()
                for r in sink[0]:
                    views.append(dict(step=first + s, source=cfg.mv_keys[src[r["group"]]], **r))
                losses_rows.append(dict(step=first + s, **{k: float(v.detach()) for k, v in t.items()}))
    return pd.DataFrame(views), pd.DataFrame(losses_rows)


def report(run_dir: Path, cfg, views: pd.DataFrame, steps: pd.DataFrame, threshold: float) -> str:
    """The markdown report: replay check, L_MC per source, the spikes and their worst view, L_H around them."""
    hist = pd.read_csv(run_dir / "history.csv").set_index("step")
    both = steps.merge(hist[["mc", "heatmap"]].add_suffix("_run"), left_on="step", right_index=True)
    # history.csv keeps 6 significant digits: compare relative to the value (at least 1)
    dev = max(((both[k] - both[k + "_run"]).abs() / both[k + "_run"].abs().clip(lower=1.0)).max()
              for k in ("mc", "heatmap"))
    groups = views.groupby(["step", "group"]).agg(source=("source", "first"), mc=("mc", "first"),
                                                  root_z=("root_z", "max"), extent=("extent", "max")).reset_index()
    src = groups.groupby("source").mc.agg(groups="size", median="median", p90=lambda x: x.quantile(0.9), max="max",
                                          spikes=lambda x: int((x > threshold).sum())).reset_index()
    med_np, med_z = views.neck_pelvis_2d.median(), views.root_z.median()
    worst = views.loc[views.groupby(["step", "group"]).root_z.idxmax()]
    spikes = worst[worst.mc > threshold].merge(steps[["step", "heatmap"]], on="step")
    spikes["Z x median"] = spikes.root_z / med_z
    spikes["2D neck-pelvis x median"] = spikes.neck_pelvis_2d / med_np
    spikes = spikes[["step", "source", "mc", "root_z", "Z x median", "2D neck-pelvis x median", "extent", "conf_neck",
                     "conf_pelvis", "heatmap"]].rename(columns={"mc": "group L_MC", "root_z": "worst view Z",
                                                                "heatmap": "L_H"})
    win = steps.assign(window=steps.step // 25 * 25).merge(
        groups.groupby("step").mc.agg(max_group="max", spikes=lambda x: int((x > threshold).sum())).reset_index(),
        on="step").groupby("window").agg(L_H=("heatmap", "mean"), L_MC=("mc", "mean"),
                                         max_group_L_MC=("max_group", "max"), spikes=("spikes", "sum")).reset_index()
    lines = [f"# L_MC spikes of `{run_dir.name}` ({formulation_of(cfg)}, mv={cfg.mv}, known_R={cfg.known_R})", "",
             f"From `python benchmarks/mv_spikes.py --steps {len(steps)} ...`: the first {len(steps)} main steps "
             f"replayed with the trainer's own step; largest relative difference from the run's history.csv (L_MC, "
             f"L_H): {dev:.2g}.", "",
             f"Per group L_MC by multi-view source (spikes: L_MC > {threshold:g}):", "", to_markdown(src.round(3)), "",
             f"Median projected neck-pelvis length over all views: {med_np:.3f}; median root depth Z: "
             f"{med_z:.1f}; median extent {views.extent.median():.2f}.", ""]
    if len(spikes):
        s0 = int(spikes.step.min())
        before = steps[steps.step < s0].heatmap.tail(25).mean()
        lines += [f"The spikes, with each group's view of largest root depth (first 20 of {len(spikes)}):", "",
                  to_markdown(spikes.head(20).round(3)), "",
                  f"L_H: mean {before:.2f} over the 25 steps before the first spike (step {s0}), "
                  f"{steps.heatmap.tail(25).mean():.2f} over the last 25 replayed steps.", ""]
    else:
        lines += ["No group exceeds the threshold.", ""]
    lines += ["Per 25 steps: mean L_H and L_MC of the step, the largest group L_MC and the number of spikes:", "",
              to_markdown(win.round(2)), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run", type=Path, help="a weak run folder (its config.json and history.csv)")
    ap.add_argument("--shared-root", type=Path, default=Path("results/shared2d"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threshold", type=float, default=5.0, help="a group's L_MC above this is a spike")
    ap.add_argument("--out", type=Path, required=True, help="markdown report; the per-view rows go next to it (.csv)")
    a = ap.parse_args(argv)
    cfg = config_from_dict(json.loads((a.run / "config.json").read_text()))
    views, steps = replay(cfg, a.shared_root, a.steps)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    views.to_csv(a.out.with_suffix(".csv"), index=False)
    steps.to_csv(a.out.with_name(a.out.stem + "_steps.csv"), index=False)
    a.out.write_text(report(a.run, cfg, views, steps, a.threshold))
    print(a.out.read_text())


if __name__ == "__main__":
    main()
