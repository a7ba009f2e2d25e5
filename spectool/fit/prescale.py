"""An isotropic cell scale of a reference found against the scan, wider than the fit's bounds.

A structure type's references are compounds of the type, not the one measured: the wurtzite
type's ZnS is 15 % larger than zincite (ZnO), the copper type's Cu 12 % smaller than silver. The
whole-pattern fit moves each cell length by at most ±5 % (:data:`spectool.fit.cell.LENGTH_BOUND`),
so such a reference could never fit. In ln d an isotropic scale of the cell is a shift, so one
cross-correlation of the reference's broadened lines with the scan, both on a ln d grid, finds the
scale (within ±:data:`SCALE_BOUND`); the reference's cell is scaled by it before the fit, which
then refines every free parameter of the crystal system around the scaled cell. Only a scale that
correlates clearly better than the reference's own cell is taken (:data:`MIN_GAIN`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from spectool.fit.cell import LENGTH_BOUND, reciprocal_metric
from spectool.fit.reference import PhaseReference

SCALE_BOUND = 0.2  # largest relative change of the cell lengths searched (±20 %)
U_STEP = 5e-4  # grid step in ln d (a 0.05 % change of the cell)
U_FWHM = 0.006  # width of the broadened lines in ln d (≈ 0.3° 2θ at 2θ = 40°, Cu Kα)
MIN_GAIN = 1.2  # the scaled cell must correlate this many times better than the reference's own


def ln_d_grid(x: np.ndarray, wavelength: float) -> np.ndarray:
    """ln d (L,) of 2θ values x (L,) in degrees for ``wavelength`` Å (Bragg: d = λ / 2 sin θ)."""
    theta = np.radians(np.clip(np.asarray(x, np.float64), 1e-3, 179.9)) / 2
    return np.log(wavelength / (2 * np.sin(theta)))


def scan_on_u(x: np.ndarray, y: np.ndarray, wavelength: float) -> tuple[np.ndarray, np.ndarray]:
    """The scan (L,) resampled onto a uniform ln d grid (ascending u, step :data:`U_STEP`): (u (U,), y (U,))."""
    u = ln_d_grid(x, wavelength)[::-1]
    grid = np.arange(u[0], u[-1], U_STEP)
    return grid, np.interp(grid, u, np.clip(np.asarray(y, np.float64), 0, None)[::-1])


def lines_on_u(ref: PhaseReference, grid: np.ndarray, wavelength: float) -> np.ndarray:
    """The reference's reflections as Gaussians in ln d (U,) on ``grid``, weighted by |F|² factor × LP."""
    hkl = ref.hkl.astype(np.float64)
    inv_d2 = np.einsum("mi,ij,mj->m", hkl, reciprocal_metric(ref.cell), hkl)
    s = wavelength * np.sqrt(np.maximum(inv_d2, 1e-12)) / 2  # sin θ
    keep = s < 0.999
    theta = np.arcsin(s[keep])
    weight = ref.factor[keep].astype(np.float64) * (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
    centre = -0.5 * np.log(inv_d2[keep])
    sigma = U_FWHM / (2 * math.sqrt(2 * math.log(2)))
    reach = int(4 * sigma / U_STEP) + 1
    index = np.rint((centre - grid[0]) / U_STEP).astype(np.int64)[:, None] + np.arange(-reach, reach + 1)  # (M, W)
    inside = (index >= 0) & (index < len(grid))
    values = weight[:, None] * np.exp(-0.5 * ((grid[index.clip(0, len(grid) - 1)] - centre[:, None]) / sigma) ** 2)
    out = np.zeros_like(grid)
    np.add.at(out, index[inside], values[inside])
    return out


def best_scales(x: np.ndarray, y: np.ndarray, refs: list[PhaseReference], wavelength: float,
                bound: float = SCALE_BOUND) -> list[tuple[float, float]]:
    """(cell scale, correlation gain) per reference: the isotropic scale of its cell (1 ± ``bound``) whose
    lines correlate best with the scan y (L,) on x (L,) degrees, and that correlation over the one at
    scale 1 (normalised correlations over the scan's ln d range; the scan resampled once for all)."""
    grid, target = scan_on_u(x, y, wavelength)
    if len(grid) < 8 or not np.any(target > 0):
        return [(1.0, 1.0)] * len(refs)
    k = int(math.log(1 + bound) / U_STEP)
    wide = grid[0] + U_STEP * np.arange(-k, len(grid) + k)  # reference lines may start outside the scan
    t = target - target.mean()
    out = []
    for ref in refs:
        lines = lines_on_u(ref, wide, wavelength)
        # corr[j]: the reference shifted by (j - k) steps in ln d, i.e. its cell scaled by exp((j - k) U_STEP)
        corr = np.correlate(lines, t, mode="valid")[::-1]
        norms = np.sqrt(np.correlate(lines**2, np.ones(len(t)), mode="valid"))[::-1]
        score = corr / np.maximum(norms, 1e-30)
        j = int(np.argmax(score))
        gain = float(score[j] / score[k]) if score[k] > 0 else math.inf
        out.append((float(math.exp((j - k) * U_STEP)), gain))
    return out


def best_scale(x: np.ndarray, y: np.ndarray, ref: PhaseReference, wavelength: float,
               bound: float = SCALE_BOUND) -> tuple[float, float]:
    """:func:`best_scales` of one reference."""
    return best_scales(x, y, [ref], wavelength, bound)[0]


def prescaled_all(x: np.ndarray, y: np.ndarray, refs: list[PhaseReference], wavelength: float,
                  bound: float = SCALE_BOUND) -> list[PhaseReference]:
    """Each reference with its cell lengths scaled by :func:`best_scales` where that scale is beyond half
    the fit's own bounds and correlates :data:`MIN_GAIN` times better; else the reference itself."""
    out = []
    for ref, (scale, gain) in zip(refs, best_scales(x, y, refs, wavelength, bound)):
        if abs(scale - 1) < LENGTH_BOUND / 2 or gain < MIN_GAIN:
            out.append(ref)
            continue
        cell = np.asarray(ref.cell, np.float64).copy()
        cell[:3] *= scale
        out.append(dataclasses.replace(ref, cell=cell))
    return out


def prescaled(x: np.ndarray, y: np.ndarray, ref: PhaseReference, wavelength: float,
              bound: float = SCALE_BOUND) -> PhaseReference:
    """:func:`prescaled_all` of one reference."""
    return prescaled_all(x, y, [ref], wavelength, bound)[0]
