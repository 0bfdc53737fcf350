"""Figure of the four synthetic twins (results/synth/twins.png): crops with their 2D ground truth, one H
multi-view group and a top view of its cameras. Drawing goes through `weakpose.viz`."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from weakpose import skeleton, viz
from weakpose.data.format import CanonicalDataset, data_root
from weakpose.data.synth import twins


def make_figure(path: str | os.PathLike, size: str = "tiny", folder: str | os.PathLike | None = None,
                seed: int = 0) -> Path:
    """Figure of the four twins: six crops per twin with their 2D ground truth (Q and M from the hidden sidecar,
    M drawn with its labelled joints only), then one H multi-view group and a top view of its cameras and world
    pose (X_w = R^T (X_c - t)). Twins come from ``folder`` (default ``<data_root>/synthetic``), generated if
    absent. Writes a PNG at ``path`` and returns it."""
    folder = Path(folder) if folder is not None else data_root() / "synthetic"
    ds = {tw: CanonicalDataset(twins._ensure_at(tw, size, seed, folder / f"{tw}-{size}-seed{seed}")) for tw in twins.TWINS}
    fig = viz.new_figure(12, 10.6)
    grid = fig.add_gridspec(5, 6)
    for r, tw in enumerate(twins.TWINS):
        d, groups = ds[tw], ds[tw].groups()
        if tw == "Q":  # first, middle and last frame of one tracklet, then three other tracklets
            rows = [groups[0][0], groups[0][len(groups[0]) // 2], groups[0][-1]] + [g[0] for g in groups[1:4]]
        elif tw == "M":
            rows = list(range(6))
        else:  # five groups, each seen from another camera, and the last test row
            rows = [g[k % len(g)] for k, g in enumerate(groups[:: max(1, len(groups) // 5)][:5])]
            rows.append(np.nonzero(d.split_mask("test"))[0][-1])
        for c, i in enumerate(int(x) for x in rows[:6]):
            j2, vis = np.asarray(d.joints2d[i]), np.asarray(d.vis2d[i])
            if tw == "Q":
                j2, vis = np.load(d.path / "extra" / "gt_joints2d.npy")[i], np.ones(skeleton.J, bool)
            who = d.category("subject", i) or d.category("sequence", i) or "img"
            head = f"{tw} = {twins.ROLES[tw]} twin\n" if c == 0 else "\n"
            title = f"{head}{who} {d.category('action', i)} view {d.view[i]}" + (" (hidden GT)" if tw == "Q" else "")
            viz.draw_pose_2d(fig.add_subplot(grid[r, c]), j2, vis, d.image(i), title, lw=1.2)
    H = ds["H"]
    g = next((g for g in H.groups() if H.category("action", g[0]) in ("standing", "walking")), H.groups()[0])
    for c, i in enumerate(g):
        viz.draw_pose_2d(fig.add_subplot(grid[4, c]), np.asarray(H.joints2d[i]), None, H.image(i),
                         f"H multi-view group {H.group[i]}\ncamera {H.view[i]}", lw=1.2)
    ax = fig.add_subplot(grid[4, 4:])
    for i in g:
        R, t = np.asarray(H.R[i]), np.asarray(H.t[i])
        C, Xw = -R.T @ t / 1000, (np.asarray(H.joints3d[i], float) - t) @ R / 1000
        ax.plot(C[0], C[1], "ks", ms=4)
        ax.annotate(f"cam {H.view[i]}", (C[0], C[1]), fontsize=7)
        for c, p in skeleton.BONES:
            ax.plot(Xw[[p, c], 0], Xw[[p, c], 1], color=viz.COLOURS[viz.side(c)], lw=0.8)
    ax.set_aspect("equal")
    ax.set_title("top view (m): cameras and\nworld pose R^T (X_c - t)", fontsize=7)
    ax.tick_params(labelsize=6)
    fig.suptitle(f"weakpose synthetic twins ({size}, seed {seed}): 2D ground truth, left blue / right red", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return path
