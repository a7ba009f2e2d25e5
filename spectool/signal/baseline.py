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
