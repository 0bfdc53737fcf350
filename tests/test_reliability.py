"""Nothing lost, nothing silent: SIGKILL at random moments, damaged checkpoints and datasets, pickled payloads,
interrupted conversions. Smoke scale. Subprocesses run with one thread (OMP_NUM_THREADS=1): on the shared 2-core
machine two torch threads fighting other processes were 20x slower."""
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import weakpose
from weakpose import checkpoints
from weakpose.config import FORMULATIONS, make_config, parse_overrides
from weakpose.data import format as fmt
from weakpose.data import verify
from weakpose.data.format import CanonicalDataset, DamagedDatasetError, DatasetWriter, Record
from weakpose.data.loaders import Images2D
from weakpose.trainer import CKPT_KEYS, Run

REPO = Path(weakpose.__file__).resolve().parents[1]
# 2D pre-training, pseudo-labels and multi-view batches all in play; a checkpoint (every 5) falls between two log
# steps (every 4), the case in which the device buffer used to be lost.
OVERRIDES = ["sup2d=M", "mv=H", "iterations=9", "pretrain_iterations=3", "ckpt_every=5", "log_every=4",
             "keep_checkpoints=3", "eval_max_samples=8"]
TOTAL = 12


def _env(data_root) -> dict:
    """Subprocess environment (they also run with cwd=REPO: ``python -m`` puts the cwd first on sys.path)."""
    return {**os.environ, "PYTHONPATH": str(REPO), "WEAKPOSE_DATA": str(data_root), "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def _train_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "weakpose.trainer", "--profile", "smoke", "--out", str(out), *extra,
            "--set", *OVERRIDES]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    """True once ``path`` exists while ``proc`` runs; False if ``proc`` ended first."""
    t0 = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            return False
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)
    return True


@pytest.fixture(scope="module")
def reference(data_root, tmp_path_factory):
    """An uninterrupted CLI run; also measures how long its training part takes (config.json -> exit)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    with open(out.parent / "log.txt", "w") as log:
        p = subprocess.Popen(_train_cmd(out), env=_env(data_root), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        assert _wait_for(out / "config.json", p)
        t0 = time.monotonic()
        assert p.wait(timeout=300) == 0, (out.parent / "log.txt").read_text()[-3000:]
    return out, time.monotonic() - t0


def _history(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    i = rows[0].index("images_per_s")
    return [r[:i] + r[i + 1:] for r in rows]


def _assert_same_run(a: Path, b: Path) -> None:
    """Bit-identical parameters and optimizer state, metrics.json and history.csv (images_per_s aside)."""
    sa = checkpoints.read_checkpoint(a / "checkpoints" / "last.pt", required=CKPT_KEYS)
    sb = checkpoints.read_checkpoint(b / "checkpoints" / "last.pt", required=CKPT_KEYS)
    assert sa["step"] == sb["step"] == TOTAL
    assert sa["model"].keys() == sb["model"].keys()
    for name in sa["model"]:
        assert torch.equal(sa["model"][name], sb["model"][name]), name
    for (ka, va), (kb, vb) in zip(sa["optimizer"]["state"].items(), sb["optimizer"]["state"].items()):
        assert ka == kb and all(torch.equal(va[k], vb[k]) for k in va), ka
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    ha, hb = _history(a / "history.csv"), _history(b / "history.csv")
    assert [int(r[0]) for r in ha[1:]] == list(range(TOTAL))  # every step, once
    assert ha == hb


# ----------------------------------------------------------------------------------------------- trainer
def test_sigkill_at_random_moments_then_resume_is_bit_identical(data_root, reference, tmp_path):
    ref, train_s = reference
    rng = random.Random(13)
    out, log_path = tmp_path / "run", tmp_path / "log.txt"
    kills_mid_run, finished = 0, False
    for _ in range(6):  # until three kills landed mid-run (or the run finished first)
        with open(log_path, "a") as log:
            p = subprocess.Popen(_train_cmd(out), env=_env(data_root), cwd=REPO, stdout=log,
                                 stderr=subprocess.STDOUT)
            if not _wait_for(out / "config.json", p):
                finished = p.returncode == 0
                break
            time.sleep(rng.uniform(0.05, 0.5) * train_s)
            if p.poll() is None:
                p.kill()  # SIGKILL: no handler, no cleanup
                kills_mid_run += 1
            p.wait()
        if p.returncode == 0:
            finished = True
            break
        (out / "config.json").unlink()  # so that the next start is seen
        if kills_mid_run == 3:
            break
    if not finished:
        with open(log_path, "a") as log:
            r = subprocess.run(_train_cmd(out), env=_env(data_root), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                               timeout=300)
        assert r.returncode == 0, log_path.read_text()[-3000:]
    log = log_path.read_text()
    assert kills_mid_run >= 2, log[-3000:]
    assert "resumed" in log
    print(kills_mid_run, [ln for ln in log.splitlines() if "resumed" in ln])
    _assert_same_run(ref, out)
    assert len(checkpoints.step_files(out / "checkpoints")) <= 3


def test_truncated_last_pt_falls_back_to_the_newest_readable(data_root, reference, tmp_path):
    ref, _ = reference
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    for name in ("history.csv", "config.json"):
        shutil.copy(ref / name, out / name)
    for step in (5, 10):
        shutil.copy(checkpoints.step_path(ref / "checkpoints", step), out / "checkpoints")
    # last.pt cut to half (a crashed copy), and one flipped byte inside the step-10 file (a bad disk block)
    data = checkpoints.step_path(ref / "checkpoints", 10).read_bytes()
    (out / "checkpoints" / "last.pt").write_bytes(data[:len(data) // 2])
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    checkpoints.step_path(out / "checkpoints", 10).write_bytes(bytes(bad))
    r = subprocess.run(_train_cmd(out), env=_env(data_root), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert f"checkpoint {out / 'checkpoints' / 'last.pt'} is unreadable: not a complete torch zip archive" in log
    assert f"checkpoint {checkpoints.step_path(out / 'checkpoints', 10)} is unreadable: member" in log
    assert "CRC-32" in log and f"resumed {checkpoints.step_path(out / 'checkpoints', 5)} at step 5" in log
    assert (out / "checkpoints" / "last.pt.unreadable").is_file()
    _assert_same_run(ref, out)


def test_no_readable_checkpoint_stops_unless_asked(data_root, reference, tmp_path, monkeypatch, capsys):
    from weakpose import trainer

    ref, _ = reference
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    data = (ref / "checkpoints" / "last.pt").read_bytes()
    (out / "checkpoints" / "last.pt").write_bytes(data[:1000])
    checkpoints.step_path(out / "checkpoints", 5).write_bytes(b"")
    monkeypatch.setenv("WEAKPOSE_DATA", str(data_root))
    with pytest.raises(SystemExit, match="no readable checkpoint") as e:
        trainer.main(["--profile", "smoke", "--out", str(out), "--set", *OVERRIDES])
    assert "last.pt" in str(e.value) and "step-000005.pt" in str(e.value) and "--restart-if-unreadable" in str(e.value)
    assert not (out / "history.csv").exists() and (out / "checkpoints" / "last.pt").is_file()
    cfg = make_config("smoke", **FORMULATIONS["ours"], **parse_overrides(OVERRIDES))
    run = Run(cfg, out, device=torch.device("cpu"), verbose=False)
    assert run.try_resume(restart_if_unreadable=True) is False and run.step == 0
    assert "starting again from step 0" in capsys.readouterr().out
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["last.pt.unreadable", "step-000005.pt.unreadable"]


class _Payload:
    """Unpickling this calls open(target, "w"): it creates a file, as an attacker's payload would run code."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickled_payload_is_refused_and_never_runs(data_root, reference, tmp_path, monkeypatch):
    from weakpose.model import load_checkpoint

    ref, _ = reference
    state = checkpoints.read_checkpoint(ref / "checkpoints" / "last.pt")
    marker = tmp_path / "payload-ran"
    state["rng"]["extra"] = _Payload(marker)
    evil = tmp_path / "run" / "checkpoints" / "last.pt"
    evil.parent.mkdir(parents=True)
    torch.save(state, evil)
    torch.load(evil, weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.is_file()
    marker.unlink()
    with pytest.raises(checkpoints.UnreadableCheckpoint, match="pickled Python object") as e:
        load_checkpoint(evil)
    assert str(evil) in str(e.value)
    assert not marker.exists()
    monkeypatch.setenv("WEAKPOSE_DATA", str(data_root))
    run = Run(make_config("smoke", **FORMULATIONS["ours"], **parse_overrides(OVERRIDES)), evil.parents[1],
              device=torch.device("cpu"))
    with pytest.raises(checkpoints.NoReadableCheckpoint, match="last.pt") as e:
        run.fit()  # the same config as the checkpoint's: only the payload makes it unreadable
    assert "pickled Python object" in str(e.value) and run.step == 0
    assert not marker.exists()


def test_keep_checkpoints_and_data_root_change_neither_run_ids_nor_resumability(data_root, reference, tmp_path,
                                                                                monkeypatch):
    """Runtime fields: how many checkpoints are kept and where the data lives (``data_root`` set explicitly or
    through $WEAKPOSE_DATA) are not what a run computes, so a row keeps its id and resumes across them."""
    assert make_config("smoke", keep_checkpoints=7).run_id() == make_config("smoke").run_id()
    assert make_config("smoke", data_root=str(data_root)).run_id() == make_config("smoke").run_id()
    ref, _ = reference
    shutil.copytree(ref / "checkpoints", tmp_path / "run" / "checkpoints")
    monkeypatch.setenv("WEAKPOSE_DATA", str(data_root))
    cfg = make_config("smoke", **FORMULATIONS["ours"], **parse_overrides(OVERRIDES + ["keep_checkpoints=1"]))
    run = Run(cfg, tmp_path / "run", device=torch.device("cpu"), verbose=False)
    assert run.try_resume() and run.step == TOTAL
    monkeypatch.delenv("WEAKPOSE_DATA")
    cfg = make_config("smoke", **FORMULATIONS["ours"], **parse_overrides(OVERRIDES + [f"data_root={data_root}"]))
    run = Run(cfg, tmp_path / "run", device=torch.device("cpu"), verbose=False)
    assert run.try_resume() and run.step == TOTAL


def test_checkpoint_written_before_rng_tensors_still_loads(reference, tmp_path):
    """Old checkpoints held np.random.get_state() (a uint32 array): allowed, as a plain array, and restored."""
    ref, _ = reference
    state = checkpoints.read_checkpoint(ref / "checkpoints" / "last.pt", required=CKPT_KEYS)
    np.random.seed(5)
    state["rng"] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": None}
    expected = np.random.rand(3)
    old = tmp_path / "old.pt"
    torch.save(state, old)
    np.random.seed(0)
    checkpoints.set_rng_state(checkpoints.read_checkpoint(old, required=CKPT_KEYS)["rng"])
    assert np.array_equal(np.random.rand(3), expected)


def test_history_truncation_drops_rows_a_kill_left_half_written(tmp_path):
    from weakpose.history import truncate_history

    path = tmp_path / "history.csv"
    rows = "".join(f"{s},main,0.0005,1,1,0,0,0,9.5\n" for s in range(12))
    path.write_text("step,stage,lr,total,heatmap,depth,mc,limb,images_per_s\n" + rows + "1")  # row 12, cut short
    truncate_history(path, 10)
    assert [r[0] for r in _history(path)[1:]] == [str(s) for s in range(10)]
    assert not (tmp_path / "history.csv.tmp").exists()


def test_write_checkpoint_keeps_the_newest_and_verifies_before_deleting(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    for step in (3, 6, 9):
        checkpoints.write_checkpoint({"config": {}, "model": {"w": torch.full((2,), float(step))}}, folder, step, 2)
    assert [s for s, _ in checkpoints.step_files(folder)] == [9, 6]
    assert checkpoints.read_checkpoint(folder / "last.pt")["model"]["w"][0] == 9
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f: (real_save(obj, f), Path(f).write_bytes(b"PK\x03\x04junk")))
    with pytest.raises(checkpoints.UnreadableCheckpoint, match="step-000012.pt.tmp"):
        checkpoints.write_checkpoint({"config": {}, "model": {}}, folder, 12, 2)
    assert [s for s, _ in checkpoints.step_files(folder)] == [9, 6]  # nothing older was deleted
    assert checkpoints.read_checkpoint(folder / "last.pt")["model"]["w"][0] == 9


def test_checkpoints_are_plain_tensors_and_types(reference):
    ref, _ = reference
    names = sorted(p.name for p in (ref / "checkpoints").iterdir())
    assert names == ["last.pt", "step-000005.pt", "step-000010.pt", "step-000012.pt"]
    state = checkpoints.read_checkpoint(ref / "checkpoints" / "last.pt", required=CKPT_KEYS)
    assert state["rng"]["numpy_keys"].dtype == torch.int64 and isinstance(state["rng"]["python"], list)


# ----------------------------------------------------------------------------------------------- datasets
def _write_dataset(path: Path, n: int = 12, crop: int = 32) -> Path:
    rng = np.random.default_rng(0)
    K = np.array([[40.0, 0, 15.5], [0, 40.0, 15.5], [0, 0, 1]])
    with DatasetWriter(path, "test-set", "real", crop) as w:
        for i in range(n):
            img = cv2.GaussianBlur(rng.integers(0, 255, (crop, crop, 3), dtype=np.uint8), (5, 5), 0)
            w.add(Record(image=img, K=K, split="train", frame=i, joints2d=rng.uniform(0, crop, (17, 2))))
    return path


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x55]))


def test_flipped_shard_byte_is_found_by_verify_and_named_by_the_loader(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fmt, "SHARD_BYTES", 4000)  # several shards
    path = _write_dataset(tmp_path / "ds")
    ds = CanonicalDataset(path)
    assert ds.meta["num_shards"] > 1 and ds.meta["checksums"]["algorithm"] == "crc32"
    assert verify.main([str(path)]) == 0
    r = len(ds) - 2
    shard, off, nb = int(ds.image_shard[r]), int(ds.image_offset[r]), int(ds.image_nbytes[r])
    assert shard > 0
    _flip(path / "images" / f"shard_{shard:05d}.bin", off + nb // 2)
    capsys.readouterr()
    assert verify.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f"row {r}: images/shard_{shard:05d}.bin offset {off} ({nb} bytes): CRC-32" in out and "DAMAGED" in out
    assert verify.verify(path).bad_rows == [r]
    item = Images2D(CanonicalDataset(path), "train")
    with pytest.raises(DamagedDatasetError) as e:
        item[r]
    msg = str(e.value)
    assert str(path) in msg and f"row {r}" in msg and f"shard_{shard:05d}.bin offset {off}" in msg
    assert "python -m weakpose.data.verify" in msg


def test_flipped_index_byte_is_refused_at_open(tmp_path):
    path = _write_dataset(tmp_path / "ds")
    f = path / "index" / "joints2d.npy"
    _flip(f, f.stat().st_size - 7)
    with pytest.raises(DamagedDatasetError, match="joints2d.npy") as e:
        CanonicalDataset(path)
    assert str(f) in str(e.value) and "checksums.index" in str(e.value)
    rep = verify.verify(path)
    assert not rep.ok and any("joints2d.npy" in p for p in rep.problems)


def test_dataset_without_checksums_opens_only_when_allowed_and_decode_failures_are_named(tmp_path, capsys):
    path = _write_dataset(tmp_path / "ds")
    meta = json.loads((path / "meta.json").read_text())
    del meta["checksums"]  # as written before checksums were recorded
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(fmt.UnverifiedDatasetError, match="--allow-unverified-data"):
        CanonicalDataset(path)
    ds = CanonicalDataset(path, allow_unverified=True)
    assert "written without checksums" in capsys.readouterr().out
    assert verify.main([str(path)]) == 2 and "UNVERIFIED" in capsys.readouterr().out
    r, off = 3, int(ds.image_offset[3])
    with open(path / "images" / "shard_00000.bin", "r+b") as f:
        f.seek(off)
        f.write(b"\0\0\0\0")  # no JPEG start marker any more
    with pytest.raises(DamagedDatasetError, match="could not decode JPEG data") as e:
        CanonicalDataset(path, allow_unverified=True).image(r)
    assert f"row {r} of {path}: images/shard_00000.bin offset {off}" in str(e.value)
    assert verify.verify(path).bad_rows == [r]


# ----------------------------------------------------------------------------------------------- interrupted writers
def _kill_once_partial(cmd: list[str], out: Path, env: dict, rng: random.Random) -> int:
    """Start ``cmd`` (which writes the dataset ``out``) and SIGKILL it a random moment after ``out.partial``
    appears, before it renamed it into place; returns its pid. A run that got to the rename first (its dataset
    must then be complete) is deleted and retried with shorter delays."""
    partial = out.with_name(out.name + ".partial")
    for attempt in range(5):
        p = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_for(partial, p):
            time.sleep(rng.uniform(0.0, 0.2) * 0.3 ** attempt)
            p.kill()
        p.wait()
        if not out.exists():
            return p.pid
        assert len(CanonicalDataset(out)) > 0  # what is at the final name is finished
        shutil.rmtree(out)
    raise AssertionError(f"{cmd} always finished before it could be interrupted")


def test_killed_mpii_conversion_leaves_nothing_finished_and_reruns(tmp_path):
    root = tmp_path / "mpii"
    (root / "annot").mkdir(parents=True)
    (root / "images").mkdir()
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
    cv2.imwrite(str(root / "images" / "000000001.jpg"), image)
    entry = {"image": "000000001.jpg", "center": [160.0, 120.0], "scale": 0.8, "joints_vis": [1] * 16,
             "joints": [[120.0 + 5 * j, 80.0 + 4 * j] for j in range(16)]}
    n = 2000
    (root / "annot" / "train.json").write_text(json.dumps([entry] * n))
    (root / "annot" / "valid.json").write_text(json.dumps([entry]))
    out = tmp_path / "converted"
    cmd = [sys.executable, "-m", "weakpose.data.real.prepare", "mpii", "--root", str(root), "--out", str(out),
           "--crop-size", "64"]
    env = _env(tmp_path)
    _kill_once_partial(cmd, out, env, random.Random(6))
    assert not out.exists()
    with pytest.raises(FileNotFoundError):
        CanonicalDataset(out)
    subprocess.run(cmd, env=env, cwd=REPO, check=True, capture_output=True, timeout=120)  # no cleanup, no --overwrite
    assert len(CanonicalDataset(out)) == n + 1 and not out.with_name(out.name + ".partial").exists()
    assert verify.verify(out).ok


def test_killed_twin_generation_leaves_nothing_finished_and_a_stale_lock_does_not_block(tmp_path):
    from weakpose.data.synth.twins import twin_dir

    path = twin_dir("H", "tiny", tmp_path)
    code = f"from weakpose.data.synth.twins import ensure_twin; ensure_twin('H', 'tiny', root={str(tmp_path)!r})"
    cmd = [sys.executable, "-c", code]
    env = _env(tmp_path)
    pid = _kill_once_partial(cmd, path, env, random.Random(7))
    lock = path.with_name(path.name + ".lock")
    assert lock.read_text().strip() == f"pid {pid}"  # the killed process held the lock when it died
    assert not (path / "COMPLETE").exists()
    with pytest.raises(FileNotFoundError):
        CanonicalDataset(path)
    r = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "waiting for" not in r.stdout
    assert (path / "COMPLETE").is_file() and not path.with_name(path.name + ".partial").exists()
    assert verify.verify(path).ok
