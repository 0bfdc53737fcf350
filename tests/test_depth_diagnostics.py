"""benchmarks/depth_diagnostics.py: the mirror / lean / scale statistics on hand-made poses."""
import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "depth_diagnostics", Path(__file__).resolve().parents[1] / "benchmarks" / "depth_diagnostics.py")
dd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dd)


def _poses(n=8, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.normal(0, 200, size=(n, 17, 3))
    return g + np.array([0, 0, 4000.0])           # in front of the camera


def test_exact_prediction():
    g = _poses()
    s = dd.depth_stats(g.copy(), g)
    assert s["mirrored"] == 0 and np.isclose(s["slope"], 1) and abs(s["lean"]) < 1e-9
    assert np.isclose(s["xy_ratio"], 1) and np.isclose(s["depth_ratio"], 1)
    assert s["p_mpjpe_sub"] < 1e-6 and s["p_mpjpe_unmirrored"] < 1e-6 and s["flat_p_mpjpe"] > 10


def test_depth_mirror_flat_and_lean():
    g = _poses()
    rel = g - g[:, :1]
    mirrored = g[:, :1] + rel * np.array([1, 1, -1.0])
    s = dd.depth_stats(mirrored, g)
    assert s["mirrored"] == 1 and np.isclose(s["slope"], -1) and np.isclose(s["depth_ratio"], 1)
    assert s["p_mpjpe_sub"] > 10 and s["p_mpjpe_unmirrored"] < 1e-6     # the sign oracle undoes the mirror
    flat = g[:, :1] + rel * np.array([1, 1, 0.0])
    s = dd.depth_stats(flat, g)
    assert s["mirrored"] == 0 and np.isclose(s["slope"], 0) and np.isclose(s["depth_ratio"], 0)
    lean = g.copy()
    lean[..., 2] -= rel[..., 1]                    # depth error = -y: leaning 45 degrees, head away
    assert np.isclose(dd.depth_stats(lean, g)["lean"], -1)
    half = g[:, :1] + rel * 0.5
    assert np.isclose(dd.depth_stats(half, g)["xy_ratio"], 0.5)


def test_handedness_flips_with_the_mirror_and_sees_a_mirror_that_keeps_its_nose():
    g = _poses(64, seed=3)
    rel = g - g[:, :1]
    s = dd.depth_stats(g.copy(), g)
    mirrored = g[:, :1] + rel * np.array([1, 1, -1.0])
    m = dd.depth_stats(mirrored, g)
    # chirality(mirror) = -chirality(pose): the share above +0.1 becomes the share below -0.1
    c = dd.losses.chirality(dd.torch.from_numpy(rel)).numpy()
    assert np.isclose(s["chiral_ok"], np.mean(c > 0.1)) and np.isclose(m["chiral_ok"], np.mean(c < -0.1))
    assert 0 < m["chiral_ok"] < 1 and s["nose_forward_agree"] == 1.0
    assert m["nose_forward_agree"] == 0.0 and m["mirrored"] == 1.0
    keep = mirrored.copy()
    keep[:, 9, 2] = g[:, 9, 2] - g[:, 8, 2] + keep[:, 8, 2]     # the mirrored body keeps its nose in front
    k = dd.depth_stats(keep, g)
    assert k["mirrored"] > 0.9 and k["nose_forward_agree"] == 1.0
