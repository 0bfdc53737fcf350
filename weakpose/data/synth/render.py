"""A small numpy/OpenCV renderer for the synthetic twins: shaded bodies made of spheres, a textured floor with the
body's shadow, and a panorama behind, all in true perspective through the crop intrinsics.

Conventions: world in mm, z up, floor z = 0; cameras are OpenCV pinhole cameras (x right, y down, z forward) with
world->camera extrinsics X_c = R X_w + t and intrinsics K; pixel centres sit at integer coordinates, so the ray of
pixel (u, v) is K^-1 [u, v, 1]. A view is rendered directly into the stored S x S crop with K_crop = A K_full
(`weakpose.camera.crop_affine`), which is exact because A is affine.

Depth cues the images carry (so that relative depth, eq. 5 of the paper, is inferable from appearance): perspective
size through K, Lambert shading under a light that is fixed in the world (not along the view direction) plus
ambient, z-buffered occlusion between body parts, a floor with texture, fog and the body's cast shadow, and left and
right body parts in clearly different colours (cool hues on the left, warm hues on the right).
"""
from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass

import cv2
import numpy as np

from weakpose.camera import project
from weakpose.data.synth.poses import BodyShape, Pose

NEAR_MM = 50.0


@dataclass
class Environment:
    """Everything around the body. sky: (Hp, Wp, 3) uint8 equirectangular panorama (row 0 = straight up);
    floor: (Ht, Wt, 3) uint8 texture tiled on z = 0 with ``floor_mm_per_px``; light: (3,) unit vector towards the
    light, world; ambient in [0, 1]; light_rgb (3,) colour of the light; haze (3,) float colour of the far floor;
    fog_mm: fog distance in mm."""

    sky: np.ndarray
    floor: np.ndarray
    floor_mm_per_px: float
    light: np.ndarray
    ambient: float
    light_rgb: np.ndarray
    haze: np.ndarray
    fog_mm: float = 25000.0
    floor_far_mm: float = 60000.0


@dataclass
class Spheres:
    """A body as N spheres in the world. centers (N, 3) mm, radii (N,) mm, albedo (N, 3) in [0, 1]; alt (N, 3) a
    second colour blended in where the surface normal points along ``axis`` (N, 3) (unit or zero): hair at the
    back of the head, a print on the chest; tangent (N, 3) the unit direction of the chain a sphere sits inside
    (zero at chain ends): shading drops most of the normal's component along it, so a chain shades like a smooth
    capsule instead of a row of beads."""

    centers: np.ndarray
    radii: np.ndarray
    albedo: np.ndarray
    alt: np.ndarray
    axis: np.ndarray
    tangent: np.ndarray


@dataclass(frozen=True)
class Outfit:
    """Colours (3,) RGB in [0, 1] of one person. Left limbs take cool hues and right limbs warm hues."""

    skin: tuple
    hair: tuple
    torso: tuple
    print_: tuple
    left_arm: tuple
    right_arm: tuple
    left_leg: tuple
    right_leg: tuple
    shoes: tuple


def _hsv(h: float, s: float, v: float) -> tuple:
    return tuple(colorsys.hsv_to_rgb((h / 360.0) % 1.0, s, v))


def random_outfit(rng: np.random.Generator) -> Outfit:
    """Random clothes: left limbs hue 185-255 deg (cyan to blue), right limbs hue -20-40 deg (red to orange),
    torso a low-saturation colour, legs darker than arms."""
    hl, hr = rng.uniform(185, 255), rng.uniform(-20, 40)
    sa, va, sl, vl = rng.uniform(.55, .85), rng.uniform(.65, .95), rng.uniform(.5, .8), rng.uniform(.4, .65)
    skins = [(.96, .8, .69), (.87, .67, .52), (.72, .52, .38), (.55, .38, .26), (.4, .27, .2)]
    skin = skins[int(rng.integers(len(skins)))]
    th, ts, tv = rng.uniform(0, 360), rng.uniform(0, .22), rng.uniform(.25, .9)
    return Outfit(skin=skin, hair=_hsv(rng.uniform(15, 40), rng.uniform(.3, .8), rng.uniform(.08, .45)),
                  torso=_hsv(th, ts, tv), print_=_hsv(th + 180, min(1.0, ts + .3), 1.0 - 0.6 * tv),
                  left_arm=_hsv(hl, sa, va), right_arm=_hsv(hr, sa, va),
                  left_leg=_hsv(hl + rng.uniform(-10, 10), sl, vl),
                  right_leg=_hsv(hr + rng.uniform(-10, 10), sl, vl), shoes=_hsv(0, 0, rng.uniform(.1, .35)))


def body_spheres(pose: Pose, shape: BodyShape, outfit: Outfit) -> Spheres:
    """Spheres of one body in world mm: tapered chains along the limbs (spacing 0.8 radius), a torso of three
    chains (pelvis to thorax, and near the hips to near the shoulders), a neck, a head with hair and a nose, hands
    and feet. Every joint lies inside a sphere, so each joint projects onto the body."""
    J, k, g = pose.joints, shape.scale, shape.scale * shape.girth
    up = np.cross(pose.chest, J[14] - J[11])
    cs, rs, cols, alts, axes, tans = [], [], [], [], [], []

    def chain(a, b, ra, rb, col, alt=None, axis=None):
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / (0.8 * min(ra, rb)))) + 1)
        w = np.linspace(0.0, 1.0, n)[:, None]
        cs.append(a + w * (b - a))
        rs.append(ra + w[:, 0] * (rb - ra))
        cols.append(np.tile(col, (n, 1)))
        alts.append(np.tile(col if alt is None else alt, (n, 1)))
        axes.append(np.tile(np.zeros(3) if axis is None else axis, (n, 1)))
        tan = np.tile((b - a) / max(np.linalg.norm(b - a), 1e-9), (n, 1))
        tan[[0, -1]] = 0.0
        tans.append(tan)

    o = outfit
    for (hip, knee, ank), toe, leg in (((1, 2, 3), pose.toes[0], o.right_leg), ((4, 5, 6), pose.toes[1], o.left_leg)):
        chain(J[hip], J[knee], 80 * g, 56 * g, leg)
        chain(J[knee], J[ank], 52 * g, 40 * g, leg)
        chain(J[ank], toe, 40 * k, 30 * k, o.shoes)
    for (sho, elb, wri), hand, arm in (((14, 15, 16), pose.hands[0], o.right_arm),
                                       ((11, 12, 13), pose.hands[1], o.left_arm)):
        chain(J[sho], J[elb], 50 * g, 40 * g, arm)
        chain(J[elb], J[wri], 38 * g, 30 * g, arm)
        chain(J[wri], hand, 30 * k, 34 * k, o.skin)
    chest = pose.chest / np.linalg.norm(pose.chest)
    gt = k * (0.6 + 0.4 * shape.girth)  # the trunk thickens less with girth than the limbs
    for a, b, ra, rb in ((0.8 * J[1] + 0.2 * J[0], 0.85 * J[14] + 0.15 * J[8], 78, 80), (J[0], J[8], 100, 98),
                         (0.8 * J[4] + 0.2 * J[0], 0.85 * J[11] + 0.15 * J[8], 78, 80)):
        chain(a, b, ra * gt, rb * gt, o.torso, o.print_, chest)
    top_dir = up / (np.linalg.norm(up) + 1e-9)
    head_r = 100.0 * k
    head = 0.5 * (J[9] + J[10]) - 0.2 * head_r * pose.face
    chain(J[8], head, 48 * g, 48 * g, o.skin)
    hair_axis = -0.6 * pose.face + 0.8 * top_dir
    chain(head, head, head_r, head_r, o.skin, o.hair, hair_axis / np.linalg.norm(hair_axis))
    nose = head + 0.95 * head_r * pose.face
    chain(nose, nose, 0.17 * head_r, 0.17 * head_r, tuple(0.85 * np.array(o.skin)))
    return Spheres(np.concatenate(cs), np.concatenate(rs), np.concatenate(cols), np.concatenate(alts),
                   np.concatenate(axes), np.concatenate(tans))


# ---- cameras ----------------------------------------------------------------------------------------------
def look_at(center: np.ndarray, target: np.ndarray, roll: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """World->camera (R (3, 3), t (3,) mm) of a camera at ``center`` (3,) mm looking at ``target`` (3,) mm, with
    the world z axis up in the image, rotated by ``roll`` radians about the optical axis."""
    z = np.asarray(target, float) - center
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x) if np.linalg.norm(x) > 1e-6 else np.array([1.0, 0.0, 0.0])
    R = np.stack([x, np.cross(z, x), z])
    c, s = np.cos(roll), np.sin(roll)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R
    return R, -R @ center



@functools.lru_cache(maxsize=4)
def _pixel_grid(S: int) -> np.ndarray:
    """(S * S, 3) float64 homogeneous pixel centres [u, v, 1], row-major (flat index v * S + u)."""
    v, u = np.mgrid[0:S, 0:S].reshape(2, -1).astype(np.float64)
    grid = np.stack([u, v, np.ones_like(u)], 1)
    grid.setflags(write=False)  # cached and shared
    return grid


def _pairs(lo: np.ndarray, hi: np.ndarray, S: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (primitive, pixel) pairs inside per-primitive pixel boxes [lo, hi] (N, 2) (u, v), clipped to the image.
    Returns primitive ids (M,), u (M,), v (M,)."""
    lo = np.clip(np.floor(lo), 0, S).astype(np.int64)
    hi = np.clip(np.ceil(hi), -1, S - 1).astype(np.int64)
    w, h = np.maximum(hi - lo + 1, 0).T
    n = w * h
    sid = np.repeat(np.arange(len(n)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return sid, lo[sid, 0] + k % w[sid], lo[sid, 1] + k // w[sid]


def rasterise_spheres(centers: np.ndarray, radii: np.ndarray, K: np.ndarray, S: int):
    """Front-most sphere surface per pixel (z-buffer), by exact ray-sphere intersection inside each sphere's
    screen bounding box only.

    Args:
        centers: (N, 3) camera-frame sphere centres, mm. radii: (N,) mm. K: (3, 3) zero-skew intrinsics. S: size.
    Returns:
        pix (M,) flat pixel index v * S + u of covered pixels, sid (M,) sphere id, depth (M,) z in mm,
        normal (M, 3) unit camera-frame normals; one entry per covered pixel.
    """
    if K[0, 1] != 0 or not np.array_equal(K[2], [0.0, 0.0, 1.0]):
        raise ValueError(f"rasterise_spheres needs zero-skew intrinsics with last row [0, 0, 1], got {K.tolist()}")
    ok = centers[:, 2] - radii > NEAR_MM
    c, r, ids = centers[ok], radii[ok], np.nonzero(ok)[0]
    X = c[:, None, 0] + r[:, None] * np.array([-1.0, 1.0])
    Y = c[:, None, 1] + r[:, None] * np.array([-1.0, 1.0])
    Z = c[:, None, 2] + r[:, None] * np.array([-1.0, 1.0])
    u = K[0, 0] * X[:, :, None] / Z[:, None, :] + K[0, 2]
    v = K[1, 1] * Y[:, :, None] / Z[:, None, :] + K[1, 2]
    lo = np.stack([u.min((1, 2)), v.min((1, 2))], 1)
    hi = np.stack([u.max((1, 2)), v.max((1, 2))], 1)
    s, pu, pv = _pairs(lo, hi, S)
    d = np.stack([(pu - K[0, 2]) / K[0, 0], (pv - K[1, 2]) / K[1, 1], np.ones(len(pu))], 1)
    cc = c[s]
    b = (d * cc).sum(1)
    dd = (d * d).sum(1)
    disc = b * b - dd * ((cc * cc).sum(1) - r[s] ** 2)
    hit = disc > 0
    d, cc, s, b, dd, disc = d[hit], cc[hit], s[hit], b[hit], dd[hit], disc[hit]
    depth = (b - np.sqrt(disc)) / dd
    pix = pv[hit] * S + pu[hit]
    zbuf = np.full(S * S, np.inf)
    np.minimum.at(zbuf, pix, depth)
    front = np.nonzero(depth == zbuf[pix])[0]
    first = np.full(S * S, len(pix))
    np.minimum.at(first, pix[front], front)  # ties: the lowest pair index wins (deterministic)
    first = first[first < len(pix)]
    normal = (depth[first, None] * d[first] - cc[first]) / r[s[first], None]
    return pix[first], ids[s[first]], depth[first], normal


def _shadow(floor_pix: np.ndarray, points: np.ndarray, sph: Spheres, light: np.ndarray, K: np.ndarray,
            R: np.ndarray, t: np.ndarray, S: int) -> np.ndarray:
    """(F,) bool: which floor pixels (flat indices ``floor_pix`` (F,), their floor points ``points`` (F, 3) world
    mm) see a body sphere when looking towards the light, found per sphere inside its shadow's screen box."""
    shade = np.zeros(len(floor_pix), bool)
    lz = max(light[2], 0.2)
    foot = sph.centers - (sph.centers[:, 2:3] / lz) * light
    a = sph.radii / lz + 1.0
    corners = foot[:, None, :] + a[:, None, None] * np.array([[-1, -1, 0], [-1, 1, 0], [1, -1, 0], [1, 1, 0.0]])
    cam = corners @ R.T + t
    keep = (cam[..., 2] > NEAR_MM).all(1)
    if not keep.any() or len(floor_pix) == 0:
        return shade
    uv = project(cam[keep], K)
    sid, pu, pv = _pairs(uv.min(1), uv.max(1), S)
    sid = np.nonzero(keep)[0][sid]
    where = np.full(S * S, -1)
    where[floor_pix] = np.arange(len(floor_pix))
    f = where[pv * S + pu]
    sid, f = sid[f >= 0], f[f >= 0]
    w = sph.centers[sid] - points[f]
    along = w @ light
    hit = (along > 0) & ((w * w).sum(1) - along ** 2 < sph.radii[sid] ** 2)
    shade[f[hit]] = True
    return shade


def _lookup(tex: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """Bilinear, wrapping lookup of (h, w, 3) uint8 ``tex`` at float32 coordinates (n,) -> (n, 3) float32."""
    n = len(mx)
    rows = max(1, -(-n // 1024))
    pad = rows * 1024 - n
    mx, my = np.pad(mx, (0, pad)).reshape(rows, 1024), np.pad(my, (0, pad)).reshape(rows, 1024)
    out = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return out.reshape(-1, 3)[:n].astype(np.float32)


def _background(env: Environment, sph: Spheres | None, K: np.ndarray, R: np.ndarray, t: np.ndarray,
                S: int) -> np.ndarray:
    """(S, S, 3) float32 RGB in [0, 1] of the scene without the body (but with its shadow on the floor)."""
    d = _pixel_grid(S) @ (R.T @ np.linalg.inv(K)).T  # (S*S, 3) world ray directions
    C = -R.T @ t
    img = np.empty((S * S, 3), np.float32)
    with np.errstate(divide="ignore"):
        s = np.where(d[:, 2] < 0, -C[2] / d[:, 2], np.inf)
    dist = s * np.sqrt((d * d).sum(1))
    on_floor = dist < env.floor_far_mm
    fp, sp_ = np.nonzero(on_floor)[0], np.nonzero(~on_floor)[0]
    # floor: texture lookup at the ray's hit point, Lambert + cast shadow, fog towards the haze colour
    P = C + s[fp, None] * d[fp]
    Ht, Wt = env.floor.shape[:2]
    mx = (P[:, 0] / env.floor_mm_per_px + Wt / 2).astype(np.float32)
    my = (P[:, 1] / env.floor_mm_per_px + Ht / 2).astype(np.float32)
    tex = _lookup(env.floor, mx, my)
    lit = np.ones(len(fp), np.float32)
    if sph is not None:
        lit[_shadow(fp, P, sph, env.light, K, R, t, S)] = 0.0
    shade = (env.ambient + (1.0 - env.ambient) * max(env.light[2], 0.0) * lit)[:, None]
    fog = np.exp(-dist[fp] / env.fog_mm).astype(np.float32)[:, None]
    img[fp] = tex * (shade * fog / 255.0) * env.light_rgb + env.haze * (1.0 - fog)
    # everything else: the panorama, looked up by azimuth and elevation
    q = d[sp_]
    Hp, Wp = env.sky.shape[:2]
    mx = ((np.arctan2(q[:, 1], q[:, 0]) + np.pi) * (Wp / (2 * np.pi)) - 0.5).astype(np.float32)
    my = ((np.pi / 2 - np.arctan2(q[:, 2], np.hypot(q[:, 0], q[:, 1]))) * (Hp / np.pi) - 0.5).astype(np.float32)
    img[sp_] = _lookup(env.sky, mx, my) / np.float32(255)
    return img.reshape(S, S, 3)


def render_view(env: Environment, sph: Spheres | None, K: np.ndarray, R: np.ndarray, t: np.ndarray,
                S: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one view into an S x S crop.

    Args:
        env: the scene around the body. sph: the body in world mm, or None for the background alone.
        K: (3, 3) crop intrinsics, pixels. R, t: (3, 3), (3,) mm world->camera. S: crop side, pixels.
    Returns:
        image (S, S, 3) uint8 RGB and mask (S, S) bool, True where the body is the nearest surface.
    """
    if S % 2 == 0:  # the smooth background at half resolution (same pixel-centre convention), then upsampled
        half = np.array([[0.5, 0.0, -0.25], [0.0, 0.5, -0.25], [0.0, 0.0, 1.0]])
        img = cv2.resize(_background(env, sph, half @ K, R, t, S // 2), (S, S), interpolation=cv2.INTER_LINEAR)
    else:
        img = _background(env, sph, K, R, t, S)
    img = img.reshape(S * S, 3)
    mask = np.zeros(S * S, bool)
    if sph is not None:
        pix, sid, _, n = rasterise_spheres(sph.centers @ R.T + t, sph.radii, K, S)
        tan = sph.tangent[sid] @ R.T
        n = n - 0.9 * (n * tan).sum(1, keepdims=True) * tan
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        axis = sph.axis[sid] @ R.T
        wgt = np.clip(((n * axis).sum(1) - 0.15) / 0.3, 0.0, 1.0)[:, None]
        albedo = sph.albedo[sid] * (1 - wgt) + sph.alt[sid] * wgt
        lam = np.clip(n @ (R @ env.light), 0.0, None)[:, None]
        img[pix] = albedo * (env.ambient + (1.0 - env.ambient) * lam) * env.light_rgb
        mask[pix] = True
    img = cv2.GaussianBlur(img.reshape(S, S, 3), (3, 3), 0.6)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), mask.reshape(S, S)


# ---- environments -----------------------------------------------------------------------------------------
def _noise(rng: np.random.Generator, h: int, w: int, cells: int, amp: float) -> np.ndarray:
    """(h, w, 1) float32 smooth value noise in [-amp, amp]."""
    g = rng.uniform(-amp, amp, (max(2, cells * h // w), cells)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]


def _light(az_deg: float, el_deg: float) -> np.ndarray:
    a, e = np.radians(az_deg), np.radians(el_deg)
    return np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255).astype(np.uint8)


def studio_environment(kind: str) -> Environment:
    """The two fixed studios. "H": a Human3.6M-like capture room (dark grey curtains, grey floor with a tape
    square, light from above-front). "I": a 3DHP-like green-screen studio (green walls and floor mats, brighter
    warm light from another side). Deterministic (fixed internal seed)."""
    rng = np.random.default_rng({"H": 36, "I": 3}[kind])
    Hp, Wp, T = 256, 1024, 512
    x = np.arange(Wp, dtype=np.float32)
    row = (np.pi / 2 - (np.arange(Hp) + 0.5) / Hp * np.pi)[:, None, None]  # elevation of each row
    if kind == "H":
        wall = np.array([62, 64, 72], np.float32) * (1 + 0.12 * np.sin(x / 7.0) * np.sin(x / 53.0))[None, :, None]
        sky = np.broadcast_to(wall, (Hp, Wp, 3)).copy()
        sky = np.where(row > np.radians(35), np.float32(40), sky)
        for _ in range(8):  # equipment, doors, lights
            u, w = rng.integers(0, Wp - 60), rng.integers(15, 60)
            v0, v1 = sorted(rng.integers(Hp // 2 - 40, Hp // 2 + 8, 2))
            sky[v0:v1 + 6, u:u + w] = rng.uniform(20, 140)
        sky[: Hp // 5] = 200.0
        floor = np.full((T, T, 3), [112, 108, 102], np.float32) + _noise(rng, T, T, 12, 10)
        cv2.rectangle(floor, (T // 2 - 100, T // 2 - 100), (T // 2 + 100, T // 2 + 100), (230, 230, 225), 2)
        light, ambient, rgb, mmpp = _light(30, 62), 0.42, (1.0, 1.0, 1.0), 20.0
    elif kind == "I":
        green = np.array([40, 150, 62], np.float32)
        sky = np.broadcast_to(green * (1 + 0.18 * np.sin(x / 11.0))[:, None], (Hp, Wp, 3)).copy()
        sky[:, 700:860] = [150, 150, 155]
        sky[Hp // 2 - 50: Hp // 2 + 4, 760:800] = [90, 70, 60]
        sky = np.where(row > np.radians(45), np.float32(225), sky)
        floor = np.full((T, T, 3), [52, 128, 70], np.float32) + _noise(rng, T, T, 16, 12)
        floor[::50] *= 0.7
        floor[:, ::50] *= 0.7
        light, ambient, rgb, mmpp = _light(200, 48), 0.55, (1.0, 0.96, 0.88), 20.0
    else:
        raise ValueError(f"unknown studio {kind!r}; expected 'H' or 'I'")
    sky = sky + _noise(rng, Hp, Wp, 64, 6)
    haze = floor.reshape(-1, 3).mean(0) / 255.0 * (ambient + (1 - ambient) * light[2]) * np.array(rgb)
    sky[Hp // 2:] = haze * 255.0
    return Environment(_u8(sky), _u8(floor), mmpp, light, ambient, np.array(rgb, np.float32),
                       haze.astype(np.float32), fog_mm=40000.0)


def wild_environment(rng: np.random.Generator) -> Environment:
    """A random cluttered 'in the wild' scene: a sky or ceiling gradient, 70-130 random textured shapes (blocks
    with windows, discs, stripes, polygons) around the horizon at several scales, random ground (plain, tiles,
    planks or blotches), and a random light (elevation 30-75 deg, ambient 0.3-0.6)."""
    Hp, Wp, T = 256, 1024, 256
    hz = Hp // 2  # horizon row
    top, hor = rng.uniform(40, 250, 3), rng.uniform(60, 240, 3)
    w = np.linspace(0.0, 1.0, hz, dtype=np.float32)[:, None, None]
    sky = np.zeros((Hp, Wp, 3), np.uint8)
    sky[:hz] = top * (1 - w) + hor * w
    for _ in range(int(rng.integers(70, 131))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        u, v, sc = int(rng.integers(0, Wp)), int(rng.integers(hz - 60, hz + 4)), rng.uniform(0.2, 1.0)
        kind = rng.integers(4)
        if kind == 0:
            w_, h_ = int(rng.integers(20, 240) * sc), int(rng.integers(10, 150) * sc)
            cv2.rectangle(sky, (u, v - h_), (u + w_, hz + 4), col, -1)
            if rng.random() < 0.5:
                wc, g = tuple(int(c) for c in rng.integers(0, 256, 3)), int(rng.integers(6, 14))
                for yy in range(v - h_ + 3, hz, g):
                    for xx in range(u + 2, u + w_ - 3, g):
                        cv2.rectangle(sky, (xx, yy), (xx + g // 2, yy + g // 2), wc, -1)
        elif kind == 1:
            cv2.circle(sky, (u, v), int(rng.integers(6, 70) * sc), col, -1)
        elif kind == 2:
            for j in range(int(rng.integers(3, 12))):
                cv2.line(sky, (u + 9 * j, v), (u + 9 * j + 40, hz + 4), col, int(rng.integers(1, 5)))
        else:
            pts = np.stack([u + rng.integers(-110, 110, 5) * sc, v + rng.integers(-60, 60, 5) * sc], 1)
            cv2.fillPoly(sky, [pts.astype(np.int32)], col)
    noise = (_noise(rng, Hp, Wp, 256, 10) + _noise(rng, Hp, Wp, 48, 12)).astype(np.int16)
    sky = sky.astype(np.int16) + noise
    base = rng.uniform(40, 200, 3).astype(np.float32)
    floor = np.tile(base, (T, T, 1)) + _noise(rng, T, T, 64, 14) + _noise(rng, T, T, 8, 20)
    pattern, step = rng.integers(4), int(rng.integers(16, 60))
    if pattern == 1:
        floor[::step] *= 0.6
        floor[:, ::step] *= 0.6
    elif pattern == 2:
        floor[:, (np.arange(T) // step) % 2 == 1] *= rng.uniform(0.75, 0.95)
    elif pattern == 3:
        for _ in range(120):
            cv2.circle(floor, tuple(int(c) for c in rng.integers(0, T, 2)), int(rng.integers(2, 16)),
                       tuple(float(c) for c in rng.uniform(20, 230, 3)), -1)
    ambient, light = rng.uniform(0.3, 0.6), _light(rng.uniform(0, 360), rng.uniform(30, 75))
    haze = 0.5 * hor / 255.0 + 0.5 * base / 255.0 * (ambient + (1 - ambient) * light[2])
    sky[hz:] = haze * 255.0
    return Environment(_u8(sky), _u8(floor), float(rng.uniform(8, 25)), light, float(ambient),
                       (1.0 - rng.uniform(0, 0.12, 3)).astype(np.float32), haze.astype(np.float32),
                       fog_mm=float(rng.uniform(15000, 60000)))
