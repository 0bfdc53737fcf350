"""Figures: 2D skeletons (matplotlib, left blue / right red), 3D skeletons (plotly), training curves from
history.csv, bar charts ours vs paper, and the model inspection behind them (a model rebuilt from its checkpoint's
own config, its heatmaps, latent depth maps and 3D poses, multi-view groups aligned with eq. 10).

Figures are built on `matplotlib.figure.Figure` (no pyplot state, any backend, Agg in tests). Letters: B batch,
C views, J joints, H W heatmap size, S stored crop side. 3D poses are camera-frame mm; plots show x right, z (depth)
into the screen and -y up.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from weakpose import geometry, skeleton
from weakpose.config import TrainConfig, config_from_dict

COLOURS = {"left": "#2f7bff", "right": "#ff3b3b", "centre": "#7f7f7f"}
PALETTE = ("#222222", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_LOSS_TERMS = ("total", "heatmap", "depth", "mc", "limb")


def side(joint: int) -> str:
    """"left" | "right" | "centre" for a joint index of `weakpose.skeleton`."""
    return "left" if joint in skeleton.JOINTS_LEFT else "right" if joint in skeleton.JOINTS_RIGHT else "centre"


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with an Agg canvas (displayed by Jupyter, saved by ``fig.savefig``)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def setup_notebook() -> None:
    """Inline matplotlib and a plotly renderer that works in JupyterLab, papermill outputs and nbval."""
    import plotly.io as pio

    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            ip.run_line_magic("matplotlib", "inline")
    except ImportError:
        pass
    pio.renderers.default = "plotly_mimetype+notebook_connected"


# ----------------------------------------------------------------------------------------------- 2D / 3D drawing
def draw_pose_2d(ax, joints2d: np.ndarray, vis: np.ndarray | None = None, image: np.ndarray | None = None,
                 title: str = "", dashed: bool = False, lw: float = 1.5) -> None:
    """A 2D skeleton on a matplotlib axis: joints2d (J, 2) px, vis (J,) bool (bones between visible joints are
    drawn), optional image (S, S, 3) uint8 underneath. Left bones blue, right red, the spine grey."""
    j2 = np.asarray(joints2d, float)
    vis = np.isfinite(j2).all(-1) if vis is None else np.asarray(vis, bool) & np.isfinite(j2).all(-1)
    if image is not None:
        ax.imshow(image)
    for c, p in skeleton.BONES:
        if vis[c] and vis[p]:
            ax.plot(j2[[p, c], 0], j2[[p, c], 1], color=COLOURS[side(c)], lw=lw, ls="--" if dashed else "-")
    if not dashed:
        ax.scatter(j2[vis, 0], j2[vis, 1], s=6, c="white", edgecolors="k", linewidths=0.3, zorder=3)
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def pose3d_figure(poses: dict[str, np.ndarray], title: str = "", colours: dict[str, str] | None = None):
    """A plotly 3D figure of several poses {name: (J, 3) mm camera frame}. One pose: bones coloured by side (left
    blue, right red); several: one colour per pose, right-side bones dashed. NaN joints are skipped."""
    import plotly.graph_objects as go

    fig = go.Figure()
    one = len(poses) == 1
    for k, (name, P) in enumerate(poses.items()):
        P = np.asarray(P, float)
        colour = (colours or {}).get(name, PALETTE[k % len(PALETTE)])
        for s in ("left", "centre", "right"):
            xs, ys, zs = [], [], []
            for c, p in skeleton.BONES:
                if side(c) == s and np.isfinite(P[[c, p]]).all():
                    for j in (p, c):
                        xs.append(P[j, 0]), ys.append(P[j, 2]), zs.append(-P[j, 1])
                    xs.append(None), ys.append(None), zs.append(None)
            fig.add_trace(go.Scatter3d(
                x=xs, y=ys, z=zs, mode="lines+markers", name=name, legendgroup=name, showlegend=s == "centre",
                line=dict(color=COLOURS[s] if one else colour, width=5,
                          dash="dash" if (s == "right" and not one) else "solid"),
                marker=dict(size=2.5, color=COLOURS[s] if one else colour), hovertext=name))
    fig.update_layout(title=title, margin=dict(l=0, r=0, t=40, b=0), height=520, legend=dict(itemsizing="constant"),
                      scene=dict(aspectmode="data", xaxis_title="x (mm)", yaxis_title="z depth (mm)",
                                 zaxis_title="-y up (mm)"))
    return fig


def save_html(fig, path: str | os.PathLike, self_contained: bool = True) -> Path:
    """Write a plotly figure as HTML (``self_contained``: plotly.js inside, viewable offline; else from its CDN)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True if self_contained else "cdn")
    return path


def root_relative(P: np.ndarray) -> np.ndarray:
    """(..., J, 3) -> the same with the pelvis at the origin."""
    P = np.asarray(P, float)
    return P - P[..., skeleton.PELVIS:skeleton.PELVIS + 1, :]


# ----------------------------------------------------------------------------------------------- curves, bars
def history_figure(history: str | os.PathLike | pd.DataFrame, title: str = "") -> Figure:
    """Training curves from a run's history.csv: every loss term that is ever non-zero (log scale) and the learning
    rate against the step, with the end of the 2D pre-training marked."""
    df = history if isinstance(history, pd.DataFrame) else pd.read_csv(history)
    if df.empty:
        raise ValueError("history is empty: the run logged no step yet")
    terms = [t for t in _LOSS_TERMS if t in df and (df[t].abs() > 0).any()]
    n = len(terms) + 1
    cols = min(3, n)
    rows = -(-n // cols)
    fig = new_figure(4.2 * cols, 2.8 * rows)
    switch = df.loc[df["stage"] == "main", "step"].min() if "stage" in df else np.nan
    for i, name in enumerate([*terms, "lr"]):
        ax = fig.add_subplot(rows, cols, i + 1)
        y = df[name].abs() if name != "lr" else df[name]
        ax.plot(df["step"], y, lw=1.0, color="k" if name in ("total", "lr") else None)
        if (y > 0).all():
            ax.set_yscale("log")
        if np.isfinite(switch):
            ax.axvline(switch, color="0.6", ls=":", lw=1)
        ax.set_title(name if name != "lr" else "learning rate", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title or "training curves (dotted: end of 2D pre-training)", fontsize=10)
    fig.tight_layout()
    return fig


def bar_compare(df: pd.DataFrame, label_col: str, columns: list[str], title: str = "", ylabel: str = "") -> Figure:
    """Grouped bars: one group per line of ``df`` (labelled by ``label_col``), one bar per column (NaN: no bar)."""
    fig = new_figure(max(6.0, 0.9 * len(df) + 2), 4.2)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(df))
    w = 0.8 / max(len(columns), 1)
    for k, c in enumerate(columns):
        vals = pd.to_numeric(df[c], errors="coerce").to_numpy(float)
        pos = x + (k - (len(columns) - 1) / 2) * w
        ax.bar(pos, np.nan_to_num(vals, nan=0.0), w, label=c, color=PALETTE[k % len(PALETTE)])
        for xi, v in zip(pos, vals):
            if not np.isfinite(v):
                ax.text(xi, 0, "none", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(x, df[label_col].astype(str).tolist(), rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------- models
def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """`weakpose.model.load_checkpoint` with "auto" devices: (model in eval mode, cfg, state)."""
    from weakpose.model import load_checkpoint as _load

    return _load(path, resolve(device))


def resolve(device: str | torch.device) -> torch.device:
    """"auto" -> cuda when available, else cpu; anything else as torch.device."""
    from weakpose.trainer import resolve_device

    return device if isinstance(device, torch.device) else resolve_device(device)


def open_data(cfg: TrainConfig, key: str):
    """The dataset playing role ``key`` for a run of ``cfg`` (same source, size, seed and root)."""
    from weakpose.data.loaders import open_dataset

    return open_dataset(key, cfg.source, data_root=cfg.data_root or None, size=cfg.data_size, seed=cfg.seed)


def bone_mm_of(cfg: TrainConfig) -> torch.Tensor:
    """(16,) float64 mean bone lengths in mm of H's training split (eq. 12), as the trainer uses them."""
    return torch.tensor(open_data(cfg, "H").meta["bone_stats"]["mean_mm"], dtype=torch.float64)


@torch.no_grad()
def _forward(model, x: torch.Tensor, K_in: torch.Tensor, bone_mm: torch.Tensor) -> dict[str, np.ndarray]:
    """x (B, 3, I, I) float [0, 255]; K_in (B, 3, 3) px of x. Everything the figures need, as numpy."""
    out = model(x, K_in.float())
    probs = torch.softmax(model.temperature * out["heatmaps"].flatten(2), -1).reshape(out["heatmaps"].shape)
    scale = geometry.fit_scale(out["points"].double(), bone_mm.to(x.device))
    res = {k: out[k] for k in ("heatmaps", "depth_maps", "uv", "conf", "z_rel", "points", "z_root", "valid")}
    res.update(probs=probs, pose_mm=scale[:, None, None] * out["points"].double(), scale=scale,
               input=x.permute(0, 2, 3, 1).clamp(0, 255).to(torch.uint8))
    return {k: v.detach().cpu().numpy() for k, v in res.items()}


def infer_rows(model, cfg: TrainConfig, ds, rows, device: str | torch.device = "cpu",
               bone_mm: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Run a model on rows of a canonical dataset without augmentation (the evaluation warp). Returns numpy arrays:
    input (B, I, I, 3) uint8, heatmaps / probs / depth_maps (B, J, H, W), uv (B, J, 2) input px, conf (B, J),
    points (B, J, 3) scale-normalised, pose_mm (B, J, 3), valid (B,), and the ground truth in input px / mm:
    gt2d (B, J, 2), vis2d (B, J), gt3d (B, J, 3) (NaN where absent), rows (B,)."""
    from weakpose.augment import identity_affines, transform_points, warp_images

    rows, device = np.asarray(rows, int), resolve(device)
    images = torch.from_numpy(np.stack([ds.image(int(r)) for r in rows])).to(device)
    K = torch.from_numpy(np.asarray(ds.K[rows], np.float64)).to(device)
    A = identity_affines(len(rows), ds.crop_size, float(ds.meta["crop_margin"]), cfg.input_size, device)
    x = warp_images(images, A, cfg.input_size)
    res = _forward(model.to(device).eval(), x, A @ K, bone_mm if bone_mm is not None else bone_mm_of(cfg))
    j2 = torch.from_numpy(np.nan_to_num(np.asarray(ds.joints2d[rows], np.float64))).to(device)
    res["gt2d"] = transform_points(A, j2).cpu().numpy()
    res["vis2d"] = np.asarray(ds.vis2d[rows], bool) & np.asarray(ds.has_2d[rows], bool)[:, None]
    res["gt3d"] = np.where(np.asarray(ds.has_3d[rows], bool)[:, None, None], np.asarray(ds.joints3d[rows], float), np.nan)
    res["rows"] = rows
    return res


def infer_image(model, cfg: TrainConfig, path: str | os.PathLike, device: str | torch.device = "cpu",
                focal: float = 2.5) -> dict[str, np.ndarray]:
    """Run a model on an image file showing one person that fills it: the image is padded to a square and resized
    to the input size. Its intrinsics are unknown, so K is ASSUMED (f = ``focal`` x input size, principal point at
    the centre) and the 3D scale comes from the canonical H36M bone lengths: the 3D is indicative only."""
    import cv2

    device = resolve(device)
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read an image at {path}")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    side_px = max(h, w)
    sq = np.zeros((side_px, side_px, 3), np.uint8)
    sq[(side_px - h) // 2:(side_px - h) // 2 + h, (side_px - w) // 2:(side_px - w) // 2 + w] = img
    I = cfg.input_size
    x = torch.from_numpy(cv2.resize(sq, (I, I), interpolation=cv2.INTER_AREA)).to(device).permute(2, 0, 1)[None].float()
    c = (I - 1) / 2
    K = torch.tensor([[[focal * I, 0, c], [0, focal * I, c], [0, 0, 1]]], dtype=torch.float64, device=device)
    bones = torch.tensor([skeleton.CANONICAL_BONE_MM[b] for b in skeleton.BONES], dtype=torch.float64)
    res = _forward(model.to(device).eval(), x, K, bones)
    res.update(gt2d=np.full((1, skeleton.J, 2), np.nan), vis2d=np.zeros((1, skeleton.J), bool),
               gt3d=np.full((1, skeleton.J, 3), np.nan), rows=np.array([-1]))
    return res


def test_rows(ds, n: int) -> np.ndarray:
    """n test rows with 3D ground truth, evenly spread over the test split."""
    rows = np.nonzero(ds.split_mask("test") & np.asarray(ds.has_3d, bool))[0]
    if len(rows) == 0:
        raise ValueError(f"{ds.name} has no test rows with 3D ground truth")
    return rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int)]


def group_rows(ds, index: int = 0, max_views: int = 4) -> np.ndarray:
    """Rows (C,) of multi-view group ``index`` (modulo the number of groups; test-split groups first), at most
    ``max_views`` views evenly spread over the group. A dataset without groups (MPII) gives the single row
    ``index``."""
    groups = [g for g in ds.groups(ds.split_mask("test")) if len(g) >= 2] or [g for g in ds.groups() if len(g) >= 2]
    if not groups:
        return np.array([index % len(ds)])
    g = groups[index % len(groups)]
    return g[np.linspace(0, len(g) - 1, min(max_views, len(g))).round().astype(int)]


def align_views(poses: np.ndarray, conf: np.ndarray | None = None) -> np.ndarray:
    """Eq. 10: every view's pose (C, J, 3) rigidly aligned onto the first view's, weighted by phi_c phi_0
    (conf (C, J); uniform if None). Returns (C, J, 3) in the first view's camera frame."""
    P = torch.as_tensor(np.asarray(poses, np.float64))
    phi = None if conf is None else torch.as_tensor(np.asarray(conf, np.float64))
    w = None if phi is None else phi * phi[:1]
    R, t = geometry.rigid_align(P, P[:1].expand_as(P), w)
    return geometry.apply_transform(P, R, t).numpy()


def spread_mm(aligned: np.ndarray) -> float:
    """Mean distance (mm) of the aligned views' joints (C, J, 3) to their mean pose: 0 = perfectly consistent."""
    return float(np.linalg.norm(aligned - aligned.mean(0, keepdims=True), axis=-1).mean())


# ----------------------------------------------------------------------------------------------- composite figures
def predictions_2d_figure(res: dict, title: str = "") -> Figure:
    """Each sample's input crop with the predicted 2D pose (solid) and the ground truth (dashed)."""
    n = len(res["uv"])
    fig = new_figure(2.6 * n, 2.9)
    for i in range(n):
        ax = fig.add_subplot(1, n, i + 1)
        ax.imshow(res["input"][i])
        if res["vis2d"][i].any():
            draw_pose_2d(ax, res["gt2d"][i], res["vis2d"][i], dashed=True, lw=1.0)
        vis = res["vis2d"][i]
        err = np.linalg.norm(res["uv"][i] - res["gt2d"][i], axis=-1)[vis].mean() if vis.any() else np.nan
        draw_pose_2d(ax, res["uv"][i], title=f"row {res['rows'][i]}" + (f": {err:.1f} px" if np.isfinite(err) else ""))
    fig.suptitle(title or "predicted 2D (solid) vs ground truth (dashed), input px", fontsize=9)
    fig.tight_layout()
    return fig


def predictions_3d_figure(res: dict, title: str = "", gap_mm: float = 1200.0):
    """Plotly: ground truth and prediction (root-relative, mm) of every sample, samples side by side."""
    poses = {}
    for i in range(len(res["pose_mm"])):
        off = np.array([gap_mm * i, 0, 0])
        if np.isfinite(res["gt3d"][i]).all():
            poses[f"#{i} ground truth"] = root_relative(res["gt3d"][i]) + off
        poses[f"#{i} predicted"] = root_relative(res["pose_mm"][i]) + off
    colours = {k: ("#222222" if k.endswith("truth") else "#ff7f0e") for k in poses}
    return pose3d_figure(poses, title or "3D: ground truth (black) vs predicted (orange), root-relative mm", colours)


def maps_figure(res: dict, joint: str = "r_wrist", title: str = "") -> Figure:
    """Per view (rows): input with predicted 2D | max over joints of the normalised heatmaps | the latent depth map
    H^z of ``joint`` | the depth read at the joints, sum_j Hbar_j H^z_j (eq. 5 before the sum over pixels)."""
    j = skeleton.JOINT_NAMES.index(joint)
    n, I = len(res["uv"]), res["input"].shape[1]
    fig = new_figure(11, 2.7 * n)
    ext = (0, I, I, 0)
    for i in range(n):
        cells = [("input + predicted 2D", None), ("heatmaps (max over joints)", res["probs"][i].max(0)),
                 (f"latent depth map H^z [{joint}]", res["depth_maps"][i, j]),
                 ("sum_j Hbar_j H^z_j (depth where joints are)", (res["probs"][i] * res["depth_maps"][i]).sum(0))]
        for c, (name, m) in enumerate(cells):
            ax = fig.add_subplot(n, 4, 4 * i + c + 1)
            if m is None:
                draw_pose_2d(ax, res["uv"][i], image=res["input"][i], title=f"view {i}: {name}")
                continue
            ax.imshow(res["input"][i], alpha=0.35)
            im = ax.imshow(m, extent=ext, alpha=0.75, cmap="magma" if c == 1 else "coolwarm")
            fig.colorbar(im, ax=ax, fraction=0.046)
            ax.set_title(name, fontsize=8)
            ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def group_3d_figure(res: dict, title: str = ""):
    """Plotly: every view's predicted pose aligned onto view 0 with eq. 10 (root of view 0 at the origin), and the
    ground truth of view 0 (root-relative) when the dataset has it."""
    aligned = align_views(res["pose_mm"], res["conf"])
    root = aligned[0, skeleton.PELVIS]
    poses = {f"view {c} (aligned)": aligned[c] - root for c in range(len(aligned))}
    if np.isfinite(res["gt3d"][0]).all():
        poses["ground truth (view 0)"] = root_relative(res["gt3d"][0])
    return pose3d_figure(poses, title or f"views aligned onto view 0 (eq. 10): spread {spread_mm(aligned):.0f} mm")


def figure2(models: list[tuple[str, str | os.PathLike]], group: int = 0, max_views: int = 8,
            device: str | torch.device = "cpu") -> tuple[Figure, pd.DataFrame]:
    """A Figure-2-style view: for each (label, checkpoint), the 3D poses it predicts for the views of one static MQC
    (twin Q) tracklet, aligned onto the first view with eq. 10 and overlaid; the closer they lie, the more
    consistent the model. Returns the figure and a table label / views / spread_mm / checkpoint."""
    fig = new_figure(5.0 * max(len(models), 1), 5.0)
    lines = []
    for k, (label, ckpt) in enumerate(models):
        model, cfg, _ = load_checkpoint(ckpt, device)
        ds = open_data(cfg, "Q")
        res = infer_rows(model, cfg, ds, group_rows(ds, group, max_views), device)
        aligned = align_views(res["pose_mm"], res["conf"])
        aligned = aligned - aligned[:1, skeleton.PELVIS:skeleton.PELVIS + 1]
        ax = fig.add_subplot(1, len(models), k + 1, projection="3d")
        for c in range(len(aligned)):
            for a, b in skeleton.BONES:
                ax.plot(aligned[c, [a, b], 0], aligned[c, [a, b], 2], -aligned[c, [a, b], 1],
                        color=COLOURS[side(a)], alpha=0.55, lw=1.2)
        ax.set_box_aspect(tuple(np.ptp(aligned.reshape(-1, 3)[:, [0, 2, 1]], axis=0) + 1e-6))
        s = spread_mm(aligned)
        ax.set_title(f"{label}\n{len(aligned)} views, spread {s:.0f} mm", fontsize=8)
        ax.set_xlabel("x"), ax.set_ylabel("z"), ax.set_zlabel("-y")
        ax.tick_params(labelsize=6)
        lines.append({"label": label, "views": len(aligned), "spread_mm": s, "checkpoint": str(ckpt)})
    fig.suptitle("MQC-twin tracklet: per-view 3D poses aligned with eq. 10 (static person: they should coincide)",
                 fontsize=9)
    fig.tight_layout()
    return fig, pd.DataFrame(lines)


def run_predictions(out_dir: str | os.PathLike, n: int = 3, device: str | torch.device = "cpu") -> dict:
    """`infer_rows` on n test rows of the split a run was evaluated on (its config.json), with the run's model."""
    from weakpose.experiments import checkpoint_of

    out = Path(out_dir)
    ckpt = checkpoint_of(out)
    if ckpt is None:
        raise FileNotFoundError(f"{out} has no checkpoint (and names none it was evaluated from)")
    import json

    run_cfg = config_from_dict(json.loads((out / "config.json").read_text()))
    model, cfg, _ = load_checkpoint(ckpt, device)
    ds = open_data(run_cfg, run_cfg.eval_on)
    return infer_rows(model, cfg, ds, test_rows(ds, n), device)


def skeleton_viewer(runs: list[tuple[str, str | os.PathLike]], sample: int = 0, device: str | torch.device = "cpu"):
    """Plotly: the ground truth of one H test image and every run's prediction of it (root-relative mm); click the
    legend to compare runs. ``runs``: (label, checkpoint) pairs on the same data (`experiments.viewer_runs`)."""
    poses, title = {}, "no runs with a checkpoint yet"
    for label, ckpt in runs:
        model, cfg, _ = load_checkpoint(ckpt, device)
        ds = open_data(cfg, "H")
        res = infer_rows(model, cfg, ds, test_rows(ds, sample + 1)[-1:], device)
        poses.setdefault("ground truth", root_relative(res["gt3d"][0]))
        poses[label] = root_relative(res["pose_mm"][0])
        title = f"H test row {res['rows'][0]} ({cfg.source}, {cfg.data_size}): ground truth and each run's prediction"
    return pose3d_figure(poses, title, colours={"ground truth": "#222222"})
