"""Stick-level physics: strain obeys Bragg's law (cubic, monoclinic), size broadening obeys
Scherrer, texture follows March–Dollase, impurities, and the batched renderer's oracle."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.errors import UsageError
from spectool.spectra import Axis, Ragged
from spectool.signal.augment import augment_chunk
from spectool.signal.ops import row_rngs
from spectool.signal.physics import (Displacement, Impurity, Size, Sticks, Strain, Texture, d_spacing, displaced,
                                     render_sticks)
from spectool.signal.render import RenderSettings, render_rows

from .synth import CU, HKL

SEED = 11


def sticks_for(cell, hkl=HKL[:40]):
    d = d_spacing(hkl, np.repeat(np.asarray(cell, float)[None], len(hkl), 0))
    tt = 2 * np.degrees(np.arcsin(np.minimum(CU / (2 * d), 1)))
    peaks = Ragged.from_rows([{"two_theta": tt, "d": d, "intensity": np.ones(len(d)), "hkl": hkl}])
    return Sticks.expand(peaks, np.zeros(4, np.int64), CU, np.asarray(cell, float)[None])


def rngs(n=4):
    return row_rngs(SEED, np.zeros(n, np.int64), np.arange(n))


def monoclinic_d(hkl, a, b, c, beta):
    h, k, l = hkl.T.astype(float)
    sb, cb = np.sin(np.radians(beta)), np.cos(np.radians(beta))
    inv = (h**2 / a**2 + k**2 * sb**2 / b**2 + l**2 / c**2 - 2 * h * l * cb / (a * c)) / sb**2
    return 1 / np.sqrt(inv)


def test_d_spacing_matches_the_monoclinic_formula():
    cell = np.array([[5.1, 6.3, 7.7, 90, 104.5, 90]])
    d = d_spacing(HKL, np.repeat(cell, len(HKL), 0))
    np.testing.assert_allclose(d, monoclinic_d(HKL, 5.1, 6.3, 7.7, 104.5), rtol=1e-12)


def test_cubic_strain_moves_every_peak_as_braggs_law_says():
    st = sticks_for([5.43, 5.43, 5.43, 90, 90, 90])
    out = Strain(max=0.03).apply_sticks(st, rngs())
    ratio = np.sin(np.radians(st.two_theta / 2)) / np.sin(np.radians(out.two_theta / 2))
    for r in range(4):  # one isotropic factor per row: sinθ ∝ 1/d ∝ 1/(1 + ε)
        eps = ratio[st.row == r] - 1
        assert np.ptp(eps) < 1e-9 and abs(eps[0]) <= 0.03
    assert np.ptp(ratio) > 1e-3  # rows differ


def test_monoclinic_strain_matches_the_strained_cell():
    a, b, c, beta = 5.1, 6.3, 7.7, 104.5
    st = sticks_for([a, b, c, 90, beta, 90])
    op = Strain(max=0.03)
    eps = op.draw(rngs(), st)
    out = op.apply_sticks(st, rngs())
    for r in range(4):
        ea, eb, ec = 1 + eps[r]
        d = monoclinic_d(HKL[:40], a * ea, b * eb, c * ec, beta)
        tt = 2 * np.degrees(np.arcsin(CU / (2 * d)))
        np.testing.assert_allclose(out.two_theta[out.row == r], tt, rtol=1e-10)
    assert np.all(np.abs(eps) <= 0.03) and np.ptp(eps[0]) > 0  # per axis


def fwhm_of(y, x):
    half = y.max() / 2
    above = np.flatnonzero(y >= half)
    i, j = above[0], above[-1]
    left = np.interp(half, [y[i - 1], y[i]], [x[i - 1], x[i]])
    right = np.interp(half, [y[j + 1], y[j]], [x[j + 1], x[j]])
    return right - left


@pytest.mark.parametrize("two_theta", [30.0, 75.0])
def test_size_broadening_matches_scherrer(two_theta):
    x = np.arange(10, 100, 0.002)
    d = CU / (2 * np.sin(np.radians(two_theta / 2)))
    peaks = Ragged.from_rows([{"two_theta": np.array([two_theta]), "d": np.array([d]),
                               "intensity": np.array([1.0]), "hkl": np.array([[1, 0, 0]])}])
    settings = RenderSettings(fwhm=None, shape="gaussian", wavelengths=(CU,))
    Y, _ = augment_chunk(np.zeros((1, len(x)), np.float32), Axis(x), [Size(nm=(5, 30))], SEED, 3,
                         peaks=peaks, cell=np.array([[d, d, d, 90, 90, 90]]), settings=settings)
    sizes = Size(nm=(5, 30)).apply_sticks(Sticks.expand(peaks, np.zeros(3, np.int64), CU),
                                          row_rngs(SEED, np.zeros(3), np.arange(3))).size_nm
    for y, tau in zip(Y, sizes):
        expected = np.degrees(0.9 * CU / (tau * 10 * np.cos(np.radians(two_theta / 2))))
        assert fwhm_of(y, x) == pytest.approx(expected, rel=0.01)
        assert 5 <= tau <= 30


def test_texture_is_march_dollase():
    st = sticks_for([4.0, 4.0, 4.0, 90, 90, 90])
    op = Texture(strength=0.5)
    out = op.apply_sticks(st, rngs())
    g = rngs()
    r, pick = g.uniform(0.5, 1.5), g.integers(0, 7)  # the op's two draws, in order
    from spectool.signal.physics import DIRECTIONS

    for row in range(4):
        h = st.hkl[st.row == row].astype(float)
        p = DIRECTIONS[pick[row]].astype(float)
        cos2 = (h @ p) ** 2 / ((h * h).sum(1) * (p @ p))
        w = (r[row] ** 2 * cos2 + (1 - cos2) / r[row]) ** -1.5
        np.testing.assert_allclose(out.intensity[out.row == row], w, rtol=1e-10)
    assert np.array_equal(Texture(strength=0.0).apply_sticks(st, rngs()).intensity, st.intensity)


def test_impurity_adds_sticks_in_range():
    st = sticks_for([4.0, 4.0, 4.0, 90, 90, 90])
    out = Impurity(count=(2, 2), intensity=(0.1, 0.2), two_theta=(20, 30)).apply_sticks(st, rngs())
    new = np.all(out.hkl == 0, axis=1)
    assert np.bincount(out.row[new]).tolist() == [2, 2, 2, 2]
    assert np.all((out.two_theta[new] >= 20) & (out.two_theta[new] <= 30))
    assert np.all((out.intensity[new] >= 0.1) & (out.intensity[new] <= 0.2))
    assert np.all(np.diff(out.row) >= 0)


def test_displacement_shifts_by_minus_2s_cos_theta_over_r():
    grid = np.linspace(10, 150, 14001)
    st = sticks_for([4.0, 4.0, 4.0, 90, 90, 90], hkl=np.array([[1, 1, 1], [4, 2, 2]]))
    out = Displacement(mm=(0.3, 0.3), radius=200.0).apply_sticks(st, rngs())
    np.testing.assert_allclose(out.displacement, 0.3 / 200.0)
    np.testing.assert_array_equal(out.d, st.d)  # an instrument error: the cell is unchanged
    settings = RenderSettings(wavelengths=(CU,), fwhm=0.05, normalize=False)
    before, after = render_sticks(st, grid, settings)[0], render_sticks(out, grid, settings)[0]
    for tt in st.two_theta[st.row == 0]:
        near = np.abs(grid - tt) < 1.0
        moved = grid[near][np.argmax(after[near])] - grid[near][np.argmax(before[near])]
        expected = -np.degrees(2 * 0.3 / 200.0 * np.cos(np.radians(tt / 2)))
        assert moved == pytest.approx(expected, abs=0.011)  # to the grid step
    assert displaced(np.array([20.0]), np.array([1e-3]))[0] - 20 < displaced(np.array([80.0]), np.array([1e-3]))[0] - 80


def test_stick_ops_without_sticks_name_the_op():
    X = np.zeros((2, 10), np.float32)
    with pytest.raises(UsageError, match="strain needs stick lists"):
        augment_chunk(X, Axis(np.arange(10.0)), [Strain()], 0, 1)


@pytest.mark.parametrize("shape, widest", [("gaussian", 2.0), ("lorentzian", 2.0), ("pseudo-voigt", 2.0),
                                           ("gaussian", 0.5), ("pseudo-voigt", 0.2)])
def test_batched_renderer_matches_the_per_pattern_one(shape, widest):
    """Wide peaks: grid-end windows scattered point by point; narrow: via the side buffer."""
    from spectool.xrd.profiles import render

    rng = np.random.default_rng(3)
    grid = np.arange(5, 60, 0.02)
    row = np.sort(rng.integers(0, 5, 80))
    tt, inten, fwhm = rng.uniform(0, 65, 80), rng.uniform(0, 10, 80), rng.uniform(0.02, widest, 80)
    tt[:6] = [4.0, 5.01, 5.3, 59.7, 60.0, 61.0]  # across both ends
    got = render_rows(grid, row, tt, inten, fwhm, 5, shape, 0.4, window=10)
    for r in range(5):
        m = row == r
        ref = render(grid, tt[m], inten[m], fwhm[m], shape, 0.4, 10)
        np.testing.assert_allclose(got[r], ref, rtol=0, atol=1e-6 * ref.max())
