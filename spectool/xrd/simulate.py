"""One crystal → one powder pattern on a grid, plus its stick list. Pure: no files, no pymatgen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.errors import FormatError
from spectool.xrd.crystal import Crystal
from spectool.xrd.profiles import DEFAULT_WINDOW, SHAPES, line_positions, peak_fwhm, render
from spectool.xrd.radiation import Radiation
from spectool.xrd.reflections import SCALED_INTENSITY_TOL, Reflections, compute_reflections, lorentz_polarization

#: Largest extra 2θ (degrees) on each side of the grid whose reflections may add tails.
MAX_MARGIN = 10.0


@dataclass(frozen=True)
class ProfileOptions:
    """How sticks become a pattern.

    Attributes:
        shape: ``gaussian``, ``lorentzian`` or ``pseudo-voigt``.
        eta: Lorentzian fraction of the pseudo-Voigt, 0..1.
        fwhm: constant FWHM in degrees 2θ.
        uvw: Caglioti (U, V, W) in deg².
        crystallite_size: Scherrer crystallite size in nm (K = 0.9).
        window: half-width in FWHM that each peak touches (default by shape).
        normalize: scale the pattern to a maximum of 1; else absolute (Σ y·step = Σ I).
    """

    shape: str = "gaussian"
    eta: float = 0.5
    fwhm: float | None = None
    uvw: tuple[float, float, float] | None = None
    crystallite_size: float | None = None
    window: float | None = None
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown profile shape {self.shape!r}; one of {', '.join(SHAPES)}")
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"eta must be within 0..1, not {self.eta}")
        for name in ("fwhm", "crystallite_size", "window"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, not {value}")

    def widths(self, two_theta: np.ndarray, wavelength: float) -> np.ndarray:
        """FWHM (P,) in degrees at 2θ (P,) degrees."""
        return peak_fwhm(two_theta, wavelength, self.fwhm, self.uvw, self.crystallite_size)

    def margin(self, grid: np.ndarray, wavelength: float) -> float:
        """Extra 2θ (degrees) beyond the grid ends whose peaks can reach into it."""
        ends = np.array([grid[0], grid[-1], min(grid[-1] + MAX_MARGIN, 179.0)])
        window = DEFAULT_WINDOW[self.shape] if self.window is None else self.window
        return float(min(window * self.widths(ends, wavelength).max(), MAX_MARGIN))


def simulate_pattern(
    crystal: Crystal,
    grid: np.ndarray,
    radiation: Radiation,
    profile: ProfileOptions = ProfileOptions(),
    monochromator_two_theta: float | None = None,
) -> tuple[np.ndarray, Reflections]:
    """Powder pattern (L,) float32 of ``crystal`` on ``grid`` (L,) degrees 2θ, and its sticks.

    Reflections are computed with the primary line; each further line of ``radiation`` (the
    Kα2 of a doublet) adds a copy of every stick at the 2θ Bragg's law gives for the same d,
    times its weight, with the Lorentz–polarisation factor taken at that line's own angle
    (|F|² depends on d only), see :func:`line_sticks`. Peaks just outside the grid contribute their tails. The returned
    sticks are those of the primary line inside the grid range, absolute intensities.

    Raises ``FormatError`` (without a path: the caller adds it) when an element has no
    scattering factors or no reflection falls in the range.
    """
    grid = np.asarray(grid, dtype=np.float64)
    lam = radiation.wavelength
    margin = profile.margin(grid, lam)
    lo, hi = max(grid[0] - margin, 0.0), min(grid[-1] + margin, 180.0)
    try:
        wide = compute_reflections(crystal, lam, (lo, hi), monochromator_two_theta, drop_weak=False)
    except KeyError as exc:
        raise FormatError(exc.args[0]) from None
    sticks = _in_range(wide, grid[0], grid[-1])
    if len(sticks) == 0:
        raise FormatError(
            f"no reflection between {grid[0]:g}° and {grid[-1]:g}° 2θ at λ = {lam:g} Å"
        )
    tt, inten = line_sticks(wide, radiation, monochromator_two_theta)
    y = render(grid, tt, inten, profile.widths(tt, lam), profile.shape, profile.eta, profile.window)
    if profile.normalize and y.max() > 0:
        y = y / y.max()
    return y.astype(np.float32), sticks


def line_sticks(
    peaks: Reflections, radiation: Radiation, monochromator_two_theta: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sticks of every line of ``radiation``: 2θ (S,) degrees and intensities (S,).

    ``peaks`` are the primary line's (intensity 2|F|² LP(θ₁)); line j puts each peak with
    λ_j ≤ 2d at 2θ_j = 2 asin(λ_j / 2d) with intensity weight_j · 2|F|² · LP(θ_j), i.e. the
    primary intensity times weight_j · LP(θ_j) / LP(θ₁).
    """
    centres, heights = [peaks.two_theta], [peaks.intensity * radiation.weights[0]]
    lp1 = None
    for wavelength, weight in zip(radiation.wavelengths[1:], radiation.weights[1:]):
        if lp1 is None:
            lp1 = lorentz_polarization(np.radians(peaks.two_theta / 2), monochromator_two_theta)
        tt, ok = line_positions(peaks.d, wavelength)
        lp = lorentz_polarization(np.radians(tt[ok] / 2), monochromator_two_theta)
        centres.append(tt[ok])
        heights.append(peaks.intensity[ok] * weight * lp / lp1[ok])
    return np.concatenate(centres), np.concatenate(heights)


def _in_range(peaks: Reflections, lo: float, hi: float) -> Reflections:
    """Peaks with lo ≤ 2θ ≤ hi, minus numerical zeros (pymatgen's cut relative to the strongest)."""
    inside = peaks.select((peaks.two_theta >= lo) & (peaks.two_theta <= hi))
    if len(inside) == 0:
        return inside
    return inside.select(inside.intensity / inside.intensity.max() * 100 > SCALED_INTENSITY_TOL)
