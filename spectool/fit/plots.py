"""The Rietveld plot of a fit (matplotlib, Agg backend, imported only here and only when asked).

:func:`rietveld_figure` builds it (pure: arrays in, a figure and its artists out);
:func:`spectool.io.figures.write_png` writes it. Layout, as refinement programs draw it: the measured points, the fitted total, each phase
on the background, the difference curve offset below the pattern, and below that one row of tick
marks per phase at its reflections (primary line), all in the phase's colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Phase colours (matplotlib's tab10 without the red of the total and the grey of the difference).
COLOURS = ("tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


@dataclass
class RietveldArtists:
    """What :func:`rietveld_figure` drew: one entry per phase in ``phases`` and ``ticks``."""

    figure: object
    measured: object
    total: object
    difference: object
    phases: list = field(default_factory=list)
    ticks: list = field(default_factory=list)


def phase_legend(label: str, phase) -> str:
    """'label (reference formula) – w wt %' of a fitted phase (:class:`~spectool.fit.engine.PhaseFit`), and
    its preferred orientation where one was refined."""
    from spectool.fit.texture import describe

    formula = phase.reference.formula if phase.reference is not None else ""
    named = f"{label} ({formula})" if formula and formula != label else label
    texture = f", {describe(*phase.texture)}" if phase.texture else ""
    return f"{named} – {100 * phase.weight_fraction:.1f} wt %{texture}"


def primary_reflections(phase, lo: float, hi: float) -> np.ndarray:
    """2θ (degrees) of a phase's reflections of the primary line inside [lo, hi] (its flat list is line-major)."""
    hkl = getattr(phase.reference, "hkl", None)  # a measured reference has no reflections: its peaks are listed
    m = len(hkl) if hkl is not None else len(phase.two_theta)
    tt = np.asarray(phase.two_theta[:m], np.float64)
    return np.sort(tt[(tt >= lo) & (tt <= hi)])


def rietveld_figure(x: np.ndarray, y: np.ndarray, fit, labels: list[str], title: str = "",
                    xlabel: str = "2θ (°)", ylabel: str = "intensity") -> RietveldArtists:
    """The plot of ``fit`` (:class:`~spectool.fit.engine.FitResult`, arrays on x) over the scan y (L,)
    on x (L,) degrees; ``labels``: one name per phase of the fit. On an Agg canvas of its own (no
    pyplot, no global figure list: nothing to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    fig = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    measured = ax.plot(x, y, ".", color="black", markersize=1.5, label="measured")[0]
    total = ax.plot(x, fit.model, color="tab:red", linewidth=0.9, label=f"fit (Rwp {100 * fit.rwp:.1f} %)")[0]
    phases = [ax.plot(x, fit.background + curve, color=COLOURS[i % len(COLOURS)], linewidth=0.8,
                      label=phase_legend(label, ph))[0]
              for i, (label, ph, curve) in enumerate(zip(labels, fit.phases, fit.curves))]
    diff = y - fit.model
    span = float(np.ptp(y)) or 1.0
    offset = float(min(y.min(), fit.model.min())) - float(diff.max()) - 0.05 * span
    difference = ax.plot(x, diff + offset, color="tab:gray", linewidth=0.7, label="difference")[0]
    row_height = 0.04 * span
    top = offset + float(diff.min()) - 0.02 * span
    ticks = [ax.vlines(primary_reflections(ph, x[0], x[-1]), top - (i + 1) * row_height * 1.3,
                       top - (i + 1) * row_height * 1.3 + row_height, color=COLOURS[i % len(COLOURS)],
                       linewidth=0.8)
             for i, ph in enumerate(fit.phases)]
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    return RietveldArtists(fig, measured, total, difference, phases, ticks)
