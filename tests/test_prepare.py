"""The `prepare` command line and the plumbing shared by the real-data converters."""

import cv2
import numpy as np
import pytest

from weakpose import camera
from weakpose.data.real import prepare
from weakpose.data.format import CanonicalDataset, DatasetWriter, Record

from helpers import mpii_root

TS56_K = np.array([[1683.98345952, 0, 939.85754016], [0, 1683.98345952, 560.14074317], [0, 0, 1]])
TS56_DIST = np.array([-0.276859611, 0.131125256, -0.000360494, -0.001149441, -0.049318332])


def coordinate_image(w, h):
    """(H, W, 3) float32 image whose pixel (x, y) holds (x, y, 0): a crop of it shows where it sampled."""
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.dstack([xs, ys, np.zeros_like(xs)])


def test_subcommands():
    try:
        import weakpose.data.real.h36m  # noqa: F401  (written by another engineer; test all four when it is there)
        names = prepare.CONVERTERS
    except ImportError:
        names = ("mpi3dhp", "mpii", "mqc")
    parser = prepare.build_parser(names)
    sub = next(a for a in parser._actions if a.dest == "dataset")
    expected = {"mpi3dhp": "3dhp", "mpii": "mpii", "mqc": "mqc", "h36m": "h36m"}
    assert set(sub.choices) == {expected[n] for n in names}
    args = parser.parse_args(["3dhp", "--test-root", "x", "--out", "y"])
    assert args.cameras == [0, 1, 2, 4, 5, 6, 7, 8] and args.every == 10 and args.crop_size == 384
    assert callable(args.func)


def test_cli_3dhp_needs_a_root(tmp_path):
    with pytest.raises(ValueError, match="training root, the test-set root, or both"):
        prepare.main(["3dhp", "--out", str(tmp_path / "o")], converters=("mpi3dhp",))


def test_cli_mpii_end_to_end(tmp_path):
    root = mpii_root(tmp_path / "mpii", valid=2)
    out = prepare.main(["mpii", "--root", str(root), "--out", str(tmp_path / "ds"), "--crop-size", "64"],
                       converters=("mpii",))
    ds = CanonicalDataset(out)
    assert len(ds) == 3 and ds.crop_size == 64 and ds.split_mask("val").sum() == 2
    with pytest.raises(FileExistsError):  # an existing dataset is never replaced without --overwrite
        prepare.main(["mpii", "--root", str(root), "--out", str(out), "--crop-size", "64"], converters=("mpii",))


def test_crop_view_pinhole_is_affine():
    img = coordinate_image(400, 300)
    K = np.array([[500.0, 0, 199.5], [0, 500.0, 149.5], [0, 0, 1]])
    crop, A, K_crop = prepare.crop_view(img, K, np.array([180.0, 140.0]), 100.0, 50, 1.5)
    np.testing.assert_allclose(K_crop, A @ K)
    u, v = 10, 33
    src = np.linalg.solve(A, [u, v, 1.0])[:2]
    np.testing.assert_allclose(crop[v, u, :2], src, atol=0.05)


def test_crop_view_undistorts_into_pinhole_crop():
    """With distortion, crop pixel p must show the full-image pixel where the ray K_crop^-1 p lands after OpenCV's
    distortion model (checked with cv2.projectPoints, an independent code path)."""
    img = coordinate_image(1920, 1080)
    crop, A, K_crop = prepare.crop_view(img, TS56_K, np.array([300.0, 400.0]), 500.0, 64, 1.5, TS56_DIST)
    ij = np.array([[0, 0], [63, 0], [10, 50], [32, 32], [63, 63]], float)
    rays = np.linalg.solve(K_crop, np.c_[ij, np.ones(len(ij))].T).T
    expected = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), TS56_K, TS56_DIST)[0][:, 0]
    got = crop[ij[:, 1].astype(int), ij[:, 0].astype(int), :2]
    np.testing.assert_allclose(got, expected, atol=0.05)
    assert np.abs(expected - np.c_[ij, np.ones(len(ij))] @ np.linalg.inv(A)[:2].T).max() > 5  # distortion matters


def test_project():
    K = np.array([[1497.693, 0, 1024.704], [0, 1497.103, 1051.394], [0, 0, 1]])
    np.testing.assert_allclose(camera.project(np.array([[-18.0923, 102.071, 3726.17]]), K), [[1017.43, 1092.4]],
                               atol=0.01)
    P = np.random.default_rng(0).normal(size=(4, 5, 3)) + [0, 0, 10]
    assert camera.project(P, np.stack([K] * 4)).shape == (4, 5, 2)


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.jpg"):
        prepare.read_image(tmp_path / "nothing.jpg")
    (tmp_path / "junk.jpg").write_bytes(b"\x00\x01junk")
    with pytest.raises(ValueError, match="junk.jpg is unreadable"):
        prepare.read_image(tmp_path / "junk.jpg")
    cv2.imwrite(str(tmp_path / "ok.png"), np.dstack([np.zeros((4, 5)), np.zeros((4, 5)), np.full((4, 5), 255)]))
    assert prepare.read_image(tmp_path / "ok.png")[0, 0].tolist() == [255, 0, 0]  # BGR file -> RGB array


def test_square_box():
    c, side = camera.square_box(10, 20, 40, 100)
    np.testing.assert_allclose(c, [25, 60])
    assert side == pytest.approx(80 / 0.75)


def test_extras_are_atomic(tmp_path):
    rec = Record(image=np.zeros((8, 8, 3), np.uint8), K=np.eye(3), split="train")
    with pytest.raises(RuntimeError):
        with DatasetWriter(tmp_path / "a", "x", "real", 8) as w:
            w.add(rec)
            prepare.save_extra(w, "thing", np.arange(1))
            raise RuntimeError("interrupted")
    assert not (tmp_path / "a").exists() and not (tmp_path / "a.partial").exists()
    with DatasetWriter(tmp_path / "b", "x", "real", 8) as w:
        w.add(rec)
        prepare.save_extra(w, "thing", np.arange(1))
    assert np.load(tmp_path / "b" / "extra" / "thing.npy").tolist() == [0]
