"""Convert the real datasets into the canonical format (`weakpose.data.format`), and the plumbing the converters share.

Command line::

    python -m weakpose.data.real.prepare h36m  --root ... --out ...
    python -m weakpose.data.real.prepare 3dhp  --root ... [--test-root ...] --out ...
    python -m weakpose.data.real.prepare mpii  --root ... --out ...
    python -m weakpose.data.real.prepare mqc   --root ... --frames-root ... --tracklets ... --out ...

Each converter module (`weakpose.data.real.h36m`, `mpi3dhp`, `mpii`, `mqc`) exposes ``register_cli(subparsers)``, which adds
its sub-command and sets ``func`` (called with the parsed namespace). The modules are imported when the parser is
built, not when this module is imported, so converters may import the helpers below without an import cycle.

Shared conventions (data-formats.md, and the docstring of `weakpose.data.format`): pixel centres at integer
coordinates, the stored crop holds the nominal person box scaled by ``1 / crop_margin``, its intrinsics are
``K_crop = A @ K_full`` exactly, and every converter writes through `DatasetWriter`, so a failed conversion leaves no
dataset behind (only the error).
"""
from __future__ import annotations

import argparse
import json
import importlib
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from weakpose import camera
from weakpose.camera import DEFAULT_CROP_MARGIN
from weakpose.data.format import DatasetWriter

CONVERTERS: tuple[str, ...] = ("h36m", "mpi3dhp", "mpii", "mqc")
DEFAULT_CROP_SIZE = 384


def read_json(path: str | os.PathLike, what: str, hint: str = ""):
    """Parse a JSON file; FileNotFoundError / ValueError name the file (``what`` says what it should be)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found" + (f" ({hint})" if hint else ""))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file. Returns (H, W, 3) uint8 RGB.

    Raises FileNotFoundError if the file is missing and ValueError if it cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} not found")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"image {path} is unreadable: expected a decodable image file (JPEG/PNG)")
    return img[..., ::-1].copy()



def crop_view(image: np.ndarray, K: np.ndarray, center: np.ndarray, box_side: float, crop_size: int,
              margin: float = DEFAULT_CROP_MARGIN, dist: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the stored crop of one person view.

    Args:
        image: (H, W, 3) uint8 full frame.
        K: (3, 3) full-frame intrinsics, pixels.
        center: (2,) nominal box centre in full-frame *pinhole* pixels; box_side: nominal box side, pixels.
        dist: None or (5,) OpenCV distortion (k1, k2, p1, p2, k3) of the full frame. When given, the crop is
            resampled through the distortion model so that the crop is an exact pinhole image with intrinsics
            ``K_crop`` (the full frame's distortion is removed, data-formats.md Sec. 2.5 TS5-6).
    Returns:
        crop (S, S, 3) uint8, A (3, 3) full pinhole pixels -> crop pixels, K_crop = A @ K (3, 3).
    """
    A = camera.crop_affine(np.asarray(center, np.float64), box_side, crop_size, margin)
    K_crop = camera.crop_intrinsics(A, K)
    if dist is None or not np.any(dist):
        crop = camera.crop_image(image, A, crop_size)
    else:
        mx, my = cv2.initUndistortRectifyMap(np.asarray(K, np.float64), np.asarray(dist, np.float64), None,
                                             K_crop, (crop_size, crop_size), cv2.CV_32FC1)
        crop = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, A, K_crop



def save_extra(writer: DatasetWriter, name: str, array: np.ndarray) -> Path:
    """Write a sidecar array ``<out>/extra/<name>.npy`` (one row per dataset row) inside the writer's
    ``.partial`` directory, so that it appears atomically together with the dataset."""
    d = writer.tmp_dir / "extra"
    d.mkdir(exist_ok=True)
    path = d / f"{name}.npy"
    np.save(path, np.asarray(array))
    return path


def add_common_args(p: argparse.ArgumentParser) -> None:
    """--out, --crop-size, --crop-margin, --overwrite: the options every converter takes."""
    p.add_argument("--out", required=True, type=Path, help="output dataset directory (canonical format)")
    p.add_argument("--crop-size", type=int, default=DEFAULT_CROP_SIZE, help="side of the stored crops, pixels")
    p.add_argument("--crop-margin", type=float, default=DEFAULT_CROP_MARGIN,
                   help="stored crop side / nominal person-box side")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")


def build_parser(converters: Sequence[str] = CONVERTERS) -> argparse.ArgumentParser:
    """The `prepare` parser with one sub-command per converter module in ``converters`` (module names inside
    `weakpose.data`; each must define ``register_cli``)."""
    parser = argparse.ArgumentParser(
        prog="python -m weakpose.data.real.prepare",
        description="Convert a real dataset into weakpose's canonical format.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="inputs: the raw dataset as downloaded (--root and the files each converter names:\n"
               "  <dataset> --help, README 'Real data').\n"
               "outputs: --out, a canonical dataset directory (meta.json, index/, images/, extra/, COMPLETE), e.g.\n"
               "  $WEAKPOSE_DATA/real/<dataset>, where training with source=real finds it.")
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="{h36m,3dhp,mpii,mqc}")
    for name in converters:
        importlib.import_module(f"weakpose.data.real.{name}").register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None, converters: Sequence[str] = CONVERTERS) -> Path:
    """Parse ``argv`` and run the chosen converter. Returns the written dataset directory."""
    args = build_parser(converters).parse_args(argv)
    out = args.func(args)
    print(f"wrote {out}")
    return out


def cli(argv: Sequence[str] | None = None) -> int:
    """The `weakpose-prepare` console script: `main`, exit status 0 (a console script exits with what its function
    returns, and `main` returns the dataset directory). An input error (a missing or malformed file, an output
    folder it may not replace) ends with one line naming the file and what was expected, exit status 1."""
    try:
        main(argv)
    except (FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, ValueError) as e:
        raise SystemExit(f"weakpose-prepare: {e}") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
