"""ONE training loop for every setting of the paper; the configuration only switches loss terms on and off.

    L = [use_heatmap_loss] L_H + psi [sup3d] L_z + alpha [mv] L_MC + beta [mv] L_B        (eqs. 6 and 7)

Stages (Appendix A): a 2D pre-training stage (L_H on the 2D-labelled images only), then the main stage. The
latent-depth weights get no gradient from L_H, so they leave pre-training exactly at their initialisation (they
are not pre-trained). At the switch, if enabled, the pre-trained model labels the H and I multi-view images once
(Sec. 3.3): joints with confidence > tau become L_H targets.

GPU-first: uint8 crops are decoded in DataLoader workers into pinned memory, warped on the device with an exact
affine A (K' = A K, targets moved by A), bf16 autocast and channels_last on CUDA, optional torch.compile, and no
host synchronisation inside a step except on logging steps (loss values are buffered on the device). Resumable
exactly: the data order is a pure function of (seed, batch index), the augmentation of (seed, step), and the
checkpoint holds model, optimizer, pseudo-labels, RNG states and the step. DDP through torchrun with the same
entry point (`python -m torch.distributed.run ... -m weakpose.trainer ...`).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler

from weakpose import camera, losses
from weakpose.progress import progress_bar
from weakpose.camera import inside, sample_affines, transform_points, warp_images
from weakpose.config import TrainConfig, config_from_dict, resolve_device
from weakpose.data.loaders import Eval3D, Images2D, MultiView, open_dataset
from weakpose.evaluate import evaluate, infer, run_summary
from weakpose.losses import LOSS_NAMES
from weakpose.model import PoseNet


# ----------------------------------------------------------------------------------------------- data order
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


class _Keyed(Dataset):
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


def _loader(ds: Dataset, batch_size: int, cfg: TrainConfig, start: int, seed_offset: int, pin: bool, rank: int, world: int):
    sampler = ResumableBatches(len(ds), batch_size, cfg.seed + seed_offset, start, rank, world)
    return iter(DataLoader(ds, batch_sampler=sampler, num_workers=cfg.num_workers, pin_memory=pin,
                           persistent_workers=cfg.num_workers > 0))


# ----------------------------------------------------------------------------------------------- schedule
def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of global step ``step`` (pre-training steps first, then the Appendix A drop)."""
    if step < _pre(cfg):
        return cfg.pretrain_lr
    main = step - _pre(cfg)
    return cfg.lr * (cfg.lr_drop_factor if main >= cfg.lr_drop_step else 1.0)


def _pre(cfg: TrainConfig) -> int:
    return cfg.pretrain_iterations if cfg.pretrain_2d else 0


# ----------------------------------------------------------------------------------------------- the run
class Run:
    """Everything one training run holds: data, model, optimizer, pseudo-labels and its results directory."""

    def __init__(self, cfg: TrainConfig, out_dir: str | os.PathLike, device: torch.device | None = None,
                 verbose: bool = True):
        self.cfg, self.out = cfg, Path(out_dir)
        self.rank, self.world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        self.device = device or resolve_device(cfg.device)
        if self.world > 1:
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
                torch.cuda.set_device(self.device)
        self.verbose = verbose and self.rank == 0
        _seed_everything(cfg.seed)
        root = cfg.data_root or None
        keys = sorted(set(cfg.sup2d_keys) | set(cfg.mv_keys) | {"H", cfg.eval_on})
        self.data = {k: open_dataset(k, cfg.source, data_root=root, size=cfg.data_size, seed=cfg.seed) for k in keys}
        stats = self.data["H"].meta.get("bone_stats")
        if not stats:
            raise ValueError("dataset H has no bone statistics of its training split (eq. 11/12 need them)")
        self.bone_norm = torch.tensor(stats["mean_normalised"], device=self.device)
        self.bone_mm = torch.tensor(stats["mean_mm"], dtype=torch.float64)
        sizes = {k: (d.crop_size, float(d.meta["crop_margin"])) for k, d in self.data.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"all sources must share crop size and margin to be batched together, got {sizes}")
        self.stored, self.margin = next(iter(sizes.values()))
        self.heat = cfg.input_size // cfg.stride
        # 2D-labelled images: one Images2D per source, with the rows allowed for L_z marked
        self.sets2d = [Images2D([self.data[k]], "train") for k in cfg.sup2d_keys]
        self.allow3d = []
        for k, d in zip(cfg.sup2d_keys, (self.data[k] for k in cfg.sup2d_keys)):
            ok = np.asarray(d.has_3d).copy() if (cfg.sup3d == k) else np.zeros(len(d), bool)
            if cfg.sup3d_subjects:
                ok &= np.isin(np.asarray(d.subject), d.codes("subject", cfg.sup3d_subjects))
            self.allow3d.append(torch.from_numpy(ok).to(self.device))
        self.setsmv = [MultiView(self.data[k], "train", views=cfg.views, seed=cfg.seed) for k in cfg.mv_keys]
        self.model = PoseNet.from_config(cfg).to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.pseudo: dict[int, torch.Tensor] = {}   # mv source index -> (rows, J, 3) [u, v stored px, conf]
        self.pseudo_ready = False
        self.step = 0
        self.fwd = self.model
        if self.world > 1:
            self.fwd = torch.nn.parallel.DistributedDataParallel(self.model, find_unused_parameters=True)
        if cfg.compile:
            self.fwd = torch.compile(self.fwd)
        self.autocast = self.device.type == "cuda" and cfg.bf16
        self.out.mkdir(parents=True, exist_ok=True)
        self.ckpt = self.out / "checkpoints" / "last.pt"

    # --------------------------------------------------------------------------------- checkpoints
    def save(self) -> None:
        if self.rank:
            return
        state = {"config": dataclasses.asdict(self.cfg), "model": self.model.state_dict(),
                 "optimizer": self.opt.state_dict(), "step": self.step, "pseudo": self.pseudo,
                 "pseudo_ready": self.pseudo_ready,
                 "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                         "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}}
        self.ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.ckpt.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt)  # atomic: a crash never leaves a half-written last.pt

    def try_resume(self) -> bool:
        if not self.ckpt.is_file():
            return False
        state = torch.load(self.ckpt, map_location=self.device, weights_only=False)
        if config_from_dict(state["config"]) != self.cfg:
            raise ValueError(f"{self.ckpt} was written by a different configuration; use another output directory")
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.step, self.pseudo, self.pseudo_ready = state["step"], state["pseudo"], state["pseudo_ready"]
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        if self.verbose:
            print(f"[weakpose] resumed {self.ckpt} at step {self.step}")
        return True

    # --------------------------------------------------------------------------------- pseudo-labels
    @torch.no_grad()
    def make_pseudo_labels(self) -> None:
        """Sec. 3.3: the pre-trained 2D model labels the H and I multi-view training images once."""
        self.model.eval()
        for s, k in enumerate(self.cfg.mv_keys):
            if k not in ("H", "I"):
                continue
            d = self.data[k]
            rows = np.nonzero(d.split_mask("train"))[0]
            lab = torch.zeros(len(d), 17, 3, device=self.device)
            ev = Images2D([d], "train")
            for batch in progress_bar(DataLoader(ev, batch_size=self.cfg.eval_batch, num_workers=self.cfg.num_workers),
                              desc=f"pseudo-labels {k}", disable=not self.verbose, leave=False):
                out = infer(self.model, batch["image"].to(self.device), None, self.stored, self.margin,
                            self.cfg.input_size, self.cfg.channels_last, autocast=self.autocast)
                uv = transform_points(torch.linalg.inv(out["A"]), out["uv"].double()).float()
                lab[batch["row"].to(self.device)] = torch.cat([uv, out["conf"].float()[..., None]], -1)
            self.pseudo[s] = lab
            if self.verbose:
                frac = (lab[torch.as_tensor(rows, device=self.device), :, 2] > self.cfg.pseudo_tau).float().mean()
                print(f"[weakpose] pseudo-labels for {k}: {len(rows)} images, {100 * frac:.1f}% joints above tau")
        self.pseudo_ready = True
        self.model.train()

    # --------------------------------------------------------------------------------- one step
    def loss_terms(self, b2: dict, bm: dict | None, step: int, main: bool) -> dict[str, torch.Tensor]:
        """All loss terms of one step; terms that are off are exact zeros (never added to the graph)."""
        cfg, dev = self.cfg, self.device
        gen = torch.Generator(device=dev).manual_seed(cfg.seed * 1_000_003 + step)
        img, K, j2d, vis = b2["image"], b2["K"], b2["joints2d"], b2["vis2d"]
        n2 = img.shape[0]
        if bm is not None:
            C = bm["image"].shape[1]
            mj2d, mvis = self._mv_2d_labels(bm)
            img = torch.cat([img, bm["image"].flatten(0, 1)])
            K = torch.cat([K, bm["K"].flatten(0, 1)])
            j2d = torch.cat([j2d, mj2d.flatten(0, 1)])
            vis = torch.cat([vis, mvis.flatten(0, 1)])
        n = img.shape[0]
        A = sample_affines(n, self.stored, self.margin, cfg.input_size, cfg.aug_scale, cfg.aug_rotation, gen, dev)
        x = warp_images(img, A, cfg.input_size, cfg.channels_last)
        K_in = camera.crop_intrinsics(A, K).float()
        j2d_in = transform_points(A, j2d.double()).float()
        vis = vis & inside(j2d_in, cfg.input_size)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = self.fwd(x, K_in)
        zero = out["heatmaps"].sum() * 0.0
        t = {name: zero for name in LOSS_NAMES[1:]}
        on = cfg.loss_terms("main" if main else "pretrain")
        if on["heatmap"]:
            target = losses.gaussian_heatmaps(j2d_in, self.heat, self.heat, cfg.stride, cfg.heatmap_sigma)
            t["heatmap"] = losses.heatmap_loss(out["heatmaps"], target, vis.float())
        if on["depth"]:
            w3 = b2["allow3d"][:, None].float().expand(n2, 17)
            zt = losses.relative_depth_target(torch.nan_to_num(b2["joints3d"].double())).float()
            t["depth"] = losses.depth_loss(out["z_rel"][:n2], zt, w3)
        if on["mc"] or on["limb"]:  # the multi-view batch exists exactly when these are on (see `fit`)
            B = bm["image"].shape[0]
            pts = out["points"][n2:].reshape(B, C, 17, 3)
            conf = out["conf"][n2:].reshape(B, C, 17)
            mask = bm["view_mask"] & out["valid"][n2:].reshape(B, C)
            if on["mc"]:
                t["mc"] = losses.multiview_consistency(
                    pts, conf, mask, rotations=bm["R"] if cfg.known_R else None,
                    known=bm["has_extrinsics"].all(-1) if cfg.known_R else None)
            if on["limb"]:
                t["limb"] = losses.limb_length_loss(pts.flatten(0, 1), conf.flatten(0, 1), self.bone_norm, mask.flatten())
        t["total"] = t["heatmap"] + cfg.psi * t["depth"] + cfg.alpha * t["mc"] + cfg.beta * t["limb"]
        return t

    def _mv_2d_labels(self, bm: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """2D targets of the multi-view images: ground truth where that source is a 2D-label source (the
        'H+M' rows of Table 1), else the pseudo-labels of Sec. 3.3 above tau, else none."""
        cfg = self.cfg
        j2d = torch.zeros_like(bm["joints2d"])
        vis = torch.zeros_like(bm["vis2d"])
        for s, k in enumerate(cfg.mv_keys):
            sel = (bm["source"] == s)[:, None]                                 # (B, 1)
            if k in cfg.sup2d_keys:
                j2d = torch.where(sel[..., None, None], bm["joints2d"], j2d)
                vis = vis | (sel[..., None] & bm["vis2d"] & bm["has_2d"][..., None])
            elif s in self.pseudo and cfg.pseudo_labels:
                rows = torch.where(sel, bm["rows"], torch.zeros_like(bm["rows"])).clamp_max(len(self.pseudo[s]) - 1)
                lab = self.pseudo[s][rows]                                     # (B, C, J, 3)
                j2d = torch.where(sel[..., None, None], lab[..., :2], j2d)
                vis = vis | (sel[..., None] & (lab[..., 2] > cfg.pseudo_tau))
        return j2d, vis & bm["view_mask"][..., None]

    # --------------------------------------------------------------------------------- public step API (bench)
    def loader_2d(self, batch_index: int = 0):
        """Infinite iterator of 2D-labelled batches (host tensors), starting at batch ``batch_index``."""
        return _loader(self._set2d(), self.cfg.batch_2d, self.cfg, batch_index, 0, self.device.type == "cuda",
                       self.rank, self.world)

    def loader_mv(self, batch_index: int = 0):
        """Infinite iterator of multi-view batches, or None when the configuration has no multi-view data."""
        if not self.setsmv:
            return None
        return _loader(self._setmv(), self.cfg.batch_mv, self.cfg, batch_index, 1, self.device.type == "cuda",
                       self.rank, self.world)

    def next_batches(self, it2, it_mv=None) -> tuple[dict, dict | None]:
        """The next 2D batch (with its L_z mask) and multi-view batch (None without ``it_mv``), on the device."""
        return self._to_device(next(it2), is2d=True), (self._to_device(next(it_mv)) if it_mv is not None else None)

    def train_step(self, b2: dict, bm: dict | None, main: bool) -> dict[str, torch.Tensor]:
        """One optimizer step at ``self.step`` (learning rate of `lr_at`, augmentation seeded by the step), then
        ``self.step += 1``. Returns the loss terms (device tensors: no host sync)."""
        for g in self.opt.param_groups:
            g["lr"] = lr_at(self.cfg, self.step)
        terms = self.loss_terms(b2, bm, self.step, main)
        self.opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.opt.step()
        self.step += 1
        return terms

    # --------------------------------------------------------------------------------- the loop
    def fit(self, stop_after: int | None = None) -> dict | None:
        """Train to the end of the schedule (resuming from ``checkpoints/last.pt`` when present), evaluate and
        write metrics.json. ``stop_after`` abandons the run after that many global steps without saving, as a
        crash would (tests use it); then None is returned."""
        cfg = self.cfg
        resumed = self.try_resume()
        total = _pre(cfg) + cfg.iterations
        hist_path = self.out / "history.csv"
        _truncate_history(hist_path, self.step if resumed else 0)
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
        it2 = it_mv = None
        buf: list[torch.Tensor] = []
        bar = progress_bar(total=total, initial=self.step, desc=cfg.run_id()[:40], disable=not self.verbose)
        t_last, n_last = time.perf_counter(), self.step
        while self.step < total:
            main = self.step >= _pre(cfg)
            if main and cfg.pseudo_labels and not self.pseudo_ready:
                self.make_pseudo_labels()
            if it2 is None:
                it2 = self.loader_2d(self.step)
            if main and self.setsmv and it_mv is None:
                it_mv = self.loader_mv(self.step - _pre(cfg))
            b2, bm = self.next_batches(it2, it_mv if main else None)
            terms = self.train_step(b2, bm, main)
            buf.append(torch.stack([terms[k].detach().float() for k in LOSS_NAMES]))
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == total:
                t_now = time.perf_counter()
                ips = (self.step - n_last) * (b2["image"].shape[0] + (0 if bm is None else bm["image"].shape[:2].numel())) \
                    * self.world / max(t_now - t_last, 1e-9)
                vals = torch.stack(buf).cpu().numpy()      # the one host sync, on logging steps only
                if not np.isfinite(vals).all():
                    raise FloatingPointError(f"non-finite loss at step {self.step}: {dict(zip(LOSS_NAMES, vals[-1]))}")
                _append_history(hist_path, self.step - len(buf), vals, cfg, ips, self.rank)
                bar.set_postfix(loss=f"{vals[-1, 0]:.4f}")
                buf, t_last, n_last = [], t_now, self.step
            if self.step % cfg.ckpt_every == 0 or self.step == total:
                self.save()
            if stop_after is not None and self.step >= stop_after:
                bar.close()
                return None
        bar.close()
        return self.evaluate()

    def evaluate(self, split: str = "test", write: bool = True) -> dict:
        """Score the model on ``split`` of the eval_on source; writes metrics.json / per_sample.csv if ``write``."""
        cfg = self.cfg
        test = Eval3D(self.data[cfg.eval_on], split)
        df, summary = evaluate(self.model, test, self.bone_mm, self.device, cfg.input_size, cfg.eval_batch,
                               cfg.eval_max_samples, cfg.channels_last, pck=cfg.eval_on == "I")
        summary = run_summary(cfg, split, self.step, summary)
        if self.rank == 0 and write:
            df.to_csv(self.out / "per_sample.csv", index=False)
            (self.out / "metrics.json").write_text(json.dumps(summary, indent=1))
        return summary

    def _set2d(self) -> Dataset:
        return _Keyed(self.sets2d)

    def _setmv(self) -> Dataset:
        return _Keyed(self.setsmv)

    def _to_device(self, batch: dict, is2d: bool = False) -> dict:
        out = {k: (v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        if is2d:
            out["allow3d"] = torch.zeros_like(out["has_3d"])
            for i, ok in enumerate(self.allow3d):
                sel = out["source"] == i
                row = torch.where(sel, out["row"], torch.zeros_like(out["row"])).clamp_max(len(ok) - 1)
                out["allow3d"] = out["allow3d"] | (sel & ok[row] & out["has_3d"])
        return out


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _truncate_history(path: Path, step: int) -> None:
    """Drop history rows at or after ``step`` (written after the checkpoint we resume from)."""
    if not path.is_file():
        return
    with open(path) as f:
        rows = list(csv.reader(f))
    if step == 0:
        path.unlink()
        return
    keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) < step]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(keep)


def _append_history(path: Path, first_step: int, vals: np.ndarray, cfg: TrainConfig, ips: float, rank: int) -> None:
    if rank:
        return
    new = not path.is_file()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", "stage", "lr", *LOSS_NAMES, "images_per_s"])
        for i, row in enumerate(vals):
            s = first_step + i
            stage = "pretrain" if s < _pre(cfg) else "main"
            w.writerow([s, stage, lr_at(cfg, s), *[f"{v:.6g}" for v in row], f"{ips:.1f}"])


def train(cfg: TrainConfig, out_dir: str | os.PathLike, device: torch.device | None = None, verbose: bool = True) -> dict:
    """Train (or resume) one configuration into ``out_dir`` and evaluate it; returns the metrics summary."""
    return Run(cfg, out_dir, device, verbose).fit()


def main(argv: list[str] | None = None) -> None:
    import argparse

    from weakpose.config import make_config, parse_overrides

    p = argparse.ArgumentParser(
        description="Train one weakpose configuration (torchrun-compatible).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="inputs: the datasets the configuration names (sup2d / sup3d / mv / eval_on: synthetic twins\n"
               "  generated on first use under $WEAKPOSE_DATA, or converted real data with source=real).\n"
               "outputs (under --out): config.json, history.csv (every step), metrics.json, per_sample.csv,\n"
               "  checkpoints/last.pt; re-running the same command resumes from last.pt.")
    p.add_argument("--profile", default="small", help="smoke | small | paper (default small)")
    p.add_argument("--out", required=True, help="run folder: receives the outputs listed below")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. mv=H+I+Q")
    a = p.parse_args(argv)
    try:
        over = parse_overrides(a.set)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    print(json.dumps(train(make_config(a.profile, **over), a.out), indent=1))


if __name__ == "__main__":
    main()
