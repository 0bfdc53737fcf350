"""Synthetic twins (weakpose.data.synth, synth_pose, render): geometry of the stored labels, the rendering, the
splits and subjects, determinism. All on the 'tiny' size."""
import hashlib

import numpy as np
import pytest

from weakpose import skeleton
from weakpose.data.synth import render as rd
from weakpose.data.synth import __main__ as synth_cli
from weakpose.data.synth import twins as synth
from weakpose.data.synth import poses as sp
from weakpose.data.format import CanonicalDataset


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    root = tmp_path_factory.mktemp("twins")
    return {tw: CanonicalDataset(synth.generate_twin(tw, "tiny", root / tw, seed=0, progress=False))
            for tw in synth.TWINS}


def sidecar(ds, name):
    return np.load(ds.path / "extra" / f"gt_joints{name}.npy")


def project(K, X):
    x = np.einsum("nij,nkj->nki", np.asarray(K, np.float64), np.asarray(X, np.float64))
    return x[..., :2] / x[..., 2:3]


def tree_hash(path):
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("tw", synth.TWINS)
def test_stored_3d_projects_onto_stored_2d(twins, tw):
    ds = twins[tw]
    if tw in ("H", "I"):
        X, x = ds.joints3d, ds.joints2d
        assert ds.has_3d.all() and ds.has_2d.all() and ds.vis2d.all()
    else:
        X, x = sidecar(ds, "3d"), sidecar(ds, "2d")
        assert X.shape == (len(ds), skeleton.J, 3) and x.shape == (len(ds), skeleton.J, 2)
    err = np.linalg.norm(project(ds.K, X) - x, axis=-1)
    assert err.max() < 0.5
    assert (np.asarray(X)[..., 2] > 500).all()  # in front of the camera, metres away
    if tw == "M":  # the labelled joints in the columns are the hidden ground truth
        vis = np.asarray(ds.vis2d)
        np.testing.assert_allclose(np.asarray(ds.joints2d)[vis], x[vis], atol=1e-3)


@pytest.mark.parametrize("tw", ["H", "I"])
def test_views_of_a_group_agree_in_the_world(twins, tw):
    ds = twins[tw]
    groups = ds.groups()
    assert len(groups) > 0 and all(len(g) == (4 if tw == "H" else 12) for g in groups)
    for g in groups:
        R, t, X = (np.asarray(a, np.float64) for a in (ds.R[g], ds.t[g], ds.joints3d[g]))
        Xw = np.einsum("cji,cki->ckj", R.transpose(0, 2, 1), X - t[:, None])  # X_w = R^T (X_c - t)
        assert np.abs(Xw - Xw[0]).max() < 1.0
        assert np.ptp(-np.einsum("cji,cj->ci", R, t), axis=0).max() > 2000  # camera centres metres apart


def test_q_tracklets_are_static_poses_seen_from_a_short_arc(twins):
    ds = twins["Q"]
    X = sidecar(ds, "3d").astype(np.float64)
    groups = ds.groups()
    assert all(5 <= len(g) <= synth.SIZES["tiny"].q_len_max for g in groups)
    for g in groups:
        A = X[g] - X[g].mean(1, keepdims=True)
        for k in range(1, len(g)):  # rigid alignment of every frame to the first: the pose does not move
            U, _, Vt = np.linalg.svd(A[k].T @ A[0])
            Rk = U @ np.diag([1, 1, np.linalg.det(U @ Vt)]) @ Vt
            assert np.abs(A[k] @ Rk - A[0]).max() < 1.0
            angle = np.degrees(np.arccos(np.clip((np.trace(Rk) - 1) / 2, -1, 1)))
            assert angle < 3.0 * k + 3.0  # small baselines


def test_q_has_no_labels_and_m_only_2d(twins):
    q, m = twins["Q"], twins["M"]
    assert not (q.has_2d.any() or q.has_3d.any() or q.has_extrinsics.any() or q.vis2d.any())
    assert np.isnan(q.joints2d).all() and np.isnan(q.joints3d).all() and np.isnan(q.R).all()
    assert np.isfinite(q.K).all() and (q.group >= 0).all()
    assert m.has_2d.all() and not m.has_3d.any() and not m.has_extrinsics.any() and (m.group == -1).all()
    vis = np.asarray(m.vis2d)
    assert not vis[:, list(synth.MPII_MISSING)].any() and vis.sum(1).min() >= 4
    j2 = np.asarray(m.joints2d)
    assert np.isnan(j2[~vis]).all() and ((j2[vis] >= 0) & (j2[vis] <= m.crop_size - 1)).all()
    for d in (q, m):
        assert d.source == "synthetic" and "never read by training" in (d.path / "extra" / "README.txt").read_text()


def test_splits_and_subjects(twins):
    h, i = twins["H"], twins["I"]
    subj = lambda d, s: {d.category("subject", r) for r in np.nonzero(d.split_mask(s))[0]}
    assert subj(h, "train") == set(synth.H_TRAIN) and subj(h, "test") == set(synth.H_TEST)
    assert subj(i, "train") == set(synth.I_TRAIN) and subj(i, "test") == set(synth.I_TEST)
    test = i.split_mask("test")
    assert (i.group[test] == -1).all() and i.has_3d[test].all() and i.has_extrinsics[test].all()
    assert h.meta["bone_stats"]["num_poses"] == h.split_mask("train").sum()


def test_test_subjects_have_their_own_body(twins):
    ds = twins["H"]
    bones = {}
    for s in synth.H_TRAIN + synth.H_TEST:
        rows = np.nonzero(ds.subject == ds.codes("subject", [s])[0])[0]
        L = skeleton.bone_lengths(np.asarray(ds.joints3d[rows], np.float64))
        assert np.ptp(L, axis=0).max() < 0.05  # rigid bones per subject
        bones[s] = L[0]
        np.testing.assert_allclose(L[0], sp.subject_shape("H", s).bones_mm, atol=0.05)
    for a in synth.H_TEST:
        for b in synth.H_TRAIN:
            assert np.abs(bones[a] - bones[b]).max() > 10.0
    heights = [sp.subject_shape("H", s).height_mm for s in bones]
    assert min(heights) >= 1500 and max(heights) <= 1950 and np.ptp(heights) > 100


@pytest.mark.parametrize("tw", synth.TWINS)
def test_labelled_joints_lie_on_the_rendered_body(twins, tw):
    ds, S = twins[tw], twins[tw].crop_size
    done = 0
    for job in synth.plan(tw, "tiny", seed=0)[:3]:
        for r in synth.render_job(job):
            vis = r.vis2d if tw != "Q" else np.ones(skeleton.J, bool)
            u, v = np.round(r.joints2d[vis]).astype(int).T
            assert r.mask[v, u].all()
            assert 0.01 < r.mask.mean() < 0.6
            # the stored crop is this rendering (up to JPEG at quality 90 on cluttered scenes)
            assert np.abs(ds.image(done).astype(float) - r.image).mean() < 8.0
            done += 1
    assert done > 0


def test_body_differs_from_background_alone():
    job = synth.plan("H", "tiny", seed=0)[0]
    r = synth.render_job(job)[0]
    env = rd.studio_environment("H")
    K_full, R, t = synth.rig("H", job.subject)[0]
    bg, mask = rd.render_view(env, None, r.K, R, t, job.crop_size)
    assert not mask.any()
    diff = np.abs(bg.astype(int) - r.image).sum(-1)
    assert np.median(diff[r.mask]) > 20 and np.median(diff[~r.mask]) <= 3


def test_same_seed_same_bytes_other_seed_differs(twins, tmp_path):
    a = synth.generate_twin("H", "tiny", tmp_path / "a", seed=0, progress=False)
    b = synth.generate_twin("H", "tiny", tmp_path / "b", seed=1, progress=False)
    assert tree_hash(a) == tree_hash(twins["H"].path)
    assert tree_hash(b) != tree_hash(a)


def test_worker_count_does_not_change_the_bytes(twins, tmp_path):
    two = synth.generate_twin("Q", "tiny", tmp_path / "q2", seed=0, workers=2, progress=False)
    assert tree_hash(two) == tree_hash(twins["Q"].path)


def test_pose_families_respect_limits_and_bones():
    shape = sp.subject_shape("H", "S1")
    rng = np.random.default_rng(0)
    for fam in sp.FAMILIES:
        P = np.stack([sp.sample_pose(fam, shape, rng).joints for _ in range(150)])
        assert np.abs(skeleton.bone_lengths(P) - shape.bones_mm).max() < 1e-6
        for a, b, c in ((1, 2, 3), (4, 5, 6), (14, 15, 16), (11, 12, 13)):
            bend = sp.joint_angle(P, a, b, c)
            assert bend.min() >= -1e-6 and bend.max() <= 150.0 + 1e-6
        assert P[..., 2].min() > 0.0 and np.abs(P[:, :, 2].min(1) - P[:, :, 2].min()).max() < 600
    with pytest.raises(ValueError, match="unknown pose family"):
        sp.sample_angles("dancing", rng)


def test_left_and_right_have_clearly_different_colours():
    rng = np.random.default_rng(0)
    for _ in range(50):
        o = rd.random_outfit(rng)
        assert np.abs(np.subtract(o.left_arm, o.right_arm)).sum() > 0.3
        assert o.left_arm[2] > o.left_arm[0] and o.right_arm[0] > o.right_arm[2]  # left blue-ish, right red-ish


def test_sphere_rasteriser_perspective_and_depth():
    K = np.array([[500.0, 0, 63.5], [0, 500.0, 63.5], [0, 0, 1]])
    areas = []
    for z in (2000.0, 4000.0):
        pix, sid, depth, normal = rd.rasterise_spheres(np.array([[0.0, 0.0, z]]), np.array([100.0]), K, 128)
        areas.append(len(pix))
        centre = pix == 63 * 128 + 63
        assert abs(depth[centre][0] - (z - 100.0)) < 0.5
        np.testing.assert_allclose(np.linalg.norm(normal, axis=1), 1.0, atol=1e-9)
    assert areas[0] == pytest.approx(np.pi * 25.0 ** 2, rel=0.05)
    assert areas[0] / areas[1] == pytest.approx(4.0, rel=0.08)  # size shrinks with distance
    # occlusion: a nearer sphere hides a farther one
    pix, sid, depth, _ = rd.rasterise_spheres(np.array([[0.0, 0, 4000], [0, 0, 2000]]), np.array([100.0, 100]), K, 128)
    assert (sid[pix == 63 * 128 + 63] == 1).all()


def test_lambert_shading_follows_the_world_light():
    env = rd.studio_environment("H")
    ball = rd.Spheres(np.array([[0.0, 0.0, 1000.0]]), np.array([300.0]), np.array([[0.8, 0.8, 0.8]]),
                      np.array([[0.8, 0.8, 0.8]]), np.zeros((1, 3)), np.zeros((1, 3)))
    R, t = rd.look_at(np.array([4000.0, 0.0, 1000.0]), np.array([0.0, 0.0, 1000.0]))
    K = np.array([[800.0, 0, 63.5], [0, 800.0, 63.5], [0, 0, 1]])
    img, mask = rd.render_view(env, ball, K, R, t, 128)
    pix, _, _, n = rd.rasterise_spheres(ball.centers @ R.T + t, ball.radii, K, 128)
    inner = mask.reshape(-1)[pix] & (np.abs(n[:, 2]) > 0.3)  # away from the blurred silhouette
    lum = img.reshape(-1, 3)[pix[inner]].mean(1)
    lam = np.clip(n[inner] @ (R @ env.light), 0, None)
    assert np.corrcoef(lum, lam)[0, 1] > 0.95 and np.ptp(lum) > 60
    view = R[2]  # the light is not along the viewing direction
    assert abs(env.light @ view) < 0.9


def test_ensure_twin_generates_once_and_says_so(tmp_path, capsys):
    p = synth.ensure_twin("M", "tiny", root=tmp_path, seed=3)
    assert p == tmp_path / "synthetic" / "M-tiny-seed3" and (p / "COMPLETE").is_file()
    stamp = (p / "COMPLETE").stat().st_mtime_ns
    assert synth.ensure_twin("M", "tiny", root=tmp_path, seed=3) == p
    assert (p / "COMPLETE").stat().st_mtime_ns == stamp
    out = capsys.readouterr().out
    assert out.count("[weakpose] data source: SYNTHETIC twin M (tiny, seed 3)") >= 2
    meta = p / "meta.json"  # a twin from another generator version is regenerated, loudly
    text = meta.read_text()
    meta.write_text(text.replace(f'"generator_version": {synth.GENERATOR_VERSION}', '"generator_version": 0'))
    synth.ensure_twin("M", "tiny", root=tmp_path, seed=3)
    assert (p / "COMPLETE").stat().st_mtime_ns != stamp and "regenerating" in capsys.readouterr().out


def test_cli_writes_a_twin(tmp_path):
    assert synth_cli.main(["--twin", "Q", "--size", "tiny", "--out", str(tmp_path), "--seed", "2"]) == 0
    ds = CanonicalDataset(tmp_path / "Q-tiny-seed2")
    assert ds.meta["twin"] == "Q" and ds.meta["seed"] == 2 and ds.source == "synthetic"


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown twin"):
        synth.generate_twin("X", "tiny", tmp_path / "x")
    with pytest.raises(ValueError, match="unknown size"):
        synth.ensure_twin("H", "huge", root=tmp_path)
