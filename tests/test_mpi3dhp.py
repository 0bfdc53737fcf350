"""MPI-INF-3DHP converter on tiny fixtures written in the real formats (data-formats.md Sec. 2 and 6)."""
import json
import struct

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from weakpose import skeleton
from weakpose.data.real import mpi3dhp
from weakpose.data.format import CanonicalDataset
from weakpose.camera import project

CROP = 256
# Official 28-joint names (Sec. 2.4) and the 17-joint test order.
NAMES28 = ("spine3 spine4 spine2 spine pelvis neck head head_top left_clavicle left_shoulder left_elbow left_wrist "
           "left_hand right_clavicle right_shoulder right_elbow right_wrist right_hand left_hip left_knee left_ankle "
           "left_foot left_toe right_hip right_knee right_ankle right_foot right_toe").split()
NAMES17 = ("head_top neck right_shoulder right_elbow right_wrist left_shoulder left_elbow left_wrist right_hip "
           "right_knee right_ankle left_hip left_knee left_ankle pelvis spine head").split()
# Our joint -> 3DHP joint name, written from the joint meanings (Sec. 2.4), independent of skeleton.FROM_*.
OURS_TO_3DHP = {"pelvis": "pelvis", "r_hip": "right_hip", "r_knee": "right_knee", "r_ankle": "right_ankle",
                "l_hip": "left_hip", "l_knee": "left_knee", "l_ankle": "left_ankle", "spine": "spine",
                "thorax": "neck", "neck_nose": "head", "head_top": "head_top", "l_shoulder": "left_shoulder",
                "l_elbow": "left_elbow", "l_wrist": "left_wrist", "r_shoulder": "right_shoulder",
                "r_elbow": "right_elbow", "r_wrist": "right_wrist"}
# A person in body coordinates (mm, x = subject's left, y up, z towards camera 0), every joint distinct.
BODY = {
    "pelvis": (0, 0, 0), "spine": (0, 120, -10), "spine2": (0, 200, -12), "spine3": (0, 300, -14),
    "spine4": (0, 380, -16), "neck": (0, 480, -5), "head": (0, 580, 30), "head_top": (0, 720, 0),
    "left_clavicle": (60, 450, 0), "left_shoulder": (170, 440, 0), "left_elbow": (260, 200, 40),
    "left_wrist": (300, -20, 90), "left_hand": (310, -100, 100), "right_clavicle": (-60, 450, 0),
    "right_shoulder": (-175, 435, 5), "right_elbow": (-280, 230, -30), "right_wrist": (-350, 40, -60),
    "right_hand": (-370, -40, -70), "left_hip": (110, -20, 0), "left_knee": (120, -450, 30),
    "left_ankle": (125, -880, -10), "left_foot": (130, -930, 80), "left_toe": (135, -950, 150),
    "right_hip": (-110, -25, 0), "right_knee": (-130, -460, 60), "right_ankle": (-140, -870, 20),
    "right_foot": (-145, -925, 100), "right_toe": (-150, -945, 170),
}
CAM0_INTRINSIC = "1497.693 0 1024.704 0 0 1497.103 1051.394 0 0 0 1 0 0 0 0 1"
CAM0_EXTRINSIC = ("0.9650164 0.00488022 0.262144 -562.8666 -0.004488356 -0.9993728 0.0351275 1398.138 "
                  "0.262151 -0.03507521 -0.9643893 3852.623 0 0 0 1")
N_ROWS, OFFICIAL_N, EVERY, CAMS = 160, 101, 50, (0, 2, 5)
FLIP = np.diag([1.0, -1.0, -1.0])  # body axes -> camera axes of a camera the person faces


def body(names, offset=(0.0, 0.0, 0.0)):
    return np.array([BODY[n] for n in names], np.float64) + offset


def calibration_text(cams):
    """camera.calibration with the real padding (Sec. 2.3): keys padded to column 14, trailing space on matrices."""
    out = ["Skeletool Camera Calibration File V1.0"]
    for c, (intr, extr) in enumerate(cams):
        out += [f"{'name':<14}{c}", f"  {'sensor':<12}10 10", f"  {'size':<12}2048 2048", f"  {'animated':<12}0",
                f"  {'intrinsic':<12}{intr} ", f"  {'extrinsic':<12}{extr} ", f"  {'radial':<12}0"]
    return "\n".join(out) + "\n"


def ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def make_cameras():
    """14 cameras as (intrinsic text, extrinsic text, K, R, t); camera 0 = the spec's S1/Seq1 camera 0, the others
    orbit the person standing 3.7 m in front of camera 0."""
    R0 = np.array(CAM0_EXTRINSIC.split(), float).reshape(4, 4)[:3, :3]
    t0 = np.array(CAM0_EXTRINSIC.split(), float).reshape(4, 4)[:3, 3]
    X0 = R0.T @ (np.array([0, 0, 3700.0]) - t0)
    cams = []
    for c in range(14):
        if c == 0:
            intr, extr = CAM0_INTRINSIC, CAM0_EXTRINSIC
        else:
            R = R0 @ ry(np.deg2rad(25.0 * c))
            t = np.array([30.0 * c, -20.0, 3600 + 40.0 * c]) - R @ X0
            K = [[1490 + c, 0, 1020 + 2 * c], [0, 1491 + c, 1040 - c], [0, 0, 1]]
            intr = " ".join(repr(float(v)) for v in np.hstack([np.array(K, float), np.zeros((3, 1))]).ravel()) + \
                " 0 0 0 1"
            extr = " ".join(repr(float(v)) for v in np.hstack([R, t[:, None]]).ravel()) + " 0 0 0 1"
        M, E = (np.array(s.split(), float).reshape(4, 4) for s in (intr, extr))
        cams.append((intr, extr, M[:3, :3], E[:3, :3], E[:3, 3]))
    return cams, X0


def draw_markers(shape, pelvis, head_top):
    img = np.full(shape, 20, np.uint8)
    cv2.circle(img, tuple(int(round(v)) for v in pelvis), 25, (255, 255, 255), -1)
    cv2.circle(img, tuple(int(round(v)) for v in head_top), 25, (120, 120, 120), -1)
    return img


@pytest.fixture(scope="module")
def train_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("3dhp")
    seq = root / "S1" / "Seq1"
    seq.mkdir(parents=True)
    cams, X0 = make_cameras()
    (seq / "camera.calibration").write_text(calibration_text([(c[0], c[1]) for c in cams]))
    a2, a3, u3 = (np.empty((14, 1), object) for _ in range(3))
    for c, (_, _, K, R, t) in enumerate(cams):
        # world pose: facing camera 0 (body x -> image right, y -> up, z -> towards camera 0), moving a little
        P = np.stack([body(NAMES28, (4.0 * f, 0.0, -3.0 * f)) for f in range(N_ROWS)]) @ (FLIP @ cams[0][3]) + X0
        cam = P @ R.T + t
        uv = project(cam, K)
        if c == 0:  # the spec's worked example: S1/Seq1, camera 0, frame 100, joint 0 (Sec. 2.3)
            cam[100, 0] = (-18.0923, 102.071, 3726.17)
            uv[100, 0] = (1017.43, 1092.4)
        univ = cam[:, 4:5] + 0.93 * (cam - cam[:, 4:5])  # rescaled about the pelvis, like univ_annot3
        a2[c, 0], a3[c, 0], u3[c, 0] = uv.reshape(N_ROWS, 56), cam.reshape(N_ROWS, 84), univ.reshape(N_ROWS, 84)
        if c in CAMS:
            d = seq / "imageFrames" / f"video_{c}"
            d.mkdir(parents=True)
            for f in range(0, OFFICIAL_N, EVERY):
                img = draw_markers((2048, 2048, 3), uv[f, NAMES28.index("pelvis")], uv[f, NAMES28.index("head_top")])
                cv2.imwrite(str(d / f"frame_{f + 1:06d}.jpg"), img)
    scipy.io.savemat(seq / "annot.mat", {"annot2": a2, "annot3": a3, "univ_annot3": u3,
                                         "frames": np.arange(N_ROWS, dtype=np.uint16).reshape(N_ROWS, 1),
                                         "cameras": np.arange(14, dtype=np.uint8).reshape(1, 14)})
    return root


def write_v73(path, data):
    """HDF5 with MATLAB v7.3's 512-byte user block header and MATLAB_class attributes (Sec. 6)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for k, v in data.items():
            f.create_dataset(k, data=v).attrs["MATLAB_class"] = np.bytes_("double")
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(head.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM")


TS_SPECS = {1: dict(n=5, valid=[1, 0, 1, 1, 0], act=[1, 2, 3, 4, 5], shift=(-200.0, 100.0)),
            5: dict(n=3, valid=[1, 1, 0], act=[6, 7, 1], shift=(-1900.0, 300.0))}


@pytest.fixture(scope="module")
def test_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("3dhp_test") / "mpi_inf_3dhp_test_set"
    for k, sp in TS_SPECS.items():
        d = root / f"TS{k}"
        (d / "imageSequence").mkdir(parents=True)
        K, dist, (W, H) = expected_ts_camera(k)
        cam = np.stack([body(NAMES17) @ FLIP + (sp["shift"][0] + 10 * f, sp["shift"][1], 4000.0)
                        for f in range(sp["n"])])
        uv = np.stack([cv2.projectPoints(p, np.zeros(3), np.zeros(3), K, dist)[0][:, 0] for p in cam])
        univ = cam[:, 14:15] + 0.9 * (cam - cam[:, 14:15])
        write_v73(d / "annot_data.mat", {
            "annot2": uv[:, None], "annot3": cam[:, None], "univ_annot3": univ[:, None],
            "valid_frame": np.array(sp["valid"], float)[:, None],
            "activity_annotation": np.array(sp["act"], float)[:, None]})
        for f in range(sp["n"]):
            img = draw_markers((H, W, 3), uv[f, NAMES17.index("pelvis")], uv[f, NAMES17.index("head_top")])
            cv2.imwrite(str(d / "imageSequence" / f"img_{f + 1:06d}.jpg"), img)
    return root


def expected_ts_camera(k):
    """Sec. 2.5 table, fx = fy variant, and the OpenCV distortion of the .calib files."""
    if k <= 4:
        return (np.array([[1500.172288, 0, 1017.38733568], [0, 1500.172288, 1043.03198208], [0, 0, 1]]),
                np.zeros(5), (2048, 2048))
    return (np.array([[1683.98345952, 0, 939.85754016], [0, 1683.98345952, 560.14074317], [0, 0, 1]]),
            np.array([-0.276859611, 0.131125256, -0.000360494, -0.001149441, -0.049318332]), (1920, 1080))


@pytest.fixture(scope="module")
def converted(train_root, test_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "3dhp"
    mpi3dhp.convert(out, root=train_root, test_root=test_root, cameras=CAMS, subjects=[1], seqs=[1],
                    test_seqs=[1, 5], every=EVERY, frame_counts={(1, 1): OFFICIAL_N}, crop_size=CROP)
    return CanonicalDataset(out)


def test_spec_consistency_example(train_root):
    cam = mpi3dhp.parse_calibration(train_root / "S1" / "Seq1" / "camera.calibration")[0]
    ann = mpi3dhp.load_annot(train_root / "S1" / "Seq1" / "annot.mat", [0])
    np.testing.assert_allclose(ann["annot3"][0][100, 0], (-18.0923, 102.071, 3726.17))
    np.testing.assert_allclose(project(ann["annot3"][0][100, 0][None], cam.K)[0], (1017.43, 1092.4), atol=0.01)


def test_parse_calibration(train_root):
    cams = mpi3dhp.parse_calibration(train_root / "S1" / "Seq1" / "camera.calibration")
    assert sorted(cams) == list(range(14))
    c0 = cams[0]
    np.testing.assert_allclose(c0.K, [[1497.693, 0, 1024.704], [0, 1497.103, 1051.394], [0, 0, 1]])
    np.testing.assert_allclose(c0.t, (-562.8666, 1398.138, 3852.623))
    np.testing.assert_allclose(c0.R[2], (0.262151, -0.03507521, -0.9643893))
    assert c0.size == (2048, 2048)


def test_train_rows(converted, train_root):
    ds = converted
    tr = np.nonzero(ds.split_mask("train"))[0]
    assert len(tr) == 3 * len(CAMS)  # frames 0, 50, 100: frame 150 is past the official count
    assert sorted(set(ds.frame[tr].tolist())) == [0, 50, 100]
    groups = ds.groups(ds.split_mask("train"))
    assert len(groups) == 3 and all(sorted(ds.view[g].tolist()) == list(CAMS) for g in groups)
    assert ds.has_extrinsics[tr].all() and ds.has_3d[tr].all() and ds.vis2d[tr].all()
    cams = mpi3dhp.parse_calibration(train_root / "S1" / "Seq1" / "camera.calibration")
    ann = mpi3dhp.load_annot(train_root / "S1" / "Seq1" / "annot.mat", CAMS)
    univ = np.load(ds.path / "extra" / "univ_joints3d.npy")
    for i in tr:
        c, f = int(ds.view[i]), int(ds.frame[i])
        for j, name in enumerate(skeleton.JOINT_NAMES):  # joint j is the source joint of the same meaning
            src = NAMES28.index(OURS_TO_3DHP[name])
            np.testing.assert_allclose(ds.joints3d[i, j], ann["annot3"][c][f, src], atol=1e-2)
            np.testing.assert_allclose(univ[i, j], ann["univ_annot3"][c][f, src], atol=1e-2)
        np.testing.assert_allclose(ds.R[i], cams[c].R)
        np.testing.assert_allclose(ds.t[i], cams[c].t)
        np.testing.assert_allclose(ds.joints2d[i], project(ds.joints3d[i], ds.K[i]), atol=0.5)
        check_markers(ds, i)
    assert ds.category("subject", tr[0]) == "S1" and ds.category("sequence", tr[0]) == "S1/Seq1"
    meta = json.loads((ds.path / "meta.json").read_text())
    assert meta["bone_stats"]["num_poses"] == len(tr)
    assert max(v for k, v in meta["reprojection_px"].items() if k.startswith("S1")) < 0.01


def check_markers(ds, i):
    """The pelvis (white) and head-top (grey) discs drawn at annot2 appear at the stored 2D joints in the crop."""
    img = ds.image(i).astype(int)
    for j, lo, hi in ((skeleton.JOINT_NAMES.index("pelvis"), 200, 256),
                      (skeleton.JOINT_NAMES.index("head_top"), 80, 160)):
        x, y = np.round(ds.joints2d[i, j]).astype(int)
        assert lo <= img[y, x].mean() <= hi, (i, j, img[y, x])
    assert img[2, 2].mean() < 60


def test_test_rows(converted, test_root):
    ds = converted
    te = np.nonzero(ds.split_mask("test"))[0]
    assert len(te) == 3 + 2  # valid frames only
    univ = np.load(ds.path / "extra" / "univ_joints3d.npy")
    acts = {1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching", 5: "On The Floor",
            6: "Sports", 7: "Miscellaneous"}
    seen = []
    for i in te:
        k = int(ds.category("subject", i)[2:])
        f = int(ds.frame[i])
        seen.append((k, f))
        sp = TS_SPECS[k]
        assert sp["valid"][f] == 1 and ds.group[i] == -1 and not ds.has_extrinsics[i]
        assert ds.category("action", i) == acts[sp["act"][f]]
        with h5py.File(test_root / f"TS{k}" / "annot_data.mat", "r") as h:
            a3, u3 = h["annot3"][f, 0], h["univ_annot3"][f, 0]
        for j, name in enumerate(skeleton.JOINT_NAMES):
            src = NAMES17.index(OURS_TO_3DHP[name])
            np.testing.assert_allclose(ds.joints3d[i, j], a3[src], atol=1e-2)
            np.testing.assert_allclose(univ[i, j], u3[src], atol=1e-2)
        np.testing.assert_allclose(ds.joints2d[i], project(ds.joints3d[i], ds.K[i]), atol=0.5)
        check_markers(ds, i)  # for TS5 this checks that the undistorted crop is a pinhole image with K_crop
    assert sorted(seen) == [(1, 0), (1, 2), (1, 3), (5, 0), (5, 1)]
    # annot2 was made with cv2.projectPoints: the converter's own distortion model must agree with OpenCV's
    reproj = json.loads((ds.path / "meta.json").read_text())["reprojection_px"]
    assert reproj["TS1/square"] < 0.01 and reproj["TS5/square"] < 0.01 and reproj["TS5/aspect"] > 0.5


def test_ts_camera_matches_spec_table():
    for k in (1, 4, 5, 6):
        K, dist, size = mpi3dhp.ts_camera(k, "square")
        K_exp, dist_exp, size_exp = expected_ts_camera(k)
        np.testing.assert_allclose(K, K_exp, atol=1e-6)
        np.testing.assert_allclose(dist, dist_exp)
        assert size == size_exp
    assert mpi3dhp.ts_camera(2, "aspect")[0][1, 1] == pytest.approx(1500.8324, abs=1e-4)
    assert mpi3dhp.ts_camera(6, "aspect")[0][1, 1] == pytest.approx(1672.5937, abs=1e-3)


def assert_clean(out):
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()


def test_missing_frame_leaves_nothing(train_root, tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(FileNotFoundError, match="video_0/frame_000002.jpg"):  # frame 0 is written first
        mpi3dhp.convert(out, root=train_root, cameras=CAMS, subjects=[1], seqs=[1], every=1,
                        frame_counts={(1, 1): OFFICIAL_N}, crop_size=64)
    assert_clean(out)


def test_unreadable_and_wrong_size_images(train_root, tmp_path):
    pattern = "bad/video_{camera}/frame_{frame1:06d}.jpg"
    (train_root / "bad" / "video_0").mkdir(parents=True, exist_ok=True)
    (train_root / "bad" / "video_0" / "frame_000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"frame_000001\.jpg.*unreadable"):
        mpi3dhp.convert(tmp_path / "a", root=train_root, cameras=[0], subjects=[1], seqs=[1], every=EVERY,
                        frame_pattern=pattern, frame_counts={(1, 1): OFFICIAL_N}, crop_size=64)
    cv2.imwrite(str(train_root / "bad" / "video_0" / "frame_000001.jpg"), np.zeros((100, 120, 3), np.uint8))
    with pytest.raises(ValueError, match=r"frame_000001\.jpg: expected 2048x2048.*found 120x100"):
        mpi3dhp.convert(tmp_path / "b", root=train_root, cameras=[0], subjects=[1], seqs=[1], every=EVERY,
                        frame_pattern=pattern, frame_counts={(1, 1): OFFICIAL_N}, crop_size=64)
    assert_clean(tmp_path / "a")
    assert_clean(tmp_path / "b")


def test_annot_wrong_joint_count(tmp_path):
    a2, a3 = np.empty((14, 1), object), np.empty((14, 1), object)
    for c in range(14):
        a2[c, 0], a3[c, 0] = np.zeros((4, 54)), np.zeros((4, 84))
    scipy.io.savemat(tmp_path / "annot.mat", {"annot2": a2, "annot3": a3, "univ_annot3": a3,
                                              "frames": np.arange(4).reshape(4, 1)})
    with pytest.raises(ValueError, match=r"annot\.mat: annot2\[camera 0\] expected \(N, 56\).*\(4, 54\)"):
        mpi3dhp.load_annot(tmp_path / "annot.mat")
    with pytest.raises(FileNotFoundError, match="nothere.mat"):
        mpi3dhp.load_annot(tmp_path / "nothere.mat")
    scipy.io.savemat(tmp_path / "short.mat", {"annot2": a2[:8], "annot3": a3, "univ_annot3": a3, "frames": [[0]]})
    with pytest.raises(ValueError, match=r"short\.mat: annot2 expected a \(14, 1\) cell"):
        mpi3dhp.load_annot(tmp_path / "short.mat")


def test_malformed_calibration(train_root, tmp_path):
    good = (train_root / "S1" / "Seq1" / "camera.calibration").read_text().splitlines()
    cases = {
        "header": (["Some Other File"] + good[1:], "expected first line"),
        "count": ([ln.replace("1497.693 0 1024.704 0 ", "1497.693 0 ") for ln in good], "intrinsic expects 16"),
        "blocks": (good[:1 + 7 * 13], "expected 14 camera blocks"),
        "number": ([ln.replace("2048 2048", "2048 big", 1) for ln in good], "size expects numbers"),
    }
    for name, (lines, msg) in cases.items():
        p = tmp_path / f"{name}.calibration"
        p.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValueError, match=msg) as e:
            mpi3dhp.parse_calibration(p)
        assert str(p) in str(e.value)


def test_reprojection_check_catches_wrong_calibration(train_root, tmp_path):
    """Swapping in another camera's calibration moves the projection of annot3 off annot2: loud error."""
    root = tmp_path / "root"
    seq = root / "S1" / "Seq1"
    seq.mkdir(parents=True)
    (seq / "annot.mat").write_bytes((train_root / "S1" / "Seq1" / "annot.mat").read_bytes())
    text = (train_root / "S1" / "Seq1" / "camera.calibration").read_text()
    (seq / "camera.calibration").write_text(text.replace("1024.704", "1124.704"))
    with pytest.raises(ValueError, match=r"annot\.mat camera 0: annot2 is .* px"):
        mpi3dhp.convert(tmp_path / "o", root=root, cameras=[0], subjects=[1], seqs=[1], every=EVERY,
                        frame_counts={(1, 1): OFFICIAL_N}, crop_size=64)
    assert_clean(tmp_path / "o")


def test_malformed_test_annot(tmp_path):
    p = tmp_path / "annot_data.mat"
    write_v73(p, {"annot2": np.zeros((3, 1, 16, 2)), "annot3": np.zeros((3, 1, 17, 3)),
                  "univ_annot3": np.zeros((3, 1, 17, 3)), "valid_frame": np.ones((3, 1)),
                  "activity_annotation": np.ones((3, 1))})
    with pytest.raises(ValueError, match=r"annot_data\.mat: annot2 expected shape \(3, 1, 17, 2\).*\(3, 1, 16, 2\)"):
        mpi3dhp.load_test_annot(p)
    scipy.io.savemat(tmp_path / "v5.mat", {"annot2": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"v5\.mat: expected a MATLAB v7\.3"):
        mpi3dhp.load_test_annot(tmp_path / "v5.mat")
