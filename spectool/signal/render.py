"""Batched stick rendering: many patterns' sticks onto one uniform grid in one pass.

Same shapes and widths as :mod:`spectool.xrd.profiles` (area-normalised Gaussian,
Lorentzian, pseudo-Voigt; Caglioti and Scherrer FWHM in quadrature), but for a batch: each
stick carries the output row it belongs to, and all sticks of all rows are scattered with
one ``np.bincount`` per width class. Peaks are bucketed by their window (powers of two in
grid points), so a narrow peak never pays for the widest one's window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_WORK = 1 << 22  # entries of the (peaks × window) work array held at once


@dataclass(frozen=True)
class RenderSettings:
    """How augmented sticks become profiles; mirrors ``spectool.xrd.simulate.ProfileOptions``.

    ``shape`` gaussian | lorentzian | pseudo-voigt, ``eta`` Lorentzian fraction, ``fwhm``
    constant FWHM (deg), ``uvw`` Caglioti (deg²), ``crystallite_size`` (nm) used where the
    ``size`` op does not draw one, ``window`` half-width in FWHM (default: 3 for a Gaussian — beyond, < e⁻²⁵ of its top —
    10 otherwise, where a pseudo-Voigt keeps 1 − η/(10π) ≈ 98 % of its area), ``normalize`` to a maximum of 1, and the lines
    ``wavelengths`` (Å) with their ``weights`` (a Kα1/Kα2 doublet renders both).
    """

    shape: str = "gaussian"
    eta: float = 0.5
    fwhm: float | None = None
    uvw: tuple[float, float, float] | None = None
    crystallite_size: float | None = None
    window: float | None = None
    normalize: bool = True
    wavelengths: tuple[float, ...] = (1.54056,)
    weights: tuple[float, ...] = (1.0,)

    @classmethod
    def from_history(cls, history: list[dict], wavelength: float | None = None) -> "RenderSettings":
        """From the last ``simulate`` record's params (keys as ProfileOptions), else defaults."""
        params = next((h.get("params", {}) for h in reversed(history or [])
                       if h.get("command") == "simulate"), {})
        prof = params.get("profile", params)
        kw = {k: prof[k] for k in ("shape", "eta", "fwhm", "crystallite_size", "normalize")
              if prof.get(k) is not None}
        if prof.get("uvw") is not None:
            kw["uvw"] = tuple(prof["uvw"])
        if prof.get("window") is not None:
            kw["window"] = min(float(prof["window"]), 10.0)
        lines = params.get("wavelengths") or ([wavelength] if wavelength else None)
        if lines:
            kw["wavelengths"] = tuple(float(v) for v in lines)
            kw["weights"] = tuple(params.get("weights") or [1.0] + [0.5] * (len(lines) - 1))
        return cls(**kw)

    @property
    def reach(self) -> float:
        """Half-width in FWHM that each peak touches."""
        return self.window if self.window is not None else (3.0 if self.shape == "gaussian" else 10.0)

    def widths(self, two_theta: np.ndarray, size_nm: np.ndarray | None) -> np.ndarray:
        """FWHM (P,) deg: constant, Caglioti and Scherrer (per-stick size, nm; NaN = none) in quadrature."""
        from spectool.xrd.profiles import DEFAULT_FWHM, fwhm_caglioti, fwhm_scherrer

        sq = np.zeros(len(two_theta))
        if self.fwhm is not None:
            sq += self.fwhm ** 2
        if self.uvw is not None:
            sq += fwhm_caglioti(two_theta, *self.uvw) ** 2
        size = np.full(len(two_theta), np.nan) if size_nm is None else np.asarray(size_nm, float)
        if self.crystallite_size is not None:
            size = np.where(np.isnan(size), self.crystallite_size, size)
        has = ~np.isnan(size)
        sq[has] += fwhm_scherrer(two_theta[has], self.wavelengths[0], size[has]) ** 2
        return np.sqrt(np.where(sq > 0, sq, DEFAULT_FWHM ** 2))


def render_rows(grid: np.ndarray, row: np.ndarray, centres: np.ndarray, intensities: np.ndarray,
                fwhm: np.ndarray, n_rows: int, shape: str = "gaussian", eta: float = 0.5,
                window: float = 10.0) -> np.ndarray:
    """Profiles (n_rows, L) float64: stick p adds ``intensities[p]`` × an area-normalised
    peak of FWHM ``fwhm[p]`` (deg) at ``centres[p]`` (deg) to row ``row[p]``.

    ``grid`` (L,) uniform, degrees. Each peak touches the points within ``window`` FWHM of
    its centre; peaks just outside the grid add their tails. Profile values are computed in
    float32 and summed in float64: equal to :func:`spectool.xrd.profiles.render` row by row
    within 1e-6 of the row maximum (tested). Sticks must come in row order.
    """
    grid = np.asarray(grid, np.float64)
    L = grid.size
    out = np.zeros(n_rows * L)
    step = (grid[-1] - grid[0]) / (L - 1)
    fwhm = np.asarray(fwhm, np.float64)
    reach = window * fwhm
    keep = (centres + reach >= grid[0]) & (centres - reach <= grid[-1]) & (fwhm > 0) & (intensities != 0)
    half = np.minimum(np.ceil(reach / step), L).astype(np.int64)
    bucket = np.ceil(np.log(np.maximum(half, 1)) / np.log(_RATIO)).astype(np.int64)
    for b in np.unique(bucket[keep]):
        sel = np.flatnonzero(keep & (bucket == b))
        _scatter(out, grid, step, min(int(np.ceil(_RATIO ** int(b))), L), row[sel], centres[sel],
                 intensities[sel], fwhm[sel], window, shape, eta)
    return out.reshape(n_rows, L)


_RATIO = 1.25  # window buckets grow by this factor: a peak computes < 25 % more than it needs
_LN2 = math.log(2.0)


def _scatter(out, grid, step, half, row, centres, intensities, fwhm, window, shape, eta):
    """Add one window bucket of peaks to ``out`` (n_rows · L,) with one bincount per block."""
    L = grid.size
    offsets = np.arange(-half, half + 1, dtype=np.float32)
    exact = (centres - grid[0]) / step
    nearest = np.rint(exact).astype(np.int64)
    frac = (nearest - exact).astype(np.float32)  # grid point k of the window is at (k + frac)·step
    scale = (2 * step / fwhm).astype(np.float32)  # u = 2 dx / FWHM
    ioff = np.arange(-half, half + 1, dtype=np.int64)
    per = max(1, _WORK // offsets.size)
    for lo in range(0, centres.size, per):
        sl = slice(lo, lo + per)
        u = (offsets[None, :] + frac[sl, None]) * scale[sl, None]
        val = _shape(u * u, intensities[sl], fwhm[sl], shape, eta)
        if shape != "gaussian":  # a Gaussian is < e⁻²⁵ beyond 3 FWHM: no cut needed
            val *= np.abs(u) <= 2 * window
        base = int(row[lo]) * L  # sticks come in row order: add only over the rows this block spans
        flat = nearest[sl, None] + ioff[None, :]
        n, inner = nearest[sl], (nearest[sl] >= half) & (nearest[sl] < L - half)
        if not inner.all():  # windows that cross a grid end: drop their outside points
            val *= (flat >= 0) & (flat < L)
            np.clip(flat, 0, L - 1, out=flat)
        flat += (row[sl] * L - base)[:, None]
        part = np.bincount(flat.ravel(), weights=val.ravel())
        out[base:base + part.size] += part


def _shape(r2: np.ndarray, intensities, fwhm, shape: str, eta: float) -> np.ndarray:
    """Area-normalised shape × intensity at r2 = (2 dx / FWHM)², float32 (P, W)."""
    out = np.zeros(r2.shape, np.float32)
    if shape != "lorentzian":
        g = (intensities * (1 - (eta if shape != "gaussian" else 0)) * 2 * math.sqrt(_LN2 / math.pi)
             / fwhm).astype(np.float32)
        out += g[:, None] * np.exp(-_LN2 * r2)
    if shape != "gaussian":
        lw = (intensities * (eta if shape != "lorentzian" else 1) * 2 / math.pi / fwhm).astype(np.float32)
        out += lw[:, None] / (1 + r2)
    return out


def normalize_max(X: np.ndarray) -> np.ndarray:
    """Rows scaled to a maximum of 1 (rows of zeros stay zero), float32."""
    m = X.max(axis=1, keepdims=True)
    return (X / np.where(m > 0, m, 1.0)).astype(np.float32)
