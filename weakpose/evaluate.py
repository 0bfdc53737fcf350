"""Inference and evaluation: 3D poses in mm with the bone-length scale of eq. 12 and with the ground-truth root
depth (the paper's * variant), scored with each dataset's protocol (Sec. 4.2).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from weakpose import geometry, metrics
from weakpose.augment import identity_affines, transform_points, warp_images


@torch.no_grad()
def predict(model, images: torch.Tensor, K: torch.Tensor, mean_bone_mm: torch.Tensor, stored_size: int,
            crop_margin: float, input_size: int, channels_last: bool = False) -> dict[str, torch.Tensor]:
    """Run the model on stored crops without augmentation.

    images: (B, S, S, 3) uint8; K: (B, 3, 3) px of the stored crops; mean_bone_mm: (16,) eq. 12 means.
    Returns uv_in (B, J, 2) input px, A (B, 3, 3) stored->input map, points (B, J, 3) scale-normalised,
    pose_mm (B, J, 3) = s-hat * points (camera frame, mm), z_root (B,) scale-normalised, valid (B,).
    """
    dev = images.device
    A = identity_affines(images.shape[0], stored_size, crop_margin, input_size, dev)
    x = warp_images(images, A, input_size, channels_last)
    out = model(x, (A @ K.to(torch.float64)).float())
    scale = geometry.fit_scale(out["points"].double(), mean_bone_mm.to(dev))
    return {"uv_in": out["uv"], "A": A, "points": out["points"], "pose_mm": scale[:, None, None] * out["points"].double(),
            "z_root": out["z_root"], "valid": out["valid"], "conf": out["conf"]}


def evaluate(model, dataset, mean_bone_mm, device, input_size: int, batch_size: int = 64, max_samples: int = 0,
             channels_last: bool = False, pck: bool = False, num_workers: int = 0) -> tuple[pd.DataFrame, dict]:
    """Score a model on an `Eval3D` dataset (rows with 3D in the camera frame, mm).

    Returns a per-sample DataFrame (subject, action, every metric) and a summary dict of means. Metrics:
    mpjpe / n_mpjpe / p_mpjpe with the eq. 12 scale; the same with the ground-truth root depth (suffix _gtroot:
    s* = z_root_gt / z-hat_root); mpjpe_2d_px in input px and mpjpe_2d_px256 rescaled to a 256 px crop; with
    ``pck`` also the 3DHP pck / npck / auc (both variants). Ground truth is ``joints3d``, or the dataset's
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
        img = batch["image"].to(device)
        K = batch["K"].to(device)
        p = predict(model, img, K, mean_bone_mm, stored, margin, input_size, channels_last)
        gt = batch["joints3d"].double() if univ is None else torch.from_numpy(np.asarray(univ[batch["row"].numpy()])).double()
        pred = p["pose_mm"].cpu()
        z_gt = gt[:, 0, 2]
        pred_star = (z_gt / p["z_root"].double().cpu())[:, None, None] * p["points"].double().cpu()
        gt2d = transform_points(p["A"].cpu(), batch["joints2d"].double())
        m = {"subject": list(batch["subject"]), "action": list(batch["action"]),
             "valid": p["valid"].cpu().numpy(),
             "mpjpe": metrics.mpjpe(pred, gt), "n_mpjpe": metrics.n_mpjpe(pred, gt), "p_mpjpe": metrics.p_mpjpe(pred, gt),
             "mpjpe_gtroot": metrics.mpjpe(pred_star, gt), "n_mpjpe_gtroot": metrics.n_mpjpe(pred_star, gt),
             "p_mpjpe_gtroot": metrics.p_mpjpe(pred_star, gt),
             "mpjpe_2d_px": metrics.mpjpe_2d(p["uv_in"].double().cpu(), gt2d, batch["vis2d"].numpy())}
        m["mpjpe_2d_px256"] = m["mpjpe_2d_px"] * 256.0 / input_size
        if pck:
            for suffix, P in (("", pred), ("_gtroot", pred_star)):
                m["pck" + suffix], m["npck" + suffix] = metrics.pck(P, gt), metrics.npck(P, gt)
                m["auc" + suffix] = metrics.auc(P, gt)
        rows.append(pd.DataFrame(m))
    df = pd.concat(rows, ignore_index=True)
    summary = {k: float(np.nanmean(df[k])) for k in df.columns if k not in ("subject", "action", "valid")}
    summary["valid_fraction"] = float(df["valid"].mean())
    summary["num_samples"] = int(len(df))
    model.train()
    return df, summary
