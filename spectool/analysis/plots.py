"""Pictures of projections and clusters (matplotlib, Agg canvas, imported only here and only when asked).

Pure: arrays in, matplotlib ``Figure`` objects out (no pyplot, nothing to close); ``io/figures.py``
writes them.
"""

from __future__ import annotations

import numpy as np


def _figure(**kwargs):
    """A matplotlib Figure on an Agg canvas of its own (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _scatter(ax, P: np.ndarray, colour: np.ndarray, names: list[str] | None, title: str) -> None:
    """2-D points coloured by integer ``colour`` (−1 grey); a legend when there are few groups."""
    from matplotlib import colormaps

    groups = np.unique(colour)
    cmap = colormaps["tab20"].resampled(max(len(groups), 1))
    for i, g in enumerate(groups):
        sel = colour == g
        label = "noise" if g < 0 else (names[g] if names and 0 <= g < len(names) else str(g))
        ax.scatter(P[sel, 0], P[sel, 1] if P.shape[1] > 1 else np.zeros(sel.sum()), s=8,
                   color="lightgrey" if g < 0 else cmap(i), label=label, linewidths=0)
    if len(groups) <= 20:
        ax.legend(fontsize=6, markerscale=1.5, loc="best", frameon=False)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def map_figure(P: np.ndarray, panels: list[tuple[str, np.ndarray, list[str] | None]],
               isolated: np.ndarray | None = None):
    """The figure of a panel per (title, labels (N,), label names or None) over the projection P (N, ≥1);
    the most isolated samples (indices) ringed in every panel."""
    n = max(1, len(panels))
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = _figure(figsize=(4.2 * cols, 3.8 * rows), dpi=100)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (title, colour, names) in zip(axes.flat, panels):
        _scatter(ax, P, np.asarray(colour), names, title)
        if isolated is not None and len(isolated):
            y = P[isolated, 1] if P.shape[1] > 1 else np.zeros(len(isolated))
            ax.scatter(P[isolated, 0], y, s=40, facecolors="none", edgecolors="red", linewidths=0.8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def dendrogram_figure(linkage: np.ndarray, n_clusters: int, labels: list[str] | None = None):
    """The figure of the Ward dendrogram, cut to show ``n_clusters`` colours (at most 60 leaves, truncated)."""
    from scipy.cluster.hierarchy import dendrogram

    fig = _figure(figsize=(9, 4), dpi=100)
    ax = fig.subplots()
    n = len(linkage) + 1
    threshold = linkage[-(n_clusters - 1), 2] if 1 < n_clusters <= len(linkage) else 0
    dendrogram(linkage, ax=ax, color_threshold=threshold, truncate_mode="lastp" if n > 60 else None,
               p=60, labels=labels if (labels and n <= 60) else None, leaf_font_size=6)
    ax.set_title(f"Ward linkage ({n} samples, {n_clusters} clusters)", fontsize=9)
    ax.set_ylabel("distance")
    fig.tight_layout()
    return fig
