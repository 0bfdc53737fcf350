"""Checks of `weakpose.predict`'s inputs that need no model: the frame size cap (read from the file header, before
decoding) and how much of a person box lies inside its frame."""
from __future__ import annotations

import os

MAX_PIXELS = 100_000_000   # largest frame decoded (width x height; --max-pixels): a 100 MP RGB frame is 300 MB
MAX_COORD = 1e7            # a box coordinate beyond this many px is not a pixel coordinate
MIN_INSIDE = 0.5           # a box with less of its area inside the frame gives valid=False (`box_inside_fraction`)


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) of an image file from its header (nothing decoded), or None if the header is not one
    Pillow knows (cv2 then decides whether it is an image)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:
        return None


def check_pixels(width: int, height: int, where: str, max_pixels: int = MAX_PIXELS) -> None:
    """ValueError naming ``where`` when a frame of width x height px is above ``max_pixels``."""
    if width * height > max_pixels:
        raise ValueError(f"{where}: {width} x {height} px ({width * height / 1e6:.0f} MP) is above the "
                         f"{max_pixels / 1e6:.0f} MP this command decodes (--max-pixels); resize it first")


def box_inside_fraction(box, width: int, height: int) -> float:
    """Share of the box's area inside the frame (pixel centres 0 .. W - 1, as `boxes_of` spans a whole frame)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    iw = max(0.0, min(x1, width - 1.0) - max(x0, 0.0))
    ih = max(0.0, min(y1, height - 1.0) - max(y0, 0.0))
    return iw * ih / max((x1 - x0) * (y1 - y0), 1e-12)
