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
from weakpose.losses import LOSS_NAMES

COLOURS = {"left": "#2f7bff", "right": "#ff3b3b", "centre": "#7f7f7f"}
PALETTE = ("#222222", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


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
    terms = [t for t in LOSS_NAMES if t in df and (df[t].abs() > 0).any()]
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


def bar_compare(df: pd.DataFrame, label_col: str, columns: list[str], title: str = "", ylabel: str = "",
                errors: dict[str, str] | None = None) -> Figure:
    """Grouped bars: one group per line of ``df`` (labelled by ``label_col``), one bar per column (NaN: no bar);
    ``errors`` maps a column to the column of its error bars (e.g. the standard deviation over seeds)."""
    fig = new_figure(max(6.0, 0.9 * len(df) + 2), 4.2)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(df))
    w = 0.8 / max(len(columns), 1)
    for k, c in enumerate(columns):
        vals = pd.to_numeric(df[c], errors="coerce").to_numpy(float)
        pos = x + (k - (len(columns) - 1) / 2) * w
        err = pd.to_numeric(df[errors[c]], errors="coerce").to_numpy(float) if errors and c in errors else None
        ax.bar(pos, np.nan_to_num(vals, nan=0.0), w, label=c, color=PALETTE[k % len(PALETTE)],
               yerr=None if err is None else np.nan_to_num(err, nan=0.0), capsize=2 if err is not None else 0)
        for xi, v in zip(pos, vals):
            if not np.isfinite(v):
                ax.text(xi, 0, "none", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(x, df[label_col].astype(str).tolist(), rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def pck_curve_figure(curves: pd.DataFrame, title: str = "") -> Figure:
    """PCK (%) against the threshold (mm), one line per row of `tables.pck_curves` (legend: its AUC), and the
    paper's PCK at 150 mm as a marker of the same colour (the paper prints no curve and no AUC)."""
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    for k, (_, r) in enumerate(curves.iterrows()):
        th = [c for c in curves.columns if isinstance(c, float)]
        colour = PALETTE[k % len(PALETTE)]
        name = f"{r['row']}{' *' if r['variant'] else ''}"
        ax.plot(th, [r[t] for t in th], color=colour, label=f"ours {name} (AUC {r['auc']:.1f}, {r['seeds']} seeds)")
        if np.isfinite(r["paper_pck"]):
            ax.plot([150.0], [r["paper_pck"]], marker="*", ms=11, color=colour, ls="none",
                    label=f"paper {name}: PCK {r['paper_pck']:.1f}")
    ax.set_xlabel("threshold (mm)")
    ax.set_ylabel("PCK (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------- multi-view groups
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


def figure2_panels(panels: list[tuple[str, np.ndarray]]) -> Figure:
    """A Figure-2-style view: one 3D panel per (label, aligned (C, J, 3) mm poses of one static person, all views
    aligned onto the first with eq. 10); the closer the views lie, the more consistent the model."""
    fig = new_figure(5.0 * max(len(panels), 1), 5.0)
    for k, (label, aligned) in enumerate(panels):
        aligned = aligned - aligned[:1, skeleton.PELVIS:skeleton.PELVIS + 1]
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        for c in range(len(aligned)):
            for a, b in skeleton.BONES:
                ax.plot(aligned[c, [a, b], 0], aligned[c, [a, b], 2], -aligned[c, [a, b], 1],
                        color=COLOURS[side(a)], alpha=0.55, lw=1.2)
        ax.set_box_aspect(tuple(np.ptp(aligned.reshape(-1, 3)[:, [0, 2, 1]], axis=0) + 1e-6))
        ax.set_title(f"{label}\n{len(aligned)} views, spread {spread_mm(aligned):.0f} mm", fontsize=8)
        ax.set_xlabel("x"), ax.set_ylabel("z"), ax.set_zlabel("-y")
        ax.tick_params(labelsize=6)
    fig.suptitle("MQC-twin tracklet: per-view 3D poses aligned with eq. 10 (static person: they should coincide)",
                 fontsize=9)
    fig.tight_layout()
    return fig
