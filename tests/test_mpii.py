"""MPII converter and PCKh on fixtures in HRNet's formats (data-formats.md Sec. 3 and 6)."""
import json

import cv2
import numpy as np
import pytest
import scipy.io

from weakpose import metrics, skeleton
from weakpose.data.real import mpii
from weakpose.data.format import CanonicalDataset

CROP = 128
MARGIN = 1.5
NAMES16 = ("right_ankle right_knee right_hip left_hip left_knee left_ankle pelvis thorax upper_neck head_top "
           "right_wrist right_elbow right_shoulder left_shoulder left_elbow left_wrist").split()
# Our joint -> MPII joint name by meaning (Sec. 3); None = MPII has no such joint.
OURS_TO_MPII = {"pelvis": "pelvis", "r_hip": "right_hip", "r_knee": "right_knee", "r_ankle": "right_ankle",
                "l_hip": "left_hip", "l_knee": "left_knee", "l_ankle": "left_ankle", "spine": None,
                "thorax": "thorax", "neck_nose": None, "head_top": "head_top", "l_shoulder": "left_shoulder",
                "l_elbow": "left_elbow", "l_wrist": "left_wrist", "r_shoulder": "right_shoulder",
                "r_elbow": "right_elbow", "r_wrist": "right_wrist"}
# 1-based joint positions of a standing person around (x0, y0), all distinct.
BODY = {"right_ankle": (-20, 150), "right_knee": (-18, 100), "right_hip": (-15, 50), "left_hip": (15, 51),
        "left_knee": (17, 101), "left_ankle": (21, 152), "pelvis": (0, 50), "thorax": (1, -20),
        "upper_neck": (2, -35), "head_top": (3, -70), "right_wrist": (-45, 40), "right_elbow": (-40, 5),
        "right_shoulder": (-25, -18), "left_shoulder": (26, -19), "left_elbow": (42, 6), "left_wrist": (47, 41)}


def person(x0, y0, scale, unlabeled=()):
    joints = [[BODY[n][0] + x0, BODY[n][1] + y0] for n in NAMES16]
    vis = [0 if n in unlabeled else 1 for n in NAMES16]
    joints = [[-1.0, -1.0] if n in unlabeled else j for n, j in zip(NAMES16, joints)]
    return {"joints_vis": vis, "joints": joints, "image": None, "scale": scale, "center": [x0, y0 + 10.0]}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpii")
    (root / "annot").mkdir()
    (root / "images").mkdir()
    train = [dict(person(150.0, 200.0, 1.3), image="000000001.jpg"),
             dict(person(420.0, 180.0, 1.1, unlabeled=("left_ankle", "right_wrist")), image="000000001.jpg"),
             dict(person(300.0, 150.0, 1.5), image="000000002.jpg")]
    valid = [dict(person(250.0, 220.0, 1.2), image="000000003.jpg")]
    for entries in (train, valid):
        for e in entries:
            img_path = root / "images" / e["image"]
            img = cv2.imread(str(img_path)) if img_path.exists() else np.full((480, 640, 3), 15, np.uint8)
            ht = e["joints"][NAMES16.index("head_top")]
            cv2.circle(img, (int(ht[0] - 1), int(ht[1] - 1)), 5, (255, 255, 255), -1)  # 1-based -> 0-based
            cv2.imwrite(str(img_path), img)
    (root / "annot" / "train.json").write_text(json.dumps(train))
    (root / "annot" / "valid.json").write_text(json.dumps(valid))
    return root


@pytest.fixture(scope="module")
def converted(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "mpii"
    mpii.convert(root, out, crop_size=CROP, crop_margin=MARGIN)
    return CanonicalDataset(out)


def test_rows_and_joints(converted, root):
    ds = converted
    assert len(ds) == 4
    assert ds.split_mask("train").sum() == 3 and ds.split_mask("val").sum() == 1
    assert (ds.group == -1).all() and not ds.has_3d.any() and not ds.has_extrinsics.any() and ds.has_2d.all()
    entries = json.loads((root / "annot" / "train.json").read_text()) + \
        json.loads((root / "annot" / "valid.json").read_text())
    names = json.loads((ds.path / "extra" / "image_names.json").read_text())
    assert names == [e["image"] for e in entries]
    for i, e in enumerate(entries):
        # HRNet's adjustments, then our nominal box: 200 * scale px, crop covers MARGIN times it
        s = e["scale"] * 1.25
        c = np.array([e["center"][0] - 1, e["center"][1] + 15 * e["scale"] - 1])
        sc = CROP / (200 * s * MARGIN)
        assert ds.frame[i] == int(e["image"][:-4])
        for j, name in enumerate(skeleton.JOINT_NAMES):
            src = OURS_TO_MPII[name]
            if src is None or e["joints_vis"][NAMES16.index(src)] == 0:
                assert not ds.vis2d[i, j] and np.isnan(ds.joints2d[i, j]).all(), (i, name)
                continue
            expected = (CROP - 1) / 2 + sc * (np.array(e["joints"][NAMES16.index(src)]) - 1 - c)
            assert ds.vis2d[i, j]
            np.testing.assert_allclose(ds.joints2d[i, j], expected, atol=1e-3)
        assert np.isfinite(ds.K[i]).all()
        img = ds.image(i).astype(int)
        x, y = np.round(ds.joints2d[i, skeleton.JOINT_NAMES.index("head_top")]).astype(int)
        assert img[y, x].mean() > 150
    assert ds.vis2d.sum(1).tolist() == [15, 13, 15, 15]  # 17 - spine - neck_nose (- 2 unlabeled)


def test_nominal_K(converted):
    K = mpii.nominal_K(640, 480)
    np.testing.assert_allclose(K, [[640, 0, 319.5], [0, 640, 239.5], [0, 0, 1]])


def test_malformed_json(root, tmp_path):
    entries = json.loads((root / "annot" / "train.json").read_text())
    cases = {
        "joints": ([dict(entries[0], joints=entries[0]["joints"][:15])], r"entry 0: joints expected \(16, 2\)"),
        "vis": ([dict(entries[0], joints_vis=[1] * 14)], "entry 0: joints_vis expected 16"),
        "scale": ([entries[0], dict(entries[1], scale=-1.0)], "entry 1: scale expected > 0"),
        "keys": ([{"image": "x.jpg"}], "entry 0: expected a dict with image, center, scale"),
    }
    for name, (data, msg) in cases.items():
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=msg) as e:
            mpii.load_annotations(p)
        assert str(p) in str(e.value)
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        mpii.load_annotations(tmp_path / "broken.json")


def test_missing_image_leaves_nothing(root, tmp_path):
    bad = tmp_path / "root"
    (bad / "annot").mkdir(parents=True)
    (bad / "images").symlink_to(root / "images")
    entries = json.loads((root / "annot" / "train.json").read_text())
    (bad / "annot" / "train.json").write_text(json.dumps(entries + [dict(entries[0], image="missing.jpg")]))
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        mpii.convert(bad, tmp_path / "out", files=["train"], crop_size=CROP)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def hand_case():
    """Two persons; head sizes 0.6 * 50 = 30 px and 0.6 * 100 = 60 px."""
    gt = np.tile(np.arange(32, dtype=float).reshape(1, 16, 2) * 7, (2, 1, 1))
    heads = np.array([[[0, 0], [30, 40]], [[10, 10], [70, 90]]], float)
    missing = np.zeros((2, 16), bool)
    missing[0, 0] = True  # person 0's right ankle is not annotated
    pred = gt.copy()
    pred[0, 12] += (20, 0)   # r_shoulder, 20 px / 30: miss
    pred[0, 15] += (0, 10)   # l_wrist, 10 / 30: hit at 0.5, miss at 0.1
    pred[0, 6] += (100, 0)   # pelvis miss: excluded from the mean
    pred[0, 0] += (500, 0)   # missing joint: ignored
    pred[1, 12] += (12, 16)  # r_shoulder, 20 / 60: hit at 0.5, miss at 0.1
    pred[1, 13] += (0, 40)   # l_shoulder, 40 / 60: miss
    pred[1, 10] += (3, 0)    # r_wrist, 3 / 60: hit at both
    return pred, gt, missing, heads


def test_pckh_hand_case():
    pred, gt, missing, heads = hand_case()
    r = metrics.pckh(pred, gt, missing, heads)
    assert r["Head"] == 100 and r["Elbow"] == 100 and r["Wrist"] == 100 and r["Ankle"] == 100
    assert r["Shoulder"] == pytest.approx(50.0)
    # weights: 14 joints without pelvis/thorax, counts 1 (r_ankle) + 13 x 2 = 27
    assert r["Mean"] == pytest.approx(2500 / 27)
    assert r["Mean@0.1"] == pytest.approx(2300 / 27)


def test_gt_valid_roundtrip(tmp_path):
    pred, gt, missing, heads = hand_case()
    names = np.empty((1, 16), object)
    names[0] = ["rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck", "head", "rwri", "relb",
                "rsho", "lsho", "lelb", "lwri"]
    scipy.io.savemat(tmp_path / "gt_valid.mat", {
        "dataset_joints": names, "jnt_missing": missing.T.astype(float),
        "pos_gt_src": gt.transpose(1, 2, 0), "headboxes_src": heads.transpose(1, 2, 0)})
    g = mpii.load_gt_valid(tmp_path / "gt_valid.mat")
    np.testing.assert_array_equal(g["jnt_missing"], missing)
    np.testing.assert_allclose(g["pos_gt_src"], gt)
    np.testing.assert_allclose(g["headboxes_src"], heads)
    r = metrics.pckh(pred, g["pos_gt_src"], g["jnt_missing"], g["headboxes_src"])
    assert r["Mean"] == pytest.approx(2500 / 27)
    scipy.io.savemat(tmp_path / "bad.mat", {"jnt_missing": missing.T[:15].astype(float),
                                            "pos_gt_src": gt.transpose(1, 2, 0),
                                            "headboxes_src": heads.transpose(1, 2, 0)})
    with pytest.raises(ValueError, match=r"bad\.mat: jnt_missing expected shape \(16, 2\)"):
        mpii.load_gt_valid(tmp_path / "bad.mat")
