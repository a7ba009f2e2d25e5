"""Small synthetic data for the signal tests: stick lists from random cells, rendered."""

from __future__ import annotations

import itertools

import numpy as np

from spectool.spectra import Axis, Ragged
from spectool.signal.physics import d_spacing
from spectool.signal.render import RenderSettings, normalize_max, render_rows

CU = 1.54056
HKL = np.array([h for h in itertools.product(range(-3, 4), repeat=3) if any(h)])


def random_cells(n: int, rng: np.random.Generator) -> np.ndarray:
    """Cubic, tetragonal and orthorhombic cells (n, 6)."""
    a = rng.uniform(3.5, 9.0, n)
    kind = rng.integers(0, 3, n)
    b = np.where(kind == 0, a, np.where(kind == 1, a, rng.uniform(3.5, 9.0, n)))
    c = np.where(kind == 0, a, rng.uniform(3.5, 12.0, n))
    return np.column_stack([a, b, c, np.full((n, 3), 90.0)])


def stick_lists(cells: np.ndarray, rng: np.random.Generator, lo: float = 5.0, hi: float = 90.0,
                max_peaks: int = 60, wavelength: float = CU) -> Ragged:
    """Per cell: reflections of a random subset of HKL inside lo–hi, random intensities."""
    rows = []
    for cell in cells:
        hkl = HKL[rng.permutation(len(HKL))[:200]]
        d = d_spacing(hkl, np.repeat(cell[None], len(hkl), 0))
        s = wavelength / (2 * d)
        tt = 2 * np.degrees(np.arcsin(np.minimum(s, 1)))
        ok = (s < 1) & (tt >= lo) & (tt <= hi)
        hkl, d, tt = hkl[ok][:max_peaks], d[ok][:max_peaks], tt[ok][:max_peaks]
        rows.append({"two_theta": tt, "d": d, "intensity": rng.uniform(1, 100, len(tt)),
                     "hkl": hkl, "multiplicity": np.ones(len(tt), np.int64)})
    return Ragged.from_rows(rows)


def render_ragged(peaks: Ragged, grid: np.ndarray, fwhm: float = 0.15) -> np.ndarray:
    """Profiles (N, L) float32 of stick lists, Gaussian of constant FWHM, max 1."""
    n = len(peaks)
    row = np.repeat(np.arange(n), np.diff(peaks.offsets))
    tt = peaks.fields["two_theta"]
    out = render_rows(grid, row, tt, peaks.fields["intensity"], np.full(len(tt), fwhm), n)
    return normalize_max(out)


def dataset(n: int = 6, lo: float = 5.0, hi: float = 65.0, step: float = 0.1, seed: int = 0):
    """(X (n, L) float32, axis, peaks, cells) of simulated patterns."""
    rng = np.random.default_rng(seed)
    grid = lo + step * np.arange(int(round((hi - lo) / step)) + 1)
    cells = random_cells(n, rng)
    peaks = stick_lists(cells, rng, lo, hi, max_peaks=30)
    return render_ragged(peaks, grid), Axis(grid), peaks, cells


SETTINGS = RenderSettings(fwhm=0.1)
