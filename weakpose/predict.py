"""3D human pose from your own images or video, through the package's one inference path.

    weakpose-predict --checkpoint results/<table>/<run>/checkpoints/last.pt --images a.jpg b.jpg \\
        [--boxes boxes.csv] [--intrinsics K.json | --fov 60] --out results/predict/mine
    weakpose-predict --checkpoint last.pt --video clip.mp4 --every 10 --out results/predict/clip

Inputs
    images      image files (anything cv2 reads), or one video (cv2.VideoCapture, every N-th frame, 0-based)
    boxes       person boxes in frame px, a CSV with the header ``image,x0,y0,x1,y1`` (one row per person) or a
                JSON: ``{"<image>": [[x0, y0, x1, y1], ...]}`` or ``[{"image": ..., "x0": ..., ...}, ...]``.
                ``<image>`` is the file name as given, its base name or stem; for a video, the frame number.
                Without a boxes file each image holds one person and the whole frame is its box.
    intrinsics  a 3x3 pixel K (JSON: the matrix or ``{"K": matrix}``; .npy), one K per image ((F, 3, 3)), an
                MQC camera .txt (frames named <timestamp_us>.jpg), see `weakpose.tracklet_inputs.load_intrinsics`;
                or, without one, a pinhole of horizontal field of view ``--fov`` degrees (default 60), principal
                point at the frame centre. The 3D depends on K: an assumed K gives an indicative 3D only.
    bones       eq. 12 scale: the mean bone lengths of the checkpoint's H training split when that data is on disk
                (as `weakpose.evaluate` scores it), else the canonical H36M lengths `skeleton.CANONICAL_BONE_MM`.

Outputs (under --out)
    poses.json              per image: file, frame, size, K, and per person: box, joints2d_px (J, 2) frame px,
                            conf (J,), uvz_rel (J, 3) = frame px + z_rel (eq. 2, scale-normalised),
                            joints3d_mm (J, 3) camera frame, scale (eq. 12), valid (eqs. 1-3 had a solution)
    <image>_overlay.png     the 2D poses and boxes drawn on the image
    viewer.html             every person's 3D pose in one plotly viewer (offline, plotly.js inside)

Each person: `camera.square_box` around the box (the person covers 75 % of it, as in training), `camera.crop_affine`
with margin 1.0 (the nominal box fills the network input), `camera.crop_image`, K' = A K, `evaluate.forward`, and
uv mapped back to the frame with A^-1. On a stored crop of a dataset with the person's tight box (the central
PERSON_FRACTION / crop_margin of the crop) this is the crop `weakpose.evaluate.infer` makes (up to interpolation).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from matplotlib.patches import Rectangle

from weakpose import camera, skeleton, viz
from weakpose.data.real.prepare import read_image
from weakpose.evaluate import forward
from weakpose.model import load_checkpoint
from weakpose.predict_checks import MAX_COORD, MAX_PIXELS, MIN_INSIDE, box_inside_fraction, check_pixels, image_size
from weakpose.tracklet_inputs import Frame, load_intrinsics

DEFAULT_FOV_DEG = 60.0
BOX_FIELDS = ("x0", "y0", "x1", "y1")


# ----------------------------------------------------------------------------------------------- inputs
def read_images(images=(), video: str | os.PathLike | None = None, every: int = 1,
                max_pixels: int = MAX_PIXELS) -> list[dict]:
    """The frames to run on: [{"name", "path", "frame" (video frame number or None), "image" (H, W, 3) uint8 RGB}].
    Raises FileNotFoundError for a missing file and ValueError for one cv2 cannot read or one above
    ``max_pixels`` (checked from the file's header, before it is decoded)."""
    import cv2

    out = []
    for p in images:
        size = image_size(p) if Path(p).is_file() else None
        if size is not None:
            check_pixels(*size, f"image {p}", max_pixels)
        img = read_image(p)
        check_pixels(img.shape[1], img.shape[0], f"image {p}", max_pixels)
        out.append({"name": str(p), "path": Path(p), "frame": None, "image": img})
    if video is not None:
        if every < 1:
            raise ValueError(f"--every must be >= 1, got {every}")
        path = Path(video)
        if not path.is_file():
            raise FileNotFoundError(f"video file {path} not found")
        cap, k = cv2.VideoCapture(str(path)), 0
        if not cap.isOpened():
            raise ValueError(f"video file {path}: cv2.VideoCapture cannot open it")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w * h > max_pixels:
            cap.release()
            check_pixels(w, h, f"video file {path}", max_pixels)
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if k % every == 0:
                out.append({"name": f"{path.stem}_{k:06d}", "path": path, "frame": k,
                            "image": cv2.cvtColor(img, cv2.COLOR_BGR2RGB)})
            k += 1
        cap.release()
        if k == 0:
            raise ValueError(f"video file {path}: no frame could be read")
    if not out:
        raise ValueError("no input: give image files (--images) or a video (--video)")
    return out


def _box(values, where: str) -> list[float]:
    """[x0, y0, x1, y1] from 4 values; ValueError naming ``where`` and the bad field."""
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if len(values) != 4:
        raise ValueError(f"{where}: expected 4 numbers x0, y0, x1, y1, got {values}")
    box = []
    for name, v in zip(BOX_FIELDS, values):
        try:
            box.append(float(v))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: field {name} must be a number, got {v!r}") from None
        if not math.isfinite(box[-1]):
            raise ValueError(f"{where}: field {name} must be finite, got {v!r}")
        if abs(box[-1]) > MAX_COORD:
            raise ValueError(f"{where}: field {name} = {v!r} is not a pixel coordinate (|value| > {MAX_COORD:g})")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"{where}: needs x1 > x0 and y1 > y0, got x0, y0, x1, y1 = {box}")
    return box


def read_boxes(path: str | os.PathLike) -> dict[str, list[list[float]]]:
    """{image key: [[x0, y0, x1, y1], ...]} from a boxes CSV or JSON (module docstring). Raises FileNotFoundError
    or ValueError naming the file, the row and the field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"boxes file {path} not found")
    boxes: dict[str, list[list[float]]] = {}
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [k for k in ("image", *BOX_FIELDS) if k not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"boxes file {path}: missing column(s) {missing}; expected the header "
                                 f"image,x0,y0,x1,y1, got {reader.fieldnames}")
            for i, r in enumerate(reader, 2):
                boxes.setdefault(r["image"], []).append(_box([r[k] for k in BOX_FIELDS], f"boxes file {path} line {i}"))
        return boxes
    if path.suffix.lower() != ".json":
        raise ValueError(f"boxes file {path}: expected a .csv (image,x0,y0,x1,y1) or a .json")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"boxes file {path}: not valid JSON ({e})") from None
    if isinstance(data, dict):
        for key, items in data.items():
            if not isinstance(items, list) or (items and not isinstance(items[0], (list, tuple))):
                items = [items]
            boxes[str(key)] = [_box(b, f"boxes file {path} image {key!r} box {k}") for k, b in enumerate(items)]
    elif isinstance(data, list):
        for i, r in enumerate(data):
            missing = [k for k in ("image", *BOX_FIELDS) if not isinstance(r, dict) or k not in r]
            if missing:
                raise ValueError(f"boxes file {path} entry {i}: missing field(s) {missing}")
            boxes.setdefault(str(r["image"]), []).append(_box([r[k] for k in BOX_FIELDS], f"boxes file {path} entry {i}"))
    else:
        raise ValueError(f"boxes file {path}: expected an object {{image: [[x0, y0, x1, y1], ...]}} or a list of "
                         "{image, x0, y0, x1, y1}")
    return boxes


def _box_keys(item: dict) -> list[str]:
    p = Path(item["name"])
    return [item["name"], p.name, p.stem] if item["frame"] is None else [str(item["frame"]), item["name"]]


def box_key_of(item: dict, boxes: dict) -> str | None:
    """The ``boxes`` key of one frame (the name as given, base name, stem or, for a video, the frame number)."""
    return next((k for k in _box_keys(item) if k in boxes), None)


def match_boxes(items: list[dict], boxes: dict) -> tuple[list[str | None], list[str]]:
    """Each frame's ``boxes`` key (None: no entry) and the entries that match no frame. A key that matches
    several frames (``a/img.png`` and ``b/img.png`` both by ``img.png``) raises ValueError: give the paths as the
    images were named on the command line."""
    keys = [box_key_of(it, boxes) for it in items]
    seen: dict[str, list[str]] = {}
    for it, k in zip(items, keys):
        if k is not None:
            seen.setdefault(k, []).append(it["name"])
    shared = {k: v for k, v in seen.items() if len(v) > 1}
    if shared:
        k, names = next(iter(shared.items()))
        raise ValueError(f"boxes entry {k!r} matches {len(names)} images ({', '.join(names[:4])}): name each image "
                         "in the boxes file by its path as given on the command line")
    return keys, [k for k in boxes if k not in seen]


def boxes_of(item: dict, boxes: dict | None) -> np.ndarray:
    """(N, 4) person boxes of one frame: from ``boxes`` (keys: the name as given, base name, stem or, for a video,
    the frame number), or the whole frame (pixel centres 0 .. W - 1) without a boxes file."""
    h, w = item["image"].shape[:2]
    if boxes is None:
        return np.array([[0.0, 0.0, w - 1.0, h - 1.0]])
    k = box_key_of(item, boxes)
    return np.asarray(boxes[k], np.float64).reshape(-1, 4) if k is not None else np.zeros((0, 4))


def fov_intrinsics(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """(3, 3) pinhole K of horizontal field of view ``fov_deg``, square pixels, principal point at the centre."""
    if not 0 < fov_deg < 180:
        raise ValueError(f"--fov must be in (0, 180) degrees, got {fov_deg}")
    f = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def intrinsics_of(items: list[dict], source=None, fov_deg: float = DEFAULT_FOV_DEG) -> tuple[np.ndarray, str]:
    """(F, 3, 3) pixel K of each frame and where they come from: ``source`` (a file or array,
    `tracklet_inputs.load_intrinsics`) or the field of view. Raises naming the file and what was expected."""
    if source is None or (isinstance(source, str) and not source):
        return np.stack([fov_intrinsics(it["image"].shape[1], it["image"].shape[0], fov_deg) for it in items]), \
            f"assumed: horizontal field of view {fov_deg:g} deg, principal point at the centre"
    frames = [Frame(i, int(Path(it["name"]).stem) if Path(it["name"]).stem.isdigit() else i, Path(it["name"]))
              for i, it in enumerate(items)]
    intr = load_intrinsics(source, frames)
    K = np.stack([intr.K(i, it["image"].shape[1], it["image"].shape[0]) for i, it in enumerate(items)])
    return K, intr.source


def bone_lengths(cfg, which: str = "auto") -> tuple[torch.Tensor, str]:
    """(16,) mm bone lengths for eq. 12 and their origin. "training": the checkpoint's H training-split means (the
    data is opened; a synthetic twin is generated if absent), "canonical": `skeleton.CANONICAL_BONE_MM`, "auto":
    the training means when that data is already on disk, else canonical."""
    from weakpose.data import loaders
    from weakpose.data.synth.twins import twin_dir

    canonical = torch.tensor([skeleton.CANONICAL_BONE_MM[b] for b in skeleton.BONES], dtype=torch.float64)
    if which not in ("auto", "training", "canonical"):
        raise ValueError(f"bones must be 'auto', 'training' or 'canonical', got {which!r}")
    if which == "auto":
        root = cfg.data_root or None
        path = twin_dir("H", cfg.data_size, root, cfg.seed) if cfg.source == "synthetic" else loaders.real_dir("H", root)
        which = "training" if (path / "COMPLETE").is_file() else "canonical"
    if which == "canonical":
        return canonical, "canonical H36M bone lengths (skeleton.CANONICAL_BONE_MM)"
    return loaders.mean_bone_mm(cfg), f"mean bone lengths of the checkpoint's H training split ({cfg.source})"


# ----------------------------------------------------------------------------------------------- inference
@torch.no_grad()
def predict_people(model, input_size: int, image: np.ndarray, K: np.ndarray, boxes: np.ndarray,
                   bone_mm: torch.Tensor, device: str | torch.device = "cpu") -> list[dict]:
    """One frame (H, W, 3) uint8 RGB with pixel K (3, 3) and person boxes (N, 4) px -> per person a dict of numpy
    arrays: box, A (3, 3) frame -> input px, joints2d_px (J, 2), conf (J,), z_rel (J,), uvz_rel (J, 3),
    joints3d_mm (J, 3), points (J, 3) scale-normalised, scale, valid (module docstring: the crop)."""
    if len(boxes) == 0:
        return []
    A = np.stack([camera.crop_affine(*camera.square_box(*b), input_size, margin=1.0) for b in boxes])
    x = torch.from_numpy(np.stack([camera.crop_image(image, a, input_size) for a in A])).to(device)
    x = x.permute(0, 3, 1, 2).float()
    K_in = torch.from_numpy(camera.crop_intrinsics(A, np.broadcast_to(K, A.shape))).to(device)
    out = forward(model, x, K_in, bone_mm)
    uv = camera.transform_points(np.linalg.inv(A), out["uv"].double().cpu().numpy())
    z_rel = out["z_rel"].double().cpu().numpy()
    people = []
    h, w = image.shape[:2]
    for k, box in enumerate(boxes):
        inside = box_inside_fraction(box, w, h)
        valid, reason = bool(out["valid"][k]), ""
        if inside < MIN_INSIDE:
            valid, reason = False, (f"the box lies {'entirely' if inside == 0 else 'mostly'} outside the "
                                    f"{w} x {h} px image ({100 * inside:.0f} % of it inside)")
        elif not valid:
            reason = "eqs. 1-3 have no solution for this pose (no real root depth)"
        people.append({"box": np.asarray(box, float), "A": A[k], "joints2d_px": uv[k],
                       "conf": out["conf"][k].double().cpu().numpy(), "z_rel": z_rel[k],
                       "uvz_rel": np.concatenate([uv[k], z_rel[k][:, None]], -1),
                       "joints3d_mm": out["pose_mm"][k].cpu().numpy(), "points": out["points"][k].double().cpu().numpy(),
                       "scale": float(out["scale"][k]), "valid": valid, "reason": reason})
    return people


def predict(checkpoint, images=(), video=None, every: int = 1, boxes=None, intrinsics=None,
            fov_deg: float = DEFAULT_FOV_DEG, bones: str = "auto", device: str = "cpu",
            max_pixels: int = MAX_PIXELS) -> dict:
    """Run a checkpoint on image files or a video (module docstring). Returns {"frames": [item + "K" + "people"],
    "intrinsics", "bones", "checkpoint", "run_id", "unmatched_boxes" (boxes entries that match no frame),
    "unboxed" (frames that no boxes entry matches: no person is looked for in them)}; nothing is written (see
    `write_outputs`)."""
    from weakpose.config import resolve_device

    device = resolve_device(device)
    model, cfg, _ = load_checkpoint(checkpoint, device)
    items = read_images(images, video, every, max_pixels)
    box_table = read_boxes(boxes) if boxes else None
    keys, unmatched = match_boxes(items, box_table) if box_table is not None else ([""] * len(items), [])
    unboxed = [it["name"] for it, k in zip(items, keys) if k is None]
    K, k_source = intrinsics_of(items, intrinsics, fov_deg)
    bone_mm, b_source = bone_lengths(cfg, bones)
    for it, k in zip(items, K):
        it["K"] = k
        it["people"] = predict_people(model, cfg.input_size, it["image"], k, boxes_of(it, box_table), bone_mm, device)
    return {"frames": items, "intrinsics": k_source, "bones": b_source, "checkpoint": str(checkpoint),
            "run_id": cfg.run_id(), "unmatched_boxes": unmatched, "unboxed": unboxed}


def write_dataset_inputs(ds, rows, folder: str | os.PathLike) -> tuple[list[Path], Path, Path]:
    """Inputs made from rows of a canonical dataset, to try `predict` on images with known answers: each stored
    crop as a PNG (lossless), a boxes.csv with each person's tight box (its `camera.square_box` is the crop's
    nominal box, the central 1 / crop_margin of the crop) and K.npy (F, 3, 3) of the crops. Returns
    (image files, boxes.csv, K.npy)."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    S, margin = ds.crop_size, float(ds.meta["crop_margin"])
    side, c = camera.PERSON_FRACTION * S / margin, (S - 1) / 2.0
    files, lines = [], ["image,x0,y0,x1,y1"]
    for r in np.asarray(rows, int):
        files.append(folder / f"{ds.name}_{r:06d}.png")
        cv2.imwrite(str(files[-1]), cv2.cvtColor(ds.image(int(r)), cv2.COLOR_RGB2BGR))
        lines.append(f"{files[-1].name},{c - side / 2},{c - side / 2},{c + side / 2},{c + side / 2}")
    (folder / "boxes.csv").write_text("\n".join(lines) + "\n")
    np.save(folder / "K.npy", np.asarray(ds.K[np.asarray(rows, int)], np.float64))
    return files, folder / "boxes.csv", folder / "K.npy"


# ----------------------------------------------------------------------------------------------- outputs
def _json_person(p: dict) -> dict:
    r = lambda a, d=2: np.round(np.asarray(a, float), d).tolist()  # noqa: E731
    return {"box": r(p["box"]), "joints2d_px": r(p["joints2d_px"]), "conf": r(p["conf"], 4),
            "uvz_rel": r(p["uvz_rel"], 4), "joints3d_mm": r(p["joints3d_mm"], 1), "scale": round(p["scale"], 4),
            "valid": p["valid"], "reason": p.get("reason", "")}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).stem) or "image"


def _slugs(names: list[str]) -> list[str]:
    """One distinct file-name stem per frame: the image's stem, or where stems repeat (``a/img.png``,
    ``b/img.png``) its path as given with separators as ``_``, then a number if that still repeats."""
    base = [_slug(n) for n in names]
    out = [s if base.count(s) == 1 else _slug(str(Path(n).with_suffix("")).replace(os.sep, "_").replace("/", "_"))
           for s, n in zip(base, names)]
    seen: dict[str, int] = {}
    for i, s in enumerate(out):
        if out.count(s) > 1:
            seen[s] = seen.get(s, 0) + 1
            out[i] = f"{s}_{seen[s]}"
    return out


def write_outputs(result: dict, out_dir: str | os.PathLike, html: bool = True) -> dict[str, Path]:
    """poses.json, one <image>_overlay.png per frame and viewer.html (with ``html``) under out_dir. Returns the
    paths: {"json", "html", "overlays": [...]}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"checkpoint": result["checkpoint"], "run_id": result["run_id"], "intrinsics": result["intrinsics"],
           "bones": result["bones"], "joints": list(skeleton.JOINT_NAMES),
           "units": "joints2d_px / uvz_rel[:2]: frame px (pixel centres at integers); uvz_rel[2]: z_rel, root-"
                    "relative depth / neck-pelvis length (eq. 2); joints3d_mm: camera frame, mm (eq. 12 scale)",
           "frames": []}
    overlays, poses = [], {}
    for it, slug in zip(result["frames"], _slugs([it["name"] for it in result["frames"]])):
        doc["frames"].append({"image": it["name"], "frame": it["frame"], "width": it["image"].shape[1],
                              "height": it["image"].shape[0], "K": np.asarray(it["K"]).round(4).tolist(),
                              "people": [_json_person(p) for p in it["people"]], "overlay": f"{slug}_overlay.png"})
        h, w = it["image"].shape[:2]
        fig = viz.new_figure(6.0 * w / max(w, h), 6.0 * h / max(w, h))
        ax = fig.add_axes([0, 0, 1, 1])
        ax.imshow(it["image"])
        for k, p in enumerate(it["people"]):
            x0, y0, x1, y1 = p["box"]
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="yellow", lw=1))
            viz.draw_pose_2d(ax, p["joints2d_px"], lw=2)
            poses[f"{slug} #{k}"] = p["joints3d_mm"]
        ax.set_xlim(-0.5, w - 0.5), ax.set_ylim(h - 0.5, -0.5)
        overlays.append(out / f"{slug}_overlay.png")
        fig.savefig(overlays[-1], dpi=100)
    paths = {"json": out / "poses.json", "overlays": overlays, "html": None}
    paths["json"].write_text(json.dumps(doc, indent=1))
    if html and poses:
        paths["html"] = viz.save_html(viz.pose3d_figure(poses, title=f"{result['run_id']}: 3D poses (mm)"),
                                      out / "viewer.html")
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="weakpose-predict", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="3D human pose from your own images or video with a trained weakpose checkpoint.\n"
                    "Inputs: a checkpoint, image files or a video, optional person boxes and intrinsics.\n"
                    "Outputs (under --out): poses.json (per person 2D frame px, 2.5D uv + z_rel, 3D mm), "
                    "<image>_overlay.png per image, viewer.html (plotly 3D viewer).",
        epilog="inputs:\n" + __doc__.split("Inputs\n", 1)[1].split("\nEach person:")[0])
    p.add_argument("--checkpoint", required=True, help="a trainer checkpoint (results/<table>/<run>/checkpoints/last.pt)")
    p.add_argument("--images", nargs="*", default=[], metavar="FILE", help="image files")
    p.add_argument("--video", default=None, metavar="FILE", help="a video file (cv2.VideoCapture)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="with --video: every N-th frame (default 1)")
    p.add_argument("--boxes", default=None, metavar="FILE", help="person boxes, CSV image,x0,y0,x1,y1 or JSON "
                   "(default: one person, the whole frame)")
    p.add_argument("--intrinsics", default=None, metavar="FILE", help="3x3 K as .json/.npy, or an MQC camera .txt")
    p.add_argument("--fov", type=float, default=DEFAULT_FOV_DEG, metavar="DEG",
                   help=f"without --intrinsics: horizontal field of view in degrees (default {DEFAULT_FOV_DEG:g})")
    p.add_argument("--bones", choices=["auto", "training", "canonical"], default="auto",
                   help="bone lengths for the eq. 12 scale (default auto: the training means when on disk)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--no-html", action="store_true", help="do not write viewer.html")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS, metavar="N",
                   help=f"largest frame decoded, width x height (default {MAX_PIXELS:,}); larger ones are refused")
    a = p.parse_args(argv)
    if not a.images and not a.video:
        p.error("give --images FILE ... or --video FILE")
    try:
        res = predict(a.checkpoint, a.images, a.video, a.every, a.boxes, a.intrinsics, a.fov, a.bones, a.device,
                      a.max_pixels)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"weakpose-predict: {e}") from None
    paths = write_outputs(res, a.out, html=not a.no_html)
    n = sum(len(it["people"]) for it in res["frames"])
    bad = sum(not p["valid"] for it in res["frames"] for p in it["people"])
    print(f"[weakpose] {n} people in {len(res['frames'])} images; intrinsics: {res['intrinsics']}; bones: {res['bones']}"
          + (f"; {bad} marked valid=false (see their 'reason' in poses.json)" if bad else ""))
    print(f"[weakpose] wrote {paths['json']}, {len(paths['overlays'])} overlays" +
          (f", {paths['html']}" if paths["html"] else ""))
    if res["unmatched_boxes"]:
        print(f"[weakpose] WARNING: {len(res['unmatched_boxes'])} boxes entries match no input image: "
              f"{res['unmatched_boxes'][:5]} (an entry names an image as given on the command line, by its base "
              f"name or stem)", flush=True)
    if res["unboxed"]:
        print(f"[weakpose] ERROR: no boxes entry matches {len(res['unboxed'])} of the input images: "
              f"{res['unboxed'][:5]}; no person was looked for in them (exit status 1)", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
