"""The data order of training: an infinite, resumable stream of batches in which batch b is a pure function of
(seed, b), over several concatenated sources, with multi-view subsets redrawn per epoch. Resuming at batch b gives
exactly the batches an uninterrupted run would have seen."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler

from weakpose.config import TrainConfig


class ResumableBatches(Sampler):
    """Infinite stream of batches; batch b is a pure function of (seed, b): epoch e = b // (n // bs) draws a
    permutation from seed + e. Yields keys ``e * n + i`` so the dataset can redraw view subsets per epoch.
    ``rank / world`` split each batch for DDP."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        if n < batch_size:
            raise ValueError(f"dataset of {n} items is smaller than the batch size {batch_size}")
        self.n, self.bs, self.seed, self.start, self.rank, self.world = n, batch_size, seed, start, rank, world

    def batch(self, b: int) -> list[int]:
        per_epoch = self.n // self.bs
        e, k = divmod(b, per_epoch)
        perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + e))
        idx = perm[k * self.bs:(k + 1) * self.bs][self.rank::self.world]
        return (idx + e * self.n).tolist()

    def __iter__(self):
        b = self.start
        while True:
            yield self.batch(b)
            b += 1


class Keyed(Dataset):
    """Concatenates sources (tagging items with their source index) and decodes ``epoch * n + index`` keys,
    telling every source its epoch so multi-view subsets are redrawn per epoch."""

    def __init__(self, sets: list[Dataset]):
        self.sets, self.concat = sets, ConcatDataset(sets)
        self.n = len(self.concat)

    def __len__(self):
        return self.n

    def __getitem__(self, key: int):
        epoch, i = divmod(int(key), self.n)
        for d in self.sets:
            if hasattr(d, "set_epoch"):
                d.set_epoch(epoch)
        item = self.concat[i]
        item["source"] = int(np.searchsorted(self.concat.cumulative_sizes, i, side="right"))
        return item


def loader(ds: Dataset, batch_size: int, cfg: TrainConfig, start: int, seed_offset: int, pin: bool, rank: int, world: int):
    sampler = ResumableBatches(len(ds), batch_size, cfg.seed + seed_offset, start, rank, world)
    return iter(DataLoader(ds, batch_sampler=sampler, num_workers=cfg.num_workers, pin_memory=pin,
                           persistent_workers=cfg.num_workers > 0))
