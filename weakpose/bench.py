"""Trainer benchmark: (a) the bare backbone + head training step against (b) the full trainer step (loading,
augmentation, reconstruction, every WS loss, optimizer), at the paper's batch composition, in one run.

    python -m weakpose.bench --profile paper --set compile=true --out results/bench/h200.json

Prints steps/s and images/s of both and the ratio b / a with the device and library versions. Timings synchronise
the device only around the timed windows, never inside a step.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import timm
import torch

from weakpose import losses
from weakpose.config import FORMULATIONS, make_config, parse_overrides
from weakpose.trainer import Run


def _timed(fn, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def run_bench(cfg, out_dir: str, steps: int = 20, warmup: int = 5) -> dict:
    """Seconds per step of the bare model (forward, L_H, backward, Adam) and of the full trainer step
    (`Run.train_step`: loading, augmentation, every loss term of ``cfg``), measured one after the other in this
    process. Starts from random weights: no shared 2D model is trained for a benchmark."""
    cfg = dataclasses.replace(cfg, shared_2d=False)
    run = Run(cfg, out_dir, verbose=False)
    dev, model, opt = run.device, run.fwd, run.opt
    n_img = cfg.batch_2d + cfg.batch_mv * cfg.views
    x = torch.rand(n_img, 3, cfg.input_size, cfg.input_size, device=dev) * 255
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    target = torch.rand(n_img, 17, run.heat, run.heat, device=dev)

    def bare():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=run.autocast):
            out = model(x)
        loss = losses.heatmap_loss(out["heatmaps"], target, torch.ones(n_img, 17, device=dev)) + out["z_rel"].mean() * 0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    it2, itm = run.loader_2d(0), run.loader_mv(0)

    def full():
        run.train_step(*run.next_batches(it2, itm), main=True)

    t_bare = _timed(bare, steps, warmup, dev)
    t_full = _timed(full, steps, warmup, dev)
    res = {
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "timm": timm.__version__, "profile": cfg.profile, "backbone": cfg.backbone,
        "input_size": cfg.input_size, "batch": f"{cfg.batch_2d} + {cfg.batch_mv} x {cfg.views}",
        "bf16": run.autocast, "channels_last": cfg.channels_last, "compile": cfg.compile,
        "bare_step_s": t_bare, "full_step_s": t_full,
        "bare_images_per_s": n_img / t_bare, "full_images_per_s": n_img / t_full,
        "ratio_full_over_bare_rate": t_bare / t_full,
    }
    return res


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="paper")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", default="", help="write the result as JSON here")
    a = p.parse_args(argv)
    over = parse_overrides(a.set)
    cfg = make_config(a.profile, **{**FORMULATIONS["ours"], "mv": "H+I+Q", "sup2d": "M", **over})
    res = run_bench(cfg, Path(a.out).parent / "bench-run" if a.out else "/tmp/weakpose-bench", a.steps, a.warmup)
    print(json.dumps(res, indent=1))
    print(f"full trainer step runs at {res['ratio_full_over_bare_rate']:.3f} x the bare model step rate on {res['device']}")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
