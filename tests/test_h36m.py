"""Tests of the Human3.6M converter (weakpose.data.real.h36m, h36m_cameras) on fixture files written in exactly the real
formats of data-formats.md Sec. 1: the learnable-triangulation labels .npy (np.save of the dict, exact structured
dtypes), VideoPose3D's data_3d_h36m.npz (np.savez_compressed) and full-resolution JPEG frames in the processed/ tree.

The fixture person has 17 named, distinguishable joints; every frame draws a bright dot at the DISTORTED projection
(spec Sec. 1.5 formula, implemented here independently) of five joints, so the undistorted crops can be checked.
"""
from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from weakpose import skeleton
from weakpose.data.real import h36m
from weakpose.data.format import CanonicalDataset, DatasetWriter, bone_stats
from weakpose.data.real.h36m_cameras import (distort_points, project_h36m, quaternion_to_matrix, undistort_points,
                                        vp_action_folders, vp_action_key, vp_camera)

# ---- facts copied from the spec (independent of the code under test) -------------------------------------------
CAMS = ("54138969", "55011271", "58860488", "60457274")
SIZE = {"54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000), "60457274": (1000, 1002)}
SPEC_S1_C0 = dict(  # spec Sec. 1.2 worked example, S1 / 54138969
    R=np.array([[-0.915362, 0.401808, 0.025748], [0.051548, 0.180374, -0.982246], [-0.399319, -0.897784, -0.185820]]),
    t=np.array([-346.0508, 546.9808, 5474.4811]),
    K=np.array([[1145.0494, 0, 512.5415], [0, 1143.7811, 515.4515], [0, 0, 1]]),
    dist=np.array([-0.2070989, 0.2477752, -0.0014244716, -0.0009756989, -0.0030751504]))
RAW32 = {"pelvis": 0, "r_hip": 1, "r_knee": 2, "r_ankle": 3, "l_hip": 6, "l_knee": 7, "l_ankle": 8, "spine": 12,
         "thorax": 13, "neck_nose": 14, "head_top": 15, "l_shoulder": 17, "l_elbow": 18, "l_wrist": 19,
         "r_shoulder": 25, "r_elbow": 26, "r_wrist": 27}  # spec Sec. 1.1, raw index of each named joint
LT17 = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "thorax", "head_top",
        "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck_nose")  # spec Sec. 1.1 (B)
ACTION_NAMES = [f"{a}-{n}" for a in ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing",
                                     "Purchases", "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Waiting",
                                     "Walking", "WalkingDog", "WalkingTogether") for n in (1, 2)]
SUBJECT_NAMES = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
CAMERAS_DTYPE = [("R", np.float32, (3, 3)), ("t", np.float32, (3, 1)), ("K", np.float32, (3, 3)),
                 ("dist", np.float32, 5)]
TABLE_DTYPE = [("subject_idx", np.int8), ("action_idx", np.int8), ("frame_idx", np.int16),
               ("keypoints", np.float32, (17, 3)), ("bbox_by_camera_tlbr", np.int16, (4, 4))]

# A standing person in world mm (z up), every joint at a distinct place.
BASE_POSE = {
    "pelvis": (0, 0, 950), "r_hip": (-130, 10, 940), "r_knee": (-150, 40, 520), "r_ankle": (-160, -10, 90),
    "l_hip": (130, -10, 945), "l_knee": (160, 60, 510), "l_ankle": (170, 0, 80), "spine": (10, 20, 1180),
    "thorax": (0, 30, 1440), "neck_nose": (5, -80, 1560), "head_top": (0, 0, 1700), "l_shoulder": (160, 30, 1420),
    "l_elbow": (330, 60, 1200), "l_wrist": (450, -120, 1050), "r_shoulder": (-160, 20, 1425),
    "r_elbow": (-320, -40, 1190), "r_wrist": (-300, -250, 1080)}
DOTS = ("head_top", "l_wrist", "r_wrist", "l_ankle", "r_ankle")
OFFSETS = ((900, 600), (-900, -600), (900, -600), (-900, 600))

# (subject, sequence folder) -> frames on disk. every_n 5 / 64 keeps S1 {0, 5} and S9 {0, 64}.
SEQS = {("S1", "Directions-1"): (0, 3, 5), ("S1", "Eating-1"): (0,), ("S9", "Greeting-2"): (0,),
        ("S9", "Walking-1"): (0, 32, 64), ("S11", "Directions-2"): (0,)}
VP_KEYS = {("S1", "Directions-1"): "Directions 1", ("S1", "Eating-1"): "Eating 2", ("S9", "Greeting-2"): "Greeting",
           ("S9", "Walking-1"): "Walking 1", ("S11", "Directions-2"): "Directions"}
ZERO_BOX = {("S9", "Walking-1", 64, 2)}  # an all-zero box in the labels: view missing in source (a)
EVERY_N = dict(every_n_train=5, every_n_test=64)


def spec_distort(x: float, y: float, d) -> tuple[float, float]:
    """Spec Sec. 1.5, scalar, with d = [k1, k2, p_a, p_b, k3]."""
    k1, k2, pa, pb, k3 = (float(v) for v in d)
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    return x * radial + pa * x * y + pb * (x * x + r2), y * radial + pb * x * y + pa * (y * y + r2)


def spec_project(Xc, K, d) -> np.ndarray:
    """Camera-frame points (J, 3) -> distorted pixels (J, 2), spec Sec. 1.5."""
    out = []
    for X, Y, Z in Xc:
        xd, yd = spec_distort(X / Z, Y / Z, d)
        out.append((K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]))
    return np.array(out)


def world_pose(subject: str, seq: str, frame: int) -> dict[str, np.ndarray]:
    """Named world joints (mm) of one instant: the base pose turned and moved off-centre, different per instant."""
    h = zlib.crc32(f"{subject}/{seq}/{frame}".encode())
    yaw = np.deg2rad(h % 360)
    Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    off = np.array([*OFFSETS[(h >> 9) % 4], 0.0])
    return {n: (Rz @ np.array(p, float) + off).astype(np.float32).astype(np.float64) for n, p in BASE_POSE.items()}


def labels_camera(subject: str, v: int) -> dict:
    """Camera stored in the fixture labels (float32 like the real file); S1/54138969 = the spec example."""
    if (subject, v) == ("S1", 0):
        c = SPEC_S1_C0
        return {k: np.asarray(c[k], np.float32).astype(np.float64) for k in ("R", "t", "K", "dist")}
    c = vp_camera(subject, v)
    return {k: np.asarray(getattr(c, k), np.float32).astype(np.float64) for k in ("R", "t", "K", "dist")}


def draw_frame(cam: str, uv_dots: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 frame: grey background, a Gaussian dot (sigma 2.5 px) centred exactly at each (u, v)."""
    w, h = SIZE[cam]
    img = np.full((h, w), 40.0)
    yy, xx = np.mgrid[0:h, 0:w]
    for u, v in uv_dots:
        x0, y0 = int(u) - 10, int(v) - 10
        sl = (slice(max(y0, 0), y0 + 21), slice(max(x0, 0), x0 + 21))
        g = np.exp(-((xx[sl] - u) ** 2 + (yy[sl] - v) ** 2) / (2 * 2.5 ** 2))
        img[sl] = np.maximum(img[sl], 40 + 210 * g)
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, -1)


def build_tree(root: Path, seqs: dict, undistorted: bool = False) -> None:
    """Write img_%06d.jpg frames (file number = frame + 1) for every view that exists (spec Sec. 1.2)."""
    for (subject, seq), frames in seqs.items():
        for frame in frames:
            pose = world_pose(subject, seq, frame)
            P = np.array([pose[n] for n in DOTS])
            for v, cam in enumerate(CAMS):
                if (subject, seq, v) == ("S11", "Directions-2", 0):
                    continue  # corrupt video: h36m-fetch extracts nothing for this camera
                c = labels_camera(subject, v)
                Xc = P @ c["R"].T + c["t"]
                uv = Xc[:, :2] / Xc[:, 2:] @ c["K"][:2, :2].T + c["K"][:2, 2] if undistorted else \
                    spec_project(Xc, c["K"], c["dist"])
                d = root / "processed" / subject / seq / ("imageSequence-undistorted" if undistorted else
                                                         "imageSequence") / cam
                d.mkdir(parents=True, exist_ok=True)
                assert cv2.imwrite(str(d / f"img_{frame + 1:06d}.jpg"), draw_frame(cam, uv),
                                   [cv2.IMWRITE_JPEG_QUALITY, 95])


def kf_box(subject: str, seq: str, frame: int, v: int) -> list[int]:
    """Squared TLBR box (half-open) around the distorted joints, squared as learnable-triangulation does."""
    c = labels_camera(subject, v)
    pose = world_pose(subject, seq, frame)
    uv = spec_project(np.array([pose[n] for n in BASE_POSE]) @ c["R"].T + c["t"], c["K"], c["dist"])
    (left, top), (right, bottom) = np.floor(uv.min(0) - 40).astype(int), np.ceil(uv.max(0) + 40).astype(int) + 1
    w, h = right - left, bottom - top
    if h < w:
        top = int(round((top + bottom) * 0.5 - w * 0.5))
        bottom = top + w
    else:
        left = int(round((left + right) * 0.5 - h * 0.5))
        right = left + h
    return [top, left, bottom, right]


def make_labels(seqs: dict) -> dict:
    cams = np.zeros((7, 4), dtype=CAMERAS_DTYPE)
    for si, s in enumerate(SUBJECT_NAMES):
        for v in range(4):
            c = labels_camera(s, v)
            cams[si, v]["R"], cams[si, v]["t"], cams[si, v]["K"], cams[si, v]["dist"] = \
                c["R"], c["t"][:, None], c["K"], c["dist"]
    rows = []
    for (subject, seq), frames in seqs.items():
        for frame in frames:
            pose = world_pose(subject, seq, frame)
            boxes = [[0, 0, 0, 0] if (subject, seq, frame, v) in ZERO_BOX else kf_box(subject, seq, frame, v)
                     for v in range(4)]
            rows.append((SUBJECT_NAMES.index(subject), ACTION_NAMES.index(seq), frame,
                         np.array([pose[n] for n in LT17]), boxes))
    return {"subject_names": list(SUBJECT_NAMES), "camera_names": list(CAMS), "action_names": list(ACTION_NAMES),
            "cameras": cams, "table": np.array(rows, dtype=TABLE_DTYPE)}


def save_labels(path: Path, d: dict) -> Path:
    np.save(path, d)
    return path


def save_vp(path: Path, seqs: dict, keys: dict = VP_KEYS, n_frames: int = 70) -> Path:
    positions: dict = {}
    for (subject, seq) in seqs:
        arr = np.zeros((n_frames, 32, 3), np.float32)
        for f in range(n_frames):
            pose = world_pose(subject, seq, f)
            arr[f] = pose["pelvis"] + np.arange(32)[:, None] * np.array([7.0, -5.0, 3.0])  # decoys for unused joints
            for name, raw in RAW32.items():
                arr[f, raw] = pose[name]
        positions.setdefault(subject, {})[keys[(subject, seq)]] = arr / 1000.0
    np.savez_compressed(path, positions_3d=positions)
    return path


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    build_tree(root, SEQS)
    labels = save_labels(root / "human36m-multiview-labels-GTbboxes.npy", make_labels(SEQS))
    vp = save_vp(root / "data_3d_h36m.npz", SEQS)
    out_a = h36m.convert_h36m(root, root / "out_a", labels=labels, crop_size=256, progress=False, **EVERY_N)
    out_b = h36m.convert_h36m(root, root / "out_b", vp_npz=vp, crop_size=256, progress=False, **EVERY_N)
    return {"root": root, "labels": labels, "vp": vp, "a": CanonicalDataset(out_a), "b": CanonicalDataset(out_b)}


# ---- cameras and the distortion model -----------------------------------------------------------------------------
def test_vp_camera_reproduces_spec_s1_54138969():
    c = vp_camera("S1", 0)
    np.testing.assert_allclose(c.R, SPEC_S1_C0["R"], atol=1e-5)
    np.testing.assert_allclose(c.t, SPEC_S1_C0["t"], atol=1e-3)
    np.testing.assert_allclose(c.K, SPEC_S1_C0["K"], atol=1e-4)
    np.testing.assert_allclose(c.dist, SPEC_S1_C0["dist"], atol=1e-9)
    assert (c.name, c.size) == ("54138969", (1000, 1002))


@pytest.mark.parametrize("subject", SUBJECT_NAMES)
def test_vp_cameras_are_rigid_and_centred(subject):
    for v in range(4):
        c = vp_camera(subject, v)
        np.testing.assert_allclose(c.R @ c.R.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(c.R) == pytest.approx(1.0)
        centre = -c.R.T @ c.t  # camera centre in world mm, ~5 m from the capture volume, ~1.5 m high
        assert 3500 < np.linalg.norm(centre[:2]) < 6000 and 1400 < centre[2] < 1700
        assert c.R[2] @ -centre > 0  # the world origin is in front of the camera


def test_quaternion_identity_and_axis():
    np.testing.assert_allclose(quaternion_to_matrix(np.array([1.0, 0, 0, 0])), np.eye(3))
    s = np.sqrt(0.5)  # 90 deg about z maps x to y
    np.testing.assert_allclose(quaternion_to_matrix(np.array([s, 0, 0, s])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_distort_points_hand_computed():
    # x = 0.1, y = -0.2, spec Sec. 1.2 dist of S1/54138969; digits worked out by hand from the Sec. 1.5 formula:
    # r2 = 0.05, radial = 0.9902641086062, x_d = 0.0990264108606 + 0.000028489432 - 0.000058541934, ...
    xd = distort_points(np.array([0.1, -0.2]), SPEC_S1_C0["dist"])
    np.testing.assert_allclose(xd, [0.09899635835862, -0.19816151018724], rtol=0, atol=1e-13)
    uv = project_h36m(np.array([100.0, -200.0, 1000.0]), SPEC_S1_C0["K"], SPEC_S1_C0["dist"])
    np.testing.assert_allclose(uv, [625.8972207407228, 288.7981099003774], rtol=0, atol=1e-9)


def test_distortion_equals_videopose3d_form_and_is_not_opencv():
    rng = np.random.default_rng(0)
    xy = rng.uniform(-0.45, 0.45, (50, 2))
    d = vp_camera("S9", 2).dist
    k1, k2, pa, pb, k3 = d
    tb, ta = pb, pa  # VideoPose3D stores (p_b, p_a) (spec Sec. 1.5)
    r2 = (xy ** 2).sum(-1, keepdims=True)
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    vp = xy * (radial + tb * xy[:, :1] + ta * xy[:, 1:]) + np.array([tb, ta]) * r2
    np.testing.assert_allclose(distort_points(xy, d), vp, atol=1e-15)
    ocv, _ = cv2.projectPoints(np.c_[xy, np.ones(50)], np.zeros(3), np.zeros(3), np.eye(3), d)
    assert np.abs(ocv[:, 0] - vp).max() > 1e-5  # OpenCV's tangential model differs: it must not be used


def test_undistort_points_round_trip():
    xy = np.random.default_rng(1).uniform(-0.5, 0.5, (100, 2))
    d = SPEC_S1_C0["dist"]
    np.testing.assert_allclose(undistort_points(distort_points(xy, d), d), xy, atol=1e-10)


def test_vp_action_map():
    assert vp_action_key("S1", "Directions-1") == "Directions 1"   # spec Sec. 1.0 S1 examples
    assert vp_action_key("S1", "Directions-2") == "Directions"
    assert vp_action_key("S1", "Eating-1") == "Eating 2"
    assert vp_action_key("S1", "SittingDown-1") == "SittingDown 2"
    assert vp_action_key("S1", "TakingPhoto-1") == "Photo 1"        # TakingPhoto -> Photo (spec Sec. 1.3)
    assert vp_action_key("S1", "WalkingTogether-1") == "WalkTogether 1"
    assert vp_action_key("S1", "WalkingDog-2") == "WalkDog"
    for s in SUBJECT_NAMES:
        folders = vp_action_folders(s)
        assert sorted(folders.values()) == sorted(ACTION_NAMES)  # a bijection of 30 keys <-> 30 folders
    over = vp_action_folders("S1", {"S1": {"Eating": "Eating-1"}})
    assert over["Eating"] == "Eating-1" and "Eating 2" not in over


# ---- conversion: both sources -----------------------------------------------------------------------------------
def expected_views(source: str) -> dict:
    out = {}
    for (subject, seq), frames in SEQS.items():
        for f in frames:
            if f % (5 if subject in ("S1", "S5", "S6", "S7", "S8") else 64):
                continue
            views = {0, 1, 2, 3} - ({0} if (subject, seq) == ("S11", "Directions-2") else set())
            if source == "a":
                views -= {v for v in range(4) if (subject, seq, f, v) in ZERO_BOX}
            out[(subject, seq, f)] = views
    return out


def rows_by_instant(ds: CanonicalDataset) -> dict:
    out = {}
    for g in ds.groups():
        keys = {(ds.category("subject", i), ds.category("sequence", i).split("/")[1], int(ds.frame[i])) for i in g}
        assert len(keys) == 1, "a group mixes instants"
        out[keys.pop()] = {int(ds.view[i]): int(i) for i in g}
    return out


@pytest.mark.parametrize("source", ["a", "b"])
def test_instants_views_and_split(fx, source):
    ds = fx[source]
    got = rows_by_instant(ds)
    assert {k: set(v) for k, v in got.items()} == expected_views(source)
    for (subject, seq, _), rows in got.items():
        for i in rows.values():
            assert ds.category("subject", i) == subject
            assert ds.category("action", i) == seq.split("-")[0]
            assert ds.category("sequence", i) == f"{subject}/{seq}"
            split = "train" if subject == "S1" else "test"
            assert ds.split_mask(split)[i]
    assert ds.meta["every_n"] == {"train": 5, "test": 64} and ds.meta["with_damaged_actions"] is True
    assert ds.meta["bone_stats"]["num_poses"] == int(ds.split_mask("train").sum())


@pytest.mark.parametrize("source", ["a", "b"])
def test_3d_is_world_to_camera_in_mm_with_named_joints(fx, source):
    ds = fx[source]
    for (subject, seq, f), rows in rows_by_instant(ds).items():
        pose = world_pose(subject, seq, f)
        Xw = np.array([pose[n] for n in skeleton.JOINT_NAMES])  # joint j must be the one named JOINT_NAMES[j]
        for v, i in rows.items():
            c = labels_camera(subject, v) if source == "a" else vars(vp_camera(subject, v))
            np.testing.assert_allclose(ds.R[i], c["R"], atol=1e-6)
            np.testing.assert_allclose(ds.t[i], c["t"], atol=1e-3)
            np.testing.assert_allclose(ds.joints3d[i], Xw @ c["R"].T + c["t"], atol=0.02)
            # and through the stored extrinsics back to the named world joints
            np.testing.assert_allclose((ds.joints3d[i] - ds.t[i]) @ ds.R[i], Xw, atol=0.02)


@pytest.mark.parametrize("source", ["a", "b"])
def test_2d_is_pinhole_projection_with_crop_k(fx, source):
    ds = fx[source]
    P = np.asarray(ds.joints3d, np.float64) @ np.transpose(ds.K, (0, 2, 1))
    assert np.abs(P[..., :2] / P[..., 2:] - ds.joints2d).max() < 0.5 * 1e-2  # well below the 0.5 px bound
    assert ds.vis2d.all() and ds.has_3d.all() and ds.has_2d.all() and ds.has_extrinsics.all()
    assert np.allclose(ds.K[:, 0, 1], 0) and np.allclose(ds.K[:, 2], [0, 0, 1])


def test_crop_k_from_the_kf_box(fx):
    ds, S = fx["a"], 256
    for (subject, seq, f), rows in rows_by_instant(ds).items():
        for v, i in rows.items():
            top, left, bottom, right = kf_box(subject, seq, f, v)
            c = labels_camera(subject, v)
            assert ds.K[i][0, 0] / c["K"][0, 0] == pytest.approx(S / ((right - left) * 1.5), rel=1e-9)
            # the crop centre shows the box centre (half-open pixel ranges) of the distorted frame
            ray = np.linalg.solve(ds.K[i], [(S - 1) / 2, (S - 1) / 2, 1.0])
            u, v_ = spec_project(ray[None], c["K"], c["dist"])[0]
            assert np.hypot(u - (left + right - 1) / 2, v_ - (top + bottom - 1) / 2) < 0.05


def test_vp_boxes_from_projected_joints(fx):
    ds, S = fx["b"], 256
    lo, hi = ds.joints2d.min(1), ds.joints2d.max(1)
    np.testing.assert_allclose((hi - lo).max(-1), S * 0.75 / 1.5, atol=1e-2)  # person = 75 % of the nominal box
    np.testing.assert_allclose((lo + hi) / 2, (S - 1) / 2, atol=1e-2)


def dot_centroid(img: np.ndarray, uv: np.ndarray, radius: int = 5) -> np.ndarray:
    g = img.mean(-1)
    u0, v0 = int(round(uv[0])), int(round(uv[1]))
    patch = g[v0 - radius:v0 + radius + 1, u0 - radius:u0 + radius + 1]
    w = np.clip(patch - 70, 0, None)
    assert w.sum() > 0, f"no dot near {uv}"
    yy, xx = np.mgrid[v0 - radius:v0 + radius + 1, u0 - radius:u0 + radius + 1]
    return np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


@pytest.mark.parametrize("source", ["a", "b"])
def test_crop_pixels_are_undistorted_pinhole(fx, source):
    ds = fx[source]
    dots = [skeleton.JOINT_NAMES.index(n) for n in DOTS]
    worst, shift, checked = 0.0, 0.0, 0
    for i in range(len(ds)):
        img = ds.image(i)
        c = labels_camera(ds.category("subject", i), int(ds.view[i]))
        for j in dots:
            uv = ds.joints2d[i, j]
            if min(np.linalg.norm(ds.joints2d[i, k] - uv) for k in dots if k != j) < 12:
                continue  # two dots overlap in this view: their centroids are not separable
            worst = max(worst, np.linalg.norm(dot_centroid(img, uv) - uv))
            checked += 1
            # how far off the dot would be if the distortion were ignored: the test must be able to fail
            Xc = np.asarray(ds.joints3d[i, j], np.float64)[None]
            uv_p = Xc[:, :2] / Xc[:, 2:] @ c["K"][:2, :2].T + c["K"][:2, 2]
            shift = max(shift, np.abs(spec_project(Xc, c["K"], c["dist"]) - uv_p).max() * ds.K[i][0, 0] / c["K"][0, 0])
    assert worst < 1.5, worst
    assert checked > 0.8 * len(ds) * len(dots)
    assert shift > 3.0, shift


def test_bone_stats_in_meta(fx):
    for ds in (fx["a"], fx["b"]):
        pose = np.array([[BASE_POSE[n] for n in skeleton.JOINT_NAMES]], float)
        np.testing.assert_allclose(ds.meta["bone_stats"]["mean_mm"], skeleton.bone_lengths(pose)[0], atol=0.05)
        train = ds.split_mask("train")
        assert ds.meta["bone_stats"] == bone_stats(np.asarray(ds.joints3d)[train])


# ---- damaged sequences, the undistorted-input flag and the CLI ----------------------------------------------------
def test_cli_without_damaged_actions(fx, tmp_path):
    parser = argparse.ArgumentParser()
    h36m.register_cli(parser.add_subparsers(dest="cmd", required=True))
    base = ["h36m", "--root", str(fx["root"]), "--labels", str(fx["labels"]), "--workers", "1",
            "--out", str(tmp_path / "o")]
    assert parser.parse_args(base).with_damaged_actions is True
    assert parser.parse_args(base + ["--with-damaged-actions"]).with_damaged_actions is True
    args = parser.parse_args(base + ["--without-damaged-actions", "--subjects", "S9", "--every-n-test", "32",
                                     "--crop-size", "128"])
    ds = CanonicalDataset(args.func(args))
    assert set(rows_by_instant(ds)) == {("S9", "Walking-1", 0), ("S9", "Walking-1", 32), ("S9", "Walking-1", 64)}
    assert ds.crop_size == 128 and ds.meta["with_damaged_actions"] is False


def test_undistorted_flag(tmp_path):
    seqs = {("S5", "Posing-1"): (0,)}
    build_tree(tmp_path, seqs, undistorted=True)
    labels = save_labels(tmp_path / "labels.npy", make_labels(seqs))
    ds = CanonicalDataset(h36m.convert_h36m(tmp_path, tmp_path / "o", labels=labels, undistorted=True,
                                            crop_size=256, progress=False))
    assert len(ds) == 4 and ds.meta["undistorted_input"] is True
    dots = [skeleton.JOINT_NAMES.index(n) for n in DOTS]
    for i in range(4):
        img = ds.image(i)
        for j in dots:
            uv = ds.joints2d[i, j]
            if min(np.linalg.norm(ds.joints2d[i, k] - uv) for k in dots if k != j) >= 12:
                assert np.linalg.norm(dot_centroid(img, uv) - uv) < 1.5
    with pytest.raises(FileNotFoundError, match="imageSequence"):  # the flag is what selects the folder
        h36m.convert_h36m(tmp_path, tmp_path / "o2", labels=labels, progress=False)


# ---- malformed inputs --------------------------------------------------------------------------------------------
def _labels_with(**changes) -> dict:
    d = make_labels({("S1", "Directions-1"): (0,)})
    d.update(changes)
    return d


BAD_TABLE_DTYPE = [(n, np.int32 if n == "frame_idx" else t, *s) for n, t, *s in TABLE_DTYPE]
KP16_DTYPE = [(n, t, (16, 3)) if n == "keypoints" else (n, t, *s) for n, t, *s in TABLE_DTYPE]
BAD_CAMS_DTYPE = [(n, np.float64, s) for n, _, s in CAMERAS_DTYPE]
LABEL_CASES = {
    "not a dict": (lambda: np.arange(3.0), ValueError, "0-d object array"),
    "missing key": (lambda: {k: v for k, v in _labels_with().items() if k != "table"}, ValueError, "missing keys"),
    "cameras dtype": (lambda: _labels_with(cameras=np.zeros((7, 4), BAD_CAMS_DTYPE)), ValueError, "'cameras'"),
    "cameras shape": (lambda: _labels_with(cameras=np.zeros((7, 3), CAMERAS_DTYPE)), ValueError, r"\(7, 4\)"),
    "table dtype": (lambda: _labels_with(table=np.zeros(1, BAD_TABLE_DTYPE)), ValueError, "'table'"),
    "joint count": (lambda: _labels_with(table=np.zeros(1, KP16_DTYPE)), ValueError, "17 joints"),
    "unknown subject": (lambda: _labels_with(subject_names=["S1", "S2", "S6", "S7", "S8", "S9", "S11"]),
                        ValueError, "unknown subject 'S2'"),
    "camera order": (lambda: _labels_with(camera_names=list(CAMS[::-1])), ValueError, "camera_names"),
    "unknown action": (lambda: _labels_with(action_names=["Dancing-1"] + ACTION_NAMES[1:]), ValueError, "Dancing"),
    "metres": (lambda: _labels_with(table=_metres(make_labels({("S1", "Directions-1"): (0,)})["table"])),
               ValueError, "metres"),
}


def _metres(table: np.ndarray) -> np.ndarray:
    table = table.copy()
    table["keypoints"] /= 1000
    return table


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_malformed_labels_name_the_file(fx, tmp_path, case):
    make, exc, msg = LABEL_CASES[case]
    path = tmp_path / "labels.npy"
    np.save(path, make(), allow_pickle=True)
    with pytest.raises(exc, match=msg) as e:
        h36m.convert_h36m(fx["root"], tmp_path / "o", labels=path, progress=False)
    assert str(path) in str(e.value)
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_missing_or_unreadable_label_files(fx, tmp_path):
    for kw in ("labels", "vp_npz"):
        with pytest.raises(FileNotFoundError, match="nope.np"):
            h36m.convert_h36m(fx["root"], tmp_path / "o", **{kw: tmp_path / "nope.npx"}, progress=False)
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match="junk.npy"):
        h36m.convert_h36m(fx["root"], tmp_path / "o", labels=tmp_path / "junk.npy", progress=False)
    with pytest.raises(FileNotFoundError, match="processed"):
        h36m.convert_h36m(tmp_path, tmp_path / "o", labels=fx["labels"], progress=False)
    with pytest.raises(FileExistsError, match="out_a"):  # refused before any scanning
        h36m.convert_h36m(fx["root"], fx["root"] / "out_a", labels=fx["labels"], progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        h36m.convert_h36m(fx["root"], tmp_path / "o", labels=fx["labels"], vp_npz=fx["vp"], progress=False)


def _vp_case(tmp_path: Path, case: str) -> Path:
    path = tmp_path / "data_3d_h36m.npz"
    good = np.zeros((70, 32, 3), np.float32) + 1.0
    positions = {"S9": {"Walking 1": good}}
    if case == "no key":
        np.savez_compressed(path, positions_2d=positions)
        return path
    if case == "joint count":
        positions["S9"]["Walking 1"] = good[:, :17]
    elif case == "unknown subject":
        positions["S2"] = {"Walking 1": good}
    elif case == "unknown action":
        positions["S9"]["Dancing 1"] = good
    elif case == "millimetres":
        positions["S9"]["Walking 1"] = good * 1000
    np.savez_compressed(path, positions_3d=positions)
    return path


@pytest.mark.parametrize("case,msg", [("no key", "positions_3d"), ("joint count", r"\(N, 32, 3\)"),
                                      ("unknown subject", "unknown subject 'S2'"), ("unknown action", "Dancing 1"),
                                      ("millimetres", "metres")])
def test_malformed_vp_npz_names_the_file(fx, tmp_path, case, msg):
    path = _vp_case(tmp_path, case)
    with pytest.raises(ValueError, match=msg) as e:
        h36m.convert_h36m(fx["root"], tmp_path / "o", vp_npz=path, progress=False)
    assert str(path) in str(e.value)
    assert not (tmp_path / "o").exists()


@pytest.fixture()
def mini(tmp_path):
    """A small tree of its own (S1 Directions-1, frames 0, 5, 10) that tests may damage."""
    seqs = {("S1", "Directions-1"): (0, 5, 10)}
    build_tree(tmp_path, seqs)
    return tmp_path, save_labels(tmp_path / "labels.npy", make_labels(seqs))


def _frame(root: Path, frame: int, cam: str = "60457274") -> Path:
    return root / "processed" / "S1" / "Directions-1" / "imageSequence" / cam / f"img_{frame + 1:06d}.jpg"


def test_missing_image_names_the_file(mini):
    root, labels = mini
    _frame(root, 5).unlink()
    with pytest.raises(FileNotFoundError) as e:
        h36m.convert_h36m(root, root / "o", labels=labels, progress=False)
    assert str(_frame(root, 5)) in str(e.value)


def test_wrong_image_size_names_the_file(mini):
    root, labels = mini
    cv2.imwrite(str(_frame(root, 0)), np.zeros((501, 500, 3), np.uint8))
    with pytest.raises(ValueError, match="1000x1002") as e:
        h36m.convert_h36m(root, root / "o", labels=labels, progress=False)
    assert str(_frame(root, 0)) in str(e.value)


class _SpyWriter(DatasetWriter):
    rows_at_abort = -1

    def abort(self) -> None:
        _SpyWriter.rows_at_abort = len(self)
        super().abort()


def test_failure_mid_conversion_leaves_no_complete_output(mini, monkeypatch):
    root, labels = mini
    _frame(root, 10).write_bytes(b"\xff\xd8 this is not a JPEG")  # the last instant's last view
    monkeypatch.setattr(h36m, "DatasetWriter", _SpyWriter)
    with pytest.raises(ValueError, match="unreadable image") as e:
        h36m.convert_h36m(root, root / "o", labels=labels, every_n_train=5, num_workers=1, progress=False)
    assert str(_frame(root, 10)) in str(e.value)
    assert _SpyWriter.rows_at_abort >= 8  # two instants had been written when it failed
    assert not (root / "o").exists() and not (root / "o.partial").exists()
    with pytest.raises(FileNotFoundError):
        CanonicalDataset(root / "o")
