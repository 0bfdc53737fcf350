"""torch Datasets over the canonical format (`weakpose.data.format`), and the one entry point that opens a dataset
by its role in the paper (Sec. 4.1: H = Human3.6M, I = MPI-INF-3DHP, Q = MannequinChallenge, M = MPII).

Items are dicts of tensors. Images stay uint8 (S, S, 3) HWC crops exactly as stored (decoded in DataLoader
workers); the warp to the network input, augmentation and K' = A K happen on the device downstream. Missing values
are zero-filled and flagged (``vis2d``, ``has_2d``, ``has_3d``, ``has_extrinsics``, ``view_mask``), so a default
collate never meets a NaN. Letters: C views, J joints, S crop side in pixels.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose.data import format as fmt
from weakpose.data.format import CanonicalDataset

KEYS: tuple[str, ...] = ("H", "I", "Q", "M")
REAL_NAMES = {"H": "h36m", "I": "3dhp", "Q": "mqc", "M": "mpii"}


def _finite(a: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(a, np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _row(ds: CanonicalDataset, i: int) -> dict[str, torch.Tensor]:
    """Tensors of one row: image (S, S, 3) uint8, K (3, 3) f64 px, joints2d (J, 2) f32 px, vis2d (J,) bool,
    has_2d, joints3d (J, 3) f32 mm camera frame, has_3d, R (3, 3) f64, t (3,) f64 mm, has_extrinsics."""
    has_ext = bool(ds.has_extrinsics[i])
    return {
        "image": torch.from_numpy(ds.image(i)),
        "K": torch.from_numpy(np.array(ds.K[i], np.float64)),
        "joints2d": torch.from_numpy(_finite(ds.joints2d[i])),
        "vis2d": torch.from_numpy(np.array(ds.vis2d[i], bool)),
        "has_2d": torch.tensor(bool(ds.has_2d[i])),
        "joints3d": torch.from_numpy(_finite(ds.joints3d[i])),
        "has_3d": torch.tensor(bool(ds.has_3d[i])),
        "R": torch.from_numpy(np.array(ds.R[i], np.float64) if has_ext else np.eye(3)),
        "t": torch.from_numpy(np.array(ds.t[i], np.float64) if has_ext else np.zeros(3)),
        "has_extrinsics": torch.tensor(has_ext),
    }


class Images2D(Dataset):
    """Single crops with 2D labels (rows with ``has_2d``) of one split, over one or several datasets with the same
    crop size (the 2D supervision of the paper: H36M and MPII, Tab. 1 "2D=H+M").

    Item keys: image (S, S, 3) uint8; K (3, 3) float64 px; joints2d (J, 2) float32 px; vis2d (J,) bool;
    joints3d (J, 3) float32 mm camera frame and has_3d () bool (zeros where absent); dataset () int64 index into
    ``datasets``; row () int64.
    """

    def __init__(self, datasets: CanonicalDataset | Sequence[CanonicalDataset], split: str):
        self.datasets = [datasets] if isinstance(datasets, CanonicalDataset) else list(datasets)
        if not self.datasets:
            raise ValueError("Images2D needs at least one dataset")
        sizes = {d.crop_size for d in self.datasets}
        if len(sizes) != 1:
            raise ValueError(f"datasets have different crop sizes {sorted(sizes)}: they cannot share a batch")
        parts = []
        for k, d in enumerate(self.datasets):
            rows = np.nonzero(d.split_mask(split) & np.asarray(d.has_2d))[0]
            parts.append(np.stack([np.full(len(rows), k), rows], 1))
        self.index = np.concatenate(parts).astype(np.int64)
        self.split = split

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        k, r = (int(x) for x in self.index[i])
        item = _row(self.datasets[k], r)
        for key in ("R", "t", "has_extrinsics", "has_2d"):
            del item[key]
        item["dataset"], item["row"] = torch.tensor(k), torch.tensor(r)
        return item


class MultiView(Dataset):
    """Multi-view groups (the same pose seen by several cameras, or a static MQC tracklet) of one split, for the
    multi-view consistency loss L_MC (eq. 8). One item = one group of >= 2 views; C = ``views`` views are drawn at
    random without replacement and re-drawn every epoch (Appendix A: "a maximum of four camera views ... randomly
    sample four views in each epoch"), deterministically from (seed, epoch, index). Groups with fewer than C views
    keep all of them, padded by repetition; ``view_mask`` marks the real ones.

    Item keys: image (C, S, S, 3) uint8; K (C, 3, 3) float64; R (C, 3, 3) float64, t (C, 3) float64 mm and
    has_extrinsics (C,) bool (identity / zero where unknown); joints2d (C, J, 2) float32, vis2d (C, J) bool,
    has_2d (C,) bool; joints3d (C, J, 3) float32 mm, has_3d (C,) bool; view_mask (C,) bool; rows (C,) int64;
    group () int64.
    """

    def __init__(self, dataset: CanonicalDataset, split: str, views: int = 4, seed: int = 0):
        if views < 1:
            raise ValueError(f"views must be >= 1, got {views}")
        self.dataset, self.views, self.seed, self.epoch = dataset, int(views), int(seed), 0
        self.groups = [g for g in dataset.groups(dataset.split_mask(split)) if len(g) >= 2]

    def set_epoch(self, epoch: int) -> None:
        """Choose which views every group shows in this epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.groups)

    def select(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (C,) of group i in this epoch and the view mask (C,) bool."""
        g = self.groups[i]
        if len(g) >= self.views:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            return np.sort(g[rng.choice(len(g), self.views, replace=False)]), np.ones(self.views, bool)
        return np.resize(g, self.views), np.arange(self.views) < len(g)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rows, mask = self.select(i)
        items = [_row(self.dataset, int(r)) for r in rows]
        out = {k: torch.stack([it[k] for it in items]) for k in items[0]}
        out["view_mask"] = torch.from_numpy(mask)
        out["rows"] = torch.from_numpy(rows.astype(np.int64))
        out["group"] = torch.tensor(int(self.dataset.group[rows[0]]))
        return out


class Eval3D(Dataset):
    """Rows with 3D ground truth of one split, for MPJPE / PCK evaluation (Sec. 4.2). Keys as `Images2D` (vis2d
    and joints2d zero-filled where unlabelled) plus subject, action and sequence strings."""

    def __init__(self, dataset: CanonicalDataset, split: str = "test"):
        self.dataset = dataset
        self.rows = np.nonzero(dataset.split_mask(split) & np.asarray(dataset.has_3d))[0]
        if len(self.rows) == 0:
            raise ValueError(f"{dataset.name}: no rows with 3D ground truth in split {split!r}")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        r = int(self.rows[i])
        item = _row(self.dataset, r)
        for key in ("R", "t", "has_extrinsics", "has_2d"):
            del item[key]
        item["dataset"], item["row"] = torch.tensor(0), torch.tensor(r)
        for col in ("subject", "action", "sequence"):
            item[col] = self.dataset.category(col, r)
        return item


def real_dir(key: str, data_root: str | os.PathLike | None = None) -> Path:
    """``<data_root>/real/{h36m,3dhp,mqc,mpii}`` for key H, I, Q, M."""
    return Path(data_root if data_root is not None else fmt.data_root()) / "real" / REAL_NAMES[key]


def open_dataset(key: str, source: str, data_root: str | os.PathLike | None = None, size: str = "small",
                 seed: int = 0) -> CanonicalDataset:
    """Open the dataset playing role ``key`` ("H", "I", "Q", "M") from ``source``.

    source "synthetic": the synthetic twin (`weakpose.data.synth.ensure_twin`, generated on first use) of ``size``
    and ``seed``. source "real": the converted real dataset at ``<data_root>/real/<name>``; if it is absent this
    raises FileNotFoundError naming the path and the conversion command. There is never a fallback from one source
    to the other; the chosen source is printed.
    """
    if key not in KEYS:
        raise ValueError(f"unknown dataset key {key!r}; expected one of {KEYS} (H=Human3.6M, I=MPI-INF-3DHP, "
                         "Q=MannequinChallenge, M=MPII)")
    if source == "synthetic":
        from weakpose.data.synth.twins import ensure_twin
        return CanonicalDataset(ensure_twin(key, size, root=data_root, seed=seed))
    if source != "real":
        raise ValueError(f"source must be 'synthetic' or 'real', got {source!r}")
    path, name = real_dir(key, data_root), REAL_NAMES[key]
    if not (path / "COMPLETE").is_file():
        raise FileNotFoundError(
            f"real {name} dataset (key {key}) not found at {path}: expected a converted canonical dataset there "
            f"(meta.json, index/, images/, COMPLETE). Convert the raw download with\n"
            f"    python -m weakpose.data.real.prepare {name} --root <raw {name} folder> --out {path}\n"
            f"weakpose does not fall back to synthetic data; use source='synthetic' for the synthetic twin.")
    ds = CanonicalDataset(path)
    if ds.source != "real":
        raise ValueError(f"{path} holds a {ds.source!r} dataset, expected a real one")
    print(f"[weakpose] data source: REAL {name} (key {key}) at {path}", flush=True)
    return ds


def open_for(cfg, key: str) -> CanonicalDataset:
    """The dataset playing role ``key`` for a run of ``cfg`` (a `TrainConfig`: same source, size, seed and root)."""
    return open_dataset(key, cfg.source, data_root=cfg.data_root or None, size=cfg.data_size, seed=cfg.seed)


def mean_bone_mm(cfg) -> torch.Tensor:
    """(16,) float64 mean bone lengths in mm of H's training split (eq. 12), as the trainer uses them."""
    stats = open_for(cfg, "H").meta.get("bone_stats")
    if not stats:
        raise ValueError("dataset H has no bone statistics of its training split (eq. 11/12 need them)")
    return torch.tensor(stats["mean_mm"], dtype=torch.float64)
