"""Human3.6M fixed tables and camera maths: camera / subject / sequence names (with the folder <-> VideoPose3D key
map), VideoPose3D's hard-coded camera parameters, the H36M lens-distortion model and undistorted pinhole crops.

Everything follows data-formats.md Sec. 1 (cited as "spec Sec. 1.x"):

* Camera order (spec Sec. 1.0): view 0..3 = ``54138969, 55011271, 58860488, 60457274``.
* Extrinsics are world->camera, ``X_cam = R @ X_world + t`` with t in mm (spec Sec. 1.2).
* ``dist`` is always the learnable-triangulation (KF) 5-vector ``[k1, k2, p_a, p_b, k3]`` with the tangential pair
  in H36M / cameras.h5 order (spec Sec. 1.2, 1.5). VideoPose3D stores that pair reversed, ``(p_b, p_a)``.
* Distortion model (spec Sec. 1.5), on normalised coordinates ``x = X/Z, y = Y/Z``, ``r^2 = x^2 + y^2``::

      radial = 1 + k1 r^2 + k2 r^4 + k3 r^6
      x_d = x * radial + p_a * x * y + p_b * (x^2 + r^2)
      y_d = y * radial + p_b * x * y + p_a * (y^2 + r^2)
      u = fx * x_d + cx,   v = fy * y_d + cy

  This is not OpenCV's model (OpenCV has ``2 p1 x y + p2 (r^2 + 2 x^2)``), so OpenCV's projectPoints / undistort
  are never used with these numbers.

Pixel convention: pixel centres at integer coordinates (as everywhere in weakpose, see `weakpose.camera`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from weakpose.camera import project

CAMERA_NAMES: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
ACTIONS: tuple[str, ...] = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
                            "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Waiting", "Walking", "WalkingDog",
                            "WalkingTogether")
ACTION_NAMES: tuple[str, ...] = tuple(f"{a}-{n}" for a in ACTIONS for n in (1, 2))  # folder names, KF order
# (width, height) of the full frames in pixels (spec Sec. 1.0, VP).
IMAGE_SIZE: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000), "60457274": (1000, 1002),
}

# VideoPose3D's hard-coded intrinsics (spec Sec. 1.3), identical for every subject:
# camera -> (fx, fy, cx, cy, k1, k2, k3, tangential in VP order (p_b, p_a)).
_VP_INTRINSICS: dict[str, tuple[float, ...]] = {
    "54138969": (1145.0494384765625, 1143.7811279296875, 512.54150390625, 515.4514770507812,
                 -0.20709891617298126, 0.24777518212795258, -0.0030751503072679043,
                 -0.0009756988729350269, -0.00142447161488235),
    "55011271": (1149.6756591796875, 1147.5916748046875, 508.8486328125, 508.0649108886719,
                 -0.1942136287689209, 0.2404085397720337, 0.006819975562393665,
                 -0.0016190266469493508, -0.0027408944442868233),
    "58860488": (1149.1407470703125, 1148.7989501953125, 519.8158569335938, 501.40264892578125,
                 -0.2083381861448288, 0.25548800826072693, -0.0024604974314570427,
                 0.0014843869721516967, -0.0007599993259645998),
    "60457274": (1145.5113525390625, 1144.77392578125, 514.9682006835938, 501.88201904296875,
                 -0.198384091258049, 0.21832367777824402, -0.008947807364165783,
                 -0.0005872055771760643, -0.0018133620033040643),
}

# VideoPose3D's hard-coded extrinsics (spec Sec. 1.3): per subject, per camera in CAMERA_NAMES order,
# (camera->world quaternion (w, x, y, z), camera centre in world mm).
_VP_EXTRINSICS: dict[str, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {
    "S1": (((0.1407056451, -0.1500701755, -0.755240798, 0.622328043), (1841.107056, 4955.284668, 1563.445435)),
           ((0.6157187819, -0.7648363113, -0.1483382583, 0.1179474071), (1761.278564, -5078.006836, 1606.265015)),
           ((0.1465147287, -0.1464785188, 0.7653023601, -0.6094175577), (-1846.77771, 5215.046387, 1491.972412)),
           ((0.5834008455, -0.7853162289, 0.1454882324, -0.1474959403), (-1794.789673, -3722.698975, 1574.8927))),
    "S5": (((0.1467377245, -0.1623709649, -0.7551892996, 0.6178938746), (2097.391602, 4880.944824, 1605.732422)),
           ((0.6159758568, -0.7626792192, -0.1572819203, 0.118981503), (2031.700806, -5167.933105, 1612.923096)),
           ((0.1429137141, -0.129078418, 0.7678384781, -0.6110143065), (-1620.594849, 5171.658691, 1496.437012)),
           ((0.5920479894, -0.7814217806, 0.1274748594, -0.1503641754), (-1637.173706, -3867.317383, 1547.033203))),
    "S6": (((0.1337897778, -0.1569239646, -0.757109046, 0.619887948), (1935.451782, 4950.245605, 1618.083862)),
           ((0.6147197485, -0.762881279, -0.1617476791, 0.1181924492), (1969.803955, -5128.73877, 1632.778809)),
           ((0.1529948115, -0.1352913082, 0.7646096349, -0.6112781167), (-1769.596436, 5185.361328, 1476.993408)),
           ((0.5916101336, -0.7804774046, 0.1283227056, -0.156159386), (-1721.668701, -3884.131348, 1540.487915))),
    "S7": (((0.1435241848, -0.1631336808, -0.7548328638, 0.6188824773), (1974.512939, 4926.354492, 1597.832642)),
           ((0.614167273, -0.763826251, -0.1596645564, 0.1177929938), (1937.058472, -5119.790039, 1631.566528)),
           ((0.1455006003, -0.1287481636, 0.76605165, -0.612713933), (-1741.811157, 5208.249512, 1464.824585)),
           ((0.5912848115, -0.782176435, 0.1244547367, -0.1519648731), (-1734.710571, -3832.421387, 1548.583008))),
    "S8": (((0.1411058754, -0.1558986753, -0.7561917305, 0.6196440458), (2150.651855, 4896.161133, 1611.904663)),
           ((0.6169601679, -0.7647668123, -0.1484635025, 0.1115815789), (2219.965576, -5148.453125, 1613.044067)),
           ((0.147144407, -0.133771196, 0.7670128345, -0.6100369692), (-1571.221558, 5137.018555, 1498.176147)),
           ((0.5927824378, -0.7825870514, 0.1214781627, -0.1463199556), (-1476.91333, -3896.741211, 1547.972168))),
    "S9": (((0.155405879, -0.1554821581, -0.7532095313, 0.6199594736), (2044.458496, 4935.117188, 1481.227539)),
           ((0.6187844872, -0.7634735107, -0.1413223892, 0.1193396822), (1990.959717, -5123.810547, 1568.80481)),
           ((0.1335782707, -0.1367100477, 0.7689454556, -0.6100738645), (-1670.992188, 5211.98584, 1528.387939)),
           ((0.587939918, -0.7823407054, 0.1427614391, -0.1479486972), (-1696.043457, -3827.099854, 1591.41272))),
    "S11": (((0.1523247212, -0.154423207, -0.7547563314, 0.619107008), (2098.440186, 4926.554688, 1500.278564)),
            ((0.618944943, -0.760091722, -0.1530063301, 0.1255258322), (2083.182373, -4912.172852, 1561.078613)),
            ((0.1494322866, -0.1565022767, 0.7681233883, -0.6026304364), (-1609.815308, 5177.335938, 1537.896729)),
            ((0.5894251466, -0.7818877101, 0.1399121135, -0.147153616), (-1590.738037, -3854.168945, 1578.017578))),
}

# Crop rays farther than this from the optical axis (normalised radius; the H36M frames reach ~0.65) are left
# black instead of being pushed through the polynomial, which folds back for large radii.
_MAX_RAY_RADIUS = 1.5


@dataclass(frozen=True)
class Camera:
    """One calibrated H36M camera of one subject (spec Sec. 1.2).

    R: (3, 3) world->camera rotation. t: (3,) world->camera translation, mm (X_cam = R X_world + t).
    K: (3, 3) intrinsics of the full frame, pixels. dist: (5,) ``[k1, k2, p_a, p_b, k3]`` (spec Sec. 1.5).
    name: camera id, e.g. "54138969". size: (width, height) of the full frame, pixels.
    """

    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    dist: np.ndarray
    name: str
    size: tuple[int, int]


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a quaternion (w, x, y, z), normalised first; the convention of VideoPose3D's ``qrot``
    (``qrot(q, v) = M @ v``).

    q: (..., 4) -> (..., 3, 3).
    """
    q = np.asarray(q, np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternion must have shape (..., 4), got {q.shape}")
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


@lru_cache(maxsize=None)
def vp_camera(subject: str, view: int) -> Camera:
    """Camera ``view`` (0..3, spec Sec. 1.0 order) of ``subject`` from VideoPose3D's hard-coded tables (spec Sec. 1.3).

    The VP quaternion rotates camera->world and its translation is the camera centre C in world mm, hence
    ``R = M(q)^T`` and ``t = -R C``; the tangential pair is swapped from VP order (p_b, p_a) into KF order.
    """
    if subject not in _VP_EXTRINSICS:
        raise ValueError(f"unknown Human3.6M subject {subject!r}; cameras exist for {list(_VP_EXTRINSICS)}")
    if not 0 <= view < len(CAMERA_NAMES):
        raise ValueError(f"camera index must be in 0..{len(CAMERA_NAMES) - 1}, got {view}")
    name = CAMERA_NAMES[view]
    fx, fy, cx, cy, k1, k2, k3, tb, ta = _VP_INTRINSICS[name]
    q, centre = _VP_EXTRINSICS[subject][view]
    R = quaternion_to_matrix(np.array(q)).T
    t = -R @ np.array(centre, np.float64)
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    dist = np.array([k1, k2, ta, tb, k3])
    for a in (R, t, K, dist):
        a.setflags(write=False)
    return Camera(R=R, t=t, K=K, dist=dist, name=name, size=IMAGE_SIZE[name])


def _check_dist(dist: np.ndarray) -> np.ndarray:
    dist = np.asarray(dist, np.float64)
    if dist.shape != (5,):
        raise ValueError(f"dist must be [k1, k2, p_a, p_b, k3] with shape (5,), got {dist.shape}")
    return dist


def distort_points(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Apply the H36M distortion model (spec Sec. 1.5) to normalised image coordinates.

    Args:
        xy: (..., 2) undistorted normalised coordinates (X/Z, Y/Z), unitless.
        dist: (5,) ``[k1, k2, p_a, p_b, k3]``.
    Returns:
        (..., 2) distorted normalised coordinates (x_d, y_d).
    """
    k1, k2, pa, pb, k3 = _check_dist(dist)
    xy = np.asarray(xy, np.float64)
    if xy.shape[-1] != 2:
        raise ValueError(f"xy must have shape (..., 2), got {xy.shape}")
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    xd = x * radial + pa * x * y + pb * (x * x + r2)
    yd = y * radial + pb * x * y + pa * (y * y + r2)
    return np.stack([xd, yd], -1)


def undistort_points(xy_d: np.ndarray, dist: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Invert `distort_points` by fixed-point iteration (converges for the mild H36M lenses inside the frame).

    xy_d: (..., 2) distorted normalised coordinates -> (..., 2) undistorted normalised coordinates.
    """
    xy_d = np.asarray(xy_d, np.float64)
    xy = xy_d.copy()
    for _ in range(iterations):
        xy = xy - (distort_points(xy, dist) - xy_d)
    return xy


def project_h36m(points_cam: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Project camera-frame 3D points into the distorted full frame (spec Sec. 1.5).

    Args:
        points_cam: (..., 3) camera-frame points, mm (any unit; only ratios are used), Z > 0.
        K: (3, 3) full-frame intrinsics, pixels. dist: (5,) ``[k1, k2, p_a, p_b, k3]``.
    Returns:
        (..., 2) pixel coordinates (u, v) in the original (distorted) frame.
    """
    P = np.asarray(points_cam, np.float64)
    if P.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {P.shape}")
    xd = distort_points(P[..., :2] / P[..., 2:3], dist)
    K = np.asarray(K, np.float64)
    return np.stack([K[0, 0] * xd[..., 0] + K[0, 1] * xd[..., 1] + K[0, 2], K[1, 1] * xd[..., 1] + K[1, 2]], -1)



def undistort_pixels(uv: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Distorted full-frame pixels -> pixels of the ideal pinhole camera with the same K. uv: (..., 2) -> (..., 2)."""
    K = np.asarray(K, np.float64)
    uv1 = np.concatenate([np.asarray(uv, np.float64), np.ones(np.shape(uv)[:-1] + (1,))], -1)
    xy = undistort_points((uv1 @ np.linalg.inv(K).T)[..., :2], dist)
    return project(np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], -1), K)


def _fold_radius2(dist: np.ndarray) -> float:
    """Smallest r^2 at which the radial polynomial r (1 + k1 r^2 + k2 r^4 + k3 r^6) stops increasing (capped)."""
    k1, k2, _, _, k3 = dist
    r = np.linspace(0.0, _MAX_RAY_RADIUS, 3001)
    r2 = r * r
    slope = 1 + 3 * k1 * r2 + 5 * k2 * r2 ** 2 + 7 * k3 * r2 ** 3
    bad = np.nonzero(slope <= 0)[0]
    return float(r2[bad[0] - 1]) if len(bad) else float(r2[-1])


def undistort_crop_maps(K_crop: np.ndarray, K_full: np.ndarray, dist: np.ndarray,
                        crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps that turn a distorted H36M frame into an ideal pinhole crop with intrinsics ``K_crop``.

    For every crop pixel x' the ray ``K_crop^-1 x'`` is distorted with the H36M model and mapped through
    ``K_full`` to its source pixel in the original frame.

    Args:
        K_crop: (3, 3) intrinsics of the wanted crop, pixels. K_full: (3, 3) of the frame. dist: (5,).
        crop_size: S.
    Returns:
        map_x, map_y: (S, S) float32 source pixel coordinates for `cv2.remap`; -1 for rays outside the lens model.
    """
    dist = _check_dist(dist)
    g = np.arange(crop_size, dtype=np.float64)
    uu, vv = np.meshgrid(g, g)
    rays = np.stack([uu, vv, np.ones_like(uu)], -1) @ np.linalg.inv(np.asarray(K_crop, np.float64)).T
    xy = rays[..., :2] / rays[..., 2:3]
    ok = (xy ** 2).sum(-1) <= _fold_radius2(dist)
    xd = distort_points(xy, dist)
    K_full = np.asarray(K_full, np.float64)
    map_x = K_full[0, 0] * xd[..., 0] + K_full[0, 1] * xd[..., 1] + K_full[0, 2]
    map_y = K_full[1, 1] * xd[..., 1] + K_full[1, 2]
    map_x[~ok] = -1.0
    map_y[~ok] = -1.0
    return map_x.astype(np.float32), map_y.astype(np.float32)


def undistorted_crop(image: np.ndarray, K_crop: np.ndarray, K_full: np.ndarray, dist: np.ndarray,
                     crop_size: int) -> np.ndarray:
    """(H, W, 3) uint8 distorted frame -> (S, S, 3) uint8 pinhole crop with intrinsics K_crop (bilinear, black
    outside the frame). See `undistort_crop_maps`."""
    map_x, map_y = undistort_crop_maps(K_crop, K_full, dist, crop_size)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(0, 0, 0))


# ---- sequence folders <-> VideoPose3D action keys (spec Sec. 1.0, 1.3) ---------------------------------------
# Folder -> VideoPose3D key where it is not the default "<action> <n>" (action renamed TakingPhoto -> Photo,
# WalkingDog -> WalkDog, WalkingTogether -> WalkTogether). Transcribed from learnable-triangulation's
# action_to_una_dinosauria.py (VP keys = Martinez's file names); it agrees with the S1 example of spec Sec. 1.0
# (h36m-fetch metadata.xml), the full metadata.xml table is unverified. Override with ``action_map``.
_VP_RENAME = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog", "WalkingTogether": "WalkTogether"}
_VP_KEY_EXCEPTIONS: dict[str, dict[str, str]] = {
    "S1": {"Directions-2": "Directions", "Discussion-2": "Discussion", "Eating-1": "Eating 2", "Eating-2": "Eating",
           "Greeting-2": "Greeting", "Phoning-2": "Phoning", "Posing-2": "Posing", "Purchases-2": "Purchases",
           "SittingDown-1": "SittingDown 2", "SittingDown-2": "SittingDown", "Smoking-2": "Smoking",
           "TakingPhoto-2": "Photo", "Waiting-2": "Waiting", "Walking-2": "Walking", "WalkingDog-2": "WalkDog",
           "WalkingTogether-2": "WalkTogether"},
    "S5": {"Discussion-1": "Discussion 2", "Discussion-2": "Discussion 3", "Eating-2": "Eating", "Phoning-2": "Phoning",
           "Posing-2": "Posing", "Purchases-2": "Purchases", "Sitting-2": "Sitting", "SittingDown-1": "SittingDown",
           "SittingDown-2": "SittingDown 1", "Smoking-2": "Smoking", "TakingPhoto-1": "Photo",
           "Waiting-2": "Waiting 2", "Walking-2": "Walking", "WalkingDog-2": "WalkDog",
           "WalkingTogether-2": "WalkTogether"},
    "S6": {"Directions-2": "Directions", "Discussion-2": "Discussion", "Greeting-2": "Greeting",
           "Phoning-2": "Phoning", "Posing-1": "Posing 2", "Posing-2": "Posing", "Purchases-2": "Purchases",
           "SittingDown-1": "SittingDown 1", "SittingDown-2": "SittingDown", "Smoking-2": "Smoking",
           "TakingPhoto-1": "Photo", "TakingPhoto-2": "Photo 1", "Waiting-1": "Waiting 3", "Waiting-2": "Waiting",
           "Walking-2": "Walking", "WalkingDog-2": "WalkDog", "WalkingTogether-2": "WalkTogether"},
    "S7": {"Directions-2": "Directions", "Discussion-2": "Discussion", "Eating-2": "Eating", "Greeting-2": "Greeting",
           "Phoning-1": "Phoning 2", "Phoning-2": "Phoning", "Posing-2": "Posing", "Purchases-2": "Purchases",
           "Sitting-2": "Sitting", "SittingDown-1": "SittingDown", "SittingDown-2": "SittingDown 1",
           "Smoking-2": "Smoking", "TakingPhoto-1": "Photo", "TakingPhoto-2": "Photo 1", "WalkingDog-2": "WalkDog",
           "WalkingTogether-2": "WalkTogether"},
    "S8": {"Directions-2": "Directions", "Discussion-2": "Discussion", "Eating-2": "Eating", "Greeting-2": "Greeting",
           "Phoning-2": "Phoning", "Posing-2": "Posing", "Purchases-2": "Purchases", "Sitting-2": "Sitting",
           "SittingDown-1": "SittingDown", "SittingDown-2": "SittingDown 1", "Smoking-2": "Smoking",
           "TakingPhoto-2": "Photo", "Waiting-2": "Waiting", "Walking-2": "Walking", "WalkingDog-2": "WalkDog"},
    "S9": {"Directions-2": "Directions", "Discussion-2": "Discussion 2", "Eating-2": "Eating",
           "Greeting-2": "Greeting", "Phoning-2": "Phoning", "Posing-2": "Posing", "Purchases-2": "Purchases",
           "Sitting-2": "Sitting", "SittingDown-1": "SittingDown", "SittingDown-2": "SittingDown 1",
           "Smoking-2": "Smoking", "TakingPhoto-2": "Photo", "Waiting-2": "Waiting", "Walking-2": "Walking",
           "WalkingDog-2": "WalkDog", "WalkingTogether-2": "WalkTogether"},
    "S11": {"Directions-2": "Directions", "Discussion-2": "Discussion 2", "Eating-2": "Eating",
            "Greeting-1": "Greeting 2", "Greeting-2": "Greeting", "Phoning-1": "Phoning 3", "Phoning-2": "Phoning 2",
            "Posing-2": "Posing", "Purchases-2": "Purchases", "Sitting-2": "Sitting", "SittingDown-1": "SittingDown",
            "SittingDown-2": "SittingDown 1", "Smoking-1": "Smoking 2", "Smoking-2": "Smoking",
            "TakingPhoto-2": "Photo", "Waiting-2": "Waiting", "Walking-2": "Walking", "WalkingDog-2": "WalkDog",
            "WalkingTogether-2": "WalkTogether"},
}


def vp_action_key(subject: str, folder: str) -> str:
    """VideoPose3D / Martinez action key of the sequence folder ``folder`` (e.g. "Eating-1") of ``subject``."""
    if subject not in _VP_KEY_EXCEPTIONS:
        raise ValueError(f"unknown Human3.6M subject {subject!r}; expected one of {list(SUBJECTS)}")
    if folder not in ACTION_NAMES:
        raise ValueError(f"unknown sequence folder {folder!r}; expected one of {list(ACTION_NAMES)}")
    action, n = folder.rsplit("-", 1)
    return _VP_KEY_EXCEPTIONS[subject].get(folder, f"{_VP_RENAME.get(action, action)} {n}")


def vp_action_folders(subject: str, action_map: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """VP key -> sequence folder for ``subject`` (30 entries), with ``action_map[subject]`` entries
    (VP key -> folder) replacing the built-in ones."""
    table = {vp_action_key(subject, f): f for f in ACTION_NAMES}
    for key, folder in ((action_map or {}).get(subject) or {}).items():
        if folder not in ACTION_NAMES:
            raise ValueError(f"action_map[{subject!r}][{key!r}] = {folder!r} is not a sequence folder; "
                             f"expected one of {list(ACTION_NAMES)}")
        table = {k: f for k, f in table.items() if f != folder}
        table[key] = folder
    return table
