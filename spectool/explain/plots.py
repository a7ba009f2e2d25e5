"""Pictures of explanations (matplotlib, Agg backend, imported only here and only when asked).

- :func:`plot_map`: the spectrum with the map as a heat band behind it, the class named.
- :func:`plot_attention_grid`: a layers × heads grid of [CLS] → patch attention over the spectrum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _heat(ax, x: np.ndarray, y: np.ndarray, heat: np.ndarray, cmap: str = "inferno") -> object:
    """The spectrum y(x) over a heat band of ``heat`` (L,) scaled to [0, 1]; returns the image."""
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = 0.05 * (hi - lo or 1.0)
    span = float(np.ptp(heat)) or 1.0
    image = ax.imshow(((heat - np.min(heat)) / span)[None, :], extent=(x[0], x[-1], lo - pad, hi + pad),
                      aspect="auto", cmap=cmap, alpha=0.55, origin="lower", vmin=0, vmax=1,
                      interpolation="nearest")
    ax.plot(x, y, color="black", linewidth=0.8)
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(lo - pad, hi + pad)
    return image


def axis_label(quantity: str, units: str) -> str:
    names = {"two_theta": "2θ", "wavenumber": "wavenumber", "raman_shift": "Raman shift", "energy": "energy"}
    name = names.get(quantity, quantity)
    return f"{name} ({units})" if units else name


def plot_map(path: str | Path, x: np.ndarray, y: np.ndarray, heat: np.ndarray, title: str,
             xlabel: str = "", method: str = "") -> None:
    """One PNG: spectrum y (L,) on x (L,) with ``heat`` (L,) behind it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    try:
        image = _heat(ax, np.asarray(x), np.asarray(y), np.asarray(heat, np.float64))
        fig.colorbar(image, ax=ax, pad=0.01, label=f"{method} (scaled)" if method else "scaled")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("intensity")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def plot_attention_grid(path: str | Path, x: np.ndarray, y: np.ndarray, rows: np.ndarray, spans: np.ndarray,
                        title: str, xlabel: str = "") -> None:
    """One PNG: ``rows`` (depth, heads, N) [CLS] → patch weights, each over the spectrum.

    ``spans`` (N, 2): the input points [start, stop) of each patch.
    """
    plt = _pyplot()
    depth, heads, _ = rows.shape
    owner = np.zeros(len(x), dtype=np.int64)
    for i, (start, stop) in enumerate(spans):
        owner[start:stop] = i
    fig, axes = plt.subplots(depth, heads, figsize=(2.6 * heads, 1.3 * depth + 0.6), dpi=80,
                             sharex=True, squeeze=False)
    try:
        for layer in range(depth):
            for head in range(heads):
                ax = axes[layer, head]
                _heat(ax, np.asarray(x), np.asarray(y), rows[layer, head][owner])
                ax.set_yticks([])
                ax.tick_params(labelsize=6)
                if layer == 0:
                    ax.set_title(f"head {head + 1}", fontsize=8)
                if head == 0:
                    ax.set_ylabel(f"layer {layer + 1}", fontsize=8)
        fig.suptitle(title, fontsize=9)
        fig.supxlabel(xlabel, fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def picture_name(row: int, name: str) -> str:
    """``00012_NaCl-3`` from a row number and a sample id (only safe characters kept)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)[:60]
    return f"{row:05d}_{safe}" if safe else f"{row:05d}"


def draw_samples(folder: str | Path, first_row: int, names: list[str], X: np.ndarray, axis, maps: dict,
                 classes: list[str], truth: list[str] | None = None, spans: np.ndarray | None = None) -> list[Path]:
    """One PNG per row of X (B, L) with its main map; plus ``*_heads.png`` when ``maps`` has attention.

    ``axis``: a :class:`~spectool.spectra.Axis`; ``maps``: from :func:`spectool.explain.maps.explain_batch`.
    Returns the paths written.
    """
    from spectool.explain.maps import main_map

    method = main_map(maps)
    xlabel = axis_label(axis.quantity, axis.units)
    written = []
    for i, name in enumerate(names):
        stem = Path(folder) / picture_name(first_row + i, name)
        target = classes[int(maps["target"][i])]
        title = f"{name}: {method} for {target} (p = {float(maps['score'][i]):.2f})"
        if truth is not None and truth[i]:
            title += f"; labelled {truth[i]}"
        plot_map(stem.with_suffix(".png"), axis.values, X[i], maps[method][i], title, xlabel, method)
        written.append(stem.with_suffix(".png"))
        if "attention" in maps and spans is not None:
            heads = stem.parent / (stem.name + "_heads.png")
            plot_attention_grid(heads, axis.values, X[i], maps["attention"][i], spans,
                                f"{name}: [CLS] attention, layers × heads ({target})", xlabel)
            written.append(heads)
    return written
