import numpy as np
import pytest

from weakpose import skeleton as sk

MPII_NAMES = ["r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax", "upper_neck",
              "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"]
HP17_NAMES = ["head_top", "thorax", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
              "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "neck_nose"]
# 3DHP names translated to ours: 3DHP 'neck' = H36M thorax, 3DHP 'head' = H36M neck/nose.


def test_tree():
    assert sk.J == 17 and sk.PARENTS[sk.PELVIS] == -1 and sk.JOINT_NAMES[sk.NECK] == "thorax"
    assert len(sk.BONES) == 16
    for j, p in sk.BONES:
        assert p < j  # parents come first
    for l, r in zip(sk.JOINTS_LEFT, sk.JOINTS_RIGHT):
        assert sk.JOINT_NAMES[l].replace("l_", "") == sk.JOINT_NAMES[r].replace("r_", "")
    assert sk.BONES == tuple(zip(sk.BONE_CHILD, sk.BONE_PARENT))


def test_lt_round_trip():
    a_to_b = np.array([3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13, 9])  # data-formats.md 1.1
    ours = np.arange(17 * 3, dtype=float).reshape(17, 3)
    lt = ours[a_to_b]
    back, present = sk.remap(lt, "lt17")
    assert present.all()
    np.testing.assert_array_equal(back, ours)


def test_named_joints_mpii_and_3dhp():
    mpii = np.array([[i, 100 + i] for i in range(16)], float)
    ours, present = sk.remap(mpii, "mpii16")
    for j, name in enumerate(sk.JOINT_NAMES):
        if name in ("spine", "neck_nose"):
            assert not present[j] and np.isnan(ours[j]).all()
        else:
            assert MPII_NAMES[int(ours[j, 0])] == name
    hp = np.array([[i, 0] for i in range(17)], float)
    ours, present = sk.remap(hp, "3dhp17")
    assert present.all()
    assert [HP17_NAMES[int(i)] for i in ours[:, 0]] == list(sk.JOINT_NAMES)


def test_3dhp_28_agrees_with_17():
    hp28 = np.random.default_rng(0).normal(size=(5, 28, 3))
    hp17 = hp28[:, [7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6]]  # official relevant set
    np.testing.assert_array_equal(sk.remap(hp28, "3dhp28")[0], sk.remap(hp17, "3dhp17")[0])


def test_pck14_is_official_set():
    names = [sk.JOINT_NAMES[j] for j in sk.PCK14]
    assert len(set(sk.PCK14)) == 14 and "pelvis" not in names and "spine" not in names and "neck_nose" not in names


def test_remap_rejects_wrong_count():
    with pytest.raises(ValueError, match="mpii16"):
        sk.remap(np.zeros((17, 2)), "mpii16")
    with pytest.raises(ValueError, match="unknown"):
        sk.remap(np.zeros((17, 2)), "coco")
