"""Pictures of projections and clusters (matplotlib, Agg backend, imported only here and only when asked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _scatter(ax, P: np.ndarray, colour: np.ndarray, names: list[str] | None, title: str) -> None:
    """2-D points coloured by integer ``colour`` (−1 grey); a legend when there are few groups."""
    plt = _pyplot()
    groups = np.unique(colour)
    cmap = plt.get_cmap("tab20", max(len(groups), 1))
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


def plot_map(path: str | Path, P: np.ndarray, panels: list[tuple[str, np.ndarray, list[str] | None]],
             isolated: np.ndarray | None = None) -> None:
    """One PNG: a panel per (title, labels (N,), label names or None) over the projection P (N, ≥1);
    the most isolated samples (indices) ringed in every panel."""
    plt = _pyplot()
    n = max(1, len(panels))
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.8 * rows), dpi=100, squeeze=False)
    try:
        for ax, (title, colour, names) in zip(axes.flat, panels):
            _scatter(ax, P, np.asarray(colour), names, title)
            if isolated is not None and len(isolated):
                y = P[isolated, 1] if P.shape[1] > 1 else np.zeros(len(isolated))
                ax.scatter(P[isolated, 0], y, s=40, facecolors="none", edgecolors="red", linewidths=0.8)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def plot_dendrogram(path: str | Path, linkage: np.ndarray, n_clusters: int, labels: list[str] | None = None) -> None:
    """One PNG: the Ward dendrogram, cut to show ``n_clusters`` colours (at most 60 leaves, truncated)."""
    from scipy.cluster.hierarchy import dendrogram

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    try:
        n = len(linkage) + 1
        threshold = linkage[-(n_clusters - 1), 2] if 1 < n_clusters <= len(linkage) else 0
        dendrogram(linkage, ax=ax, color_threshold=threshold, truncate_mode="lastp" if n > 60 else None,
                   p=60, labels=labels if (labels and n <= 60) else None, leaf_font_size=6)
        ax.set_title(f"Ward linkage ({n} samples, {n_clusters} clusters)", fontsize=9)
        ax.set_ylabel("distance")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
