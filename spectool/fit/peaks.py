"""Peak evidence of a fit: measured peaks matched by a phase, predicted peaks missing, peaks nobody explains.

A reference dense with lines can win on a figure of merit alone; these lists show it: its strong
predicted peaks that the scan lacks are *missing*, and measured peaks no fitted phase accounts for
are *unexplained*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A measured peak must stand this many noise σ above its surroundings (and 2 % of the strongest).
MIN_SIGMAS = 4.0
MIN_RELATIVE = 0.02


@dataclass
class PeakEvidence:
    """2θ (degrees) lists for one phase: matched measured peaks, missing predicted ones; and for the
    whole fit, measured peaks no phase explains."""

    matched: list[float] = field(default_factory=list)
    missing: list[float] = field(default_factory=list)
    unexplained: list[float] = field(default_factory=list)


def measured_peaks(x: np.ndarray, net: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(2θ (Q,) degrees, height (Q,)) of the peaks of a background-free scan ``net`` (L,) on ``x`` (L,)."""
    if net.size < 3 or not np.isfinite(net).all() or net.max() <= 0:
        return np.zeros(0), np.zeros(0)
    least = max(MIN_SIGMAS * sigma, MIN_RELATIVE * float(net.max()))
    idx = local_maxima(net)
    idx = idx[prominences(net, idx) >= least]
    return x[idx], net[idx]


def local_maxima(y: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of y (L,), a flat top at its middle (left of centre), ends excluded:
    as ``scipy.signal.find_peaks``, whose import costs ~1 s of every ``predict --refine`` start-up."""
    y = np.asarray(y, np.float64)
    start = np.flatnonzero(np.r_[True, y[1:] != y[:-1]])  # runs of equal values
    end = np.r_[start[1:], y.size] - 1
    v = y[start]
    top = np.flatnonzero((v[1:-1] > v[:-2]) & (v[1:-1] > v[2:])) + 1
    return (start[top] + end[top]) // 2


def prominences(y: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Topographic prominence (Q,) of each peak of y (L,): its height above the higher of the lowest
    points between it and the nearest strictly higher point on each side (or the end), as
    ``scipy.signal.peak_prominences`` without a window."""
    y = np.asarray(y, np.float64)
    if peaks.size == 0:
        return np.zeros(0)
    left = _side_minimum(y, peaks)
    right = _side_minimum(y[::-1], y.size - 1 - peaks)
    return y[peaks] - np.maximum(left, right)


def _side_minimum(y: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """min of y over (j, p] per peak p, j the nearest index left of p with y[j] > y[p] (−1: none)."""
    higher, stack = np.empty(y.size, np.int64), []
    values = y.tolist()
    for i, v in enumerate(values):  # one pass with a stack: the previous strictly higher point of each
        while stack and values[stack[-1]] <= v:
            stack.pop()
        higher[i] = stack[-1] if stack else -1
        stack.append(i)
    bounds = np.stack([higher[peaks] + 1, peaks + 1], axis=1).ravel()
    padded = np.r_[y, np.inf]  # reduceat wants every bound < len: a peak is never the last point
    return np.minimum.reduceat(padded, bounds)[::2]


def evidence(x: np.ndarray, net: np.ndarray, sigma: float, phases: list, tolerance: float) -> list[PeakEvidence]:
    """One :class:`PeakEvidence` per fitted phase (objects with ``two_theta`` and ``height`` (M,)).

    A measured peak is *matched* by a phase with a predicted peak within ``tolerance`` degrees
    whose fitted height reaches a quarter of the detection level; a predicted peak is *missing*
    when it is strong (3 × the detection level) and no measured peak is near. A measured peak that
    no phase matches is *unexplained* (listed on every phase's evidence).
    """
    pos, _ = measured_peaks(x, net, sigma)
    level = max(MIN_SIGMAS * sigma, MIN_RELATIVE * float(max(net.max(), 0))) if net.size else 0.0
    inside = lambda t: (t >= x[0]) & (t <= x[-1])  # noqa: E731
    seen = np.zeros(pos.size, bool)
    out = []
    for ph in phases:
        tt, h = np.asarray(ph.two_theta), np.asarray(ph.height)
        counted = (h > level / 4) & inside(tt)
        near = np.abs(pos[:, None] - tt[None, counted]) <= tolerance if pos.size else np.zeros((0, counted.sum()), bool)
        matched = near.any(axis=1)
        seen |= matched
        strong = h[counted] > 3 * level
        missing = tt[counted][strong & ~near.any(axis=0)] if pos.size else tt[counted][strong]
        out.append(PeakEvidence(sorted(pos[matched].round(3).tolist()), sorted(missing.round(3).tolist())))
    unexplained = sorted(pos[~seen].round(3).tolist())
    for ev in out:
        ev.unexplained = unexplained
    return out
