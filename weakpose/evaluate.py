"""The one inference path and the scoring (Sec. 4.2): stored crop -> identity warp A -> K' = A K -> model
(eqs. 1-5) -> eq. 12 scale -> 3D poses in mm, also with the ground-truth root depth (the paper's * variant).

Every caller that runs a model on images goes through `forward` / `infer`: the evaluation (`evaluate`), the
trainer's pseudo-labels (Sec. 3.3), the notebooks' figures (`infer_rows`), single images (`infer_image`).
Letters: B batch, J joints, S stored crop side, I input side, H W heatmap size.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from weakpose import camera, geometry, metrics, skeleton
from weakpose.camera import identity_affines, transform_points, warp_images


@torch.no_grad()
def forward(model, x: torch.Tensor, K_in: torch.Tensor | None, bone_mm: torch.Tensor | None = None,
            autocast: bool = False) -> dict[str, torch.Tensor]:
    """The model on network inputs x (B, 3, I, I) float [0, 255] with intrinsics K_in (B, 3, 3) px of x (None: 2D
    and 2.5D only). Returns the model's outputs (`PoseNet.forward`: heatmaps, probs, depth_maps, uv, z_rel, conf,
    and with K_in `PoseNet.reconstruct`'s points, z_root, valid, in fp32) plus, with ``bone_mm`` (16,) mm, scale (B,)
    of eq. 12 and pose_mm (B, J, 3) = scale * points (camera frame, mm)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
        out = model(x)
    if K_in is not None:
        out.update(model.reconstruct(out["uv"], out["z_rel"], K_in))
    if bone_mm is not None and K_in is not None:
        scale = geometry.fit_scale(out["points"].double(), bone_mm.to(x.device))
        out["scale"], out["pose_mm"] = scale, scale[:, None, None] * out["points"].double()
    return out


@torch.no_grad()
def infer(model, images: torch.Tensor, K: torch.Tensor | None, stored_size: int, crop_margin: float, input_size: int,
          channels_last: bool = False, bone_mm: torch.Tensor | None = None, autocast: bool = False
          ) -> dict[str, torch.Tensor]:
    """`forward` on stored crops without augmentation: images (B, S, S, 3) uint8, K (B, 3, 3) px of the stored
    crops (None: 2D only). Adds A (B, 3, 3) stored -> input px and x (B, 3, I, I), the network input."""
    A = identity_affines(images.shape[0], stored_size, crop_margin, input_size, images.device)
    x = warp_images(images, A, input_size, channels_last)
    out = forward(model, x, None if K is None else camera.crop_intrinsics(A, K), bone_mm, autocast)
    out["A"], out["x"] = A, x
    return out


def run_summary(cfg, split: str, steps: int, summary: dict, **extra) -> dict:
    """The metrics.json of a run: its identity (run_id, mode, eval_on, split, source, steps), the metric means of
    `evaluate` and ``extra`` (e.g. model_from)."""
    return {"run_id": cfg.run_id(), "mode": cfg.mode, "eval_on": cfg.eval_on, "split": split, "source": cfg.source,
            "steps": int(steps), **summary, **extra}


def evaluate(model, dataset, mean_bone_mm, device, input_size: int, batch_size: int = 64, max_samples: int = 0,
             channels_last: bool = False, pck: bool = False, num_workers: int = 0) -> tuple[pd.DataFrame, dict]:
    """Score a model on an `Eval3D` dataset (rows with 3D in the camera frame, mm).

    Returns a per-sample DataFrame (subject, action, every metric) and a summary dict of means. Metrics:
    mpjpe / n_mpjpe / p_mpjpe with the eq. 12 scale; the same with the ground-truth root depth (suffix _gtroot:
    s* = z_root_gt / z-hat_root); mpjpe_2d_px in input px and mpjpe_2d_px256 rescaled to a 256 px crop; with
    ``pck`` also the 3DHP pck / npck / auc (both variants) and the summary's ``pck_curve`` (PCK at each of the AUC's
    thresholds, both variants; per_sample.csv keeps only the scalars). Ground truth is ``joints3d``, or the dataset's
    ``extra/univ_joints3d.npy`` when present (real MPI-INF-3DHP: univ_annot3, as the official protocol).
    """
    model.eval()
    ds = dataset.dataset
    stored, margin = ds.crop_size, float(ds.meta["crop_margin"])
    # Real MPI-INF-3DHP: the official protocol scores against univ_annot3 (kept by the converter in a sidecar, one
    # row per dataset row); the geometric joints3d (annot3) only serve the crops and 2D labels.
    univ_path = ds.path / "extra" / "univ_joints3d.npy"
    univ = np.load(univ_path, mmap_mode="r") if univ_path.is_file() else None
    mean_bone_mm = torch.as_tensor(mean_bone_mm, dtype=torch.float64)
    n = len(dataset) if not max_samples else min(max_samples, len(dataset))
    subset = torch.utils.data.Subset(dataset, np.linspace(0, len(dataset) - 1, n).round().astype(int).tolist())
    rows = []
    for batch in DataLoader(subset, batch_size=batch_size, num_workers=num_workers):
        p = infer(model, batch["image"].to(device), batch["K"].to(device), stored, margin, input_size, channels_last,
                  mean_bone_mm)
        gt = batch["joints3d"].double() if univ is None else torch.from_numpy(np.asarray(univ[batch["row"].numpy()])).double()
        rows.append(_score(p, gt, batch, input_size, pck))
    df = pd.concat(rows, ignore_index=True)
    curve = [c for c in df.columns if c.startswith(CURVE)]
    curves, df = df[curve], df.drop(columns=curve)
    summary = {k: float(np.nanmean(df[k])) for k in df.columns if k not in ("subject", "action", "valid")}
    if curve:  # PCK against the threshold, the curve under the AUC (the notebook's Table-3 figure)
        th = metrics.AUC_THRESHOLDS_MM
        summary["pck_curve"] = {"threshold_mm": [float(t) for t in th],
                                **{v: [float(np.nanmean(curves[f"{CURVE}{v}@{t:g}"])) for t in th]
                                   for v in ("pck", "pck_gtroot")}}
    summary["valid_fraction"] = float(df["valid"].mean())
    summary["num_samples"] = int(len(df))
    model.train()
    return df, summary


CURVE = "curve:"  # prefix of the per-threshold PCK columns `_score` adds and `evaluate` folds into pck_curve


def _score(p: dict, gt: torch.Tensor, batch: dict, input_size: int, pck: bool) -> pd.DataFrame:
    """Per-sample metrics of one batch of `infer` outputs ``p`` against gt (B, J, 3) mm."""
    pred = p["pose_mm"].cpu()
    z_gt = gt[:, 0, 2]
    pred_star = (z_gt / p["z_root"].double().cpu())[:, None, None] * p["points"].double().cpu()
    gt2d = transform_points(p["A"].cpu(), batch["joints2d"].double())
    m = {"subject": list(batch["subject"]), "action": list(batch["action"]),
         "valid": p["valid"].cpu().numpy(),
         "mpjpe": metrics.mpjpe(pred, gt), "n_mpjpe": metrics.n_mpjpe(pred, gt), "p_mpjpe": metrics.p_mpjpe(pred, gt),
         "mpjpe_gtroot": metrics.mpjpe(pred_star, gt), "n_mpjpe_gtroot": metrics.n_mpjpe(pred_star, gt),
         "p_mpjpe_gtroot": metrics.p_mpjpe(pred_star, gt),
         "mpjpe_2d_px": metrics.mpjpe_2d(p["uv"].double().cpu(), gt2d, batch["vis2d"].numpy())}
    m["mpjpe_2d_px256"] = m["mpjpe_2d_px"] * 256.0 / input_size
    if pck:
        for suffix, P in (("", pred), ("_gtroot", pred_star)):
            m["pck" + suffix], m["npck" + suffix] = metrics.pck(P, gt), metrics.npck(P, gt)
            m["auc" + suffix] = metrics.auc(P, gt)
            for t, col in zip(metrics.AUC_THRESHOLDS_MM, metrics.pck_curve(P, gt).T):
                m[f"{CURVE}pck{suffix}@{t:g}"] = col
    return pd.DataFrame(m)


# ----------------------------------------------------------------------------------------------- figures' inputs
_FIGURE_KEYS = ("heatmaps", "probs", "depth_maps", "uv", "conf", "z_rel", "points", "z_root", "valid", "pose_mm",
                "scale")


def _numpy(out: dict, x: torch.Tensor) -> dict[str, np.ndarray]:
    res = {k: out[k].detach().cpu().numpy() for k in _FIGURE_KEYS}
    res["input"] = x.permute(0, 2, 3, 1).clamp(0, 255).to(torch.uint8).cpu().numpy()
    return res


def infer_rows(model, cfg, ds, rows, device: str | torch.device = "cpu", bone_mm: torch.Tensor | None = None
               ) -> dict[str, np.ndarray]:
    """`infer` on rows of a canonical dataset, as numpy for figures: input (B, I, I, 3) uint8, heatmaps / probs /
    depth_maps (B, J, H, W), uv (B, J, 2) input px, conf (B, J), points (B, J, 3) scale-normalised, pose_mm
    (B, J, 3), valid (B,), and the ground truth in input px / mm: gt2d (B, J, 2), vis2d (B, J), gt3d (B, J, 3) (NaN
    where absent), rows (B,). ``bone_mm`` defaults to the eq. 12 means of the run's H training split."""
    from weakpose.config import resolve_device
    from weakpose.data.loaders import mean_bone_mm

    rows, device = np.asarray(rows, int), resolve_device(device)
    images = torch.from_numpy(np.stack([ds.image(int(r)) for r in rows])).to(device)
    K = torch.from_numpy(np.asarray(ds.K[rows], np.float64)).to(device)
    bone_mm = bone_mm if bone_mm is not None else mean_bone_mm(cfg)
    out = infer(model.to(device).eval(), images, K, ds.crop_size, float(ds.meta["crop_margin"]), cfg.input_size,
                bone_mm=bone_mm)
    res = _numpy(out, out["x"])
    j2 = torch.from_numpy(np.nan_to_num(np.asarray(ds.joints2d[rows], np.float64))).to(device)
    res["gt2d"] = transform_points(out["A"], j2).cpu().numpy()
    res["vis2d"] = np.asarray(ds.vis2d[rows], bool) & np.asarray(ds.has_2d[rows], bool)[:, None]
    res["gt3d"] = np.where(np.asarray(ds.has_3d[rows], bool)[:, None, None], np.asarray(ds.joints3d[rows], float), np.nan)
    res["rows"] = rows
    return res


def infer_image(model, cfg, path: str | os.PathLike, device: str | torch.device = "cpu",
                focal: float = 2.5) -> dict[str, np.ndarray]:
    """Run a model on an image file showing one person that fills it: the image is padded to a square and resized
    to the input size. Its intrinsics are unknown, so K is ASSUMED (f = ``focal`` x input size, principal point at
    the centre) and the 3D scale comes from the canonical H36M bone lengths: the 3D is indicative only."""
    import cv2

    from weakpose.config import resolve_device

    device = resolve_device(device)
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read an image at {path}")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    side_px = max(h, w)
    sq = np.zeros((side_px, side_px, 3), np.uint8)
    sq[(side_px - h) // 2:(side_px - h) // 2 + h, (side_px - w) // 2:(side_px - w) // 2 + w] = img
    I = cfg.input_size
    x = torch.from_numpy(cv2.resize(sq, (I, I), interpolation=cv2.INTER_AREA)).to(device).permute(2, 0, 1)[None].float()
    c = (I - 1) / 2
    K = torch.tensor([[[focal * I, 0, c], [0, focal * I, c], [0, 0, 1]]], dtype=torch.float64, device=device)
    bones = torch.tensor([skeleton.CANONICAL_BONE_MM[b] for b in skeleton.BONES], dtype=torch.float64)
    res = _numpy(forward(model.to(device).eval(), x, K, bones), x)
    res.update(gt2d=np.full((1, skeleton.J, 2), np.nan), vis2d=np.zeros((1, skeleton.J), bool),
               gt3d=np.full((1, skeleton.J, 3), np.nan), rows=np.array([-1]))
    return res


def test_rows(ds, n: int) -> np.ndarray:
    """n test rows with 3D ground truth, evenly spread over the test split."""
    rows = np.nonzero(ds.split_mask("test") & np.asarray(ds.has_3d, bool))[0]
    if len(rows) == 0:
        raise ValueError(f"{ds.name} has no test rows with 3D ground truth")
    return rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int)]


test_rows.__test__ = False  # not a pytest test


def group_rows(ds, index: int = 0, max_views: int = 4) -> np.ndarray:
    """Rows (C,) of multi-view group ``index`` (modulo the number of groups; test-split groups first), at most
    ``max_views`` views evenly spread over the group. A dataset without groups (MPII) gives the single row
    ``index``."""
    groups = [g for g in ds.groups(ds.split_mask("test")) if len(g) >= 2] or [g for g in ds.groups() if len(g) >= 2]
    if not groups:
        return np.array([index % len(ds)])
    g = groups[index % len(groups)]
    return g[np.linspace(0, len(g) - 1, min(max_views, len(g))).round().astype(int)]
