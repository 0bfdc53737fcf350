"""ONE training loop for every setting of the paper; the configuration only switches loss terms on and off.

    L = [use_heatmap_loss] L_H + psi [sup3d] L_z + alpha [mv] L_MC + beta [mv] L_B        (eqs. 6 and 7)

Stages (Appendix A): 2D pre-training (L_H on 2D-labelled images; the depth layer gets no gradient), then the main
stage, which first pseudo-labels the H / I multi-view images if enabled (Sec. 3.3, confidence > tau). The weak
terms are `weak.weak_losses` (fp32); a shared 2D model is trained first (`shared_2d_checkpoint`), never in a `Run`.

GPU-first: uint8 crops decoded in DataLoader workers into pinned memory, warped on the device by an exact affine A
(K' = A K), bf16 autocast (CUDA; the CPU with ``cpu_bf16``), channels_last, optional torch.compile, no host sync
in a step but on logging steps. Resumable exactly: data order = f(seed, batch index), augmentation = f(seed,
step), the checkpoint holds model, optimizer, pseudo-labels, RNG states and step. DDP via torchrun, same entry.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose import basin, camera, checkpoints, losses, mirror, weak
from weakpose.progress import progress_bar
from weakpose.camera import inside, sample_affines, transform_points, warp_images
from weakpose.batches import Keyed, loader
from weakpose.config import (FORMULATIONS, PROFILES, RUNTIME_FIELDS, TrainConfig, config_from_dict, init_config,
                             lr_at, pretrain_steps, resolve_device)
from weakpose.data.loaders import Eval3D, Images2D, MultiView, open_dataset
from weakpose.evaluate import evaluate, run_summary
from weakpose.history import append_history, loss_row, truncate_history, write_atomic
from weakpose.losses import LOSS_NAMES
from weakpose.model import PoseNet
from weakpose.pseudo import SOURCES as PSEUDO_SOURCES, pseudo_labels
from weakpose.runlock import TRAIN_ERRORS, check_run_dir, locked

CKPT_KEYS = ("config", "model", "optimizer", "step", "pseudo", "pseudo_ready", "rng")


# ----------------------------------------------------------------------------------------------- the run
class Run:
    """Everything one training run holds: data, model, optimizer, pseudo-labels and its results directory."""

    def __init__(self, cfg: TrainConfig, out_dir: str | os.PathLike, device: torch.device | None = None,
                 verbose: bool = True, init_from: str | os.PathLike | None = None):
        """``init_from``: the 2D checkpoint to start from (the shared 2D model, or a warm-up stage). Trains nothing."""
        self.cfg, self.out = cfg, Path(out_dir)
        if (init_from is None) != (init_config(cfg) is None):
            raise ValueError(f"{cfg.run_id()}: init_from must be given exactly when the configuration starts from "
                             f"another model ({init_config(cfg) or 'it does not'}); got {init_from!r}")
        self.rank, self.world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        self.device = device or resolve_device(cfg.device)
        if self.world > 1:
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
                torch.cuda.set_device(self.device)
        self.verbose = verbose and self.rank == 0
        if cfg.cpu_threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.cpu_threads)  # measured: 1 vs 2 threads differ in the 7th digit of the metrics
        checkpoints.seed_everything(cfg.seed)
        self._open_data()
        self.model = PoseNet.from_config(cfg).to(self.device)
        if init_from is not None:
            self._init_from_2d(init_from)
            checkpoints.seed_everything(cfg.seed)  # the same run whether the shared model was trained just now or found
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.pseudo, self.pseudo_ready = {}, False  # mv source index -> (rows, J, 3) [u, v stored px, conf]
        self.step = 0
        self.grad_norm = torch.zeros((), device=self.device)  # running gradient norm of `clipping` (0 = not started)
        self.mirror = mirror.MirrorTest(self.device)             # the vote since the last test and the flips
        self.fwd = self.model
        if self.world > 1:
            self.fwd = torch.nn.parallel.DistributedDataParallel(self.model, find_unused_parameters=True)
        self.fwd = torch.compile(self.fwd) if cfg.compile else self.fwd
        self.autocast = cfg.bf16 and (self.device.type == "cuda" or (self.device.type == "cpu" and cfg.cpu_bf16))
        self.out.mkdir(parents=True, exist_ok=True)
        self.ckpt = self.out / "checkpoints" / "last.pt"

    def _open_data(self) -> None:
        """The datasets the configuration names, the eq. 11/12 bone means of H's training split, the 2D-labelled
        sets (with the rows allowed for L_z marked) and the multi-view sets."""
        cfg = self.cfg
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

    def _init_from_2d(self, path: str | os.PathLike) -> None:
        """Start from a shared 2D model (the paper pre-trains the 2D network once, before the weak losses): its
        weights, with the latent-depth layer reset to zero as after this run's own pre-training (Appendix A).
        The input size may differ (the network is fully convolutional and holds nothing sized by it): a 2D model
        trained at 64 px can start a fine-tuning at 128 px."""
        state = checkpoints.read_checkpoint(path, map_location=self.device)  # no second model is built
        ocfg = config_from_dict(state["config"])
        arch = ("backbone", "head_channels", "feature_stride", "stride", "temperature")
        if any(getattr(ocfg, k) != getattr(self.cfg, k) for k in arch):
            raise ValueError(f"init_from={path}: its architecture {[getattr(ocfg, k) for k in arch]} differs from this "
                             f"run's {[getattr(self.cfg, k) for k in arch]} ({', '.join(arch)})")
        self.model.load_state_dict(state["model"])
        self.model.reset_depth_head()
        if self.verbose:
            print(f"[weakpose] main stage starts from the 2D model {path} (its own pre-training is skipped)"
                  + (f"; it was trained at {ocfg.input_size} px, this run is at {self.cfg.input_size} px"
                     if ocfg.input_size != self.cfg.input_size else ""))

    # --------------------------------------------------------------------------------- checkpoints
    def save(self) -> None:
        """Write ``checkpoints/step-<step>.pt`` and ``last.pt`` (atomic, verified, the newest ``keep_checkpoints``
        step files kept). Only tensors and plain types, so `try_resume` can load it with ``weights_only=True``."""
        if self.rank:
            return
        state = {"config": dataclasses.asdict(self.cfg), "model": self.model.state_dict(),
                 "optimizer": self.opt.state_dict(), "step": self.step, "pseudo": self.pseudo,
                 "pseudo_ready": self.pseudo_ready, "rng": checkpoints.rng_state(), "grad_norm": self.grad_norm,
                 **self.mirror.state()}
        checkpoints.write_checkpoint(state, self.ckpt.parent, self.step, self.cfg.keep_checkpoints, CKPT_KEYS)

    def try_resume(self, restart_if_unreadable: bool = False) -> bool:
        """Resume from the newest readable checkpoint (``last.pt``, then ``step-*.pt`` newest first). Unreadable
        ones are reported by name with the reason and renamed ``*.unreadable``. If checkpoints exist but none is
        readable this raises `NoReadableCheckpoint`, unless ``restart_if_unreadable``: then the run says so and
        starts from step 0. Returns True when a checkpoint was loaded."""
        folder = self.ckpt.parent
        if not checkpoints.candidates(folder):
            return False
        path, state, errors = checkpoints.load_newest(folder, self.device, CKPT_KEYS)
        for e in errors:
            if self.rank == 0:
                print(f"[weakpose] WARNING: {e}", flush=True)
        if state is None:
            listing = "; ".join(f"{e.path.name}: {e.reason}" for e in errors)
            if not restart_if_unreadable:
                raise checkpoints.NoReadableCheckpoint(
                    f"no readable checkpoint in {folder} ({listing}). Nothing was resumed. To start this run again "
                    f"from step 0, pass --restart-if-unreadable (fit(restart_if_unreadable=True)); the unreadable "
                    f"files are then kept as *.unreadable")
            if self.rank == 0:
                moved = checkpoints.set_aside(errors)
                print(f"[weakpose] no readable checkpoint in {folder}: starting again from step 0 as asked "
                      f"(restart_if_unreadable); set aside {[m.name for m in moved]}", flush=True)
            return False
        saved = dataclasses.replace(config_from_dict(state["config"], source=path),
                                    **{k: getattr(self.cfg, k) for k in RUNTIME_FIELDS})  # e.g. keep_checkpoints
        checkpoints.check_config(path, saved, self.cfg)  # ConfigMismatch naming the fields that differ
        if self.rank == 0:
            checkpoints.after_fallback(path, errors, state["step"])  # set aside the unreadable, restore last.pt
        checkpoints.load_states(path, state, self.model, self.opt)
        self.step, self.pseudo, self.pseudo_ready = state["step"], state["pseudo"], state["pseudo_ready"]
        self.grad_norm = state.get("grad_norm", self.grad_norm).to(self.device)   # absent before mv_grad_clip
        self.mirror.load(state)
        checkpoints.set_rng_state(state["rng"])
        if self.verbose:
            print(f"[weakpose] resumed {path} at step {self.step}")
        return True

    # --------------------------------------------------------------------------------- pseudo-labels
    def make_pseudo_labels(self) -> None:
        """Sec. 3.3: the pre-trained 2D model labels the H and I multi-view training images once (`pseudo`)."""
        for s, k in enumerate(self.cfg.mv_keys):
            if k in PSEUDO_SOURCES:
                self.pseudo[s] = pseudo_labels(self.model, self.data[k], self.cfg, self.device, self.autocast,
                                               self.verbose)
        self.pseudo_ready = True

    # --------------------------------------------------------------------------------- one step
    def loss_terms(self, b2: dict, bm: dict | None, step: int, main: bool) -> dict[str, torch.Tensor]:
        """All loss terms of one step; terms that are off are exact zeros (never added to the graph)."""
        cfg, dev = self.cfg, self.device
        gen = torch.Generator(device=dev).manual_seed(cfg.seed * 1_000_003 + step)
        img, K, j2d, vis = b2["image"], b2["K"], b2["joints2d"], b2["vis2d"]
        n2 = img.shape[0]
        if bm is not None:
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
            out = self.fwd(x)
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
            t.update(weak.weak_losses(self.model, {k: v[n2:] for k, v in out.items()}, K_in[n2:], bm, cfg,
                                      self.bone_norm))
        t["total"] = losses.weighted_total(t, cfg)
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
        return loader(self._set2d(), self.cfg.batch_2d, self.cfg, batch_index, 0, self.device.type == "cuda",
                       self.rank, self.world)

    def loader_mv(self, batch_index: int = 0):
        """Infinite iterator of multi-view batches, or None when the configuration has no multi-view data."""
        if not self.setsmv:
            return None
        return loader(self._setmv(), self.cfg.batch_mv, self.cfg, batch_index, 1, self.device.type == "cuda",
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
        if main:
            self.grad_norm = weak.clip_gradient(self.model.parameters(), self.grad_norm, self.cfg)
        self.opt.step()
        self.step += 1
        if "vote" in terms:  # the mirror test of `weakpose.mirror` (config mirror_test_every)
            self.mirror.add(terms.pop("vote"), self.step - pretrain_steps(self.cfg), self.model, self.opt, self.cfg,
                            self.world, self.verbose)
        return terms

    # --------------------------------------------------------------------------------- the loop
    @locked
    def fit(self, stop_after: int | None = None, restart_if_unreadable: bool = False) -> dict | None:
        """Train to the end of the schedule (resuming from the newest readable checkpoint when present, see
        `try_resume` for ``restart_if_unreadable``), evaluate and write metrics.json. ``stop_after`` abandons the
        run after that many global steps without saving, as a crash would (tests use it); then None is returned.
        The run folder is locked meanwhile (`runlock.locked`: a second trainer stops at once naming this pid)."""
        cfg = self.cfg
        resumed = self.try_resume(restart_if_unreadable)
        total = pretrain_steps(cfg) + cfg.iterations
        hist_path = self.out / "history.csv"
        if self.rank == 0:  # one writer: under torchrun every rank runs this
            truncate_history(hist_path, self.step if resumed else 0)
            write_atomic(self.out / "config.json", json.dumps(dataclasses.asdict(cfg), indent=1))
        it2 = it_mv = None
        buf: list[torch.Tensor] = []
        bar = progress_bar(total=total, initial=self.step, desc=cfg.run_id()[:40], disable=not self.verbose)
        t_last, n_last = time.perf_counter(), self.step
        while self.step < total:
            main = self.step >= pretrain_steps(cfg)
            if main and cfg.pseudo_labels and not self.pseudo_ready:
                self.make_pseudo_labels()
            if it2 is None:
                it2 = self.loader_2d(self.step)
            if main and self.setsmv and it_mv is None:
                it_mv = self.loader_mv(self.step - pretrain_steps(cfg))
            if main and basin.due(self):  # `weakpose.basin`; the streams restart at the kept branch's step
                buf, it2, it_mv = buf + basin.basin_test(self), None, None
                bar.update(basin.steps(cfg)[1])
                continue
            b2, bm = self.next_batches(it2, it_mv if main else None)
            terms = self.train_step(b2, bm, main)
            buf.append(loss_row(terms))
            bar.update(1)
            log_now = self.step % cfg.log_every == 0 or self.step == total
            ckpt_now = self.step % cfg.ckpt_every == 0 or self.step == total
            if log_now or ckpt_now:  # a checkpoint flushes the buffer too: the rows it covers reach history.csv first
                t_now = time.perf_counter()
                ips = (self.step - n_last) * (b2["image"].shape[0] + (0 if bm is None else bm["image"].shape[:2].numel())) \
                    * self.world / max(t_now - t_last, 1e-9)
                vals = torch.stack(buf).cpu().numpy()      # the one host sync, on logging / checkpoint steps only
                if not np.isfinite(vals).all():
                    raise FloatingPointError(f"non-finite loss at step {self.step}: {dict(zip(LOSS_NAMES, vals[-1]))}")
                append_history(hist_path, self.step - len(buf), vals, cfg, ips, self.rank)
                bar.set_postfix(loss=f"{vals[-1, 0]:.4f}")
                buf, t_last, n_last = [], t_now, self.step
            if ckpt_now:
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
        summary = run_summary(cfg, split, self.step, summary, **self.mirror.summary(cfg))
        if self.rank == 0 and write:
            write_atomic(self.out / "per_sample.csv", df.to_csv(index=False))
            write_atomic(self.out / "metrics.json", json.dumps(summary, indent=1))
        return summary

    def _set2d(self) -> Dataset:
        return Keyed(self.sets2d)

    def _setmv(self) -> Dataset:
        return Keyed(self.setsmv)

    def _to_device(self, batch: dict, is2d: bool = False) -> dict:
        out = {k: (v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        if is2d:
            out["allow3d"] = torch.zeros_like(out["has_3d"])
            for i, ok in enumerate(self.allow3d):
                sel = out["source"] == i
                row = torch.where(sel, out["row"], torch.zeros_like(out["row"])).clamp_max(len(ok) - 1)
                out["allow3d"] = out["allow3d"] | (sel & ok[row] & out["has_3d"])
        return out


def shared_2d_checkpoint(cfg: TrainConfig, shared_root: str | os.PathLike, device: torch.device | None = None,
                         verbose: bool = True) -> Path | None:
    """The checkpoint a run of ``cfg`` starts from (`init_config`), trained first into
    ``<shared_root>/<its run id>/`` if it is not there (its own warm-up stage before it); None for a run that starts
    from scratch. The explicit first step of `train`: every row with the same 2D data, profile and seed reuses it."""
    scfg = init_config(cfg)
    if scfg is None:
        return None
    d = Path(shared_root) / scfg.run_id()
    ckpt = d / "checkpoints" / "last.pt"
    # The checkpoint, not metrics.json, says whether it exists: a clone holds the committed metrics of every shared
    # model but none of their checkpoints (not in git); retrained on the same machine it reproduces its files bit
    # for bit, on another CPU only to a few digits.
    if not ckpt.is_file():
        if verbose:
            again = " again (its metrics are here, its checkpoint is not)" if (d / "metrics.json").is_file() else ""
            print(f"[weakpose] training the shared 2D model {scfg.run_id()}{again} ({scfg.iterations} steps at "
                  f"{scfg.input_size} px, L_H on {scfg.sup2d}) into {d}; every row with the same 2D data, profile "
                  f"and seed reuses it", flush=True)
        init = shared_2d_checkpoint(scfg, shared_root, device, verbose)
        Run(scfg, d, device, verbose, init_from=init).fit()
    return ckpt


def train(cfg: TrainConfig, out_dir: str | os.PathLike, device: torch.device | None = None, verbose: bool = True,
          restart_if_unreadable: bool = False, shared_root: str | os.PathLike | None = None) -> dict:
    """Train (or resume) one configuration into ``out_dir`` and evaluate it; returns the metrics summary. First
    the model it starts from, if any (`shared_2d_checkpoint`, under ``shared_root``, default
    ``<out_dir>/../../shared2d``, i.e. ``<root>/shared2d`` for ``<root>/<table>/<run>``)."""
    out = Path(out_dir)
    root = Path(shared_root) if shared_root is not None else out.parent.parent / "shared2d"
    init = shared_2d_checkpoint(cfg, root, device, verbose)
    return Run(cfg, out, device, verbose, init_from=init).fit(restart_if_unreadable=restart_if_unreadable)


def main(argv: list[str] | None = None) -> None:
    import argparse

    from weakpose.config import make_config, parse_overrides, read_config_file
    from weakpose.data.checksums import ALLOW_UNVERIFIED_ENV

    p = argparse.ArgumentParser(
        description="Train one weakpose configuration (torchrun-compatible).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="inputs: the datasets the configuration names (sup2d / sup3d / mv / eval_on: synthetic twins\n"
               "  generated on first use under $WEAKPOSE_DATA, or converted real data with source=real).\n"
               "outputs (under --out, default runs/train/<run-id>): config.json, history.csv (every step),\n"
               "  metrics.json, per_sample.csv, checkpoints/last.pt + step-NNNNNN.pt; re-running the same command\n"
               "  resumes from the newest readable one. Shared 2D models go to <out>/../../shared2d.")
    p.add_argument("--profile", default="cpu", choices=list(PROFILES),
                   help=f"{' | '.join(PROFILES)} (default cpu; README 'Profiles')")
    p.add_argument("--formulation", default="ours", choices=list(FORMULATIONS),
                   help="ours (default) | paper: the paper's literal eqs. 7-11 (docs/weak-supervision.md)")
    p.add_argument("--config", default="", help="a run's config.json (e.g. results/table1/<run>/config.json): "
                   "train exactly that configuration again (--profile and --formulation are then ignored; --set "
                   "still applies)")
    p.add_argument("--out", default="", help="run folder (default runs/train/<run-id>): receives the outputs below")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. mv=H+I+Q")
    p.add_argument("--shared-root", default=None, help="folder of shared 2D models (default <out>/../../shared2d)")
    p.add_argument("--restart-if-unreadable", action="store_true",
                   help="if checkpoints exist but none can be read, start again from step 0 instead of stopping")
    p.add_argument("--allow-unverified-data", action="store_true", help="train on datasets whose meta.json records "
                   "no checksums (damage to them cannot be detected; refused without this flag)")
    a = p.parse_args(argv)
    try:
        over = parse_overrides(a.set)
        if a.config:
            cfg = dataclasses.replace(read_config_file(a.config), **over)
        else:
            cfg = make_config(a.profile, **{**FORMULATIONS[a.formulation], **over})
    except (ValueError, TypeError, OSError) as e:
        raise SystemExit(f"weakpose.trainer: {e}") from None
    out = Path(a.out) if a.out else Path("runs") / "train" / cfg.run_id()
    if a.allow_unverified_data:
        os.environ[ALLOW_UNVERIFIED_ENV] = "1"  # read where datasets are opened (DataLoader workers inherit it)
    try:
        check_run_dir(out)
        metrics = train(cfg, out, restart_if_unreadable=a.restart_if_unreadable, shared_root=a.shared_root)
    except TRAIN_ERRORS as e:
        raise SystemExit(f"[weakpose] {e}") from None
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
