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
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import timm
import torch

from weakpose import losses
from weakpose.config import FORMULATIONS, make_config, parse_overrides
from weakpose.trainer import Run


def _timed(fn, steps: int, warmup: int, device: torch.device, median: bool = False) -> float:
    """Seconds per call of ``fn``: the mean over ``steps`` calls in one timed window, or (``median``) the median
    of per-call times (the CPU: no device to synchronise, and robust to a busy neighbour)."""
    for _ in range(warmup):
        fn()
    if median:
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return float(sorted(times)[len(times) // 2])
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def run_bench(cfg, out_dir: str, steps: int = 20, warmup: int = 5, median: bool = False) -> dict:
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

    t_bare = _timed(bare, steps, warmup, dev, median)
    t_full = _timed(full, steps, warmup, dev, median)
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


def _cpuinfo() -> tuple[str, set[str]]:
    """The CPU's model name and flags, from the first processor of /proc/cpuinfo (where there is one)."""
    name, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not name:
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return name or platform.processor() or "cpu", flags


def cpu_flags() -> dict:
    """What the CPU offers for bf16 (the avx512_bf16 / AMX flags of /proc/cpuinfo) and torch's SIMD level."""
    name, flags = _cpuinfo()
    return {"cpu": name, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "bf16_units": sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile"}), "cores": os.cpu_count()}


def cpu_levers(cfg, out_dir: str, steps: int = 4, warmup: int = 2) -> dict:
    """The CPU speed levers measured in one process, as seconds per step (median of ``steps``): the bare model step
    and the full trainer step, in fp32 and under bf16 autocast, with and without channels_last, on 1 and on 2
    threads. Ratios are what carries over between machines; the absolute times are this machine's."""
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for bf16 in (False, True):
            for cl in (False, True):
                c = dataclasses.replace(cfg, device="cpu", bf16=bf16, cpu_bf16=bf16, channels_last=cl,
                                        cpu_threads=threads, num_workers=0)
                r = run_bench(c, out_dir, steps, warmup, median=True)
                rows.append({"threads": threads, "bf16": bf16, "channels_last": cl, "bare_step_s": r["bare_step_s"],
                             "full_step_s": r["full_step_s"]})
    base = next(r for r in rows if r["threads"] == 1 and not r["bf16"] and not r["channels_last"])
    for r in rows:
        r["bare_speedup"] = base["bare_step_s"] / r["bare_step_s"]
        r["full_speedup"] = base["full_step_s"] / r["full_step_s"]
        r["full_over_bare_rate"] = r["bare_step_s"] / r["full_step_s"]
    return {**cpu_flags(), "torch": torch.__version__, "timm": timm.__version__, "profile": cfg.profile,
            "backbone": cfg.backbone, "input_size": cfg.input_size,
            "batch": f"{cfg.batch_2d} + {cfg.batch_mv} x {cfg.views}", "steps_median_of": steps, "rows": rows}


def profile_step(cfg, out_dir: str, main: bool = True, steps: int = 3, warmup: int = 2, top: int = 25) -> str:
    """A torch.profiler table of the trainer's step, phase by phase (the calls `Run.train_step` makes: the batch
    from the loader, `Run.loss_terms` (augmentation warp, forward, L_H, eqs. 1-5, eq. 10, weak losses), backward,
    gradient clip, optimizer) and by operator. ``main``: a main-stage step of ``cfg`` (weak losses on), else a
    2D-stage step (L_H on the 2D batch only). Markdown."""
    from torch.profiler import ProfilerActivity, profile, record_function

    from weakpose import weak

    cfg = dataclasses.replace(cfg, shared_2d=False)
    run = Run(cfg, out_dir, verbose=False)
    it2, itm = run.loader_2d(0), (run.loader_mv(0) if main else None)

    def step():
        with record_function("phase: batch (loader, to device)"):
            b2, bm = run.next_batches(it2, itm)
        with record_function("phase: loss_terms (warp, forward, losses)"):
            terms = run.loss_terms(b2, bm, run.step, main)
        run.opt.zero_grad(set_to_none=True)
        with record_function("phase: backward"):
            terms["total"].backward()
        with record_function("phase: clip"):
            run.grad_norm = weak.clip_gradient(run.model.parameters(), run.grad_norm, cfg) if main else run.grad_norm
        with record_function("phase: optimizer"):
            run.opt.step()
        run.step += 1

    for _ in range(warmup):
        step()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if run.device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
    ka = prof.key_averages()
    phases = [e for e in ka if e.key.startswith("phase: ")]
    total = sum(e.cpu_time_total for e in phases) or 1.0
    lines = [f"## {'Main-stage' if main else '2D-stage'} step of profile `{cfg.profile}` ({cfg.backbone}, "
             f"{cfg.input_size} px, batch {cfg.batch_2d}" + (f" + {cfg.batch_mv} x {cfg.views}" if main else "")
             + f", threads {torch.get_num_threads()}, bf16 {run.autocast}, channels_last {cfg.channels_last}), "
             f"{steps} steps", "", "| phase | ms / step | share |", "|---|---:|---:|"]
    for e in sorted(phases, key=lambda e: -e.cpu_time_total):
        lines.append(f"| {e.key[7:]} | {e.cpu_time_total / 1000 / steps:.1f} | {e.cpu_time_total / total:.0%} |")
    lines += ["", f"Top {top} operators by self CPU time:", "", "```",
              ka.table(sort_by="self_cpu_time_total", row_limit=top, max_name_column_width=48), "```", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="paper")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", default="", help="write the result as JSON here")
    p.add_argument("--cpu", action="store_true", help="the CPU levers in one run (`cpu_levers`): bare and full step, "
                   "fp32 / bf16, channels_last on / off, 1 / 2 threads")
    p.add_argument("--profile-table", default="", help="write torch.profiler tables of a main-stage and a 2D-stage "
                   "trainer step (Markdown) here")
    a = p.parse_args(argv)
    over = parse_overrides(a.set)
    cfg = make_config(a.profile, **{**FORMULATIONS["ours"], "mv": "H+I+Q", "sup2d": "M", **over})
    work = Path(tempfile.mkdtemp(prefix="weakpose-bench-"))  # its run folders: never next to the results
    if a.profile_table:
        text = "\n".join(profile_step(cfg, work / "p", main=m) for m in (True, False))
        Path(a.profile_table).parent.mkdir(parents=True, exist_ok=True)
        Path(a.profile_table).write_text(f"# Where a trainer step's time goes\n\nFrom `python -m weakpose.bench "
                                         f"--profile {a.profile} --profile-table {a.profile_table}` on {_cpuinfo()[0]} "
                                         f"(torch {torch.__version__}).\n\n" + text)
        print(text)
    if a.cpu:
        res = cpu_levers(cfg, work / "levers", a.steps, a.warmup)
        print(pd.DataFrame(res["rows"]).round(3).to_string(index=False))
    else:
        res = run_bench(cfg, work, a.steps, a.warmup)
    print(json.dumps(res, indent=1))
    if not a.cpu:
        print(f"full trainer step runs at {res['ratio_full_over_bare_rate']:.3f} x the bare model step rate on "
              f"{res['device']}")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
