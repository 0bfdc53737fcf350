"""One run on disk: its folder ``<results>/<table>/<run-id>/`` (config.json, history.csv, metrics.json,
per_sample.csv, checkpoints/), train-or-reuse, evaluating a finished model on another split, finding checkpoints,
and the loud announcement of the data source a run uses.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from weakpose.config import TrainConfig, formulation_of, make_run_config, resolve_device

# Where notebook and CLI runs go unless told otherwise: an ignored folder, never the committed results/.
USER_RESULTS = "runs"


def project_root() -> Path:
    """The nearest parent of the working directory holding pyproject.toml and weakpose/ (else the working
    directory), so notebooks write to the same results/ from the repo root (papermill) and from notebooks/ (Lab)."""
    cwd = Path.cwd().resolve()
    for d in (cwd, *cwd.parents):
        if (d / "pyproject.toml").is_file() and (d / "weakpose").is_dir():
            return d
    return cwd


def results_dir(results_root: str | os.PathLike) -> Path:
    """``results_root`` as an absolute path; relative ones are taken from `project_root`."""
    p = Path(results_root).expanduser()
    return p if p.is_absolute() else project_root() / p


def run_dir(results_root: str | os.PathLike, table: str, cfg: TrainConfig) -> Path:
    """``<results_root>/<table>/<cfg.run_id()>``."""
    return results_dir(results_root) / table / cfg.run_id()


def announce(cfg: TrainConfig, out_dir: Path) -> None:
    """Print the data source loudly, and where the run goes."""
    from weakpose.data.format import data_root

    root = Path(cfg.data_root) if cfg.data_root else data_root()
    bar = "=" * 100
    if cfg.source == "synthetic":
        what = (f"SYNTHETIC twins of H36M / 3DHP / MQC / MPII (size {cfg.data_size}, seed {cfg.seed}) under "
                f"{root / 'synthetic'}\n[weakpose]   these numbers test the method on synthetic data: they are NOT "
                "comparable with the paper's")
    else:
        what = f"REAL datasets under {root / 'real'} (h36m, 3dhp, mqc, mpii as converted by weakpose.data.real.prepare)"
    print(f"{bar}\n[weakpose] DATA SOURCE: {what}\n[weakpose] profile {cfg.profile}, formulation {formulation_of(cfg)}, mode {cfg.mode}, "
          f"evaluated on {cfg.eval_on}, device {cfg.device}\n[weakpose] run {cfg.run_id()}\n[weakpose] results -> "
          f"{out_dir}\n{bar}", flush=True)


# ----------------------------------------------------------------------------------------------- one run
def run(cfg: TrainConfig, out_dir: str | os.PathLike, reuse: bool = True, verbose: bool = True) -> dict:
    """Train (or resume) ``cfg`` into ``out_dir`` and return its metrics; what every table notebook calls.

    A finished run whose checkpoint is absent (a committed row: checkpoints are not in git) is not trained again
    into its folder: its metrics.json is returned as it is, and how to retrain it elsewhere is printed.

    With ``reuse``, work already finished under the same results root is used instead of retraining, and said so:
    an identical run in another table's folder (e.g. Table 1's "WS M/-/H" is Table 2's "WS H") is resumed from a
    copy of its checkpoint (the trainer only re-evaluates); a run evaluated on I whose model was trained for
    Table 2 (same configuration with eval_on="H") is that model evaluated on I (`evaluate_checkpoint`), as in the
    paper's Table 3.
    """
    from weakpose.trainer import train

    out = Path(out_dir)
    root = out.parent.parent
    if (out / "metrics.json").is_file() and not (out / "checkpoints" / "last.pt").is_file():
        print(f"[weakpose] {out} holds a finished run without its checkpoint: showing it from its files (metrics.json, "
              f"history.csv), not retraining it. To retrain it: python -m weakpose.trainer --config "
              f"{out / 'config.json'} --out {USER_RESULTS}/retrain/{out.name}", flush=True)
        return json.loads((out / "metrics.json").read_text())
    if reuse and not (out / "checkpoints" / "last.pt").is_file():
        same = _finished(root, cfg.run_id(), exclude=out)
        if same is not None:
            print(f"[weakpose] REUSING the identical finished run {same}: linking its checkpoint, re-evaluating")
            (out / "checkpoints").mkdir(parents=True, exist_ok=True)
            try:  # a hard link is safe: the trainer replaces last.pt atomically, it never writes into it
                os.link(same / "checkpoints" / "last.pt", out / "checkpoints" / "last.pt")
            except OSError:
                shutil.copy2(same / "checkpoints" / "last.pt", out / "checkpoints" / "last.pt")
            shutil.copy2(same / "history.csv", out / "history.csv")
        elif cfg.eval_on != "H":
            trained = _finished(root, dataclasses.replace(cfg, eval_on="H").run_id(), exclude=out)
            if trained is not None:
                print(f"[weakpose] REUSING the model of {trained} (same training, evaluated on H): evaluating it on "
                      f"{cfg.eval_on}")
                return evaluate_checkpoint(trained / "checkpoints" / "last.pt", cfg, out)
    return train(cfg, out, verbose=verbose)


def _finished(root: Path, run_id: str, exclude: Path) -> Path | None:
    """A finished run directory ``<root>/*/<run_id>`` (metrics.json, history.csv and checkpoint present)."""
    for d in sorted(root.glob(f"*/{run_id}")):
        if d.resolve() != exclude.resolve() and all((d / f).is_file() for f in
                                                    ("metrics.json", "history.csv", "checkpoints/last.pt")):
            return d
    return None


def evaluate_checkpoint(ckpt: str | os.PathLike, cfg: TrainConfig, out_dir: str | os.PathLike) -> dict:
    """Evaluate the model of ``ckpt`` on ``cfg.eval_on`` and write config.json (``cfg``), metrics.json (with
    ``model_from``: the checkpoint's path relative to the results root ``out_dir/../..`` when it lies under it, else
    absolute), per_sample.csv and the model's history.csv into ``out_dir``, as a training run would."""
    import torch

    from weakpose.data.loaders import Eval3D, mean_bone_mm, open_for
    from weakpose.evaluate import evaluate, run_summary
    from weakpose.model import load_checkpoint

    ckpt, out = Path(ckpt), Path(out_dir)
    device = resolve_device(cfg.device)
    model, trained_cfg, state = load_checkpoint(ckpt, device)
    core = ("eval_on", "device", "num_workers", "eval_batch", "eval_max_samples")
    if {k: v for k, v in dataclasses.asdict(trained_cfg).items() if k not in core} != \
            {k: v for k, v in dataclasses.asdict(cfg).items() if k not in core}:
        raise ValueError(f"{ckpt} was trained with another configuration than {cfg.run_id()}")
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    test = Eval3D(open_for(cfg, cfg.eval_on), "test")
    df, summary = evaluate(model, test, mean_bone_mm(cfg), device, cfg.input_size, cfg.eval_batch, cfg.eval_max_samples,
                           cfg.channels_last, pck=cfg.eval_on == "I")
    root = out.parent.parent.resolve()  # model_from: relative to the results root where the model lies under it
    src = ckpt.resolve()
    summary = run_summary(cfg, "test", int(state["step"]), summary,
                          model_from=str(src.relative_to(root)) if src.is_relative_to(root) else str(src))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    shutil.copy2(ckpt.parent.parent / "history.csv", out / "history.csv")
    df.to_csv(out / "per_sample.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    return summary


def checkpoint_of(out_dir: str | os.PathLike) -> Path | None:
    """The checkpoint holding the model of a run directory (its own, or the one it was evaluated from)."""
    out = Path(out_dir)
    own = out / "checkpoints" / "last.pt"
    if own.is_file():
        return own
    m = out / "metrics.json"
    src = json.loads(m.read_text()).get("model_from") if m.is_file() else None
    src = out.parent.parent / src if src else None   # relative to the results root (an absolute path stays)
    return src if src and src.is_file() else None


def newest_checkpoint(results_root: str | os.PathLike) -> Path | None:
    """The most recently written ``checkpoints/last.pt`` under ``results_root`` (None if there is none)."""
    found = list(results_dir(results_root).rglob("checkpoints/last.pt"))
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def find_or_train_checkpoint(checkpoint: str = "", results_root: str | os.PathLike = USER_RESULTS) -> Path:
    """``checkpoint`` if given (it must exist), else the newest checkpoint under ``results_root``; if there is
    none, a smoke model (WS, 2D=H+M, MV=H, synthetic) is trained into ``<results_root>/explore/`` - said loudly."""
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        return path
    found = newest_checkpoint(results_root)
    if found is not None:
        print(f"[weakpose] using the newest checkpoint under {results_dir(results_root)}: {found}")
        return found
    cfg = make_run_config("smoke", device="cpu")
    out = run_dir(results_root, "explore", cfg)
    print(f"[weakpose] NO checkpoint under {results_dir(results_root)}: training a SMOKE model (seconds, CPU, "
          f"synthetic data; its predictions are close to random) into {out}")
    run(cfg, out, reuse=False, verbose=False)
    return out / "checkpoints" / "last.pt"


def infer_test_rows(run: str | os.PathLike, n: int) -> tuple[TrainConfig, dict | None]:
    """A committed run's configuration and `evaluate.infer_rows` of its checkpoint on the first ``n`` test rows of
    its evaluation split (on the CPU), or (config, None) when the run has no checkpoint (they are not in git)."""
    from weakpose.config import config_from_dict
    from weakpose.data.loaders import open_for
    from weakpose.evaluate import infer_rows, test_rows
    from weakpose.model import load_checkpoint

    run = Path(run)
    cfg = config_from_dict(json.loads((run / "config.json").read_text()))
    ckpt = checkpoint_of(run)
    if ckpt is None or not Path(ckpt).is_file():
        return cfg, None
    model, mcfg, _ = load_checkpoint(ckpt, "cpu")
    ds = open_for(cfg, cfg.eval_on)
    return cfg, infer_rows(model, mcfg, ds, test_rows(ds, n), "cpu")
