"""A run's history.csv: one row per training step (stage, learning rate, every loss term of eq. 7, images/s),
appended on logging and checkpoint steps, truncated atomically to the checkpoint a resumed run starts from."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch

from weakpose.config import TrainConfig, lr_at, pretrain_steps
from weakpose.losses import LOSS_NAMES


def loss_row(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """One step's loss terms as a row of history.csv's loss columns (`LOSS_NAMES` order), detached fp32 on the
    terms' device (no host sync: the trainer buffers rows and copies them to the host at logging steps)."""
    return torch.stack([terms[k].detach().float() for k in LOSS_NAMES])


def truncate_history(path: Path, step: int) -> None:
    """Drop history rows at or after ``step`` (written after the checkpoint we resume from), any row a killed
    process left half-written, and repeated steps (the last row of each step is kept, rows sorted by step). The file is replaced atomically, so a crash here loses nothing."""
    if not path.is_file():
        return
    if step == 0:
        path.unlink()
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        path.unlink()
        return
    by_step = {}  # one row per step, in step order: the last one written (two writers once left duplicates)
    for r in rows[1:]:
        if len(r) == len(rows[0]) and r[0].isdigit() and int(r[0]) < step:
            by_step[int(r[0])] = r
    keep = [rows[0]] + [by_step[s] for s in sorted(by_step)]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(keep)
    os.replace(tmp, path)


def write_atomic(path: Path, text: str) -> None:
    """Write a results file through ``<name>.<pid>.tmp`` + rename: readers never see a half-written one, and two
    processes writing the same file never rename each other's temporary away."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def append_history(path: Path, first_step: int, vals: np.ndarray, cfg: TrainConfig, ips: float, rank: int) -> None:
    if rank:
        return
    new = not path.is_file()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", "stage", "lr", *LOSS_NAMES, "images_per_s"])
        for i, row in enumerate(vals):
            s = first_step + i
            stage = "pretrain" if s < pretrain_steps(cfg) else "main"
            w.writerow([s, stage, lr_at(cfg, s), *[f"{v:.6g}" for v in row], f"{ips:.1f}"])
