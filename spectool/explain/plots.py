"""Pictures of explanations (matplotlib, Agg canvas, imported only here and only when asked).

Pure: arrays in, matplotlib ``Figure`` objects out (no pyplot, nothing to close); ``io/figures.py``
writes them.

- :func:`map_figure`: the spectrum with the map as a heat band behind it, the class named; where the scan has
  no data (the zeros that resampling onto the model's axis puts beyond its ends) the band is hatched over
  and the colour scale spans the measured part only (the map's values there stay in the data).
- :func:`attention_figure`: a layers × heads grid of [CLS] → patch attention over the spectrum.
- :func:`sample_figures`: the file names and figures of a batch of explained rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from spectool.spectra import covered


def _figure(**kwargs):
    """A matplotlib Figure on an Agg canvas of its own (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _heat(ax, x: np.ndarray, y: np.ndarray, heat: np.ndarray, cmap: str = "inferno",
          measured: slice | None = None) -> object:
    """The spectrum y(x) over a heat band of ``heat`` (L,) scaled to [0, 1] over the ``measured`` points
    (default all; outside them hatched as "no data"); returns the image."""
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = 0.05 * (hi - lo or 1.0)
    inside = heat[measured or slice(None)]
    span = float(np.ptp(inside)) or 1.0
    image = ax.imshow(((heat - np.min(inside)) / span)[None, :], extent=(x[0], x[-1], lo - pad, hi + pad),
                      aspect="auto", cmap=cmap, alpha=0.55, origin="lower", vmin=0, vmax=1,
                      interpolation="nearest")
    if measured is not None:
        for a, b in ((0, measured.start), (measured.stop - 1, len(x) - 1)):
            if b > a:
                ax.axvspan(x[a], x[b], facecolor="0.9", edgecolor="0.6", hatch="//", linewidth=0, label="no data")
    ax.plot(x, y, color="black", linewidth=0.8)
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(lo - pad, hi + pad)
    return image


def axis_label(quantity: str, units: str) -> str:
    names = {"two_theta": "2θ", "wavenumber": "wavenumber", "raman_shift": "Raman shift", "energy": "energy"}
    name = names.get(quantity, quantity)
    return f"{name} ({units})" if units else name


def map_figure(x: np.ndarray, y: np.ndarray, heat: np.ndarray, title: str, xlabel: str = "",
               method: str = ""):
    """The figure (8 × 3 in, 100 dpi) of spectrum y (L,) on x (L,) with ``heat`` (L,) behind it."""
    fig = _figure(figsize=(8, 3), dpi=100)
    ax = fig.subplots()
    y = np.asarray(y)
    span = covered(y)
    image = _heat(ax, np.asarray(x), y, np.asarray(heat, np.float64), measured=span if span.stop > span.start else None)
    fig.colorbar(image, ax=ax, pad=0.01, label=f"{method} (scaled)" if method else "scaled")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("intensity")
    fig.tight_layout()
    return fig


def attention_figure(x: np.ndarray, y: np.ndarray, rows: np.ndarray, spans: np.ndarray, title: str,
                     xlabel: str = ""):
    """The figure of ``rows`` (depth, heads, N) [CLS] → patch weights, each over the spectrum.

    ``spans`` (N, 2): the input points [start, stop) of each patch.
    """
    depth, heads, _ = rows.shape
    owner = np.zeros(len(x), dtype=np.int64)
    for i, (start, stop) in enumerate(spans):
        owner[start:stop] = i
    fig = _figure(figsize=(2.6 * heads, 1.3 * depth + 0.6), dpi=80)
    axes = fig.subplots(depth, heads, sharex=True, squeeze=False)
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
    return fig


def picture_name(row: int, name: str) -> str:
    """``00012_NaCl-3`` from a row number and a sample id (only safe characters kept)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)[:60]
    return f"{row:05d}_{safe}" if safe else f"{row:05d}"


def sample_figures(first_row: int, names: list[str], X: np.ndarray, axis, maps: dict, classes: list[str],
                   truth: list[str] | None = None, spans: np.ndarray | None = None) -> Iterator[tuple[str, object]]:
    """(file name, figure) per row of X (B, L) with its main map; plus ``*_heads.png`` when ``maps`` has
    attention. Lazily: one figure at a time.

    ``axis``: a :class:`~spectool.spectra.Axis`; ``maps``: from :func:`spectool.explain.maps.explain_batch`.
    """
    from spectool.explain.maps import main_map

    method = main_map(maps)
    xlabel = axis_label(axis.quantity, axis.units)
    for i, name in enumerate(names):
        stem = picture_name(first_row + i, name)
        target = classes[int(maps["target"][i])]
        title = f"{name}: {method} for {target} (p = {float(maps['score'][i]):.2f})"
        if truth is not None and truth[i]:
            title += f"; labelled {truth[i]}"
        yield str(Path(stem).with_suffix(".png")), map_figure(axis.values, X[i], maps[method][i], title, xlabel, method)
        if "attention" in maps and spans is not None:
            yield stem + "_heads.png", attention_figure(axis.values, X[i], maps["attention"][i], spans,
                                                        f"{name}: [CLS] attention, layers × heads ({target})", xlabel)
