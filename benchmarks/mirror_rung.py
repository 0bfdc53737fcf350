#!/usr/bin/env python
"""The depth-mirror rung of the objective ladder: why a mirrored body clears the handedness hinges, and whether a
formulation can tell it from the truth. No network: on H-twin TRAIN groups of 4 views the 2D is fixed (the
ground-truth projection at the profile's input size, optionally with the 2D noise of a trained model) and the
per-view relative depths z^r of eq. 5 are the free variables of the TRAINER's weak objective (`losses.weak_terms`
and `losses.weighted_total` of a `TrainConfig` built by `config.make_run_config`, WS M/H, eqs. 1-3, 8-11 and the
terms of formulation ours).

Three measurements, per formulation variant:

1. **Scores** of fixed depths on every group: the truth z_gt, the depth mirror -z_gt (each view mirrored about its
   pelvis in its own camera frame), the lean z_gt + L (Y - Y_pelvis) / s (the body tilted into depth, L = the
   depth error's slope against the image-vertical coordinate, as `benchmarks/depth_diagnostics.py` measures it;
   -0.55 is the lean of the failing fresh seed), the mirror with that lean, and the flat pose. Reported: the
   fraction of groups where the truth scores below each; and, after measurement 2, whether the end of the descent
   from the truth (its basin) scores below the end of the descent from the mirror (and from zero), group by group.
2. **Descent** (Adam on the free z^r) from three starts: zero (where the trainer starts: the depth head is
   zero-initialised), the mirror, and the truth. Reported: the mirrored fraction at the end (a view whose
   prediction fits -z_gt better than z_gt by least squares, `depth_diagnostics`' slope test) and P-MPJPE.
3. **Why the mirror survives** (the mirror start, after descent): which joints end on the truth's side (a
   joint whose final depth is closer to z_gt than to -z_gt, over the views still mirrored and joints with
   |z_gt| > 0.05), how many mirrored views clear each hinge (nose, knees; elbows are not hinged by ours), and how
   eq. 10's fitted rotations align a mirrored group: the angle from the fitted R to the true relative rotation
   R_c R_c'^T and to its mirror D R_c R_c'^T D (D = diag(1, 1, -1)).

The mirror test (``--mirror-test``-variants, `weakpose.mirror`): every ``mirror_test_every`` steps each group's
mean vote over its views (`mirror.mirror_vote`) is taken and a group whose vote is below -``mirror_test_margin``
has all its views' depths negated. On free
depths each group is its own 'network'; the trainer negates its depth head on the vote of the steps' batches.

    python benchmarks/mirror_rung.py --out results/ladder/mirror.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

from weakpose import geometry, losses, metrics, mirror, skeleton
from weakpose.config import make_run_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from objective_ladder import at_input_size, load_groups, pick_variants  # noqa: E402

D = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))

# formulation variants: (formulation, overrides of the row config). The ladder has no network, so the trainer-only
# switches (detach_2d_3d, free_unlabelled_2d, mv_grad_clip) change nothing here.
VARIANTS: dict[str, tuple[str, dict]] = {
    "literal": ("paper", {}),
    "ours": ("ours", {}),
    "ours+elbows": ("ours", {"chirality_terms": "nose+knees+elbows"}),
    "ours+test": ("ours", {"mirror_test_every": 25}),
    "ours+basin": ("ours", {"basin_test_at": 0.25}),
}


def variant_config(name: str, profile: str = "cpu", seed: int = 0):
    form, over = VARIANTS[name]
    cfg = make_run_config(profile, formulation=form, seed=seed, sup2d="M", mv="H")
    return dataclasses.replace(cfg, **over)


def objective(cfg, uv, z, K, mean_bone, B, C, per_group: bool = False):
    """The trainer's weak objective (eq. 7 without L_H / L_z) of B groups x C views; conf phi = 1.
    uv (B*C, J, 2), z (B*C, J), K (B*C, 3, 3). Returns (total scalar or (B,) per group, points (B*C, J, 3))."""
    rec = geometry.reconstruct(uv, z, K, invalid=cfg.invalid_views, hinge_margin=cfg.hinge_margin)
    pts, valid = rec[0], rec[2]
    J = pts.shape[1]
    on = cfg.loss_terms("main")
    penalty = rec[3].reshape(B, C) if on["validity"] else None

    def total(sl, b):
        p = pts.reshape(B, C, J, 3)[sl]
        v = valid.reshape(B, C)[sl]
        mask = v if cfg.invalid_views == "mask" else torch.ones_like(v)
        t = {name: torch.zeros((), dtype=pts.dtype) for name in losses.LOSS_NAMES[1:]}
        t.update(losses.weak_terms(p, torch.ones(b, C, J, dtype=pts.dtype), mask, cfg, mean_bone,
                                   torch.ones_like(v), None if penalty is None else penalty[sl]))
        return losses.weighted_total(t, cfg)

    if per_group:
        return torch.stack([total(slice(b, b + 1), 1) for b in range(B)]), pts
    return total(slice(None), B), pts


def slope(z: torch.Tensor, zg: torch.Tensor) -> torch.Tensor:
    """Least-squares slope of z against zg per view (depth_diagnostics' mirror test): (N, J) -> (N,)."""
    return (z * zg).sum(-1) / (zg * zg).sum(-1).clamp_min(1e-9)


def descend(cfg, uv, z0, K, mb, B, C, steps, lr, test_every=0):
    """Adam on the free depths; with ``test_every`` the mirror test per group, with ``cfg.basin_test_at`` the
    basin test on all groups at once (`basin_branches`). Returns (z, groups flipped)."""
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    flips = 0
    at = round(cfg.basin_test_at * steps) if cfg.basin_test_at else -1
    s = 0
    while s < steps:
        if s == at:
            z, n, flipped = basin_branches(cfg, uv, z, K, mb, B, C, opt, sched, round(cfg.basin_test_steps * steps))
            s, flips = s + n, flips + B * flipped
            continue
        _descent_step(cfg, uv, z, K, mb, B, C, opt, sched)
        if test_every and (s + 1) % test_every == 0 and s + 1 < steps:
            with torch.no_grad():
                _, pts = objective(cfg, uv, z, K, mb, B, C)
                vote = mirror.mirror_vote(pts.reshape(B, C, -1, 3), cfg.mirror_test_terms).mean(-1)   # (B,)
                neg = vote < -cfg.mirror_test_margin
                flip = neg.repeat_interleave(C)
                flips += int(neg.sum())
                z[flip] = -z[flip]
                st = opt.state[z]
                st["exp_avg"][flip] = -st["exp_avg"][flip]
        s += 1
    return z.detach(), flips


def _descent_step(cfg, uv, z, K, mb, B, C, opt, sched):
    tot, _ = objective(cfg, uv, z, K, mb, B, C)
    opt.zero_grad()
    tot.backward()
    opt.step()
    sched.step()


def basin_branches(cfg, uv, z, K, mb, B, C, opt, sched, n):
    """The basin test of `weakpose.basin` on free depths, all groups standing for one network: ``n`` steps as is
    and ``n`` steps from every depth negated (with Adam's first moments), keep the branch whose objective summed
    over all groups is lower. Returns (z of the kept branch, n, flipped)."""
    import copy
    start = (z.detach().clone(), copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict()))
    ends = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            z.copy_(sign * start[0])
        opt.load_state_dict(copy.deepcopy(start[1]))
        sched.load_state_dict(copy.deepcopy(start[2]))
        if sign < 0 and z in opt.state:
            opt.state[z]["exp_avg"].neg_()
        for _ in range(n):
            _descent_step(cfg, uv, z, K, mb, B, C, opt, sched)
        with torch.no_grad():
            ends.append((float(objective(cfg, uv, z, K, mb, B, C)[0]), z.detach().clone(),
                         copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())))
    k = 1 if ends[1][0] < ends[0][0] else 0
    with torch.no_grad():
        z.copy_(ends[k][1])
    opt.load_state_dict(ends[k][2])
    sched.load_state_dict(ends[k][3])
    return z, n, bool(k)


def pooled_win(a: torch.Tensor, b: torch.Tensor, pool: int, seed: int, draws: int = 2000) -> float:
    """The basin test's question pooled: over ``draws`` sets of ``pool`` groups drawn with replacement, the
    fraction where the summed objective of ends ``a`` (B,) is below that of ends ``b`` (B,)."""
    g = torch.Generator().manual_seed(seed + 7)
    idx = torch.randint(0, a.shape[0], (draws, pool), generator=g)
    return float((a[idx].sum(-1) < b[idx].sum(-1)).float().mean())


def angle(Ra: torch.Tensor, Rb: torch.Tensor) -> torch.Tensor:
    """Geodesic angle (deg) between rotations (..., 3, 3)."""
    c = ((Ra.transpose(-1, -2) @ Rb).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(c.clamp(-1, 1)))


def run(args) -> dict:
    torch.manual_seed(args.seed)
    data = load_groups(args.groups, args.seed)
    B, C = data["B"], data["C"]
    mb, j3d = data["mean_bone"], data["j3d"]
    zg = losses.relative_depth_target(j3d)
    s = (j3d[:, skeleton.NECK] - j3d[:, skeleton.PELVIS]).norm(dim=-1)
    ynorm = (j3d[..., 1] - j3d[:, skeleton.PELVIS, None, 1]) / s[:, None]
    uv0, K = at_input_size(data, args.size)
    eps = torch.randn(uv0.shape, generator=torch.Generator().manual_seed(args.seed + 1), dtype=torch.float64)
    t0 = time.time()
    scores, descents, why = [], [], []
    for spec in args.noise:
        err = float(spec.split("@")[0]) * (args.size / float(spec.split("@")[1]) if "@" in spec else 1.0)
        uv = uv0 + err / math.sqrt(math.pi / 2) * eps
        fixed = {"truth": zg, "mirror": -zg, "flat": torch.zeros_like(zg)}
        for L in args.leans:
            fixed[f"lean{L:+g}"] = zg + L * ynorm
            fixed[f"mirror+lean{L:+g}"] = -zg + L * ynorm
        for vname in args.variants:
            cfg = variant_config(vname, args.profile)
            with torch.no_grad():
                f = {k: objective(cfg, uv, z, K, mb, B, C, per_group=True)[0] for k, z in fixed.items()}
            row = {"variant": vname, "noise": spec, "noise_px": err}
            for k in fixed:
                if k != "truth":
                    row[f"truth<{k}"] = float((f["truth"] < f[k]).float().mean())
                row[f"objective[{k}]"] = float(f[k].mean())
            scores.append(row)
            ends = {}
            for start, z0 in (("zero", torch.zeros_like(zg)), ("mirror", -zg), ("truth", zg)):
                z, flips = descend(cfg, uv, z0, K, mb, B, C, args.steps, args.lr, cfg.mirror_test_every)
                with torch.no_grad():
                    tot, pts = objective(cfg, uv, z, K, mb, B, C, per_group=True)
                ends[start] = tot
                sl = slope(z, zg)
                mirrored = sl < 0
                pm = metrics.p_mpjpe(pts, j3d)
                descents.append({"variant": vname, "noise": spec, "start": start, "mirrored": float(mirrored.float().mean()),
                                 "p_mpjpe": float(pm.mean()), "objective": float(tot.mean()),
                                 "objective_truth": float(f["truth"].mean()),
                                 "below_truth": float((tot < f["truth"]).float().mean()), "flips": flips})
                if start == "mirror":
                    why.append(_why(vname, spec, z, zg, pts, mirrored, data, cfg, uv, K, mb, B, C))
                if start == "truth":
                    row["basin:truth<mirror"] = float((ends["truth"] < ends["mirror"]).float().mean())
                    row["basin:truth<zero"] = float((ends["truth"] <= ends["zero"] + 1e-9).float().mean())
                    row["pooled:truth<mirror"] = pooled_win(ends["truth"], ends["mirror"], args.pool, args.seed)
                if args.verbose:
                    d = descents[-1]
                    print(f"[{time.time() - t0:6.1f}s] {vname:12s} noise {spec:8s} {start:6s} mirrored "
                          f"{d['mirrored']:.2f} P {d['p_mpjpe']:6.1f} obj {d['objective']:.4f} (truth "
                          f"{d['objective_truth']:.4f}) flips {flips}", flush=True)
    return {"meta": {"script": "benchmarks/mirror_rung.py", "argv": sys.argv[1:], "seed": args.seed, "groups": B,
                     "views": C, "size": args.size, "steps": args.steps, "lr": args.lr, "profile": args.profile, "pool": args.pool,
                     "variants": {v: VARIANTS[v] for v in args.variants}, "torch": torch.__version__,
                     "python": platform.python_version(), "seconds": round(time.time() - t0, 1)},
            "scores": scores, "descents": descents, "why": why}


def _why(vname, spec, z, zg, pts, mirrored, data, cfg, uv, K, mb, B, C) -> dict:
    """Measurement 3 on the mirror start's end state."""
    big = zg.abs() > 0.05
    closer_truth = ((z - zg).abs() < (z + zg).abs()) & big & mirrored[:, None]
    per_joint = (closer_truth.sum(0).double() / (big & mirrored[:, None]).sum(0).clamp_min(1)).tolist()
    h = {t: losses.handedness(pts, (t,)) for t in ("nose", "knees", "elbows")}
    m = mirrored
    clear = {t: float((h[t][m] > 0.1).all(-1).float().mean()) if m.any() else float("nan") for t in h}
    # eq. 10 at the mirror itself (no descent): fitted R against R_c R_c'^T and its mirror
    rec = geometry.reconstruct(uv, -zg, K)
    P = rec[0].reshape(B, C, -1, 3)
    Rfit, _ = losses.pair_transforms(P, torch.ones(P.shape[:-1], dtype=P.dtype))
    c, cp = losses.ordered_pairs(C)
    Rt = data["R"][:, c] @ data["R"][:, cp].transpose(-1, -2)
    return {"variant": vname, "noise": spec, "mirrored_views": int(m.sum()),
            "joint_on_truth_side": dict(zip(skeleton.JOINT_NAMES, [round(x, 3) for x in per_joint])),
            "clear_nose": clear["nose"], "clear_knees": clear["knees"], "clear_elbows": clear["elbows"],
            "R_fit_vs_true_deg": float(angle(Rfit, Rt).median()),
            "R_fit_vs_mirrored_true_deg": float(angle(Rfit, D @ Rt @ D).median()),
            "R_true_vs_mirrored_deg": float(angle(Rt, D @ Rt @ D).median())}


def markdown(res: dict) -> str:
    m = res["meta"]
    L = ["# The depth-mirror rung of the objective ladder", "",
         f"Generated by `python benchmarks/{Path(__file__).name} {' '.join(m['argv'])}` ({m['seconds']} s): H twin "
         f"(synthetic, small), {m['groups']} train groups x {m['views']} views at {m['size']} px (profile "
         f"{m['profile']}), the trainer's weak objective of each variant (WS M/H), free relative depths, Adam "
         f"{m['steps']} steps, lr {m['lr']} cosine, seed {m['seed']}. Noise: the mean 2D error (px at the input, "
         "or 'E@S': E px at an S px input) of the fixed 2D. Definitions in the script's docstring.", "",
         "Variants: " + "; ".join(f"`{k}` = formulation {f} {o if o else ''}".strip() for k, (f, o) in m["variants"].items()),
         "", "## 1. Does the objective score the truth below ...? (fraction of groups)", ""]
    keys = [k for k in res["scores"][0] if k.startswith(("truth<", "basin:", "pooled:"))]
    L += ["Fixed depths (the 2D noise left in); 'basin:' compares the ends of the descents (measurement 2) from the "
          "truth and from the mirror (or zero), each group's own objective: the truth's basin below the mirror's; "
          "'pooled:' asks the basin test's question of sets of groups: the fraction of random sets of "
          f"{m.get('pool', 64)} groups whose summed objective at the ends from the truth is below the sum at the ends "
          "from the mirror.", "",
          "| variant | noise | " + " | ".join(k.replace("truth<", "") for k in keys) + " |",
          "|---|---|" + "---:|" * len(keys)]
    for r in res["scores"]:
        L.append(f"| {r['variant']} | {r['noise']} | " + " | ".join(f"{r[k]:.2f}" for k in keys) + " |")
    L += ["", "## 2. Descent: mirrored fraction and P-MPJPE (mm) at the end, by start", "",
          "| variant | noise | start | mirrored | P-MPJPE | objective | truth's | below truth | groups flipped |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for d in res["descents"]:
        L.append(f"| {d['variant']} | {d['noise']} | {d['start']} | {d['mirrored']:.2f} | {d['p_mpjpe']:.1f} | "
                 f"{d['objective']:.4f} | {d['objective_truth']:.4f} | {d['below_truth']:.2f} | {d['flips']} |")
    L += ["", "## 3. The mirror start after descent: what the still-mirrored views look like", "",
          "Joints on the truth's side (fraction of still-mirrored views); hinges cleared (margin 0.1, all signals of "
          "the term); eq. 10's fitted rotation at the mirror, median angle to the true relative rotation and to its "
          "mirror D R D.", "",
          "| variant | noise | mirrored views | nose | knees | elbows | R fit vs true | R fit vs D R D | true vs D R D | joints mostly on the truth's side |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for w in res["why"]:
        side = ", ".join(f"{k} {v:.2f}" for k, v in w["joint_on_truth_side"].items() if v >= 0.5) or "none"
        L.append(f"| {w['variant']} | {w['noise']} | {w['mirrored_views']} | {w['clear_nose']:.2f} | "
                 f"{w['clear_knees']:.2f} | {w['clear_elbows']:.2f} | {w['R_fit_vs_true_deg']:.1f} | "
                 f"{w['R_fit_vs_mirrored_true_deg']:.1f} | {w['R_true_vs_mirrored_deg']:.1f} | {side} |")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="results/ladder/mirror.json")
    ap.add_argument("--groups", type=int, default=48)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--noise", default="0,9.9@256", help="mean 2D errors: 'E' px at the input or 'E@S'")
    ap.add_argument("--leans", default="-0.55,0.55")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", type=int, default=64, help="groups pooled by the basin test (the trainer's default: "
                    "basin_test_batches 16 x batch_mv 4 of profile cpu)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.noise = [s for s in args.noise.split(",") if s]
    args.leans = [float(x) for x in args.leans.split(",") if x]
    args.variants = pick_variants(args.variants, VARIANTS)
    res = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(markdown(res))
    print(f"wrote {out} and {out.with_suffix('.md')} in {res['meta']['seconds']} s")


if __name__ == "__main__":
    main()
