"""Batched stick rendering: many patterns' sticks onto one uniform grid in one pass.

Same shapes and widths as :mod:`spectool.xrd.profiles` (area-normalised Gaussian,
Lorentzian, pseudo-Voigt; Caglioti and Scherrer FWHM in quadrature), but for a batch: each
stick carries the output row it belongs to, and all sticks of all rows are added as whole
window slices, in layers that never overlap (no per-point index, no bincount). Peaks are
bucketed by their window (steps of 25 % in grid points), so a narrow peak never pays for
the widest one's window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from spectool.xrd.radiation import CU_KALPHA1
from spectool.xrd.simulate import ProfileOptions

_WORK = 1 << 18  # entries of the (peaks × window) work array held at once


@dataclass(frozen=True)
class RenderSettings(ProfileOptions):
    """How augmented sticks become profiles: simulate's :class:`ProfileOptions` plus the lines.

    ``window`` half-width in FWHM defaults to 3 for a Gaussian (beyond, < e⁻²⁵ of its top) and
    10 otherwise (a pseudo-Voigt keeps 1 − η/(10π) ≈ 98 % of its area); ``crystallite_size`` (nm)
    is used where the ``size`` op does not draw one; ``wavelengths`` (Å) with their ``weights``
    (a Kα1/Kα2 doublet renders both).
    """

    wavelengths: tuple[float, ...] = (CU_KALPHA1,)
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

    def stick_widths(self, two_theta: np.ndarray, size_nm: np.ndarray | None) -> np.ndarray:
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
    within 1e-6 of the row maximum (tested).
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
    buckets = np.unique(bucket[keep])
    widest = min(int(np.ceil(_RATIO ** int(buckets[-1]))), L) if buckets.size else 0
    side = _Side(n_rows, L, widest)
    for b in buckets:
        sel = np.flatnonzero(keep & (bucket == b))
        _scatter(out, side, grid, step, min(int(np.ceil(_RATIO ** int(b))), L), row[sel], centres[sel],
                 intensities[sel], fwhm[sel], window, shape, eta)
    return side.add_to(out.reshape(n_rows, L))


_RATIO = 1.25  # window buckets grow by this factor: a peak computes < 25 % more than it needs
_LN2 = math.log(2.0)


class _Side:
    """Where windows that cross a grid end go: per row, the 2·H points beyond each end and
    the 2·H + 1 inside it (H the widest bucket's half-width), added back once at the end.
    Allocated on first use; ``ok`` false when the grid is too short for it (< 4·H + 1)."""

    def __init__(self, n_rows: int, L: int, H: int):
        self.n_rows, self.L, self.H, self.R = n_rows, L, H, 4 * H + 1
        self.ok = self.R <= L
        self.buf = None

    def start(self, row, nearest, half):
        """Flat start in the side buffer of the windows (half-width ``half``) at ``nearest``."""
        if self.buf is None:
            self.buf = np.zeros(self.n_rows * 2 * self.R)
        L, H, R = self.L, self.H, self.R
        right = R + nearest - half - (L - 2 * H)
        return row * 2 * R + np.where(nearest < half, nearest - half + 2 * H, right)

    def add_to(self, out2: np.ndarray) -> np.ndarray:
        """``out2`` (n_rows, L) plus the inside part of the side buffer."""
        if self.buf is not None:
            side, H = self.buf.reshape(self.n_rows, 2 * self.R), self.H
            out2[:, :2 * H + 1] += side[:, 2 * H:self.R]
            out2[:, self.L - 2 * H:] += side[:, self.R:self.R + 2 * H]
        return out2


def _scatter(out, side, grid, step, half, row, centres, intensities, fwhm, window, shape, eta):
    """Add one window bucket of peaks (half-width ``half`` points) to ``out`` (n_rows · L,).

    Windows inside the grid are added as whole slices (:func:`_add_windows`); those that
    cross a grid end go to ``side`` (a :class:`_Side`), or, on a grid too short for it, are
    scattered point by point.
    """
    L = grid.size
    exact = (centres - grid[0]) / step
    nearest = np.rint(exact).astype(np.int64)
    inner = (nearest >= half) & (nearest < L - half)
    args = (exact, nearest, intensities, fwhm, step, half, window, shape, eta)
    _add_sorted(out, row * L + nearest - half, np.flatnonzero(inner), args)
    if inner.all():
        return
    if not side.ok:
        _add_clipped(out, L, row, np.flatnonzero(~inner), args)
        return
    start = side.start(row, nearest, half)
    _add_sorted(side.buf, start, np.flatnonzero(~inner), args)


def _add_sorted(out, start, which, args) -> None:
    """Peaks ``which`` of a bucket added at flat ``start`` in blocks of :data:`_WORK` entries,
    sorted by start (what :func:`_add_windows` needs)."""
    which = which[np.argsort(start[which], kind="stable")]
    half = args[5]
    per = max(1, _WORK // (2 * half + 1))
    for lo in range(0, which.size, per):
        i = which[lo:lo + per]
        _add_windows(out, start[i], _values(*(a[i] for a in args[:4]), *args[4:]))


def _add_clipped(out, L, row, which, args) -> None:
    """Peaks ``which`` scattered point by point, points outside the grid dropped."""
    half = args[5]
    for lo in range(0, which.size, max(1, _WORK // (2 * half + 1))):
        i = which[lo:lo + max(1, _WORK // (2 * half + 1))]
        val = _values(*(a[i] for a in args[:4]), *args[4:])
        flat = args[1][i, None] + np.arange(-half, half + 1)
        val *= (flat >= 0) & (flat < L)
        flat = np.clip(flat, 0, L - 1) + (row[i] * L)[:, None]
        out += np.bincount(flat.ravel(), weights=val.ravel(), minlength=out.size)


def _values(exact, nearest, intensities, fwhm, step, half, window, shape, eta) -> np.ndarray:
    """Peak values (P, 2·half + 1) float32 on the grid points nearest − half … nearest + half."""
    offsets = np.arange(-half, half + 1, dtype=np.float32)
    frac = (nearest - exact).astype(np.float32)  # grid point k of the window is at (k + frac)·step
    scale = (2 * step / fwhm).astype(np.float32)  # u = 2 dx / FWHM
    if shape == "gaussian":  # exp(−ln2·u²) in place: the fewest passes over the block
        r = offsets[None, :] + frac[:, None]
        r *= (scale * np.float32(math.sqrt(_LN2)))[:, None]
        np.square(r, out=r)
        np.negative(r, out=r)
        np.exp(r, out=r)
        r *= (intensities * 2 * math.sqrt(_LN2 / math.pi) / fwhm).astype(np.float32)[:, None]
        return r
    u = (offsets[None, :] + frac[:, None]) * scale[:, None]
    val = _shape(u * u, intensities, fwhm, shape, eta)
    if shape != "gaussian":  # a Gaussian is < e⁻²⁵ beyond 3 FWHM: no cut needed
        val *= np.abs(u) <= 2 * window
    return val


def _add_windows(out: np.ndarray, start: np.ndarray, val: np.ndarray) -> None:
    """out[start[p] : start[p] + W] += val[p] for sorted ``start`` (P,), ``val`` (P, W).

    Windows overlap, and a buffered fancy ``+=`` would drop all but one of the overlapping
    adds, so the peaks go in K layers, layer m taking peaks m, m + K, …: with K the most
    windows that start within one window's width, no two peaks of a layer overlap, and each
    layer is one gather-add-scatter of whole slices of a sliding-window view.
    """
    P, W = val.shape
    if P == 0:
        return
    K = int((np.searchsorted(start, start + W) - np.arange(P)).max())
    slots = sliding_window_view(out, W, writeable=True)
    for m in range(K):
        slots[start[m::K]] += val[m::K]


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
    """Rows scaled to a maximum of 1 (rows of zeros stay zero), float32 (one pass)."""
    m = X.max(axis=1, keepdims=True)
    return np.divide(X, np.where(m > 0, m, 1.0), out=np.empty(X.shape, np.float32), casting="unsafe")
