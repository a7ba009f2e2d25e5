"""Axis conversions as pure functions: Bragg's law between wavelengths, FTIR/Raman units.

All take and return float64 arrays; none sorts: callers reverse a descending result.
"""

from __future__ import annotations

import numpy as np


def two_theta_to_d(two_theta: np.ndarray, wavelength: float) -> np.ndarray:
    """d (Å) from 2θ (deg) by Bragg's law λ = 2 d sin θ."""
    return wavelength / (2.0 * np.sin(np.radians(np.asarray(two_theta, float)) / 2.0))


def d_to_two_theta(d: np.ndarray, wavelength: float) -> np.ndarray:
    """2θ (deg) of spacing d (Å); NaN where λ / 2d > 1 (no reflection)."""
    s = wavelength / (2.0 * np.asarray(d, float))
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, 2.0 * np.degrees(np.arcsin(np.minimum(s, 1.0))), np.nan)


def convert_two_theta(two_theta: np.ndarray, from_wavelength: float, to_wavelength: float) -> np.ndarray:
    """2θ (deg) measured at ``from_wavelength`` (Å) → 2θ at ``to_wavelength`` for the same d.

    sin θ' = (λ' / λ) sin θ; NaN where that exceeds 1 (outside the new range).
    """
    s = np.sin(np.radians(np.asarray(two_theta, float)) / 2.0) * (to_wavelength / from_wavelength)
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, 2.0 * np.degrees(np.arcsin(np.minimum(s, 1.0))), np.nan)


WAVELENGTH_UNITS = {"nm": 1e7, "um": 1e4, "µm": 1e4, "micron": 1e4, "angstrom": 1e8, "Å": 1e8}


def wavelength_to_wavenumber(wavelength: np.ndarray, units: str = "nm") -> np.ndarray:
    """ν̃ (cm⁻¹) = 10⁷ / λ(nm) = 10⁴ / λ(µm); descending where λ ascends."""
    if units not in WAVELENGTH_UNITS:
        raise ValueError(f"unknown wavelength unit {units!r}")
    return WAVELENGTH_UNITS[units] / np.asarray(wavelength, float)


def wavenumber_to_raman_shift(wavenumber: np.ndarray, laser_nm: float) -> np.ndarray:
    """Raman (Stokes) shift (cm⁻¹) = 10⁷ / λ_laser(nm) − ν̃ (absolute, cm⁻¹)."""
    return 1e7 / laser_nm - np.asarray(wavenumber, float)
