"""Random poses and cameras for the maths tests (float64 torch)."""
import json
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from weakpose import skeleton


def random_rotation(rng, n):
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    R = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1).reshape(n, 3, 3)
    return torch.tensor(R)


def random_pose(rng, n):
    """(n, J, 3) mm, body-centred: canonical bone lengths in random directions."""
    P = np.zeros((n, skeleton.J, 3))
    for j, p in skeleton.BONES:
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        P[:, j] = P[:, p] + skeleton.CANONICAL_BONE_MM[(j, p)] * d
    return torch.tensor(P)


def random_scene(rng, n):
    """Poses in front of random cameras: P (n, J, 3) camera-frame mm, K (n, 3, 3) px."""
    P = random_pose(rng, n) @ random_rotation(rng, n).transpose(-1, -2)
    P = P + torch.tensor(np.stack([rng.uniform(-500, 500, n), rng.uniform(-300, 300, n), rng.uniform(2500, 7000, n)], -1))[:, None]
    f = rng.uniform(800, 1600, n)
    K = torch.zeros(n, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1] = torch.tensor(f), torch.tensor(f * rng.uniform(0.98, 1.02, n))
    K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = torch.tensor(rng.uniform(400, 600, n)), torch.tensor(rng.uniform(400, 600, n)), 1.0
    return P, K


def crop_transform(rng, n):
    """Affine maps A (n, 3, 3) of crops: rotation +-30 deg, scale, translation (K' = A K)."""
    A = torch.zeros(n, 3, 3, dtype=torch.float64)
    for i in range(n):
        th, s = math.radians(rng.uniform(-30, 30)), rng.uniform(0.1, 0.5)
        A[i, :2, :2] = s * torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        A[i, :2, 2] = torch.tensor(rng.uniform(-200, 200, 2))
        A[i, 2, 2] = 1.0
    return A


def mpii_root(root: Path, valid: int = 0) -> Path:
    """A tiny MPII root in the release's JSON layout: one image, its train annotation (and ``valid`` copies of it in
    valid.json), plus an unrelated file a converter must never touch."""
    (root / "annot").mkdir(parents=True)
    (root / "images").mkdir()
    cv2.imwrite(str(root / "images" / "000000007.jpg"), np.full((200, 300, 3), 30, np.uint8))
    entry = {"image": "000000007.jpg", "center": [150.0, 90.0], "scale": 0.6, "joints_vis": [1] * 16,
             "joints": [[100.0 + 5 * j, 60.0 + 4 * j] for j in range(16)]}
    (root / "annot" / "train.json").write_text(json.dumps([entry]))
    if valid:
        (root / "annot" / "valid.json").write_text(json.dumps([entry] * valid))
    (root / "unrelated.txt").write_text("keep me")
    return root
