"""Baseline (background) removal: pybaselines' arPLS, airPLS, asLS, SNIP, rolling ball, and
the window-minimum method of the ViT paper (PAPERS.md A).

``baseline(method=…)`` subtracts the estimated background from every row; pybaselines is
imported when first used and works row by row (its solvers are 1-D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.errors import UsageError
from spectool.signal.ops import Op, number, one_of, register

#: Rows SNIP clips at once (16 × ~4,700 float64 ≈ 0.6 MB, cache-sized).
SNIP_BLOCK_ROWS = 16
METHODS = ("arpls", "airpls", "asls", "snip", "rolling_ball", "window_min")


def window_min_baseline(X: np.ndarray, x: np.ndarray, half_window: int) -> np.ndarray:
    """The window-minimum background of (N, L) rows, vectorised: (N, L) float64.

    The axis is cut into windows of ``2·half_window + 1`` points; the minimum of each window
    is an anchor, and the background is the straight line through consecutive anchors (held
    flat beyond the first and last). Peaks narrower than a window sit on it; subtracting it
    leaves them on ≈ 0, as the paper's "find peaks, subtract the window minimum" does.
    """
    X = np.asarray(X, np.float64)
    n, L = X.shape
    w = min(2 * half_window + 1, L)
    m = -(-L // w)
    padded = np.concatenate([X, np.repeat(X[:, -1:], m * w - L, axis=1)], axis=1).reshape(n, m, w)
    j = padded.argmin(axis=2) + np.arange(m) * w  # anchor indices (n, m)
    j = np.minimum(j, L - 1)
    vals = np.take_along_axis(X, j, axis=1)
    return np.stack([np.interp(x, x[j[r]], vals[r]) for r in range(n)]) if n else X.copy()


def snip_baseline(X: np.ndarray, max_half_window: int) -> np.ndarray:
    """SNIP background of (N, L) rows, vectorised over rows: (N, L) float64.

    Statistics-sensitive Non-linear Iterative Peak-clipping (Ryan et al. 1988; Morháč et al.
    1997), second order, increasing windows 1 … ``max_half_window`` points: each point is
    replaced by the smaller of itself and the mean of its neighbours ``i`` points away. The
    ends are extended by the straight line through the outermost ``max_half_window`` points,
    as pybaselines does, so edge points are clipped too. Pure numpy: no solver to import.
    """
    X = np.asarray(X, np.float64)
    if len(X) > SNIP_BLOCK_ROWS:  # a block's padded rows stay in cache through all the passes: ~1.6× faster
        return np.concatenate([snip_baseline(X[i:i + SNIP_BLOCK_ROWS], max_half_window)
                               for i in range(0, len(X), SNIP_BLOCK_ROWS)])
    n, L = X.shape
    hw = max(1, min(int(max_half_window), (L - 1) // 2))
    B = np.concatenate([_extend(X, hw, left=True), X, _extend(X, hw, left=False)], axis=1)
    for i in range(1, hw + 1):
        middle = B[:, i:-i]
        np.minimum(middle, 0.5 * (B[:, :-2 * i] + B[:, 2 * i:]), out=middle)
    return B[:, hw:hw + L]


def _extend(X: np.ndarray, width: int, left: bool) -> np.ndarray:
    """``width`` points beyond one end of each row, on the least-squares line of its end points."""
    k = min(width, X.shape[1])
    t = np.arange(k, dtype=np.float64)
    ends = X[:, :k] if left else X[:, -k:]
    slope = ((t - t.mean()) @ (ends - ends.mean(axis=1, keepdims=True)).T) / max(((t - t.mean()) ** 2).sum(), 1e-12)
    intercept = ends.mean(axis=1) - slope * t.mean()
    new = np.arange(-width, 0, dtype=np.float64) if left else np.arange(k, k + width, dtype=np.float64)
    return intercept[:, None] + slope[:, None] * new[None, :]


@register
@dataclass(frozen=True)
class Baseline(Op):
    """Subtract a background estimated by ``method``.

    ``lam`` (smoothness) and ``p`` (asymmetry, asLS) for the penalised least-squares methods;
    ``half_window`` (points) for snip (its maximum half window), rolling_ball and window_min
    (default: L / 20). ``max_iter`` bounds the iterative solvers.
    """

    name = "baseline"
    checks = {"method": one_of(*METHODS), "lam": number(0, lo_open=True, optional=True),
              "p": number(0, 1, lo_open=True, hi_open=True),
              "half_window": number(1, integer=True, optional=True),
              "max_iter": number(1, 1000, integer=True)}
    method: str = "arpls"
    lam: float | None = None
    p: float = 0.01
    half_window: int | None = None
    max_iter: int = 50

    def validate(self):
        if self.lam is not None and self.method in ("snip", "rolling_ball", "window_min"):
            raise UsageError(f"baseline: lam does not apply to {self.method}")

    def estimate(self, X: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The background of each row, (N, L) float64."""
        hw = int(self.half_window or max(1, X.shape[1] // 20))
        if self.method == "window_min":
            return window_min_baseline(X, x, hw)
        if self.method == "snip":
            return snip_baseline(X, hw)
        from pybaselines import Baseline as Fitter

        import warnings

        fitter = Fitter(x_data=x)
        fit, kw = getattr(fitter, self.method), self._kwargs(hw)
        with warnings.catch_warnings():  # convergence notes: the fit is still used
            warnings.simplefilter("ignore")
            return np.stack([fit(np.asarray(row, np.float64), **kw)[0] for row in X]) if len(X) else X

    def _kwargs(self, hw: int) -> dict:
        if self.method in ("arpls", "airpls", "asls"):
            kw = {"lam": self.lam or {"arpls": 1e5, "airpls": 1e6, "asls": 1e6}[self.method],
                  "max_iter": int(self.max_iter)}
            return kw | ({"p": self.p} if self.method == "asls" else {})
        if self.method == "snip":
            return {"max_half_window": hw}
        return {"half_window": hw}

    def apply(self, X, axis, ctx=None):
        X = np.asarray(X)
        out = np.asarray(X, np.float64) - self.estimate(X, axis.values)
        return np.ascontiguousarray(out, dtype=np.float32), axis
