"""Deterministic preprocess operations over (N, L) float32 batches on a shared axis.

Each op's ``apply(X, axis, ctx)`` returns a new ``(X', axis')`` and never mutates its
input; ops that change the axis (crop, resample, unit conversions) return the new axis,
so a :class:`~spectool.signal.recipe.Recipe` replays exactly on a raw scan. Baselines are
in :mod:`spectool.signal.baseline`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.spectra import Axis
from spectool.signal import axes as conv
from spectool.signal.ops import (AxisConversionError, Context, Op, floats, number, odd, one_of,
                                 register)
from spectool.errors import UsageError
from spectool.xrd.radiation import CU_KALPHA1

F32 = np.float32


def _f32(X: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(X, dtype=F32)


def _flip(X: np.ndarray, values: np.ndarray, quantity: str, units: str) -> tuple[np.ndarray, Axis]:
    """Reverse a descending result so the axis ascends."""
    if len(values) > 1 and values[0] > values[-1]:
        return _f32(X[:, ::-1]), Axis(values[::-1].copy(), quantity, units)
    return _f32(X), Axis(values, quantity, units)


@register
@dataclass(frozen=True)
class Crop(Op):
    """Keep the points with ``start ≤ x ≤ stop`` (axis units)."""

    name = "crop"
    checks = {"start": number(optional=True), "stop": number(optional=True)}
    changes_axis = True
    start: float | None = None
    stop: float | None = None

    def validate(self):
        if self.start is not None and self.stop is not None and self.start >= self.stop:
            raise UsageError(f"crop: empty window {self.start:g}:{self.stop:g}")

    def apply(self, X, axis, ctx=None):
        lo = -np.inf if self.start is None else self.start
        hi = np.inf if self.stop is None else self.stop
        keep = (axis.values >= lo) & (axis.values <= hi)
        if keep.sum() < 2:
            raise AxisConversionError(f"crop {lo:g}:{hi:g} leaves {int(keep.sum())} point(s) of "
                                      f"{axis.values[0]:g}–{axis.values[-1]:g}")
        return _f32(X[:, keep]), Axis(axis.values[keep], axis.quantity, axis.units)


def uniform_grid(start: float, stop: float, step: float) -> np.ndarray:
    """start, start + step, … up to stop inclusive (within step/1000), float64."""
    n = int(np.floor((stop - start) / step + 1e-3)) + 1
    return start + step * np.arange(n, dtype=np.float64)


def _interp_weights(x: np.ndarray, grid: np.ndarray):
    """Left index and weight so that f(grid) = (1 − w) f[i] + w f[i + 1]; outside mask."""
    i = np.clip(np.searchsorted(x, grid, side="right") - 1, 0, len(x) - 2)
    w = (grid - x[i]) / (x[i + 1] - x[i])
    inside = (grid >= x[0]) & (grid <= x[-1])
    return i, np.clip(w, 0.0, 1.0), inside


def interp_linear(X: np.ndarray, x: np.ndarray, grid: np.ndarray, fill: str = "zero") -> np.ndarray:
    """Row-wise ``np.interp`` of (N, L) onto ``grid`` (M,), vectorised; float64 out."""
    i, w, inside = _interp_weights(x, grid)
    X = np.asarray(X, np.float64)
    out = X[:, i] * (1.0 - w) + X[:, i + 1] * w
    if fill == "zero":
        out[:, ~inside] = 0.0
    return out


def interp_area(X: np.ndarray, x: np.ndarray, grid: np.ndarray, fill: str = "zero") -> np.ndarray:
    """Cell averages: each grid point gets the mean of the source over its cell.

    The cumulative trapezoid integral F of each row is interpolated at the cell edges
    (midpoints between grid points); value = ΔF / Δx. The integral over the covered range
    is kept to rounding, and no peak narrower than a cell can fall between grid points.
    """
    X = np.asarray(X, np.float64)
    F = np.concatenate([np.zeros((len(X), 1)),
                        np.cumsum(0.5 * (X[:, 1:] + X[:, :-1]) * np.diff(x), axis=1)], axis=1)
    mid = 0.5 * (grid[1:] + grid[:-1])
    edges = np.concatenate([[grid[0] - (mid[0] - grid[0])], mid, [grid[-1] + (grid[-1] - mid[-1])]])
    Fe = interp_linear(F, x, np.clip(edges, x[0], x[-1]), fill="edge")
    out = np.diff(Fe, axis=1) / np.diff(edges)
    if fill == "zero":
        out[:, (grid < x[0]) | (grid > x[-1])] = 0.0
    elif fill == "edge":
        out = np.where(grid < x[0], X[:, :1], np.where(grid > x[-1], X[:, -1:], out))
    return out


@register
@dataclass(frozen=True)
class Resample(Op):
    """Put the spectra on a grid: ``start:stop:step`` or explicit ``values`` (axis units).

    ``method``: ``linear`` interpolation (keeps peak positions and heights; keeps areas when
    the grid is not coarser than the data), ``area`` (cell averages: keeps the integral
    exactly and never skips a narrow peak when downsampling), ``auto`` = ``area`` when the
    grid step exceeds 1.5 × the data's median step, else ``linear``. Points outside the data
    are 0 (``fill=zero``) or the end value (``fill=edge``).
    """

    name = "resample"
    checks = {"start": number(optional=True), "stop": number(optional=True),
              "step": number(0, lo_open=True, optional=True), "values": floats(),
              "method": one_of("auto", "linear", "area"), "fill": one_of("zero", "edge")}
    changes_axis = True
    start: float | None = None
    stop: float | None = None
    step: float | None = None
    values: tuple | None = None
    method: str = "auto"
    fill: str = "zero"

    def validate(self):
        triple = (self.start, self.stop, self.step)
        if self.values is None and None in triple:
            raise UsageError("resample: give start, stop and step, or values")
        if self.values is not None and any(v is not None for v in triple):
            raise UsageError("resample: give start:stop:step or values, not both")
        if self.values is None and self.stop <= self.start:
            raise UsageError(f"resample: empty grid {self.start:g}:{self.stop:g}")

    @classmethod
    def like(cls, axis: Axis, **kw) -> "Resample":
        """The resample op onto an existing axis (a model's or a set's)."""
        v, step = axis.values, axis.step
        if step is not None and np.allclose(uniform_grid(v[0], v[-1], step), v, rtol=0, atol=step * 1e-6):
            return cls(start=float(v[0]), stop=float(v[-1]), step=float(step), **kw)
        return cls(values=tuple(float(t) for t in v), **kw)

    def grid(self) -> np.ndarray:
        if self.values is not None:
            return np.asarray(self.values, np.float64)
        return uniform_grid(self.start, self.stop, self.step)

    def apply(self, X, axis, ctx=None):
        grid, x = self.grid(), axis.values
        method = self.method
        if method == "auto":
            coarser = len(grid) > 1 and np.median(np.diff(grid)) > 1.5 * np.median(np.diff(x))
            method = "area" if coarser else "linear"
        fn = interp_area if method == "area" and len(grid) > 1 else interp_linear
        return _f32(fn(X, x, grid, self.fill)), Axis(grid, axis.quantity, axis.units)


@register
@dataclass(frozen=True)
class Savgol(Op):
    """Savitzky–Golay smoothing (``scipy.signal.savgol_filter``, mode ``interp``).

    ``window`` points (odd), polynomial ``order``; defaults 21/3 as in the ViT paper. A
    spectrum shorter than the window uses the largest odd window that fits.
    """

    name = "savgol"
    checks = {"window": odd(3), "order": number(0, 10, integer=True)}
    window: int = 21
    order: int = 3

    def validate(self):
        if self.order >= self.window:
            raise UsageError(f"savgol: order {self.order} must be below the window {self.window}")

    def apply(self, X, axis, ctx=None):
        from scipy.signal import savgol_filter

        L = X.shape[1]
        window = min(int(self.window), L if L % 2 else L - 1)
        if window <= self.order:
            return _f32(X), axis
        return _f32(savgol_filter(np.asarray(X, np.float64), window, int(self.order), axis=1,
                                  mode="interp")), axis


def _safe(den: np.ndarray) -> np.ndarray:
    return np.where(np.abs(den) > 1e-30, den, 1.0)


@register
@dataclass(frozen=True)
class Normalize(Op):
    """Per-spectrum scaling: ``max`` (÷ max), ``minmax`` (to 0–1), ``area`` (÷ ∫y dx),
    ``vector`` (÷ ‖y‖₂), ``zscore`` (− mean, ÷ std). A zero denominator leaves the row as is."""

    name = "normalize"
    checks = {"method": one_of("max", "minmax", "area", "vector", "zscore")}
    method: str = "max"

    def apply(self, X, axis, ctx=None):
        X = np.asarray(X, np.float64)
        m = self.method
        if m == "max":
            out = X / _safe(X.max(axis=1, keepdims=True))
        elif m == "minmax":
            lo = X.min(axis=1, keepdims=True)
            out = (X - lo) / _safe(X.max(axis=1, keepdims=True) - lo)
        elif m == "area":
            out = X / _safe(np.trapezoid(X, axis.values, axis=1)[:, None])
        elif m == "vector":
            out = X / _safe(np.linalg.norm(X, axis=1, keepdims=True))
        else:
            out = (X - X.mean(axis=1, keepdims=True)) / _safe(X.std(axis=1, keepdims=True))
        return _f32(out), axis


@register
@dataclass(frozen=True)
class Clip(Op):
    """Clip values below ``lo`` (default 0: negatives) and above ``hi`` (if given)."""

    name = "clip"
    checks = {"lo": number(optional=True), "hi": number(optional=True)}
    lo: float | None = 0.0
    hi: float | None = None

    def validate(self):
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise UsageError(f"clip: empty range {self.lo:g}:{self.hi:g}")

    def apply(self, X, axis, ctx=None):
        return _f32(np.clip(X, self.lo, self.hi)), axis


@register
@dataclass(frozen=True)
class Absorbance(Op):
    """Transmittance → absorbance A = −log₁₀ T; T in percent when ``percent`` is true
    (``auto``: a row whose maximum exceeds 1.5 is taken as percent). T is floored at 1e-6.

    ``source``: ``transmittance`` converts every row; ``auto`` converts only rows that look like
    transmittance (baseline at the top: the median above the middle of the row's range, no value
    below −0.05) and leaves absorbance rows as they are, so one recipe takes both kinds of export.
    """

    name = "absorbance"
    checks = {"percent": one_of("auto", True, False), "source": one_of("transmittance", "auto")}
    percent: str | bool = "auto"
    source: str = "transmittance"

    def apply(self, X, axis, ctx=None):
        T = np.asarray(X, np.float64)
        if self.percent == "auto":
            scale = np.where(T.max(axis=1, keepdims=True) > 1.5, 0.01, 1.0)
        else:
            scale = 0.01 if self.percent else 1.0
        A = -np.log10(np.maximum(T * scale, 1e-6))
        if self.source == "auto":
            A = np.where(looks_like_transmittance(T)[:, None], A, T)
        return _f32(A), axis


def looks_like_transmittance(X: np.ndarray) -> np.ndarray:
    """(N,) bool: rows whose baseline lies at the top (bands point down) and that hold no clearly
    negative value, as transmittance (0–1 or %) does and absorbance (bands up from ~0) does not."""
    lo, hi = X.min(axis=1), X.max(axis=1)
    return (np.median(X, axis=1) > 0.5 * (lo + hi)) & (lo > -0.05)


@register
@dataclass(frozen=True)
class Wavenumber(Op):
    """Wavelength axis (``units`` nm or um, or the axis's own) → wavenumber (cm⁻¹), ascending.

    An axis already in wavenumbers (1/cm) passes unchanged unless ``units`` says otherwise, so an IR
    recipe takes exports in cm⁻¹, nm and µm alike.
    """

    name = "wavenumber"
    checks = {"units": one_of(None, "nm", "um", "µm")}
    changes_axis = True
    units: str | None = None

    def apply(self, X, axis, ctx=None):
        if axis.quantity == "wavenumber" and axis.units == "1/cm" and self.units is None:
            return X if X.dtype == F32 else _f32(X), axis
        units = self.units or axis.units
        if axis.quantity not in ("wavelength", "index") and self.units is None:
            raise AxisConversionError(f"wavenumber: the axis is {axis.quantity}, not a wavelength")
        if units not in conv.WAVELENGTH_UNITS or np.any(axis.values <= 0):
            raise AxisConversionError(f"wavenumber: cannot convert an axis in {units!r}")
        values = conv.wavelength_to_wavenumber(axis.values, units)
        return _flip(X, values, "wavenumber", "1/cm")


@register
@dataclass(frozen=True)
class RamanShift(Op):
    """Absolute wavenumber (cm⁻¹; or a wavelength axis in nm/µm) → Raman shift (cm⁻¹) for a laser
    line ``laser_nm`` (nm, else the scan's), ascending. A Raman-shift axis passes unchanged (most
    exports, RRUFF's included, are already shifts)."""

    name = "raman_shift"
    checks = {"laser_nm": number(0, lo_open=True, optional=True)}
    changes_axis = True
    laser_nm: float | None = None

    def apply(self, X, axis, ctx=None):
        if axis.quantity == "raman_shift":
            return X if X.dtype == F32 else _f32(X), axis
        laser = self.laser_nm or (ctx.laser_nm if ctx else None)
        if laser is None:
            raise AxisConversionError("raman_shift: the laser wavelength is unknown; give laser_nm")
        values = axis.values
        if axis.quantity == "wavelength" and axis.units in conv.WAVELENGTH_UNITS:
            values = conv.wavelength_to_wavenumber(values, axis.units)
        return _flip(X, conv.wavenumber_to_raman_shift(values, laser), "raman_shift", "1/cm")


@register
@dataclass(frozen=True)
class Bragg(Op):
    """2θ at one wavelength → 2θ at another for the same d (Bragg's law), e.g. Mo Kα → Cu Kα.

    ``from_wavelength`` (Å) defaults to the scan's; ``to_wavelength`` (Å) is required. Points
    that have no angle at the new wavelength are dropped, silently (the axis comes out shorter).
    The new axis is not uniform: follow with ``resample``.
    """

    name = "bragg"
    checks = {"to_wavelength": number(0, 10, lo_open=True),
              "from_wavelength": number(0, 10, lo_open=True, optional=True)}
    changes_axis = True
    to_wavelength: float = CU_KALPHA1
    from_wavelength: float | None = None

    def apply(self, X, axis, ctx=None):
        lam = self.from_wavelength or (ctx.wavelength if ctx else None)
        if lam is None:
            raise AxisConversionError("bragg: the scan's wavelength is unknown; give from_wavelength")
        if axis.quantity != "two_theta":
            raise AxisConversionError(f"bragg: the axis is {axis.quantity}, not two_theta")
        values = conv.convert_two_theta(axis.values, lam, self.to_wavelength)
        keep = np.isfinite(values) & (values > 0)
        if keep.sum() < 2:
            raise AxisConversionError(f"bragg: nothing of {axis.values[0]:g}–{axis.values[-1]:g}° "
                                      f"at {lam:g} Å falls in range at {self.to_wavelength:g} Å")
        return _f32(X[:, keep]), Axis(values[keep], "two_theta", "deg")

    def context_after(self, ctx):
        return Context(self.to_wavelength, ctx.laser_nm, ctx.kind)


@register
@dataclass(frozen=True)
class Despike(Op):
    """Cosmic-ray spike removal: points far above the median of their ±``window`` neighbours.

    r = y − median(y over ±window points). A point is a spike when r exceeds ``threshold`` robust
    noise units (1.4826 · MAD of r over the row; the modified z-score of Whitaker & Hayes, Chemom.
    Intell. Lab. Syst. 179, 82 (2018), taken on r rather than on first differences) and when r is over
    half the point's height above the lowest of those neighbours: a spike rises alone, one or two
    points wide, while the top of a real band (wider than ~3 points) stands on its own flanks, so its
    r is a small part of its height. Spikes are replaced by that median; everything else is kept.
    """

    name = "despike"
    checks = {"threshold": number(0, lo_open=True), "window": number(1, 25, integer=True)}
    threshold: float = 5.0
    window: int = 2

    def apply(self, X, axis, ctx=None):
        from scipy.ndimage import median_filter

        X = np.asarray(X, np.float64)
        size = (1, 2 * int(self.window) + 1)
        if X.shape[1] < size[1]:
            return _f32(X), axis
        med = median_filter(X, size=size, mode="nearest")
        spikes = spike_mask(X, med, self.threshold, size)
        return _f32(np.where(spikes, med, X)), axis


def spike_mask(X: np.ndarray, med: np.ndarray, threshold: float, size: tuple[int, int]) -> np.ndarray:
    """(N, L) bool: points above their running median ``med`` by ``threshold`` robust noise units and
    by more than half their height above the running minimum (window ``size``)."""
    from scipy.ndimage import minimum_filter

    r = X - med
    centre = np.median(r, axis=1, keepdims=True)
    noise = 1.4826 * np.median(np.abs(r - centre), axis=1, keepdims=True)
    noise = np.maximum(noise, 1e-12 * np.maximum(np.abs(X).max(axis=1, keepdims=True), 1e-30))
    height = X - minimum_filter(X, size=size, mode="nearest")
    return (r > threshold * noise) & (r > 0.5 * height)


#: K-edge energies (eV) of the 3d metals, for ``edge:onset=Fe`` (Bearden & Burr 1967, as in xraydb)
K_EDGE_EV = {"Sc": 4492.0, "Ti": 4966.0, "V": 5465.0, "Cr": 5989.0, "Mn": 6539.0, "Fe": 7112.0,
             "Co": 7709.0, "Ni": 8333.0, "Cu": 8979.0, "Zn": 9659.0}


def _onset_check(v):
    if v == "auto" or v in K_EDGE_EV:
        return None
    msg = number(0, lo_open=True)(v)
    return None if msg is None else f"must be auto, an element ({', '.join(K_EDGE_EV)}) or a positive energy in eV, not {v!r}"


def edge_onsets(X: np.ndarray, energy: np.ndarray, level: float) -> np.ndarray:
    """(N,) onset energies: where each row first reaches ``level`` × its maximum (linear between points)."""
    X = np.asarray(X, np.float64)
    target = level * X.max(axis=1, keepdims=True)
    above = X >= target
    i = np.clip(np.argmax(above, axis=1), 1, X.shape[1] - 1)
    rows = np.arange(len(X))
    lo, hi = X[rows, i - 1], X[rows, i]
    frac = np.where(hi > lo, (target[:, 0] - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    onset = energy[i - 1] + np.clip(frac, 0.0, 1.0) * (energy[i] - energy[i - 1])
    return np.where(above[:, 0], energy[0], onset)


@register
@dataclass(frozen=True)
class Edge(Op):
    """XANES onto an edge window: ``width`` eV from ``before`` eV below the onset, every ``step`` eV
    (defaults 55 / 0.5 → 111 points, as PAPERS.md D).

    ``onset``: an energy (eV) or a 3d metal's symbol (its K-edge energy): one window for every spectrum,
    on absolute energies; or ``auto``: each spectrum's own onset, the first energy where it reaches ``level``
    × its maximum, and the axis is then E − E₀ (eV). A spectrum that does not cover the window is refused.
    """

    name = "edge"
    checks = {"onset": _onset_check, "width": number(0, lo_open=True), "step": number(0, lo_open=True),
              "before": number(0), "level": number(0, 1, lo_open=True, hi_open=True)}
    changes_axis = True
    onset: str | float = "auto"
    width: float = 55.0
    step: float = 0.5
    before: float = 0.0
    level: float = 0.5

    def validate(self):
        if self.step > self.width:
            raise UsageError(f"edge: step {self.step:g} is wider than the window {self.width:g}")

    def relative_grid(self) -> np.ndarray:
        return uniform_grid(-self.before, self.width - self.before, self.step)

    def apply(self, X, axis, ctx=None):
        grid, e = self.relative_grid(), axis.values
        fixed = 0.0 if self.onset == "auto" else float(K_EDGE_EV.get(self.onset, self.onset))
        onsets = edge_onsets(X, e, self.level) if self.onset == "auto" else np.full(len(X), fixed)
        if len(X) and (onsets.min() + grid[0] < e[0] - 1e-9 or onsets.max() + grid[-1] > e[-1] + 1e-9):
            raise AxisConversionError(f"the spectrum ({e[0]:g}–{e[-1]:g} eV) is shorter than the edge window "
                                      f"{onsets.min() + grid[0]:g}–{onsets.max() + grid[-1]:g} eV")
        rows = [np.interp(o + grid, e, x) for o, x in zip(onsets, np.asarray(X, np.float64))]
        out = np.array(rows).reshape(len(X), len(grid))
        return _f32(out), Axis(grid + fixed, "energy", "eV")
