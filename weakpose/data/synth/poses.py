"""Procedural 3D human poses on the 17-joint skeleton for the synthetic twins of H36M, 3DHP, MQC and MPII (Sec. 4.1).

Frames and units: world coordinates in millimetres, z up, the floor is the plane z = 0. A pose is built in the
*body frame* (pelvis at the origin, x = the subject's right, y = forward, z = up) by forward kinematics over joint
angles in degrees that are clipped to anatomical limits (`LIMITS_DEG`), then turned by a global yaw and put on the
floor. Every subject has fixed bone lengths (`BodyShape`), so the bones of eq. 11 are rigid per subject and the
training-set means of eq. 12 are meaningful.

Besides the 17 joints a `Pose` carries the points a renderer needs to make orientation visible (toes, hands, the
direction the face and the chest point to); they are not joints and never enter a label.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from weakpose import skeleton

FAMILIES: tuple[str, ...] = ("standing", "walking", "sitting", "reaching", "crouching", "random")

# Anatomical limits in degrees (flexion positive forward for hips/shoulders, knees and elbows bend positive).
# Positive *_rot is internal rotation; positive *_abd moves the limb away from the body's midline.
LIMITS_DEG: dict[str, tuple[float, float]] = {
    "pelvis_pitch": (-15, 25), "pelvis_roll": (-10, 10),
    "flex_low": (-15, 45), "flex_up": (-15, 40), "lat_low": (-20, 20), "lat_up": (-20, 20),
    "twist_low": (-30, 30), "twist_up": (-30, 30),
    "neck_flex": (-35, 50), "neck_yaw": (-70, 70), "neck_roll": (-30, 30),
    "hip_flex": (-25, 125), "hip_abd": (-20, 50), "hip_rot": (-40, 40), "knee": (0, 150),
    "sh_flex": (-50, 175), "sh_abd": (-20, 160), "sh_rot": (-70, 90), "elbow": (0, 150),
    "ankle": (-30, 45),
}
_SIDED = ("hip_flex", "hip_abd", "hip_rot", "knee", "sh_flex", "sh_abd", "sh_rot", "elbow")
SHOULDER_DROOP_DEG = 12.0
NOSE_DIR = np.array([0.0, 0.35, 0.94]) / np.linalg.norm([0.0, 0.35, 0.94])  # thorax -> nose, head frame
TOP_DIR = np.array([0.0, -0.25, 0.97]) / np.linalg.norm([0.0, -0.25, 0.97])  # nose -> head top, head frame
_CANON = np.array([skeleton.CANONICAL_BONE_MM[b] for b in skeleton.BONES])
_ANKLE_HEIGHT_MM = 70.0  # ankle joint above the sole for the canonical 1.68 m body


def _len_of(child: int) -> int:
    """Position of bone (child, parent) in skeleton.BONES."""
    return [c for c, _ in skeleton.BONES].index(child)


@dataclass(frozen=True)
class BodyShape:
    """Fixed body of one subject.

    height_mm: stature standing straight (floor to head top), mm. bones_mm: (16,) bone lengths in `skeleton.BONES`
    order, mm. girth: radius factor for the rendered limbs (1 = average build).
    """

    height_mm: float
    bones_mm: np.ndarray
    girth: float

    def bone(self, child: int) -> float:
        """Length in mm of the bone ending at joint ``child``."""
        return float(self.bones_mm[_len_of(child)])

    @property
    def scale(self) -> float:
        """Linear size relative to the canonical 1.68 m H36M body (dimensionless)."""
        return self.height_mm / 1683.0


def random_shape(rng: np.random.Generator) -> BodyShape:
    """A random adult: height 1.5-1.95 m, independent +-8 % leg / torso / arm / head proportions, +-15 % shoulder
    and hip width, girth 0.85-1.25. Bones are symmetric left/right."""
    height = rng.uniform(1500.0, 1950.0)
    f = {k: rng.uniform(0.92, 1.08) for k in ("leg", "torso", "arm", "head")}
    f.update(shoulder=rng.uniform(0.85, 1.15), hip=rng.uniform(0.85, 1.15))
    group = {1: "hip", 4: "hip", 2: "leg", 3: "leg", 5: "leg", 6: "leg", 7: "torso", 8: "torso", 9: "head",
             10: "head", 11: "shoulder", 14: "shoulder", 12: "arm", 13: "arm", 15: "arm", 16: "arm"}
    rel = np.array([_CANON[i] * f[group[c]] for i, (c, _) in enumerate(skeleton.BONES)])
    L = {c: rel[i] for i, (c, _) in enumerate(skeleton.BONES)}
    stature_rel = (_ANKLE_HEIGHT_MM * f["leg"] + L[2] + L[3] + L[7] + L[8] + L[9] * NOSE_DIR[2] + L[10] * TOP_DIR[2])
    girth = float(rng.uniform(0.85, 1.25))
    return BodyShape(height_mm=float(height), bones_mm=rel * (height / stature_rel), girth=girth)


def subject_shape(twin: str, subject: str) -> BodyShape:
    """The fixed body of a named subject of a twin (e.g. ("H", "S9")); the same for every dataset seed."""
    return random_shape(np.random.default_rng(zlib.crc32(f"shape:{twin}:{subject}".encode())))


# ---- rotations --------------------------------------------------------------------------------------------
def rx(a: float) -> np.ndarray:
    """(3, 3) rotation about x by ``a`` radians (y -> z)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def ry(a: float) -> np.ndarray:
    """(3, 3) rotation about y by ``a`` radians (z -> x)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rz(a: float) -> np.ndarray:
    """(3, 3) rotation about z by ``a`` radians (x -> y)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass
class Pose:
    """One posed body. joints: (J, 3) mm; toes, hands: (2, 3) mm, [right, left]; face, chest: (3,) unit vectors
    (where the face / the front of the chest point). Body or world frame, as the producing function says."""

    joints: np.ndarray
    toes: np.ndarray
    hands: np.ndarray
    face: np.ndarray
    chest: np.ndarray
    family: str = "random"

    def moved(self, R: np.ndarray, t: np.ndarray) -> "Pose":
        """Rigidly moved copy: points X -> R X + t (R (3, 3), t (3,) mm); directions only rotate."""
        return Pose(self.joints @ R.T + t, self.toes @ R.T + t, self.hands @ R.T + t, R @ self.face, R @ self.chest,
                    self.family)


def forward_kinematics(angles: dict[str, float], shape: BodyShape) -> Pose:
    """Joint angles (degrees, keys of `LIMITS_DEG`, sided ones prefixed "r_" / "l_") -> `Pose` in the body frame
    with the pelvis at the origin. Every bone gets exactly its length from ``shape`` (mm)."""
    d = {k: np.radians(v) for k, v in angles.items()}
    J = np.zeros((skeleton.J, 3))
    Rp = rx(-d["pelvis_pitch"]) @ ry(d["pelvis_roll"])
    R_low = Rp @ rx(-d["flex_low"]) @ ry(d["lat_low"]) @ rz(d["twist_low"])
    J[7] = R_low @ [0.0, 0.0, shape.bone(7)]
    R_up = R_low @ rx(-d["flex_up"]) @ ry(d["lat_up"]) @ rz(d["twist_up"])
    J[8] = J[7] + R_up @ [0.0, 0.0, shape.bone(8)]
    R_head = R_up @ rx(-d["neck_flex"]) @ rz(d["neck_yaw"]) @ ry(d["neck_roll"])
    J[9] = J[8] + R_head @ NOSE_DIR * shape.bone(9)
    J[10] = J[9] + R_head @ TOP_DIR * shape.bone(10)
    toes, hands = np.zeros((2, 3)), np.zeros((2, 3))
    droop = np.radians(SHOULDER_DROOP_DEG)
    for k, (side, sgn, (hip, knee, ank), (sho, elb, wri)) in enumerate(
            (("r", 1.0, (1, 2, 3), (14, 15, 16)), ("l", -1.0, (4, 5, 6), (11, 12, 13)))):
        a = {n: d[f"{side}_{n}"] for n in _SIDED}
        J[hip] = Rp @ [sgn * shape.bone(hip), 0.0, 0.0]
        R_th = Rp @ rx(a["hip_flex"]) @ ry(-sgn * a["hip_abd"]) @ rz(sgn * a["hip_rot"])
        J[knee] = J[hip] + R_th @ [0.0, 0.0, -shape.bone(knee)]
        R_sh = R_th @ rx(-a["knee"])
        J[ank] = J[knee] + R_sh @ [0.0, 0.0, -shape.bone(ank)]
        toes[k] = J[ank] + _foot_direction(R_sh) * 0.33 * shape.bone(ank)
        J[sho] = J[8] + R_up @ [sgn * shape.bone(sho) * np.cos(droop), 0.0, -shape.bone(sho) * np.sin(droop)]
        R_ua = R_up @ rx(a["sh_flex"]) @ ry(-sgn * a["sh_abd"]) @ rz(sgn * a["sh_rot"])
        J[elb] = J[sho] + R_ua @ [0.0, 0.0, -shape.bone(elb)]
        R_fa = R_ua @ rx(a["elbow"])
        J[wri] = J[elb] + R_fa @ [0.0, 0.0, -shape.bone(wri)]
        hands[k] = J[wri] + R_fa @ [0.0, 0.0, -0.3 * shape.bone(wri)]
    return Pose(J, toes, hands, R_head[:, 1].copy(), R_up[:, 1].copy())


def _foot_direction(R_shin: np.ndarray) -> np.ndarray:
    """Unit foot direction: the shin's forward axis turned about its x axis, within the ankle limits, so that the
    foot points as close as possible to slightly below the horizontal (a foot resting flat)."""
    lo, hi = np.radians(LIMITS_DEG["ankle"])
    cands = np.linspace(lo, hi, 16)
    dirs = np.stack([R_shin @ [0.0, np.cos(a), np.sin(a)] for a in cands])
    return dirs[np.argmin(np.abs(dirs[:, 2] + 0.15))]


# ---- action families --------------------------------------------------------------------------------------
def sample_angles(family: str, rng: np.random.Generator) -> dict[str, float]:
    """Joint angles in degrees for one of `FAMILIES`, clipped to `LIMITS_DEG`. Families follow the activities
    of H36M / 3DHP (standing, walking, sitting, reaching, crouching); "random" is uniform within the limits."""
    if family not in FAMILIES:
        raise ValueError(f"unknown pose family {family!r}; expected one of {FAMILIES}")
    n = rng.normal
    a = {"pelvis_pitch": n(0, 4), "pelvis_roll": n(0, 3), "flex_low": n(4, 6), "flex_up": n(3, 5),
         "lat_low": n(0, 4), "lat_up": n(0, 4), "twist_low": n(0, 6), "twist_up": n(0, 8),
         "neck_flex": n(5, 12), "neck_yaw": n(0, 25), "neck_roll": n(0, 8)}
    for s in "rl":
        a.update({f"{s}_hip_flex": n(0, 5), f"{s}_hip_abd": n(6, 4), f"{s}_hip_rot": n(5, 8),
                  f"{s}_knee": abs(n(0, 8))})
        a.update(_arm(rng, rng.choice(["hang", "hips", "forward", "phone", "free"], p=[.4, .1, .2, .1, .2]), s))
    if family == "walking":
        phase, amp = rng.uniform(0, 2 * np.pi), rng.uniform(15, 32)
        for s, sgn in (("r", 1.0), ("l", -1.0)):
            ph = phase + (0 if s == "r" else np.pi)
            a[f"{s}_hip_flex"] = 5 + amp * np.sin(ph) + n(0, 3)
            a[f"{s}_knee"] = 8 + 50 * max(0.0, np.sin(ph + 0.9)) + abs(n(0, 4))
            a[f"{s}_sh_flex"] = -0.8 * amp * np.sin(ph) + n(0, 5)
            a[f"{s}_sh_abd"], a[f"{s}_elbow"] = n(8, 4), rng.uniform(10, 45)
        a["twist_up"] = 6 * np.sin(phase) + n(0, 3)
    elif family == "sitting":
        a["pelvis_pitch"] = n(-8, 5)
        for s in "rl":
            a.update({f"{s}_hip_flex": n(88, 10), f"{s}_hip_abd": n(10, 8), f"{s}_knee": n(90, 15),
                      f"{s}_hip_rot": n(0, 8)})
            if rng.random() < 0.5:
                a.update({f"{s}_sh_flex": n(35, 10), f"{s}_sh_abd": n(8, 5), f"{s}_elbow": n(75, 12)})
    elif family == "reaching":
        for s in rng.permutation(["r", "l"])[: rng.integers(1, 3)]:
            a.update({f"{s}_sh_flex": rng.uniform(70, 170), f"{s}_sh_abd": rng.uniform(0, 70),
                      f"{s}_elbow": abs(n(8, 15)), f"{s}_sh_rot": n(0, 15)})
        a.update({"flex_low": n(12, 12), "lat_low": n(0, 10), "twist_low": n(0, 12)})
        if rng.random() < 0.4:  # lunge
            s, o = rng.permutation(["r", "l"])
            a.update({f"{s}_hip_flex": n(35, 10), f"{s}_knee": n(45, 12), f"{o}_hip_flex": n(-12, 5)})
    elif family == "crouching":
        for s in "rl":
            a.update({f"{s}_hip_flex": rng.uniform(90, 125), f"{s}_knee": rng.uniform(100, 145),
                      f"{s}_hip_abd": n(18, 8), f"{s}_sh_flex": rng.uniform(15, 80),
                      f"{s}_elbow": rng.uniform(20, 100)})
        a.update({"flex_low": n(30, 10), "flex_up": n(15, 8), "neck_flex": n(-10, 10)})
    elif family == "random":
        for k, (lo, hi) in LIMITS_DEG.items():
            if k == "ankle":
                continue
            names = [f"r_{k}", f"l_{k}"] if k in _SIDED else [k]
            for nm in names:
                a[nm] = rng.uniform(lo, hi) if k in _SIDED or k.startswith("neck") else rng.uniform(lo, hi) * 0.5
    return clip_angles(a)


def _arm(rng: np.random.Generator, style: str, s: str) -> dict[str, float]:
    n = rng.normal
    if style == "hang":
        v = (n(0, 10), n(10, 6), n(10, 15), abs(n(10, 12)))
    elif style == "hips":
        v = (n(-10, 5), n(45, 8), n(40, 10), n(110, 10))
    elif style == "forward":
        v = (n(40, 12), n(0, 8), n(60, 15), n(110, 15))
    elif style == "phone":
        v = (n(30, 8), n(15, 8), n(70, 10), n(140, 6))
    else:
        v = (rng.uniform(-40, 150), rng.uniform(-10, 120), rng.uniform(-40, 80), rng.uniform(0, 140))
    return dict(zip((f"{s}_sh_flex", f"{s}_sh_abd", f"{s}_sh_rot", f"{s}_elbow"), v))


def clip_angles(angles: dict[str, float]) -> dict[str, float]:
    """Clip every angle (degrees) to its `LIMITS_DEG` range; sided keys use the unsided limits."""
    out = {}
    for k, v in angles.items():
        lo, hi = LIMITS_DEG[k[2:] if k[:2] in ("r_", "l_") else k]
        out[k] = float(np.clip(v, lo, hi))
    return out


def self_intersects(joints: np.ndarray, shape: BodyShape) -> bool:
    """Crude collision test on (J, 3) mm body-frame joints: limb joints inside the torso or the head, or the legs
    crossing through each other."""
    k = shape.scale
    a, b = joints[0], joints[8]
    ab = b - a
    limb = joints[[2, 3, 5, 6, 12, 13, 15, 16]]
    s = np.clip((limb - a) @ ab / (ab @ ab), 0.0, 1.0)
    if (np.linalg.norm(limb - (a + s[:, None] * ab), axis=1) < 105.0 * k).any():
        return True
    head = 0.5 * (joints[9] + joints[10])
    if (np.linalg.norm(joints[[13, 16]] - head, axis=1) < 110.0 * k).any():
        return True
    return bool(np.linalg.norm(joints[2] - joints[5]) < 110.0 * k or np.linalg.norm(joints[3] - joints[6]) < 90.0 * k)


def sample_pose(family: str, shape: BodyShape, rng: np.random.Generator, yaw: float | None = None,
                position: np.ndarray | None = None, tries: int = 30) -> Pose:
    """A posed body standing (or sitting, crouching, ...) on the floor z = 0, in world mm.

    Args:
        family: one of `FAMILIES`. shape: the subject's body. yaw: heading in radians about z (random if None).
        position: (2,) floor position of the pelvis in mm ((0, 0) if None).
    Returns:
        `Pose` in the world frame; the lowest body point (sole, knee, hand or seat) touches z = 0.
    """
    for _ in range(tries):
        pose = forward_kinematics(sample_angles(family, rng), shape)
        if not self_intersects(pose.joints, shape):
            break
    pose.family = family
    k = shape.scale
    J = pose.joints
    lowest = min(J[[3, 6], 2].min() - 0.8 * _ANKLE_HEIGHT_MM * k, pose.toes[:, 2].min() - 32.0 * k,
                 J[[2, 5], 2].min() - 55.0 * k, pose.hands[:, 2].min() - 30.0 * k, J[0, 2] - 110.0 * k)
    yaw = rng.uniform(0.0, 2 * np.pi) if yaw is None else yaw
    xy = np.zeros(2) if position is None else np.asarray(position, float)
    return pose.moved(rz(yaw), np.array([xy[0], xy[1], -lowest]))


def choose_family(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """Draw a family name with the given (unnormalised) weights."""
    names = list(weights)
    p = np.array([weights[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def joint_angle(joints: np.ndarray, a: int, b: int, c: int) -> np.ndarray:
    """Bending angle in degrees at joint b between bones a-b and b-c (0 = straight). joints: (..., J, 3)."""
    u = joints[..., a, :] - joints[..., b, :]
    v = joints[..., c, :] - joints[..., b, :]
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return 180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
