"""Synthetic MannequinChallenge-like *videos* with several people and known tracks: the test bed of the tracklet
pipeline (`weakpose.tracklets`, paper Sec. 4.1).

Where the Q twin of `weakpose.data.synth` stores one person per tracklet as ready-made crops, a crowd video is what
the pipeline starts from: full frames of 2-4 people frozen in static poses in one cluttered scene, filmed by a
hand-held camera moving along a short arc around the group (the Q twin's camera model: per-frame steps of 0.3-1.5 deg,
a slow drift in distance, jitter of the centre, the aim and the roll). The focal length zooms slightly from frame to
frame, so per-frame intrinsics matter.

Files written by `render_crowd` under ``out`` for clip ``<clip>`` (the MannequinChallenge layouts of
`weakpose.data.real.mqc`, so the video is also a valid input of ``python -m weakpose.data.real.prepare mqc``)::

    frames/<clip>/<timestamp_us>.jpg     F RGB frames, W x H pixels, 30 fps timestamps (µs)
    cameras/train/<clip>.txt             MQC camera file: URL line, then per frame timestamp, normalised fx fy cx
                                         cy, 0 0, world->camera [R | t] row-major with t in metres
    intrinsics/<clip>.npy                (F, 3, 3) pixel K per frame, float64
    detections/<clip>.json               COCO results of the ground-truth boxes of the people that are at least
                                         ``min_visible`` visible: image_id = timestamp (= frame file stem),
                                         category_id 1, bbox [x, y, w, h] px, score 1
    gt/<clip>.json                       ground truth (below)

Ground truth (``gt/<clip>.json``)::

    {"clip_id", "seed", "width", "height", "num_people",
     "people": [{"id": int, "family": str}],
     "frames": [{"index": int, "frame_ts": int µs, "file": str, "K": (3, 3) px,
                 "people": [{"id": int, "box": [x0, y0, x1, y1] px, "joints2d": (J, 2) px,
                             "visible_fraction": float}]}]}

``box`` is the tight (amodal) box of the person's rendered body, ``visible_fraction`` the share of that body's
pixels not hidden by another person. Every person stays inside every frame (the focal length is chosen so). Pixel
centres at integer coordinates. Everything is a pure function of the seed.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from weakpose.data.synth import render as rd
from weakpose.data.synth import poses as sp
from weakpose.camera import project
from weakpose.data.format import encode_jpeg
from weakpose.data.synth.twins import FAMILY_WEIGHTS

FPS = 30.0
JPEG_QUALITY = 90
URL = "https://weakpose.invalid/synth_crowd/"  # the MQC camera-file format wants a URL on line 1


@dataclass(frozen=True)
class CrowdVideo:
    """Paths of one rendered crowd video (see the module docstring) and its parsed ground truth ``gt``."""

    clip_id: str
    root: Path
    frames_dir: Path
    camera_file: Path
    intrinsics_file: Path
    detections_file: Path
    gt_file: Path
    gt: dict


def _concat(bodies: list[rd.Spheres]) -> rd.Spheres:
    return rd.Spheres(*[np.concatenate([getattr(b, f.name) for b in bodies]) for f in dataclasses.fields(rd.Spheres)])


def _place_people(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 2) floor positions in mm: a loose row across the initial view (spacing 0.7-1.3 m, depth +-0.9 m), so
    that boxes overlap now and then and people sometimes hide each other."""
    spacing = rng.uniform(700.0, 1300.0)
    lateral = (np.arange(n) - (n - 1) / 2) * spacing + rng.normal(0, 80, n)
    depth = rng.uniform(-900.0, 900.0, n)
    return np.stack([lateral, depth], 1)


def render_crowd(out: str | os.PathLike, seed: int = 0, clip_id: str | None = None, width: int = 320,
                 height: int = 240, num_frames: int = 16, num_people: int | None = None,
                 min_visible: float = 0.5) -> CrowdVideo:
    """Render one crowd video into ``out`` (module docstring). Deterministic in all arguments. Long because one
    generator draws every random number in a fixed order (people, camera path, frames): same seed, same bytes.

    Args:
        seed: scene, people, poses and camera path. clip_id: defaults to ``crowd<seed:04d>``.
        width, height: frame size W x H in pixels. num_frames: F. num_people: 2-4 (random in 2-4 if None).
        min_visible: people less visible than this in a frame get no box in ``detections/<clip>.json``.
    Returns:
        `CrowdVideo`. Cost: ~30 ms per 320 x 240 frame on one CPU core. Files of the same clip id under ``out``
        are replaced.
    """
    if num_people is not None and not 1 <= num_people <= 6:
        raise ValueError(f"num_people must be in 1..6 (or None for 2-4), got {num_people}")
    if width < 32 or height < 32 or num_frames < 1:
        raise ValueError(f"need width, height >= 32 px and num_frames >= 1, got {width}x{height}, {num_frames}")
    clip_id = clip_id or f"crowd{seed:04d}"
    rng = np.random.default_rng([seed, 0xC20D])
    n = int(rng.integers(2, 5)) if num_people is None else int(num_people)
    env = rd.wild_environment(rng)
    people, bodies, joints = [], [], []
    for pid, xy in enumerate(_place_people(rng, n)):
        shape, outfit = sp.random_shape(rng), rd.random_outfit(rng)
        family = sp.choose_family(rng, FAMILY_WEIGHTS["Q"])
        pose = sp.sample_pose(family, shape, rng, position=xy)
        people.append({"id": pid, "family": family})
        bodies.append(rd.body_spheres(pose, shape, outfit))
        joints.append(pose.joints)
    scene = _concat(bodies)
    owner = np.concatenate([np.full(len(b.radii), k) for k, b in enumerate(bodies)])
    # camera path: the Q twin's hand-held arc around the group (weakpose.data.synth.render_job)
    dist, cam_h, az0 = rng.uniform(4500, 6500), rng.uniform(1100, 1700), rng.uniform(0, 2 * np.pi)
    step = np.radians(rng.uniform(0.3, 1.5)) * rng.choice([-1, 1])
    drift, roll0 = rng.normal(0, 8), rng.normal(0, 0.04)
    # turn the row of people (built along x) to face the first camera position, azimuth az0 from the group
    turn = sp.rz(az0 - np.pi / 2)
    scene = dataclasses.replace(scene, centers=scene.centers @ turn.T, axis=scene.axis @ turn.T,
                                tangent=scene.tangent @ turn.T)
    joints = [j @ turn.T for j in joints]
    centre = np.array([*np.mean([j[0, :2] for j in joints], 0), 0.0])
    aim = centre + [0.0, 0.0, rng.uniform(700, 1100)]
    cams = []
    for k in range(num_frames):
        a, r = az0 + k * step, dist + k * drift
        C = centre + [r * np.cos(a), r * np.sin(a), cam_h] + rng.normal(0, 15, 3)
        cams.append(rd.look_at(C, aim + rng.normal(0, 25, 3), roll0 + rng.normal(0, 0.01)))
    # the largest focal length that keeps every body inside every frame (8 % margin), then a slow zoom-out
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    lim = []
    for R, t in cams:
        Xc = scene.centers @ R.T + t
        z = Xc[:, 2] - scene.radii
        if (z <= rd.NEAR_MM).any():
            raise ValueError(f"seed {seed}: a body reaches the camera; choose another seed")
        lim.append(((width / 2 * 0.92) / ((np.abs(Xc[:, 0]) + scene.radii) / z).max(),
                    (height / 2 * 0.92) / ((np.abs(Xc[:, 1]) + scene.radii) / z).max()))
    f0 = float(np.min(lim)) * rng.uniform(0.8, 1.0)
    S = max(width, height)
    ox, oy = (S - width) // 2, (S - height) // 2  # frame = rows oy..oy+H, cols ox..ox+W of an S x S render
    root = Path(out)
    frames_dir, cam_dir = root / "frames" / clip_id, root / "cameras" / "train"
    if frames_dir.exists():  # a re-render replaces the clip's frames (a shorter video leaves no stale frames)
        shutil.rmtree(frames_dir)
    for d in (frames_dir, cam_dir, root / "intrinsics", root / "detections", root / "gt"):
        d.mkdir(parents=True, exist_ok=True)
    gt_frames, Ks, lines = [], [], [URL + clip_id]
    for k, (R, t) in enumerate(cams):
        f = f0 * (1.0 - 0.002 * k)
        K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
        K_sq = K + np.array([[0.0, 0.0, ox], [0.0, 0.0, oy], [0.0, 0.0, 0.0]])
        img, _ = rd.render_view(env, scene, K_sq, R, t, S)
        img = np.ascontiguousarray(img[oy:oy + height, ox:ox + width])
        ts = int(round(k * 1e6 / FPS))
        (frames_dir / f"{ts}.jpg").write_bytes(encode_jpeg(img, JPEG_QUALITY))
        Xc = scene.centers @ R.T + t  # rasterised in frame pixels on an S x S grid; the frame is its top-left W x H
        front_pix, front_sid, _, _ = rd.rasterise_spheres(Xc, scene.radii, K, S)
        front_owner = owner[front_sid[(front_pix % S < width) & (front_pix // S < height)]]
        persons = []
        for p in range(n):
            sel = owner == p
            pix, _, _, _ = rd.rasterise_spheres(Xc[sel], scene.radii[sel], K, S)
            u, v = pix % S, pix // S
            inside = (u < width) & (v < height)
            u, v = u[inside], v[inside]
            box = [float(u.min()) - 0.5, float(v.min()) - 0.5, float(u.max()) + 0.5, float(v.max()) + 0.5]
            vis = float((front_owner == p).sum()) / max(len(u), 1)
            j2 = project(joints[p] @ R.T + t, K)
            persons.append({"id": p, "box": box, "joints2d": np.round(j2, 3).tolist(), "visible_fraction": vis})
        gt_frames.append({"index": k, "frame_ts": ts, "file": f"{ts}.jpg", "K": K.tolist(), "people": persons})
        Ks.append(K)
        w2c = np.hstack([R, t[:, None] / 1000.0])  # MQC stores SLAM poses of arbitrary scale: here metres
        intr = (f / width, f / height, cx / width, cy / height)
        lines.append(" ".join([str(ts), *(repr(float(x)) for x in intr), "0.0", "0.0",
                               *(repr(float(x)) for x in w2c.ravel())]))
    gt = {"clip_id": clip_id, "seed": seed, "width": width, "height": height, "num_people": n, "people": people,
          "frames": gt_frames}
    paths = {"camera_file": cam_dir / f"{clip_id}.txt", "intrinsics_file": root / "intrinsics" / f"{clip_id}.npy",
             "detections_file": root / "detections" / f"{clip_id}.json", "gt_file": root / "gt" / f"{clip_id}.json"}
    paths["camera_file"].write_text("\n".join(lines) + "\n")
    np.save(paths["intrinsics_file"], np.stack(Ks))
    paths["detections_file"].write_text(json.dumps(coco_detections(gt, min_visible=min_visible, shuffle=False)))
    paths["gt_file"].write_text(json.dumps(gt))
    return CrowdVideo(clip_id=clip_id, root=root, frames_dir=frames_dir, gt=gt, **paths)


def coco_detections(gt: dict, box_jitter: float = 0.0, miss: float = 0.0, false_positives: float = 0.0,
                    shuffle: bool = True, min_visible: float = 0.5, seed: int = 0) -> list[dict]:
    """A detector's COCO results made from the ground truth: one person box per person at least ``min_visible``
    visible, image_id = frame_ts (the frame file stem), category_id 1, bbox [x, y, w, h] px.

    Args:
        box_jitter: std of the box centre shift and of the log side scale, as a fraction of the box side.
        miss: probability that a person's box is missing from a frame (a detector miss).
        false_positives: expected number of spurious boxes per frame (score 0.5-1, random place and size).
        shuffle: random order of the boxes within a frame (a detector has no notion of identity).
    Returns:
        the list of detections (JSON-ready), deterministic in ``seed``.
    """
    rng = np.random.default_rng([seed, 0xDE7])
    W, H, out = gt["width"], gt["height"], []
    for fr in gt["frames"]:
        dets = []
        for p in fr["people"]:
            if p["visible_fraction"] < min_visible or rng.random() < miss:
                continue
            x0, y0, x1, y1 = p["box"]
            w, h = x1 - x0, y1 - y0
            cx, cy = (x0 + x1) / 2 + rng.normal(0, box_jitter) * w, (y0 + y1) / 2 + rng.normal(0, box_jitter) * h
            w, h = w * np.exp(rng.normal(0, box_jitter)), h * np.exp(rng.normal(0, box_jitter))
            dets.append({"image_id": fr["frame_ts"], "category_id": 1, "score": 1.0,
                         "bbox": [float(cx - w / 2), float(cy - h / 2), float(w), float(h)]})
        for _ in range(rng.poisson(false_positives)):
            w, h = rng.uniform(0.05, 0.3) * W, rng.uniform(0.1, 0.5) * H
            dets.append({"image_id": fr["frame_ts"], "category_id": 1, "score": float(rng.uniform(0.5, 1.0)),
                         "bbox": [float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h)), float(w), float(h)]})
        out += [dets[i] for i in (rng.permutation(len(dets)) if shuffle else range(len(dets)))]
    return out
