import numpy as np
import pytest

from helpers import random_pose, random_rotation
from weakpose import metrics as M
from weakpose import skeleton


@pytest.fixture
def gt(rng):
    return random_pose(rng, 6).numpy() + 1000.0


def test_perfect_prediction(gt):
    assert np.allclose(M.mpjpe(gt, gt), 0) and np.allclose(M.n_mpjpe(gt, gt), 0)
    assert np.allclose(M.p_mpjpe(gt, gt), 0, atol=1e-6)
    assert np.allclose(M.pck(gt, gt), 100) and np.allclose(M.npck(gt, gt), 100)
    assert np.allclose(M.auc(gt, gt), 100 * 30 / 31)


def test_mpjpe_hand_computed(gt):
    pred = gt + 123.0  # translation is removed by the root alignment
    pred[:, 5] += [30.0, 40.0, 0.0]
    np.testing.assert_allclose(M.mpjpe(pred, gt), 50.0 / 17)
    assert M.mpjpe(pred, gt).shape == (6,)
    pred = gt.copy()
    pred[:, 0] += [0.0, 0.0, 17.0]  # moving only the root shifts the 16 other joints by 17 mm relative to it
    np.testing.assert_allclose(M.mpjpe(pred, gt), 16 * 17.0 / 17)


def test_n_mpjpe_and_p_mpjpe(gt, rng):
    root_rel = gt - gt[:, :1]
    scaled = 0.8 * root_rel
    np.testing.assert_allclose(M.n_mpjpe(scaled, root_rel), 0, atol=1e-9)
    assert (M.mpjpe(scaled, root_rel) > 10).all()
    R = random_rotation(rng, 6).numpy()
    moved = 1.3 * np.einsum("nij,nkj->nki", R, gt) + 50.0
    np.testing.assert_allclose(M.p_mpjpe(moved, gt), 0, atol=1e-6)
    noisy = gt + rng.normal(scale=40, size=gt.shape)
    assert (M.n_mpjpe(noisy, gt) <= M.mpjpe(noisy, gt) + 1e-9).all()
    assert (M.p_mpjpe(noisy, gt) <= M.n_mpjpe(noisy, gt) + 1e-9).all()


def test_pck_strict_threshold(gt):
    pred = gt.copy()
    j0, j1 = skeleton.PCK14[0], skeleton.PCK14[1]
    pred[:, j0] += [150.0, 0, 0]     # exactly 150 mm: not correct (strict <)
    pred[:, j1] += [149.0, 0, 0]     # correct
    np.testing.assert_allclose(M.pck(pred, gt), 100 * 13 / 14)
    pred[:, 7] += 1000.0            # spine is not one of the 14 joints
    np.testing.assert_allclose(M.pck(pred, gt), 100 * 13 / 14)
    # AUC: joint j0 at 150 counts for no threshold, j1 at 149 only for 150; the 12 exact joints for 30 of 31
    np.testing.assert_allclose(M.auc(pred, gt), 100 * (12 * 30 + 1) / (14 * 31))


def test_pck_curve_is_the_pck_at_each_threshold_and_its_mean_the_auc(gt, rng):
    pred = gt + rng.normal(scale=60, size=gt.shape)
    curve = M.pck_curve(pred, gt)
    assert curve.shape == (6, 31) and (np.diff(curve, axis=1) >= 0).all()   # more joints below a larger threshold
    np.testing.assert_allclose(curve[:, -1], M.pck(pred, gt))
    np.testing.assert_allclose(curve[:, 10], M.pck(pred, gt, threshold=50.0))
    np.testing.assert_allclose(curve.mean(1), M.auc(pred, gt))
    assert (curve[:, 0] == 0).all()                                         # nothing strictly below 0 mm


def test_npck_at_least_pck_for_scaled(gt):
    pred = gt - gt[:, :1]
    pred = 1.5 * pred
    assert (M.npck(pred, gt) >= M.pck(pred, gt)).all() and np.allclose(M.npck(pred, gt), 100)


def test_mpjpe_2d():
    gt = np.zeros((2, 17, 2))
    pred = gt.copy()
    pred[0, 3] = [3.0, 4.0]
    vis = np.ones((2, 17), bool)
    vis[1, :] = False
    out = M.mpjpe_2d(pred, gt, vis)
    assert out[0] == pytest.approx(5 / 17) and np.isnan(out[1])


def test_shape_errors(gt):
    with pytest.raises(ValueError, match=r"\(N, J, 3\)"):
        M.mpjpe(gt[:, :5], gt)
