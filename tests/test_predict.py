"""3D from your own images (`weakpose.predict`): on the H twin's stored test crops written as image files, with
the person's box and the stored K, it reproduces the package's own evaluation (`evaluate.evaluate`) of the same
model on the same rows; its outputs; and bad inputs fail naming the file and the field."""
import json

import cv2
import numpy as np
import pytest
import torch

from weakpose import camera, evaluate, metrics, predict, skeleton
from weakpose.config import make_config
from weakpose.data import loaders


@pytest.fixture(scope="module")
def twin_images(tmp_path_factory):
    """A smoke model (trainer checkpoint, 3 pre-training steps: its weights are not the initialisation), the H
    twin's test rows with 3D as PNG files (lossless), a boxes CSV with each person's tight box and their K (.npy)."""
    from weakpose.trainer import Run

    root = tmp_path_factory.mktemp("predict")
    cfg = make_config("smoke", data_root=str(root / "data"), device="cpu")
    run = Run(cfg, root / "run", device=torch.device("cpu"), verbose=False)
    assert run.fit(stop_after=3) is None
    run.save()
    ds = loaders.open_for(cfg, "H")
    test = loaders.Eval3D(ds, "test")
    files, boxes, K = predict.write_dataset_inputs(ds, test.rows, root / "images")
    S, margin = ds.crop_size, float(ds.meta["crop_margin"])
    side, c = camera.PERSON_FRACTION * S / margin, (S - 1) / 2.0  # the tight box: its square_box is the nominal box
    assert boxes.read_text().splitlines()[1] == f"{files[0].name},{c - side / 2},{c - side / 2},{c + side / 2},{c + side / 2}"
    assert np.array_equal(cv2.imread(str(files[0]))[..., ::-1], ds.image(int(test.rows[0])))
    return dict(root=root, cfg=cfg, ckpt=run.ckpt, ds=ds, test=test, files=files, boxes=boxes, K=K)


@pytest.mark.slow
def test_predict_reproduces_the_evaluation(twin_images):
    t = twin_images
    model, cfg, _ = predict.load_checkpoint(t["ckpt"])
    df, summary = evaluate.evaluate(model, t["test"], loaders.mean_bone_mm(cfg), "cpu", cfg.input_size)
    res = predict.predict(t["ckpt"], t["files"], boxes=t["boxes"], intrinsics=t["K"], bones="training")
    assert res["bones"].startswith("mean bone lengths") and res["intrinsics"].endswith("K.npy")
    people = [it["people"] for it in res["frames"]]
    assert all(len(p) == 1 for p in people)
    pred = torch.from_numpy(np.stack([p[0]["joints3d_mm"] for p in people]))
    gt = torch.from_numpy(np.asarray(t["ds"].joints3d[t["test"].rows], np.float64))
    mpjpe = metrics.mpjpe(pred, gt)
    assert len(mpjpe) == len(df) == summary["num_samples"]
    # the same crops up to interpolation (cv2.warpAffine vs the evaluation's grid_sample): the same model error
    # (measured: 0.05 mm apart on the mean, 1.2 mm at most per sample; the whole crop as the box: 26 mm / 90 mm)
    assert np.mean(mpjpe) == pytest.approx(summary["mpjpe"], abs=1.0)
    assert np.abs(mpjpe - df["mpjpe"].to_numpy()).max() < 3.0
    # 2D: back in frame (= stored crop) px, where the evaluation's input px map with the crop's A
    ev = evaluate.infer_rows(model, cfg, t["ds"], t["test"].rows)
    A = camera.identity_affines(len(t["files"]), t["ds"].crop_size, float(t["ds"].meta["crop_margin"]),
                                cfg.input_size, "cpu").numpy()
    ev_uv = camera.transform_points(np.linalg.inv(A), ev["uv"])
    uv = np.stack([p[0]["joints2d_px"] for p in people])
    assert np.abs(uv - ev_uv).max() < 1.0
    assert np.allclose(np.stack([p[0]["uvz_rel"][:, :2] for p in people]), uv)


@pytest.mark.slow
def test_outputs_and_defaults(twin_images, tmp_path):
    """Without boxes the whole frame is the box, without intrinsics a 60 deg pinhole; the JSON, overlays and viewer."""
    t = twin_images
    files = t["files"][:2]
    whole = tmp_path / "whole.json"
    S = t["ds"].crop_size
    whole.write_text(json.dumps({f.name: [[0, 0, S - 1, S - 1]] for f in files}))
    a = predict.predict(t["ckpt"], files, bones="canonical")
    b = predict.predict(t["ckpt"], files, boxes=whole, bones="canonical")
    for fa, fb in zip(a["frames"], b["frames"]):
        assert np.array_equal(fa["people"][0]["joints3d_mm"], fb["people"][0]["joints3d_mm"])
    K = a["frames"][0]["K"]
    assert K[0, 0] == pytest.approx((S / 2) / np.tan(np.radians(30))) and K[0, 2] == (S - 1) / 2
    assert "60 deg" in a["intrinsics"] and a["bones"].startswith("canonical")
    code = predict.main(["--checkpoint", str(t["ckpt"]), "--images", *map(str, files), "--boxes",
                         str(t["boxes"]), "--fov", "50", "--out", str(tmp_path / "out")])
    assert code == 0
    doc = json.loads((tmp_path / "out" / "poses.json").read_text())
    assert doc["joints"] == list(skeleton.JOINT_NAMES) and len(doc["frames"]) == 2
    person = doc["frames"][0]["people"][0]
    assert np.asarray(person["joints2d_px"]).shape == (skeleton.J, 2)
    assert np.asarray(person["uvz_rel"]).shape == (skeleton.J, 3) and person["uvz_rel"][0][2] == 0.0  # root
    assert np.asarray(person["joints3d_mm"]).shape == (skeleton.J, 3)
    for f in files:
        png = tmp_path / "out" / f"{f.stem}_overlay.png"
        assert png.is_file() and cv2.imread(str(png)) is not None
    assert "plotly" in (tmp_path / "out" / "viewer.html").read_text()[:5000].lower()


@pytest.mark.slow
def test_video_frames(twin_images, tmp_path):
    t = twin_images
    video = tmp_path / "clip.avi"
    S = t["ds"].crop_size
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (S, S))
    assert w.isOpened()
    for f in t["files"][:5]:
        w.write(cv2.imread(str(f)))
    w.release()
    res = predict.predict(t["ckpt"], video=video, every=2, bones="canonical")
    assert [it["frame"] for it in res["frames"]] == [0, 2, 4]
    assert all(len(it["people"]) == 1 for it in res["frames"])


def test_bad_inputs(tmp_path):
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="image file .*missing.png"):
        predict.read_images([tmp_path / "missing.png"])
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(ValueError, match="bad.png"):
        predict.read_images([tmp_path / "bad.png"])
    with pytest.raises(FileNotFoundError, match="video file"):
        predict.read_images(video=tmp_path / "none.mp4")
    bad = tmp_path / "boxes.csv"
    bad.write_text("image,x0,y0,x1\na.png,1,2,3\n")
    with pytest.raises(ValueError, match=r"boxes.csv: missing column\(s\) \['y1'\]"):
        predict.read_boxes(bad)
    bad.write_text("image,x0,y0,x1,y1\na.png,1,2,3,4\na.png,1,two,3,4\n")
    with pytest.raises(ValueError, match="boxes.csv line 3: field y0 must be a number, got 'two'"):
        predict.read_boxes(bad)
    bad.write_text("image,x0,y0,x1,y1\na.png,5,2,3,4\n")
    with pytest.raises(ValueError, match="boxes.csv line 2: needs x1 > x0"):
        predict.read_boxes(bad)
    js = tmp_path / "boxes.json"
    js.write_text('{"a.png": [[1, 2, 3]]}')
    with pytest.raises(ValueError, match="boxes.json image 'a.png' box 0: expected 4 numbers"):
        predict.read_boxes(js)
    js.write_text('[{"image": "a.png", "x0": 1, "y0": 2, "x1": 3}]')
    with pytest.raises(ValueError, match=r"boxes.json entry 0: missing field\(s\) \['y1'\]"):
        predict.read_boxes(js)
    js.write_text('{"a.png": [1, 2')
    with pytest.raises(ValueError, match="boxes.json: not valid JSON"):
        predict.read_boxes(js)
    assert predict.read_boxes(_ok(tmp_path)) == {"a.png": [[1.0, 2.0, 3.0, 4.0]]}
    items = predict.read_images([img])
    K = tmp_path / "K.json"
    K.write_text(json.dumps({"K": [[500, 0, 15], [0, 500, 10]]}))
    with pytest.raises(ValueError, match=r"K.json: expected one \(3, 3\) K .* got \(2, 3\)"):
        predict.intrinsics_of(items, str(K))
    np.save(tmp_path / "K.npy", np.eye(4))
    with pytest.raises(ValueError, match=r"K.npy: expected one \(3, 3\) K"):
        predict.intrinsics_of(items, str(tmp_path / "K.npy"))
    with pytest.raises(FileNotFoundError, match="intrinsics file .*nope.json"):
        predict.intrinsics_of(items, str(tmp_path / "nope.json"))
    with pytest.raises(ValueError, match="--fov"):
        predict.fov_intrinsics(30, 20, 180)


def _ok(tmp_path):
    p = tmp_path / "ok.csv"
    p.write_text("image,x0,y0,x1,y1\na.png,1,2,3,4\n")
    return p
