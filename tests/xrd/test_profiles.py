"""Profiles: area, widths, shapes, Kα doublet, and the windowed kernel against a naive loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectool.xrd.profiles import (
    DEFAULT_WINDOW,
    fwhm_caglioti,
    fwhm_scherrer,
    make_grid,
    peak_fwhm,
    render,
    shape_values,
)


def _measured_fwhm(x, y):
    """FWHM of a single peak on a fine grid, by linear interpolation at half maximum."""
    top = y.argmax()
    half = y[top] / 2
    left = np.interp(half, y[: top + 1], x[: top + 1])
    right = np.interp(half, y[top:][::-1], x[top:][::-1])
    return right - left


def naive_render(grid, centres, intensities, fwhm, shape, eta):
    """Obviously-correct reference: every peak on every grid point."""
    out = np.zeros_like(grid)
    for c, i, w in zip(centres, intensities, fwhm):
        out += i * shape_values(grid - c, w, shape, eta)
    return out


@pytest.mark.parametrize("shape", ["gaussian", "lorentzian", "pseudo-voigt"])
def test_area_equals_stick_intensity(shape):
    grid = make_grid(5, 90, 0.01)
    y = render(grid, np.array([40.0]), np.array([3.7]), np.array([0.15]), shape, 0.4)
    lost = {"gaussian": 0.0, "lorentzian": 1.0, "pseudo-voigt": 0.4}[shape] / (math.pi * DEFAULT_WINDOW[shape])
    # tolerance: Riemann sum 1e-6, plus the Lorentzian tails beyond the window
    assert y.sum() * 0.01 == pytest.approx(3.7 * (1 - lost), rel=1e-6 + 0.2 * lost)
    assert y.sum() * 0.01 == pytest.approx(3.7, rel=1e-6 + 1.2 * lost)


@pytest.mark.parametrize("shape", ["gaussian", "lorentzian", "pseudo-voigt"])
def test_windowed_equals_naive(shape):
    rng = np.random.default_rng(7)
    grid = make_grid(10, 60, 0.02)
    centres = rng.uniform(5, 65, 40)
    inten = rng.uniform(0.1, 10, 40)
    fwhm = rng.uniform(0.05, 0.4, 40)
    fast = render(grid, centres, inten, fwhm, shape, 0.3, window=1e4)
    np.testing.assert_allclose(fast, naive_render(grid, centres, inten, fwhm, shape, 0.3), rtol=1e-12, atol=1e-12)
    windowed = render(grid, centres, inten, fwhm, shape, 0.3)
    ref = naive_render(grid, centres, inten, fwhm, shape, 0.3)
    assert np.abs(windowed - ref).max() < (1e-12 if shape == "gaussian" else 2e-3) * ref.max()


@pytest.mark.parametrize("shape", ["gaussian", "lorentzian", "pseudo-voigt"])
def test_shapes_have_their_fwhm_and_mix(shape):
    w = 0.2
    x = np.linspace(-3, 3, 600001)
    y = shape_values(x, w, shape, 0.5)
    assert _measured_fwhm(x, y) == pytest.approx(w, rel=1e-4)
    lor = shape_values(x, w, "lorentzian")
    gau = shape_values(x, w, "gaussian")
    assert lor[300000] == pytest.approx(2 / (math.pi * w))
    assert gau[300000] == pytest.approx(2 / w * math.sqrt(math.log(2) / math.pi))
    if shape == "pseudo-voigt":
        np.testing.assert_allclose(y, 0.5 * lor + 0.5 * gau)


def test_scherrer_width_matches_formula():
    lam, size = 1.54056, 12.0  # Å, nm
    for tt in (20.0, 45.0, 80.0):
        grid = make_grid(tt - 5, tt + 5, 0.0005)
        w = peak_fwhm(np.array([tt]), lam, crystallite_size=size)
        y = render(grid, np.array([tt]), np.array([1.0]), w, "gaussian")
        expect = math.degrees(0.9 * lam / (size * 10 * math.cos(math.radians(tt / 2))))
        assert _measured_fwhm(grid, y) == pytest.approx(expect, rel=1e-3)
        assert fwhm_scherrer(np.array([tt]), lam, size)[0] == pytest.approx(expect, rel=1e-12)


def test_caglioti_and_quadrature():
    tt = np.array([20.0, 60.0])
    t = np.tan(np.radians(tt / 2))
    np.testing.assert_allclose(fwhm_caglioti(tt, 0.01, -0.002, 0.003), np.sqrt(0.01 * t**2 - 0.002 * t + 0.003))
    both = peak_fwhm(tt, 1.5, fwhm=0.05, crystallite_size=20)
    np.testing.assert_allclose(both, np.hypot(0.05, fwhm_scherrer(tt, 1.5, 20)))
    np.testing.assert_allclose(peak_fwhm(tt, 1.5), 0.1)


def test_grid_inclusive():
    grid = make_grid(5, 90, 0.02)
    assert grid.size == 4251 and grid[-1] == pytest.approx(90)


@pytest.mark.parametrize("centres", [[30.0, 30.5], [9.7, 9.9], [60.2, 61.0], [9.5, 60.3]])
def test_peaks_at_one_end_or_beyond_equal_naive(centres):
    """The binned window starts at the first peak's and ends at the last one's: peaks inside, beyond
    either end (only their tails land) and on both sides give the naive sum."""
    grid = make_grid(10, 60, 0.02)
    centres = np.array(centres)
    inten, fwhm = np.full(centres.size, 2.0), np.full(centres.size, 0.2)
    fast = render(grid, centres, inten, fwhm, "gaussian")
    np.testing.assert_allclose(fast, naive_render(grid, centres, inten, fwhm, "gaussian", 0.5), rtol=0, atol=1e-12)
    assert fast.any()


def test_one_point_grid_and_peaks_out_of_reach():
    assert render(np.array([20.0]), np.array([20.0]), np.array([1.0]), np.array([0.1]), "gaussian")[0] > 0
    grid = make_grid(10, 20, 0.1)
    assert not render(grid, np.array([25.0, 5.0]), np.array([1.0, 1.0]), np.array([0.1, 0.1]), "gaussian").any()
