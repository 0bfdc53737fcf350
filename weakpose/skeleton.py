"""The 17-joint Human3.6M skeleton every part of weakpose works in, and index maps from other joint orders.

Our order is the "VideoPose3D / H36M-17" order (data-formats.md Sec. 1.1 (A)): pelvis is the root (0) and
Thorax (8) is the "neck" of the paper (Sec. 3.1.1: scale s = ||p_neck - p_pelvis||).

Index maps are arrays ``FROM_<SRC>`` of length J = 17 such that ``ours[..., j, :] = src[..., FROM_<SRC>[j], :]``
for ``FROM_<SRC>[j] >= 0``; ``-1`` marks a joint the source does not have. Such joints are *missing*:
`remap` fills them with NaN and returns a False visibility flag, nothing is interpolated or guessed.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "neck_nose", "head_top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)
J = len(JOINT_NAMES)
PELVIS = 0
NECK = 8  # Thorax: the paper's "neck" for the scale normalisation of eq. 1

PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
# E of eq. 11: (child, parent) for every non-root joint, 16 bones.
BONES: tuple[tuple[int, int], ...] = tuple((j, p) for j, p in enumerate(PARENTS) if p >= 0)
BONE_CHILD: tuple[int, ...] = tuple(c for c, _ in BONES)    # the one copy of the bone index lists, (16,)
BONE_PARENT: tuple[int, ...] = tuple(p for _, p in BONES)
JOINTS_LEFT: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
JOINTS_RIGHT: tuple[int, ...] = (1, 2, 3, 14, 15, 16)

# MPI-INF-3DHP evaluation: 14 joints (official joint groups, pelvis, spine and head/nose excluded), in the
# official order head_top, neck, r_sho, r_elb, r_wri, l_sho, l_elb, l_wri, r_hip, r_knee, r_ankle, l_hip,
# l_knee, l_ankle (data-formats.md Sec. 2.6).
PCK14: tuple[int, ...] = (10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6)

# ---- index maps from other orders (data-formats.md Sec. 1.1, 2.4, 3) ----------------------------------
# learnable-triangulation H36M order (B): "16 joints in MPII slots + Neck/Nose", root at 6.
FROM_LT17 = np.array([6, 2, 1, 0, 3, 4, 5, 7, 8, 16, 9, 13, 14, 15, 12, 11, 10])
# Raw 32-joint H36M mocap skeleton (VideoPose3D keeps these 17).
FROM_H36M32 = np.array([0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27])
# MPI-INF-3DHP 17-joint "relevant" order (test-set annotations).
FROM_3DHP17 = np.array([14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4])
# MPI-INF-3DHP 28-joint order (training annot.mat).
FROM_3DHP28 = np.array([4, 23, 24, 25, 18, 19, 20, 3, 5, 6, 7, 9, 10, 11, 14, 15, 16])
# MPII 16 (0 r_ankle .. 15 l_wrist). MPII has no spine and no nose: those are missing. MPII's thorax
# (top of the sternum) is our thorax; MPII's upper_neck (8) has no counterpart in H36M-17 and is dropped.
FROM_MPII16 = np.array([6, 2, 1, 0, 3, 4, 5, -1, 7, -1, 9, 13, 14, 15, 12, 11, 10])

# The joints each 2D-label source of Table 1 annotates: H36M all 17, MPII all but spine and neck/nose.
LABELLED_2D: dict[str, tuple[int, ...]] = {"H": tuple(range(J)),
                                          "M": tuple(int(j) for j in np.nonzero(FROM_MPII16 >= 0)[0])}


def unlabelled_joints(sources) -> tuple[int, ...]:
    """The joints none of the 2D-label ``sources`` (keys of `LABELLED_2D`) annotates: a model trained on them
    never saw a target there (for 2D=M: spine 7 and neck/nose 9)."""
    labelled = set().union(*(LABELLED_2D[k] for k in sources)) if sources else set()
    return tuple(j for j in range(J) if j not in labelled)


# MPII's own 16-joint order (the PCKh protocol of `weakpose.metrics.pckh` works in it).
JOINT_NAMES_MPII16: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist",
)

INDEX_MAPS: dict[str, tuple[np.ndarray, int]] = {
    "lt17": (FROM_LT17, 17),
    "h36m32": (FROM_H36M32, 32),
    "3dhp17": (FROM_3DHP17, 17),
    "3dhp28": (FROM_3DHP28, 28),
    "mpii16": (FROM_MPII16, 16),
}

# One canonical H36M skeleton (Martinez et al.'s forward-kinematics offsets, data-formats.md Sec. 5), in mm,
# per bone of BONES. A reference for plots and the synthetic world, NOT the eq. 12 training means: those are
# computed from each converted training split (see weakpose.data).
CANONICAL_BONE_MM: dict[tuple[int, int], float] = {
    (1, 0): 132.95, (2, 1): 442.89, (3, 2): 454.21, (4, 0): 132.95, (5, 4): 442.89, (6, 5): 454.21,
    (7, 0): 233.43, (8, 7): 257.08, (9, 8): 121.13, (10, 9): 115.00, (11, 8): 151.03, (12, 11): 278.88,
    (13, 12): 251.73, (14, 8): 151.03, (15, 14): 278.89, (16, 15): 251.73,
}


def remap(points: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Re-order joints from a named source order into ours.

    Args:
        points: (..., J_src, D) array in the source order (D = 2 or 3, any units).
        source: one of ``INDEX_MAPS`` ("lt17", "h36m32", "3dhp17", "3dhp28", "mpii16").
    Returns:
        (..., 17, D) float array in our order, NaN where the source lacks the joint, and a (17,) bool array
        ``present`` that is False for those joints.
    """
    if source not in INDEX_MAPS:
        raise ValueError(f"unknown joint order {source!r}; expected one of {sorted(INDEX_MAPS)}")
    idx, n_src = INDEX_MAPS[source]
    points = np.asarray(points)
    if points.ndim < 2 or points.shape[-2] != n_src:
        raise ValueError(f"{source}: expected (..., {n_src}, D) joints, got shape {points.shape}")
    present = idx >= 0
    out = np.full(points.shape[:-2] + (J, points.shape[-1]), np.nan, dtype=np.result_type(points, np.float32))
    out[..., present, :] = points[..., idx[present], :]
    return out, present


def bone_lengths(pose: np.ndarray) -> np.ndarray:
    """Lengths of the bones E (eq. 11). pose: (..., 17, 3) -> (..., 16), same units as the input."""
    return np.linalg.norm(pose[..., list(BONE_CHILD), :] - pose[..., list(BONE_PARENT), :], axis=-1)
