#!/usr/bin/env python
"""Rung (a) of the objective ladder (docs/weak-supervision.md): the weak objective alone, without a network.

On H-twin TRAIN groups of 4 views, the 2.5D pose's 2D part is fixed (the ground-truth 2D at the network input,
optionally with Gaussian noise) and only the per-view relative depths z^r (eq. 5's output) are free variables,
minimised with Adam over the weakly-supervised objective of eq. 7 without L_H:

    alpha * L_MC (eq. 8, R from eq. 10 = "procrustes", or from the known extrinsics = "known")
  + beta  * L_B  (eq. 11, with the scale-normalised training means bone_stats["mean_normalised"])
  [+ gamma * validity hinge (ours) + chi * chirality hinge (ours)]

built from the project's own functions (`geometry.reconstruct` = eqs. 1-3, `losses.pair_transforms`,
`losses.consistency_distance`, `losses.limb_length_loss`). All confidences phi = 1.

Input sizes: the stored crop (192 px, crop_margin 1.5, i.e. a 128 px nominal box) maps to an input of I px by the
evaluation affine A = `camera.identity_affines` (K' = A K, uv' = A uv), exactly as `evaluate.infer` does.

Reported per (variant, input size, 2D noise, start, R): P-MPJPE (mm, `metrics.p_mpjpe` of the scale-normalised
prediction against the camera-frame ground truth; all views, and valid views only), the mirrored fraction, the
invalid fraction, and the final loss terms.
* mirrored: a view whose prediction is closer after P-MPJPE (similarity Procrustes, no reflection) to the
  depth-flipped ground truth (z_j -> 2 z_pelvis - z_j in its camera frame) than to the ground truth.
* invalid: a view for which `reconstruct` returns valid = False at the end (eq. 3 without a real root, Z <= 0).
* 2D noise sigma is per coordinate, in px at the input size, one fixed N(0, 1) draw (seeded) scaled by sigma.
Discrimination test: with 2D noise equal to a model's mean 2D error E (mean Euclidean px; per-coordinate sigma
= E / sqrt(pi / 2)), the fraction of groups where the objective at the ground-truth z^r is below BOTH the flat pose
(z^r = 0) and the depth-mirrored pose (z^r -> -z^r_gt), each scored on the same noisy 2D. Errors are given as
"E" (px at every input size) or "E@S" (E px at an S px input, i.e. E * I / S px at input size I).

Usage: python benchmarks/objective_ladder.py --out results/ladder/objective.json [--quick]
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from weakpose import geometry, losses, metrics, skeleton
from weakpose.camera import identity_affines, project, transform_points
from weakpose.data.loaders import open_dataset

DEFAULT = dict(root_depth="neck", bone_rescale=True, invalid="mask", gamma=0.0, distance="euclidean",
               alpha=10.0, beta=100.0, chi=0.0, chi_margin=0.0, chi_terms=("nose",), fore=0.0, fore_margin=0.5,
               fore_bones="all",
               hinge_margin=0.0)

_OURS1 = dict(distance="squared", invalid="hinge", gamma=100.0, hinge_margin=0.01, beta=10.0, chi=10.0, chi_margin=0.1)

# Formulations; "literal" is the paper's (eqs. 3, 8, 11 with alpha = 10, beta = 100, Appendix A).
VARIANTS: dict[str, dict] = {
    "literal": {},
    # one switch at a time
    "beta10": dict(beta=10.0),
    "squared": dict(distance="squared"),
    "hinge": dict(invalid="hinge", gamma=10.0),
    "bones": dict(root_depth="bones"),
    "chiral": dict(chi=1.0),
    # combinations
    "hinge100+b10": dict(invalid="hinge", gamma=100.0, hinge_margin=0.01, beta=10.0),
    "hinge100+b3": dict(invalid="hinge", gamma=100.0, hinge_margin=0.01, beta=3.0),
    "bones+hinge100+b10": dict(root_depth="bones", invalid="hinge", gamma=100.0, beta=10.0),
    "bones+sq+hinge+b10": dict(root_depth="bones", distance="squared", invalid="hinge", gamma=10.0, beta=10.0),
    # earlier variants of the trainer's formulation (commit 16238c3) on free depths; "ours+torso95" is the
    # trainer's "ours" (config.FORMULATIONS) but for the gradient clip, which has no counterpart on free variables
    "ours1": _OURS1,
    "ours": dict(_OURS1, chi_terms=("nose", "knees")),
    # ours + the foreshortening hinge (config foreshortening_weight=10; the trainer's gradient clipping has no
    # counterpart on free variables)
    "ours+fore": dict(_OURS1, chi_terms=("nose", "knees"), fore=10.0),
    # ours + the root depth from all bones (config root_depth="bones"; the trainer keeps bone_rescale's default)
    "ours+bones": dict(_OURS1, chi_terms=("nose", "knees"), root_depth="bones"),
    # ours + the torso hinge (config foreshortening_weight=10, foreshortening_bones="torso", margin 0.85 / 0.95)
    "ours+torso": dict(_OURS1, chi_terms=("nose", "knees"), fore=10.0, fore_margin=0.85, fore_bones="torso"),
    "ours+torso95": dict(_OURS1, chi_terms=("nose", "knees"), fore=10.0, fore_margin=0.95, fore_bones="torso"),
}
QUICK_VARIANTS = ("literal", "hinge100+b3")


def pick_variants(spec: str, known) -> list[str]:
    """The comma-separated variant names of ``spec``, each one of ``known`` (else SystemExit naming it)."""
    names = [v for v in spec.split(",") if v]
    for v in names:
        if v not in known:
            raise SystemExit(f"unknown variant {v!r}; known: {sorted(known)}")
    return names


def variant_params(name: str, overrides: dict | None = None) -> dict:
    p = {**DEFAULT, **VARIANTS[name], **(overrides or {})}
    return p


# ---------------------------------------------------------------------------------------------- data
def load_groups(n_groups: int, seed: int, views: int = 4) -> dict:
    """n_groups train groups with >= `views` views (seeded choice of groups and of views), float64 tensors."""
    ds = open_dataset("H", "synthetic", size="small")
    groups = [g for g in ds.groups(ds.split_mask("train")) if len(g) >= views]
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(groups), size=min(n_groups, len(groups)), replace=False))
    rows = np.stack([np.sort(rng.choice(groups[i], size=views, replace=False)) for i in pick])   # (B, C)
    flat = rows.reshape(-1)
    j3d = torch.from_numpy(np.asarray(ds.joints3d[flat], np.float64))
    K = torch.from_numpy(np.asarray(ds.K[flat], np.float64))
    uv_stored = torch.from_numpy(np.asarray(ds.joints2d[flat], np.float64))
    R = torch.from_numpy(np.asarray(ds.R[flat], np.float64))
    if not bool(np.asarray(ds.has_extrinsics[flat]).all()):
        raise RuntimeError("the H twin should have extrinsics for every view")
    uv_proj = project(j3d, K)                        # exact 2D: the projection of the 3D ground truth
    B, C = rows.shape
    return dict(rows=rows, j3d=j3d, K=K, uv=uv_proj, R=R.reshape(B, C, 3, 3), B=B, C=C,
                stored=ds.crop_size, margin=float(ds.meta["crop_margin"]),
                mean_bone=torch.tensor(ds.meta["bone_stats"]["mean_normalised"], dtype=torch.float64),
                stored_vs_projected_px=float((uv_stored - uv_proj).norm(dim=-1).max()))


def at_input_size(data: dict, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uv (N, J, 2) and K (N, 3, 3) at an input of `size` px via the evaluation affine (K' = A K)."""
    A = identity_affines(data["uv"].shape[0], data["stored"], data["margin"], size, torch.device("cpu"))
    return transform_points(A, data["uv"]), A @ data["K"]


def parse_error(spec: str, size: int) -> float:
    """'E' -> E px; 'E@S' -> E * size / S px (mean Euclidean 2D error at this input size)."""
    if "@" in spec:
        e, s = spec.split("@")
        return float(e) * size / float(s)
    return float(spec)


# ---------------------------------------------------------------------------------------------- objective
def objective(uv, z_rel, K, Rcam, mean_bone, B, C, p: dict, known_R: bool) -> dict:
    """The weak objective (eq. 7 without L_H) of B groups of C views with the project's functions.

    uv (B*C, J, 2) px; z_rel (B*C, J); K (B*C, 3, 3); Rcam (B, C, 3, 3) world->camera. Returns a dict of
    scalar terms and the per-view points / valid."""
    out = geometry.reconstruct(uv, z_rel, K, root_depth=p["root_depth"], mean_bone=mean_bone,
                               invalid=p["invalid"], bone_rescale=p["bone_rescale"],
                               hinge_margin=p["hinge_margin"])
    points, valid = out[0], out[2]
    J = points.shape[1]
    pts = points.reshape(B, C, J, 3)
    vmask = valid.reshape(B, C)
    conf = torch.ones(B, C, J, dtype=points.dtype)
    R, t = losses.pair_transforms(pts, conf, rotations=Rcam if known_R else None)
    mc = losses.consistency_distance(pts, conf, R, t, vmask, p["distance"])
    lb = losses.limb_length_loss(points, conf.flatten(0, 1), mean_bone, valid)
    total = p["alpha"] * mc + p["beta"] * lb
    terms = {"mc": mc, "limb": lb}
    if p["invalid"] == "hinge":
        terms["validity"] = losses.validity_penalty(out[3])
        total = total + p["gamma"] * terms["validity"]
    if p["chi"]:
        terms["chirality"] = losses.chirality_loss(points, valid, p["chi_margin"], tuple(p["chi_terms"]))
        total = total + p["chi"] * terms["chirality"]
    if p["fore"]:
        terms["foreshortening"] = losses.foreshortening_loss(points, valid, p["fore_margin"], p["fore_bones"])
        total = total + p["fore"] * terms["foreshortening"]
    terms["total"] = total
    terms["points"], terms["valid"] = points, valid
    return terms


def per_group_objective(uv, z_rel, K, Rcam, mean_bone, B, C, p, known_R) -> np.ndarray:
    """(B,) total objective of each group on its own (the losses average over the batch they are given)."""
    J = uv.shape[1]
    uv, z_rel, K = uv.reshape(B, C, J, 2), z_rel.reshape(B, C, J), K.reshape(B, C, 3, 3)
    vals = []
    with torch.no_grad():
        for b in range(B):
            o = objective(uv[b], z_rel[b], K[b], Rcam[b:b + 1], mean_bone, 1, C, p, known_R)
            vals.append(float(o["total"]))
    return np.array(vals)


def minimise(uv, z0, K, Rcam, mean_bone, B, C, p, known_R, steps: int, lr: float) -> tuple[torch.Tensor, list]:
    """Adam on the free z^r (B*C, J), cosine-decayed learning rate; returns the final z^r and a loss trace."""
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    trace = []
    for s in range(steps):
        o = objective(uv, z, K, Rcam, mean_bone, B, C, p, known_R)
        opt.zero_grad()
        o["total"].backward()
        opt.step()
        sched.step()
        if s % max(1, steps // 10) == 0:
            trace.append(round(float(o["total"].detach()), 6))
    return z.detach(), trace


# ---------------------------------------------------------------------------------------------- metrics
def depth_flip(j3d: torch.Tensor) -> torch.Tensor:
    """Camera-frame depth mirror about the pelvis: z_j -> 2 z_pelvis - z_j."""
    out = j3d.clone()
    out[..., 2] = 2 * j3d[:, skeleton.PELVIS, None, 2] - j3d[..., 2]
    return out


def pose_metrics(points: torch.Tensor, valid: torch.Tensor, j3d: torch.Tensor) -> dict:
    pm = metrics.p_mpjpe(points, j3d)
    pm_flip = metrics.p_mpjpe(points, depth_flip(j3d))
    v = valid.numpy().astype(bool)
    return {"p_mpjpe": float(pm.mean()),
            "p_mpjpe_valid": float(pm[v].mean()) if v.any() else float("nan"),
            "mirrored": float((pm_flip < pm).mean()),
            "invalid": float((~v).mean())}


def run(args) -> dict:
    torch.manual_seed(args.seed)
    data = load_groups(args.groups, args.seed)
    B, C, J = data["B"], data["C"], skeleton.J
    mb = data["mean_bone"]
    j3d = data["j3d"]
    z_gt = losses.relative_depth_target(j3d)
    gen = torch.Generator().manual_seed(args.seed + 1)
    eps = torch.randn(data["uv"].shape, generator=gen, dtype=torch.float64)   # one fixed draw, scaled by sigma
    variants = args.variants
    runs, refs, disc = [], [], []
    t0 = time.time()
    for size in args.sizes:
        uv0, K = at_input_size(data, size)
        for noise in args.noise:
            uv = uv0 + noise * eps
            lit = variant_params("literal")
            for name, z in (("flat", torch.zeros_like(z_gt)), ("ground_truth", z_gt)):
                o = objective(uv, z, K, data["R"], mb, B, C, lit, False)
                refs.append({"size": size, "noise_px": noise, "pose": name,
                             "L_B": float(o["limb"]), **pose_metrics(o["points"].detach(), o["valid"], j3d)})
            for vname in variants:
                p = variant_params(vname)
                for start, z0 in (("zero", torch.zeros_like(z_gt)), ("gt", z_gt)):
                    for rmode in ("procrustes", "known"):
                        with torch.no_grad():
                            o0 = objective(uv, z0, K, data["R"], mb, B, C, p, rmode == "known")
                        start_m = pose_metrics(o0["points"], o0["valid"], j3d)
                        z, trace = minimise(uv, z0, K, data["R"], mb, B, C, p, rmode == "known", args.steps, args.lr)
                        with torch.no_grad():
                            o = objective(uv, z, K, data["R"], mb, B, C, p, rmode == "known")
                        rec = {"variant": vname, "size": size, "noise_px": noise, "start": start, "R": rmode,
                               **pose_metrics(o["points"], o["valid"], j3d),
                               **{f"final_{k}": float(v) for k, v in o.items() if k not in ("points", "valid")},
                               "start_p_mpjpe": start_m["p_mpjpe"], "start_invalid": start_m["invalid"],
                               "start_total": float(o0["total"]), "trace": trace}
                        runs.append(rec)
                        if args.verbose:
                            print(f"[{time.time() - t0:6.1f}s] {vname:16s} I={size:3d} n={noise} {start:4s} {rmode:10s} "
                                  f"P-MPJPE {rec['p_mpjpe']:6.1f} mir {rec['mirrored']:.2f} inv {rec['invalid']:.2f}",
                                  flush=True)
        for spec in args.disc_errors:
            err = parse_error(spec, size)
            sigma = err / math.sqrt(math.pi / 2)
            uv = uv0 + sigma * eps
            for vname in variants:
                p = variant_params(vname)
                for rmode in ("procrustes", "known"):
                    kn = rmode == "known"
                    f_gt = per_group_objective(uv, z_gt, K, data["R"], mb, B, C, p, kn)
                    f_flat = per_group_objective(uv, torch.zeros_like(z_gt), K, data["R"], mb, B, C, p, kn)
                    f_mir = per_group_objective(uv, -z_gt, K, data["R"], mb, B, C, p, kn)
                    disc.append({"variant": vname, "size": size, "error_spec": spec, "error_px": err,
                                 "sigma_px": sigma, "R": rmode,
                                 "gt_best": float(((f_gt < f_flat) & (f_gt < f_mir)).mean()),
                                 "gt_below_flat": float((f_gt < f_flat).mean()),
                                 "gt_below_mirror": float((f_gt < f_mir).mean()),
                                 "objective_gt": float(f_gt.mean()), "objective_flat": float(f_flat.mean()),
                                 "objective_mirror": float(f_mir.mean())})
    return {"meta": {"script": "benchmarks/objective_ladder.py", "argv": sys.argv[1:], "seed": args.seed,
                     "groups": B, "views": C, "steps": args.steps, "lr": args.lr, "sizes": args.sizes,
                     "noise_px": args.noise, "disc_errors": args.disc_errors, "rows": data["rows"].tolist(),
                     "stored_vs_projected_px": data["stored_vs_projected_px"],
                     "variants": {v: variant_params(v) for v in variants},
                     "torch": torch.__version__, "python": platform.python_version(),
                     "seconds": round(time.time() - t0, 1)},
            "reference": refs, "runs": runs, "discrimination": disc}


# ---------------------------------------------------------------------------------------------- report
def _find(rows, **kw):
    for r in rows:
        if all(r[k] == v for k, v in kw.items()):
            return r
    return None


def acceptance(res: dict, model_error: str) -> list[dict]:
    """The issue's acceptance per (variant, size): from the ground truth with exact 2D, known-R P-MPJPE <= 10 mm,
    Procrustes <= 20 mm, no invalid view; and gt_best >= 0.9 at the model 2D error (with either R)."""
    out = []
    m = res["meta"]
    for v in m["variants"]:
        for size in m["sizes"]:
            k = _find(res["runs"], variant=v, size=size, noise_px=0.0, start="gt", R="known")
            pr = _find(res["runs"], variant=v, size=size, noise_px=0.0, start="gt", R="procrustes")
            dk = _find(res["discrimination"], variant=v, size=size, error_spec=model_error, R="known")
            dp = _find(res["discrimination"], variant=v, size=size, error_spec=model_error, R="procrustes")
            if not (k and pr):
                continue
            row = {"variant": v, "size": size, "gt_known": k["p_mpjpe"], "gt_procrustes": pr["p_mpjpe"],
                   "gt_invalid": max(k["invalid"], pr["invalid"]),
                   "disc_known": dk["gt_best"] if dk else None, "disc_procrustes": dp["gt_best"] if dp else None}
            for spec in m["disc_errors"]:
                for rm in ("procrustes", "known"):
                    d = _find(res["discrimination"], variant=v, size=size, error_spec=spec, R=rm)
                    row[f"gt_best[{spec}][{rm}]"] = d["gt_best"] if d else None
            row["stay_ok"] = row["gt_known"] <= 10 and row["gt_procrustes"] <= 20 and row["gt_invalid"] == 0
            row["disc_ok_known"] = bool(dk and dk["gt_best"] >= 0.9)
            row["disc_ok_procrustes"] = bool(dp and dp["gt_best"] >= 0.9)
            out.append(row)
    return out


def markdown(res: dict, model_error: str) -> str:
    m = res["meta"]
    L = ["# Objective ladder, rung (a): the weak objective on free z^r", "",
         f"Generated by `python benchmarks/{Path(__file__).name} {' '.join(m['argv'])}` ({m['seconds']} s). "
         f"H twin (synthetic, small), {m['groups']} train groups x {m['views']} views, Adam {m['steps']} steps, "
         f"lr {m['lr']} cosine, seed {m['seed']}. P-MPJPE in mm over all views; mir = mirrored fraction, "
         "inv = invalid fraction (definitions in the script docstring). 2D noise = per-coordinate sigma in px at "
         "the input size.", "", "## Variants", ""]
    for v, p in m["variants"].items():
        diff = {k: x for k, x in p.items() if DEFAULT[k] != x}
        L.append(f"- `{v}`: {diff if diff else 'the paper literally (eq. 3 neck root, euclidean L_MC, alpha 10, beta 100)'}")
    L += ["", "## Reference poses (literal reconstruction, no optimisation)", "",
          "| size | noise | pose | P-MPJPE | L_B | inv |", "|---|---|---|---|---|---|"]
    for r in res["reference"]:
        L.append(f"| {r['size']} | {r['noise_px']:g} | {r['pose']} | {r['p_mpjpe']:.1f} | {r['L_B']:.4f} | {r['invalid']:.2f} |")
    L += ["", "## Minimiser", "",
          "P-MPJPE over all views (in brackets: over the views valid at the end; an invalid view's pose is the "
          "fallback `reconstruct` returns for it).", "",
          "| variant | size | noise | start | Procrustes P-MPJPE | mir | inv | known-R P-MPJPE | mir | inv |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for v in m["variants"]:
        for size in m["sizes"]:
            for noise in m["noise_px"]:
                for start in ("zero", "gt"):
                    a = _find(res["runs"], variant=v, size=size, noise_px=noise, start=start, R="procrustes")
                    b = _find(res["runs"], variant=v, size=size, noise_px=noise, start=start, R="known")
                    L.append(f"| {v} | {size} | {noise:g} | {start} | {a['p_mpjpe']:.1f} ({a['p_mpjpe_valid']:.1f}) | "
                             f"{a['mirrored']:.2f} | {a['invalid']:.2f} | {b['p_mpjpe']:.1f} ({b['p_mpjpe_valid']:.1f}) | "
                             f"{b['mirrored']:.2f} | {b['invalid']:.2f} |")
    L += ["", "## Discrimination: fraction of groups where the objective scores the ground truth below both the "
          "flat and the mirrored pose", "",
          "| variant | size | model 2D error | px at input | Procrustes: GT best | <flat | <mirror | known R: GT best | <flat | <mirror |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for v in m["variants"]:
        for size in m["sizes"]:
            for spec in m["disc_errors"]:
                a = _find(res["discrimination"], variant=v, size=size, error_spec=spec, R="procrustes")
                b = _find(res["discrimination"], variant=v, size=size, error_spec=spec, R="known")
                L.append(f"| {v} | {size} | {spec} | {a['error_px']:.2f} | {a['gt_best']:.2f} | {a['gt_below_flat']:.2f} | "
                         f"{a['gt_below_mirror']:.2f} | {b['gt_best']:.2f} | {b['gt_below_flat']:.2f} | {b['gt_below_mirror']:.2f} |")
    L += ["", f"## Acceptance: from GT with exact 2D known <= 10 mm, Procrustes <= 20 mm, no invalid view; "
          f"GT best on >= 90 % of groups at model 2D error `{model_error}`", "",
          "GT best = fraction of groups where the objective scores the ground truth below both the flat and the "
          "mirrored pose, Procrustes / known R, for each model 2D error.", "",
          "| variant | size | GT-start known | GT-start Procrustes | inv | stays | "
          + " | ".join(f"GT best @ {e} (P / K)" for e in m["disc_errors"]) + " |",
          "|---|---|---|---|---|---|" + "---|" * len(m["disc_errors"])]
    f = lambda x: "-" if x is None else f"{x:.2f}"
    for r in acceptance(res, model_error):
        cells = " | ".join(f"{f(r.get(f'gt_best[{e}][procrustes]'))} / {f(r.get(f'gt_best[{e}][known]'))}"
                           for e in m["disc_errors"])
        L.append(f"| {r['variant']} | {r['size']} | {r['gt_known']:.1f} | {r['gt_procrustes']:.1f} | {r['gt_invalid']:.2f} | "
                 f"{'yes' if r['stay_ok'] else 'no'} | {cells} |")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None,
                    help="json path (markdown next to it); default results/ladder/objective.json, "
                         "or results/ladder/objective_quick.json with --quick")
    ap.add_argument("--quick", action="store_true", help="8 groups, 150 steps, two variants (< 60 s)")
    ap.add_argument("--groups", type=int, default=48)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--noise", default="0,1,2", help="per-coordinate 2D noise sigma, px at the input size")
    ap.add_argument("--disc-errors", default="1,2.7,2.7@64",
                    help="model mean 2D errors for the discrimination test: 'E' px at each input size, 'E@S' scaled")
    ap.add_argument("--model-error", default="2.7", help="which --disc-errors entry the acceptance uses")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--render", action="store_true",
                    help="only re-write the markdown (and acceptance) from an existing --out json")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = "results/ladder/objective_quick.json" if args.quick else "results/ladder/objective.json"
    if args.render:
        out = Path(args.out)
        res = json.loads(out.read_text())
        res["acceptance"] = acceptance(res, args.model_error)
        out.write_text(json.dumps(res, indent=1))
        out.with_suffix(".md").write_text(markdown(res, args.model_error))
        print(f"re-rendered {out.with_suffix('.md')}")
        return
    if args.quick:
        args.groups, args.steps = 8, 150
        if args.variants == ",".join(VARIANTS):
            args.variants = ",".join(QUICK_VARIANTS)
    torch.set_num_threads(args.threads)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.noise = [float(s) for s in args.noise.split(",")]
    args.disc_errors = [s for s in args.disc_errors.split(",") if s]
    args.variants = pick_variants(args.variants, VARIANTS)
    res = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    res["acceptance"] = acceptance(res, args.model_error)
    out.write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(markdown(res, args.model_error))
    print(f"wrote {out} and {out.with_suffix('.md')} in {res['meta']['seconds']} s")


if __name__ == "__main__":
    main()
