"""MannequinChallenge camera files and tracklet writer (data-formats.md Sec. 4 and 6)."""
import json

import cv2
import numpy as np
import pytest

from weakpose.data.real import mqc
from weakpose.data.format import CanonicalDataset
from weakpose.data.real.prepare import main

CROP = 96
W, H = 320, 180
INTR = {"clipA": (0.9, 1.6, 0.48, 0.52), "clipB": (1.1, 1.95, 0.5, 0.5)}
STAMPS = {"clipA": [0, 33366, 66733, 100100], "clipB": [0, 40000, 80000]}


def w2c(k):
    a = 0.1 * k
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return np.hstack([R, [[0.1 * k], [-0.2], [1.5 + 0.01 * k]]])


def clip_text(clip):
    rows = [f"https://www.youtube.com/watch?v={clip}xyz"]
    for k, ts in enumerate(STAMPS[clip]):
        nums = [ts, *INTR[clip], 0.0, 0.0, *w2c(k).ravel()]
        rows.append(" ".join(str(int(v)) if i == 0 else f"{v:.9f}" for i, v in enumerate(nums)))
    return "\n".join(rows) + "\n"


BOXES = {"clipA": [[(0, [40, 30, 100, 150]), (33366, [45, 32, 104, 152]), (66733, [50, 30, 110, 150])],
                   [(100100, [200, 40, 260, 170]), (0, [210, 50, 250, 160])]],
         "clipB": [[(40000, [100, 20, 180, 175]), (80000, [110, 25, 185, 178])]]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("mqc")
    root, frames = base / "MannequinChallenge", base / "frames"
    for split, clip in (("train", "clipA"), ("validation", "clipB"), ("test", "clipC")):
        (root / split).mkdir(parents=True)
        if clip in STAMPS:
            (root / split / f"{clip}.txt").write_text(clip_text(clip))
    for clip, stamps in STAMPS.items():
        (frames / clip).mkdir(parents=True)
        for ts in stamps:
            img = np.full((H, W, 3), 10, np.uint8)
            for track in BOXES[clip]:
                for t, (x0, y0, x1, y1) in track:
                    if t == ts:  # a bright disc at the centre of each box in this frame
                        cv2.circle(img, (round((x0 + x1) / 2), round((y0 + y1) / 2)), 6, (255, 255, 255), -1)
            cv2.imwrite(str(frames / clip / f"{ts}.jpg"), img)
    tracklets = {clip: [[{"frame_ts": t, "box": b} for t, b in track] for track in tracks]
                 for clip, tracks in BOXES.items()}
    (base / "tracklets.json").write_text(json.dumps(tracklets))
    return base, root, frames, base / "tracklets.json"


def test_parse_clip(data):
    _, root, _, _ = data
    clip = mqc.parse_clip(root / "train" / "clipA.txt", "train")
    assert clip.clip_id == "clipA" and clip.url.startswith("https://www.youtube.com/")
    np.testing.assert_array_equal(clip.timestamps, STAMPS["clipA"])
    np.testing.assert_allclose(clip.w2c[2], w2c(2), atol=1e-8)
    K = clip.K(W, H)
    fx, fy, cx, cy = INTR["clipA"]
    np.testing.assert_allclose(K[1], [[W * fx, 0, W * cx], [0, H * fy, H * cy], [0, 0, 1]])
    assert K[0, 0, 0] == pytest.approx(288.0) and K[0, 1, 1] == pytest.approx(288.0)


def test_write_tracklets(data, tmp_path):
    _, root, frames, tracklets = data
    clips = mqc.load_clips(root)  # train + validation
    assert sorted(clips) == ["clipA", "clipB"]
    out = mqc.write_tracklets(clips, tracklets, tmp_path / "mqc", frames, crop_size=CROP)
    ds = CanonicalDataset(out)
    assert len(ds) == 7
    groups = ds.groups()
    assert [len(g) for g in groups] == [3, 2, 2]
    assert (ds.split_mask("train")).all()  # validation clips train too (paper: ~3300 train + val videos)
    assert not ds.has_2d.any() and not ds.has_3d.any() and not ds.has_extrinsics.any()
    w2c_extra = np.load(out / "extra" / "mqc_w2c.npy")
    stamps = np.load(out / "extra" / "timestamp_us.npy")
    for g, (clip, k) in zip(groups, [("clipA", 0), ("clipA", 1), ("clipB", 0)]):
        assert ds.view[g].tolist() == list(range(len(g)))
        fx, fy, cx, cy = INTR[clip]
        for i, (ts, (x0, y0, x1, y1)) in zip(g, BOXES[clip][k]):
            row = STAMPS[clip].index(ts)
            assert ds.category("sequence", i) == clip and ds.frame[i] == row and stamps[i] == ts
            assert ds.category("subject", i) == ("train" if clip == "clipA" else "validation")
            np.testing.assert_allclose(w2c_extra[i], w2c(row), atol=1e-8)
            # K_crop = A K with A the nominal box: side max(w, h) / 0.75, centre the box centre
            sc = CROP / (max(x1 - x0, y1 - y0) / 0.75 * 1.5)
            c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            A = np.array([[sc, 0, (CROP - 1) / 2 - sc * c[0]], [0, sc, (CROP - 1) / 2 - sc * c[1]], [0, 0, 1]])
            K = np.array([[W * fx, 0, W * cx], [0, H * fy, H * cy], [0, 0, 1]])
            np.testing.assert_allclose(ds.K[i], A @ K, atol=1e-9)
            m = CROP // 2
            assert ds.image(i)[m - 1:m + 1, m - 1:m + 1].mean() > 150


def test_extrinsics_as_mm(data, tmp_path):
    _, root, frames, tracklets = data
    out = mqc.write_tracklets(mqc.load_clips(root), tracklets, tmp_path / "m", frames, crop_size=CROP,
                              extrinsics_as_mm=True)
    ds = CanonicalDataset(out)
    assert ds.has_extrinsics.all()
    np.testing.assert_allclose(ds.R[0], w2c(0)[:, :3], atol=1e-8)
    np.testing.assert_allclose(ds.t[0], w2c(0)[:, 3], atol=1e-8)


def test_malformed_clip_files(tmp_path):
    good = clip_text("clipA").splitlines()
    cases = {
        "short": (good[:2] + [" ".join(good[2].split()[:18])], "line 3: expected 19 numbers, found 18"),
        "text": (good[:2] + [good[2].replace("0.900000000", "abc")], "line 3: expected 19 numbers, found '"),
        "nourl": (good[1:], "line 1: expected the video URL"),
        "empty": (good[:1], "expected at least one frame line"),
        "dup": (good + [good[1]], "timestamps must be unique"),
    }
    for name, (lines, msg) in cases.items():
        p = tmp_path / f"{name}.txt"
        p.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValueError, match=msg) as e:
            mqc.parse_clip(p)
        assert str(p) in str(e.value)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        mqc.parse_clip(tmp_path / "nope.txt")


def test_bad_tracklets(data, tmp_path):
    _, root, frames, tracklets = data
    clips = mqc.load_clips(root)
    bad = json.loads(tracklets.read_text())
    bad["clipA"][0][1]["frame_ts"] = 12345
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"bad\.json clip clipA track 0: frame_ts 12345 is not a timestamp"):
        mqc.write_tracklets(clips, p, tmp_path / "o1", frames, crop_size=CROP)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o1.partial").exists()
    p.write_text(json.dumps({"clipZ": [[{"frame_ts": 0, "box": [0, 0, 5, 5]}]]}))
    with pytest.raises(ValueError, match=r"bad\.json: clip 'clipZ' has no camera file"):
        mqc.write_tracklets(clips, p, tmp_path / "o2", frames, crop_size=CROP)
    p.write_text(json.dumps({"clipA": [[{"frame_ts": 0, "box": [10, 0, 5, 5]}]]}))
    with pytest.raises(ValueError, match=r"bad\.json clip clipA track 0: expected .*x1 > x0"):
        mqc.load_tracklets(p)


def test_missing_frame(data, tmp_path):
    _, root, frames, tracklets = data
    with pytest.raises(FileNotFoundError, match=r"clipA/0\.jpg"):
        mqc.write_tracklets(mqc.load_clips(root), tracklets, tmp_path / "o", tmp_path, crop_size=CROP)
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_cli_needs_tracklets(data, tmp_path, capsys):
    _, root, frames, tracklets = data
    with pytest.raises(SystemExit) as e:
        main(["mqc", "--root", str(root), "--out", str(tmp_path / "o")], converters=("mqc",))
    assert "--tracklets" in str(e.value.code) and "python -m weakpose.tracklets" in str(e.value.code)
    out = main(["mqc", "--root", str(root), "--frames-root", str(frames), "--tracklets", str(tracklets),
                "--out", str(tmp_path / "o"), "--crop-size", str(CROP)], converters=("mqc",))
    assert len(CanonicalDataset(out)) == 7
