"""Bad and hostile inputs, table-driven: each gives a clear error naming the file or key, or a correct result; no
data file runs code, no command deletes a folder it did not write, no bad input gives a silent wrong answer.
Smoke scale: one tiny training run (module fixture, ~10 s) serves every probe that needs a checkpoint."""
import dataclasses
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from weakpose import checkpoints, predict
from weakpose.config import make_config, parse_overrides, read_config_file
from weakpose.data import verify
from weakpose.data.checksums import ALLOW_UNVERIFIED_ENV
from weakpose.data.format import CanonicalDataset, DamagedDatasetError, DatasetWriter, Record
from weakpose.data.real import h36m, prepare, safe_npy
from weakpose.history import truncate_history
from weakpose.runlock import RunLock, RunLocked
from weakpose.checkpoints import ConfigMismatch
from weakpose.trainer import Run
from weakpose.trainer import main as train_main

from helpers import mpii_root

SMOKE = dict(sup2d="M", mv="H", iterations=4, pretrain_iterations=2, ckpt_every=2, log_every=2, eval_max_samples=8)


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    """A finished smoke run (step files 2, 4, 6 and last.pt)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    mp = pytest.MonkeyPatch()
    mp.setenv("WEAKPOSE_DATA", str(data_root))
    try:
        Run(make_config("smoke", **SMOKE), out, device=torch.device("cpu"), verbose=False).fit()
    finally:
        mp.undo()
    return out


@pytest.fixture
def run_copy(trained, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKPOSE_DATA", str(data_root))
    dst = tmp_path / "run"
    shutil.copytree(trained, dst)
    return dst


def _dataset(path: Path, n: int = 6, crop: int = 32) -> Path:
    rng = np.random.default_rng(0)
    K = np.array([[40.0, 0, 15.5], [0, 40.0, 15.5], [0, 0, 1]])
    with DatasetWriter(path, "probe-set", "real", crop) as w:
        for i in range(n):
            w.add(Record(image=rng.integers(0, 255, (crop, crop, 3), dtype=np.uint8), K=K, split="train", frame=i))
    return path


# ----------------------------------------------------------------------------------------------- 1. code in data files
class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_labels(path: Path, marker: Path) -> Path:
    np.save(path, np.array({"subject_names": ["S1"], "x": _Payload(marker)}, dtype=object), allow_pickle=True)
    return path


def _evil_vp(path: Path, marker: Path) -> Path:
    np.savez(path, positions_3d=np.array({"S1": {"Walking": _Payload(marker)}}, dtype=object))
    return path


@pytest.mark.parametrize("make, load", [(_evil_labels, h36m.load_labels), (_evil_vp, h36m.load_vp_positions)],
                         ids=["labels_npy", "vp_npz"])
def test_h36m_label_files_never_run_code(make, load, tmp_path):
    marker = tmp_path / "payload-ran"
    path = make(tmp_path / ("evil.npz" if load is h36m.load_vp_positions else "evil.npy"), marker)
    with pytest.raises(safe_npy.RefusedPickle, match=r"system.*could run code") as e:
        load(path)
    assert str(path) in str(e.value) and not marker.exists()


def test_safe_npy_reads_the_object_arrays_the_label_formats_hold(tmp_path):
    d = {"names": ["S1", "S5"], "cams": np.zeros((1, 4), [("R", "f4", (3, 3)), ("t", "f4", (3, 1))]),
         "table": np.zeros(3, [("i", "i2"), ("k", "f4", (17, 3))]), "n": np.float32(2.5), "t": (1, 2.0, None, True)}
    np.save(tmp_path / "ok.npy", np.array(d, dtype=object), allow_pickle=True)
    got = safe_npy.load_npy(tmp_path / "ok.npy").item()
    assert got["names"] == ["S1", "S5"] and got["cams"].dtype == d["cams"].dtype and got["n"] == np.float32(2.5)
    assert got["table"].shape == (3,) and got["t"] == (1, 2.0, None, True)
    np.save(tmp_path / "plain.npy", np.arange(4.0))
    assert safe_npy.load_npy(tmp_path / "plain.npy").tolist() == [0.0, 1.0, 2.0, 3.0]


# ----------------------------------------------------------------------------------------------- 2. --overwrite
def _out_is_root(tmp):
    return tmp / "mpii", "not a weakpose dataset"


def _out_is_file(tmp):
    (tmp / "f").write_text("x")
    return tmp / "f", "is a file"


def _out_is_other_folder(tmp):
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("x")
    return tmp / "mine", "not a weakpose dataset"


def _partial_is_other_folder(tmp):
    (tmp / "ds.partial").mkdir()
    (tmp / "ds.partial" / "thesis.tex").write_text("x")
    return tmp / "ds", "not a weakpose dataset"


def _out_is_empty(tmp):
    (tmp / "empty").mkdir()
    return tmp / "empty", None


def _out_is_dataset(tmp):
    return _dataset(tmp / "old"), None


@pytest.mark.parametrize("case", [_out_is_root, _out_is_file, _out_is_other_folder, _partial_is_other_folder,
                                  _out_is_empty, _out_is_dataset], ids=lambda f: f.__name__[1:])
def test_overwrite_replaces_only_a_dataset_or_an_empty_folder(case, tmp_path):
    root = mpii_root(tmp_path / "mpii")
    out, refusal = case(tmp_path)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    argv = ["mpii", "--root", str(root), "--files", "train", "--out", str(out), "--crop-size", "32", "--overwrite"]
    if refusal is None:
        assert len(CanonicalDataset(prepare.main(argv, converters=("mpii",)))) == 1
        return
    with pytest.raises(FileExistsError, match=refusal) as e:
        prepare.main(argv, converters=("mpii",))
    assert str(out) in str(e.value)
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert after == before  # nothing deleted, nothing left behind
    assert (root / "unrelated.txt").read_text() == "keep me"


def test_prepare_cli_refusal_is_one_line(tmp_path, capsys):
    root = mpii_root(tmp_path / "mpii")
    with pytest.raises(SystemExit) as e:
        prepare.cli(["mpii", "--root", str(root), "--files", "train", "--out", str(root), "--overwrite"])
    assert str(e.value.code).startswith("weakpose-prepare: ") and "\n" not in str(e.value.code)
    assert (root / "annot" / "train.json").is_file() and (root / "images" / "000000007.jpg").is_file()


# ----------------------------------------------------------------------------------------------- 3. two trainers
def test_second_trainer_on_a_run_folder_stops_at_once_naming_the_holder(run_copy):
    tmp = run_copy / "checkpoints" / "step-000099.pt.tmp"
    tmp.write_bytes(b"being written by the holder")
    with RunLock(run_copy):
        run = Run(make_config("smoke", **SMOKE), run_copy, device=torch.device("cpu"), verbose=False)
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            run.fit()
        assert tmp.is_file()  # the holder's temporary file is untouched
    with pytest.raises(SystemExit, match="in use by another trainer"), RunLock(run_copy):
        train_main(["--profile", "smoke", "--out", str(run_copy), "--set", *[f"{k}={v}" for k, v in SMOKE.items()]])
    RunLock(run_copy).acquire().release()  # released: the next trainer gets it


def test_history_with_repeated_steps_is_repaired_on_resume(tmp_path):
    h = tmp_path / "history.csv"
    h.write_text("step,x\n0,a\n1,a\n0,b\n1,b\n2,b\n2,a\n3,a\n")
    truncate_history(h, 3)
    assert h.read_text().split() == ["step,x", "0,b", "1,b", "2,a"]


# ----------------------------------------------------------------------------------------------- 4. config mistakes
@pytest.mark.parametrize("item, match", [
    ("bf16=flase", r"bf16='flase': expected a boolean"),
    ("channels_last=ture", r"channels_last='ture': expected a boolean"),
    ("batch_2d=0", r"batch_2d must be >= 1"),
    ("log_every=0", r"log_every must be >= 1"),
    ("ckpt_every=-1", r"ckpt_every must be >= 1"),
    ("iterations=abc", r"iterations='abc': expected an integer"),
    ("lr=nan", r"lr='nan': expected a finite number"),
    ("views", r"expected KEY=VALUE"),
    ("nope=1", r"unknown config key 'nope'"),
])
def test_bad_overrides_name_the_key(item, match):
    with pytest.raises(ValueError, match=match):
        make_config("smoke", **parse_overrides([item]))
    with pytest.raises(SystemExit, match=match):
        train_main(["--profile", "smoke", "--out", "unused", "--set", item])


@pytest.mark.parametrize("word, value", [("true", True), ("Yes", True), ("1", True), ("false", False), ("NO", False),
                                         ("0", False)])
def test_booleans_from_the_six_words(word, value):
    assert parse_overrides([f"bf16={word}"]) == {"bf16": value}


def _config_dict() -> dict:
    return json.loads(json.dumps(dataclasses.asdict(make_config("smoke"))))


@pytest.mark.parametrize("text, match", [
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "iterations"}), r"missing config fields \['iterations'\]"),
    (lambda d: json.dumps(d)[:50], "not valid JSON"),
    (lambda d: json.dumps({**d, "bf16": "false"}), "bf16 must be true or false"),
    (lambda d: json.dumps({**d, "batch_2d": 0}), "batch_2d must be >= 1"),
    (lambda d: json.dumps([1, 2]), "expected a JSON object"),
], ids=["no_iterations", "truncated", "string_bool", "zero_batch", "list"])
def test_bad_config_files_name_the_file(text, match, tmp_path):
    f = tmp_path / "config.json"
    f.write_text(text(_config_dict()))
    with pytest.raises(ValueError, match=match) as e:
        read_config_file(f)
    assert str(f) in str(e.value)
    with pytest.raises(SystemExit, match=match):
        train_main(["--config", str(f), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_config_file_without_a_field_is_refused_naming_it(tmp_path):
    d = _config_dict()
    del d["foreshortening_bones"]
    (tmp_path / "c.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="foreshortening_bones"):
        read_config_file(tmp_path / "c.json")
    d["foreshortening_bones"] = "all"
    (tmp_path / "c.json").write_text(json.dumps(d))
    assert read_config_file(tmp_path / "c.json") == make_config("smoke")


# ----------------------------------------------------------------------------------------------- 5. predict
@pytest.fixture(scope="module")
def ckpt(trained):
    return trained / "checkpoints" / "last.pt"


def _png(path: Path, w: int = 128, h: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 90, np.uint8))
    return path


def test_predict_box_outside_the_image_is_flagged(ckpt, tmp_path):
    img = _png(tmp_path / "img.png")
    boxes = tmp_path / "b.json"
    boxes.write_text(json.dumps({"img.png": [[5000, 5000, 5100, 5200], [10, 10, 100, 120]]}))
    people = predict.predict(ckpt, [img], boxes=boxes, bones="canonical")["frames"][0]["people"]
    assert people[0]["valid"] is False and "outside" in people[0]["reason"]
    assert people[1]["reason"] == "" or people[1]["valid"] is False
    code = predict.main(["--checkpoint", str(ckpt), "--images", str(img), "--boxes", str(boxes), "--bones",
                         "canonical", "--no-html", "--out", str(tmp_path / "o")])
    doc = json.loads((tmp_path / "o" / "poses.json").read_text())
    assert code == 0 and doc["frames"][0]["people"][0]["valid"] is False and doc["frames"][0]["people"][0]["reason"]


@pytest.mark.parametrize("content, match", [
    ('{"img.png": [[0, 0, 1e300, 1e300]]}', "not a pixel coordinate"),
    ('{"img.png": [[0, 0, "a", 5]]}', "field x1 must be a number"),
], ids=["huge_box", "string_box"])
def test_predict_refuses_absurd_boxes(content, match, ckpt, tmp_path):
    img = _png(tmp_path / "img.png")
    (tmp_path / "b.json").write_text(content)
    with pytest.raises(SystemExit, match=match):
        predict.main(["--checkpoint", str(ckpt), "--images", str(img), "--boxes", str(tmp_path / "b.json"),
                      "--out", str(tmp_path / "o")])


@pytest.mark.parametrize("name, write, match", [
    ("K.json", lambda p: p.write_text("[[-500, 0, 64], [0, 500, 64], [0, 0, 1]]"), "focal lengths must be > 0"),
    ("K.json", lambda p: p.write_text('"abc"'), "expected numbers"),
    ("K.json", lambda p: p.write_text('[[500, 0'), "not valid JSON"),
    ("K.npy", lambda p: np.save(p, np.array(["a", 1], dtype=object), allow_pickle=True), "numeric .npy"),
    ("K.npy", lambda p: np.save(p, np.array("abc")), "expected numbers|expected one"),
], ids=["negative_focal", "string_json", "truncated_json", "object_npy", "string_npy"])
def test_predict_refuses_bad_intrinsics(name, write, match, ckpt, tmp_path):
    img = _png(tmp_path / "img.png")
    write(tmp_path / name)
    with pytest.raises(SystemExit, match=match) as e:
        predict.main(["--checkpoint", str(ckpt), "--images", str(img), "--intrinsics", str(tmp_path / name),
                      "--out", str(tmp_path / "o")])
    assert name in str(e.value.code)


def test_predict_boxes_matching_no_image_exit_non_zero(ckpt, tmp_path, capsys):
    img = _png(tmp_path / "img.png")
    (tmp_path / "b.csv").write_text("image,x0,y0,x1,y1\nother.png,1,2,30,40\n")
    code = predict.main(["--checkpoint", str(ckpt), "--images", str(img), "--boxes", str(tmp_path / "b.csv"),
                         "--bones", "canonical", "--no-html", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 1 and "other.png" in out and "no boxes entry matches 1 of the input images" in out


def test_predict_keeps_same_named_images_apart(ckpt, tmp_path):
    a, b = _png(tmp_path / "a" / "img.png"), _png(tmp_path / "b" / "img.png", 96, 64)
    res = predict.predict(ckpt, [a, b], bones="canonical")
    paths = predict.write_outputs(res, tmp_path / "o", html=False)
    assert len(set(paths["overlays"])) == 2 and all(p.is_file() for p in paths["overlays"])
    (tmp_path / "b.csv").write_text("image,x0,y0,x1,y1\nimg.png,1,2,30,40\n")
    with pytest.raises(ValueError, match="matches 2 images"):
        predict.predict(ckpt, [a, b], boxes=tmp_path / "b.csv", bones="canonical")
    (tmp_path / "b.csv").write_text(f"image,x0,y0,x1,y1\n{a},1,2,30,40\n{b},3,4,50,60\n")
    res = predict.predict(ckpt, [a, b], boxes=tmp_path / "b.csv", bones="canonical")
    assert [it["people"][0]["box"][0] for it in res["frames"]] == [1.0, 3.0]


def test_predict_caps_the_image_size_before_decoding(tmp_path, monkeypatch):
    img = _png(tmp_path / "img.png", 300, 200)
    monkeypatch.setattr(predict, "read_image", lambda p: pytest.fail("decoded before the size check"))
    with pytest.raises(ValueError, match=r"img.png: 300 x 200 px .* above"):
        predict.read_images([img], max_pixels=10_000)


# ----------------------------------------------------------------------------------------------- 6. damage detection
def _strip_checksums(path: Path) -> None:
    meta = json.loads((path / "meta.json").read_text())
    del meta["checksums"]
    (path / "meta.json").write_text(json.dumps(meta))


def test_dataset_without_checksums_is_unverified_and_refused_by_training(data_root, tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    h = root / "synthetic" / "H-tiny-seed0"
    _strip_checksums(h)
    with open(h / "images" / "shard_00000.bin", "r+b") as f:  # and a flipped byte it can no longer detect
        f.seek(600)
        b = f.read(1)
        f.seek(600)
        f.write(bytes([b[0] ^ 0x01]))
    assert verify.main([str(h)]) == 2
    assert "UNVERIFIED" in capsys.readouterr().out
    monkeypatch.setenv("WEAKPOSE_DATA", str(root))
    monkeypatch.delenv(ALLOW_UNVERIFIED_ENV, raising=False)
    with pytest.raises(SystemExit, match="unverified.*--allow-unverified-data"):
        train_main(["--profile", "smoke", "--out", str(tmp_path / "run"), "--set", "sup2d=M", "mv=H"])
    monkeypatch.setenv(ALLOW_UNVERIFIED_ENV, "1")  # what --allow-unverified-data sets
    assert len(CanonicalDataset(h)) > 0


def test_checksum_table_missing_an_index_file_is_damage(tmp_path):
    path = _dataset(tmp_path / "ds")
    meta = json.loads((path / "meta.json").read_text())
    del meta["checksums"]["index"]["image_crc32.npy"]
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DamagedDatasetError, match="image_crc32.npy"):
        CanonicalDataset(path)


@pytest.mark.parametrize("make, word", [(lambda t: t / "nope", "no such file"),
                                        (lambda t: (t / "f").write_text("x") and t / "f", "a file"),
                                        (lambda t: t, "no meta.json")], ids=["missing", "file", "no_meta"])
def test_verify_of_something_that_is_not_a_dataset(make, word, tmp_path, capsys):
    assert verify.main([str(make(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert "NOT A DATASET" in out and word in out and "delete" not in out


# ----------------------------------------------------------------------------------------------- 7. last.pt after a fallback
@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_last_pt_is_restored_after_a_fallback_on_a_finished_run(damage, run_copy):
    last = run_copy / "checkpoints" / "last.pt"
    if damage == "truncated":
        last.write_bytes(last.read_bytes()[:1000])
    else:
        last.unlink()
    Run(make_config("smoke", **SMOKE), run_copy, device=torch.device("cpu"), verbose=False).fit()
    state = checkpoints.read_checkpoint(last)
    assert state["step"] == 6
    assert (run_copy / "checkpoints" / "last.pt.unreadable").is_file() == (damage == "truncated")
    from weakpose.model import load_checkpoint
    assert load_checkpoint(last)[1] == make_config("smoke", **SMOKE)


# ----------------------------------------------------------------------------------------------- 8. named errors
def test_disk_full_during_a_checkpoint_names_the_file_and_keeps_the_old_ones(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    checkpoints.write_checkpoint({"config": {}, "model": {"w": torch.ones(2)}}, folder, 3, 2)

    def full(obj, f):
        Path(f).write_bytes(b"PK\x03\x04")
        raise RuntimeError("[enforce fail at inline_container.cc:671] . unexpected pos 64 vs 0")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(checkpoints.CheckpointWriteError, match=r"step-000006.pt.tmp.*disk may be full"):
        checkpoints.write_checkpoint({"config": {}, "model": {}}, folder, 6, 2)
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "step-000003.pt"]


def test_out_that_is_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SystemExit, match="is a file"):
        train_main(["--profile", "smoke", "--out", str(tmp_path / "f")])


def test_checkpoint_of_another_configuration_names_the_fields(run_copy):
    run = Run(make_config("smoke", **{**SMOKE, "lr": 1e-3}), run_copy, device=torch.device("cpu"), verbose=False)
    with pytest.raises(ConfigMismatch, match=r"last.pt was written by a different configuration.*'lr'"):
        run.fit()


def test_truncated_meta_json_names_the_file(tmp_path):
    path = _dataset(tmp_path / "ds")
    (path / "meta.json").write_text((path / "meta.json").read_text()[:40])
    with pytest.raises(DamagedDatasetError, match=r"meta.json: unreadable"):
        CanonicalDataset(path)


def test_mpii_scale_that_is_not_a_number(tmp_path):
    root = mpii_root(tmp_path / "mpii")
    entry = json.loads((root / "annot" / "train.json").read_text())[0]
    (root / "annot" / "train.json").write_text(json.dumps([{**entry, "scale": "big"}]))
    with pytest.raises(SystemExit, match=r"train.json entry 0: scale expected a number"):
        prepare.cli(["mpii", "--root", str(root), "--files", "train", "--out", str(tmp_path / "o")])


def test_converter_on_an_empty_folder_is_one_line(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(SystemExit, match=r"^weakpose-prepare: .*not found"):
        prepare.cli(["mpii", "--root", str(tmp_path / "e"), "--out", str(tmp_path / "o")])


def test_checkpoint_whose_weights_and_config_disagree(ckpt, tmp_path):
    from weakpose.model import load_checkpoint

    state = checkpoints.read_checkpoint(ckpt)
    state["config"]["head_channels"] = 48
    torch.save(state, tmp_path / "x.pt")
    with pytest.raises(checkpoints.UnreadableCheckpoint, match=r"x.pt .*weights do not fit"):
        load_checkpoint(tmp_path / "x.pt")


def test_pickled_checkpoint_is_refused_because_it_carries_code(ckpt, tmp_path):
    state = checkpoints.read_checkpoint(ckpt)
    state["extra"] = _Payload(tmp_path / "ran")
    torch.save(state, tmp_path / "evil.pt")
    with pytest.raises(checkpoints.UnreadableCheckpoint) as e:
        checkpoints.read_checkpoint(tmp_path / "evil.pt")
    msg = str(e.value)
    assert "carries a pickled Python object" in msg and "system" in msg and "weights_only=False" not in msg
    assert not (tmp_path / "ran").exists()
