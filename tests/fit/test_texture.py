"""Preferred orientation: the March–Dollase factor, its directions, and the fit recovering it."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from spectool.fit.engine import FitOptions, fit_hypotheses
from spectool.fit.texture import cos2_angles, directions, march_dollase
from spectool.xrd.radiation import parse_radiation

CU1 = parse_radiation("CuKa1")
GRID = np.arange(10.0, 80.0001, 0.02)


def test_cubic_factor_is_the_mean_over_equivalents():
    """(200) of a cubic cell along ⟨001⟩: 2 of its 6 equivalents lie along the axis (cos² 1), 4 across it
    (cos² 0), so P = (2 r⁻³ + 4 r^1.5) / 6."""
    cell = np.array([5.64, 5.64, 5.64, 90, 90, 90])
    cos2 = cos2_angles(np.array([[2, 0, 0]]), cell, "cubic", (0, 0, 1))
    assert cos2.shape == (1, 48)
    for r in (0.6, 1.0, 1.4):
        assert march_dollase(cos2, r)[0] == pytest.approx((2 * r**-3 + 4 * r**1.5) / 6)


def test_hexagonal_factor_along_c():
    """(001) planes along c*: P = r⁻³; (100) across it: P = r^1.5; a random powder (r = 1): 1."""
    cell = np.array([3.25, 3.25, 5.21, 90, 90, 120])
    cos2 = cos2_angles(np.array([[0, 0, 2], [1, 0, 0], [1, 0, 1]]), cell, "hexagonal", (0, 0, 1))
    np.testing.assert_allclose(cos2[:2, 0], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(march_dollase(cos2, 0.7)[:2], [0.7**-3, 0.7**1.5])
    np.testing.assert_allclose(march_dollase(cos2, 1.0), 1.0)


def test_directions_keep_every_equivalent_at_one_angle():
    assert directions("hexagonal") == directions("trigonal") == directions("tetragonal") == [(0, 0, 1)]
    assert set(directions("monoclinic")) == set(directions("triclinic")) == {(1, 0, 0), (0, 1, 0), (0, 0, 1)}
    assert directions("cubic") == [(0, 0, 1), (1, 1, 1)]


def _textured_scan(ref, r: float, direction, fwhm: float = 0.12) -> np.ndarray:
    """Independent oracle: :func:`_textured_pattern`, scaled to 1, plus a flat background and noise."""
    y = _textured_pattern(ref, r, direction, fwhm)
    y = y / y.max() + 0.02
    return y + np.random.default_rng(0).normal(0, 0.004, y.size)


def _textured_pattern(ref, r: float, direction, fwhm: float = 0.12) -> np.ndarray:
    """Area-normalised Gaussian peaks at the Bragg angles of ``ref``'s reflections (Cu Kα1), each of area
    factor × LP × March–Dollase (the engine's convention: its scale is 1 for this pattern)."""
    lam = CU1.wavelengths[0]
    from spectool.fit.cell import reciprocal_metric

    h = ref.hkl.astype(float)
    d_inv = np.sqrt(np.einsum("mi,ij,mj->m", h, reciprocal_metric(ref.cell), h))
    s = lam * d_inv / 2
    ok = s < 1
    theta = np.arcsin(s[ok])
    lp = (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
    inten = ref.factor[ok] * lp * march_dollase(cos2_angles(ref.hkl[ok], ref.cell, ref.system, direction), r)
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    tt = np.degrees(2 * theta)
    shape = np.exp(-0.5 * ((GRID[None] - tt[:, None]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return (inten[:, None] * shape).sum(0)


@pytest.mark.parametrize("name, r", [("ZnO", 0.75), ("ZnO", 1.4), ("NaCl", 0.75)])
def test_fit_recovers_the_march_parameter(zoo_refs, name, r):
    """A textured scan, refitted along the true direction from the random-powder fit (as verification does):
    a far better fit, and r within 0.05 where it is identifiable (a cubic cell averages ⟨001⟩ over its three
    axes: plates, r < 1, and needles, r > 1, give nearly the same pattern, so only r ≠ 1 is asked)."""
    ref = zoo_refs[name][0]
    direction = directions(ref.system)[0]
    y = _textured_scan(ref, r, direction)
    (plain,) = fit_hypotheses(GRID, y, [[ref]], CU1.wavelengths, CU1.weights, FitOptions())
    (textured,) = fit_hypotheses(GRID, y, [[replace(ref, texture=direction)]], CU1.wavelengths, CU1.weights,
                                 FitOptions(), start=[plain])
    assert plain.phases[0].texture is None
    got_direction, got_r = textured.phases[0].texture
    assert got_direction == direction
    assert got_r == pytest.approx(r, abs=0.05) if ref.system != "cubic" else abs(got_r - 1) > 0.2
    assert textured.rwp < 0.7 * plain.rwp


def test_a_random_powder_stays_random(zoo_refs):
    """No texture in the scan: r stays near 1 and the fit is no worse."""
    ref = zoo_refs["ZnO"][0]
    y = _textured_scan(ref, 1.0, (0, 0, 1))
    plain, textured = fit_hypotheses(GRID, y, [[ref], [replace(ref, texture=(0, 0, 1))]], CU1.wavelengths,
                                     CU1.weights, FitOptions())
    assert textured.phases[0].texture[1] == pytest.approx(1.0, abs=0.05)
    assert textured.rwp <= plain.rwp * 1.01


def test_texture_corrects_the_weight_fractions_of_a_mixture(zoo_refs):
    """50/50 wt % of platy ZnO (r = 0.7 along c*) and random NaCl: the random-powder fit misjudges the
    fractions; with_texture finds the orientation of ZnO alone and brings both within 3 wt %."""
    from spectool.fit.verify import VerifyOptions, with_texture

    (zno, _), (nacl, _) = zoo_refs["ZnO"], zoo_refs["NaCl"]
    w = np.array([0.5, 0.5])
    s = w / np.array([zno.mass * zno.volume, nacl.mass * nacl.volume])  # W ∝ S·ZM·V
    y = s[0] * _textured_pattern(zno, 0.7, (0, 0, 1)) + s[1] * _textured_pattern(nacl, 1.0, (0, 0, 1))
    y = y / y.max() + 0.02 + np.random.default_rng(1).normal(0, 0.003, y.size)
    (plain,) = fit_hypotheses(GRID, y, [[zno, nacl]], CU1.wavelengths, CU1.weights, FitOptions())
    lines = (CU1.wavelengths, CU1.weights)
    textured = with_texture(GRID, y, plain, lines, VerifyOptions())
    assert abs(plain.phases[0].weight_fraction - 0.5) > 0.05
    np.testing.assert_allclose([p.weight_fraction for p in textured.phases], w, atol=0.03)
    assert textured.phases[0].texture[0] == (0, 0, 1) and textured.phases[0].texture[1] == pytest.approx(0.7, abs=0.05)
    assert textured.phases[1].texture is None  # NaCl's orientation did not pay
    assert textured.rwp < plain.rwp
