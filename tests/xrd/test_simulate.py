"""simulate_pattern: the Kα doublet, normalisation, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.xrd.crystal import Crystal
from spectool.xrd.profiles import make_grid
from spectool.xrd.radiation import WAVELENGTHS, parse_radiation
from spectool.xrd.reflections import lorentz_polarization
from spectool.xrd.simulate import ProfileOptions, line_sticks, simulate_pattern

NACL = Crystal(
    5.6402 * np.eye(3),
    [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0], [0.5, 0.5, 0.5], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
    ["Na"] * 4 + ["Cl"] * 4,
    np.ones(8),
)


def test_kalpha2_lands_where_bragg_puts_it():
    grid = make_grid(20, 90, 0.001)
    y, sticks = simulate_pattern(NACL, grid, parse_radiation("CuKa12"), ProfileOptions(fwhm=0.02))
    lam1, lam2 = WAVELENGTHS["CuKa1"], WAVELENGTHS["CuKa2"]
    for d, i in zip(sticks.d, sticks.intensity / sticks.intensity.max()):
        tt2 = math.degrees(2 * math.asin(lam2 / (2 * d)))
        if i < 0.05 or tt2 > 89.9:
            continue
        window = (grid > tt2 - 0.01) & (grid < tt2 + 0.01)
        assert grid[window][y[window].argmax()] == pytest.approx(tt2, abs=1.5e-3)
        tt1 = math.degrees(2 * math.asin(lam1 / (2 * d)))
        at1 = y[np.abs(grid - tt1).argmin()]
        lp = lorentz_polarization(np.radians(np.array([tt2, tt1]) / 2))
        assert y[window].max() / at1 == pytest.approx(0.5 * lp[0] / lp[1], rel=0.02)


@pytest.mark.parametrize("mono", [None, 26.6])
def test_kalpha2_has_lorentz_polarisation_at_its_own_angle(mono):
    from spectool.xrd.reflections import compute_reflections

    rad = parse_radiation("CuKa12")
    peaks = compute_reflections(NACL, rad.wavelength, (5, 150), mono)
    tt, inten = line_sticks(peaks, rad, mono)
    n = len(peaks)
    np.testing.assert_array_equal(tt[:n], peaks.two_theta)
    np.testing.assert_array_equal(inten[:n], peaks.intensity)
    tt2 = np.degrees(2 * np.arcsin(WAVELENGTHS["CuKa2"] / (2 * peaks.d)))
    lp1 = lorentz_polarization(np.radians(peaks.two_theta / 2), mono)
    lp2 = lorentz_polarization(np.radians(tt2 / 2), mono)
    np.testing.assert_allclose(tt[n:], tt2, rtol=1e-14)
    np.testing.assert_allclose(inten[n:], 0.5 * peaks.intensity / lp1 * lp2, rtol=1e-12)
    # at high angle LP differs: the Kα2 stick is not just half the Kα1 stick
    assert np.abs(inten[n:] / inten[:n] - 0.5).max() > 1e-3


def test_absolute_pattern_integrates_to_sticks():
    grid = make_grid(5, 90, 0.01)
    y, sticks = simulate_pattern(NACL, grid, parse_radiation("CuKa"), ProfileOptions(fwhm=0.1, normalize=False))
    assert y.sum() * 0.01 == pytest.approx(sticks.intensity.sum(), rel=1e-5)
    assert y.dtype == np.float32 and y.shape == grid.shape
    ynorm, _ = simulate_pattern(NACL, grid, parse_radiation("CuKa"), ProfileOptions(fwhm=0.1))
    assert ynorm.max() == pytest.approx(1.0)


def test_no_reflection_in_range():
    with pytest.raises(FormatError, match="no reflection"):
        simulate_pattern(NACL, make_grid(5, 90, 0.02), parse_radiation(40.0))


def test_unknown_element():
    bad = Crystal(4 * np.eye(3), [[0, 0, 0]], ["Og"], [1.0])
    with pytest.raises(FormatError, match="Og"):
        simulate_pattern(bad, make_grid(5, 90, 0.02), parse_radiation("CuKa"))


def test_parse_radiation():
    assert parse_radiation("CuKa").wavelengths == (1.54184,)
    r = parse_radiation("cuka12")
    assert r.wavelengths == (1.54056, 1.54439) and r.weights == (1.0, 0.5) and r.name == "CuKa12"
    assert parse_radiation("MoKa12").wavelength == 0.70930
    assert parse_radiation("1.2").wavelength == 1.2 and parse_radiation(0.5).wavelength == 0.5
    for bad in ("XxKa", "-1", 0.0):
        with pytest.raises(ValueError):
            parse_radiation(bad)


def test_bad_options():
    with pytest.raises(ValueError):
        ProfileOptions(shape="voigt")
    with pytest.raises(ValueError):
        ProfileOptions(crystallite_size=0)


def test_cell_parameters_of_a_triclinic_cell():
    from spectool.xrd.crystal import lattice_matrix
    from spectool.xrd.simulate import cell_parameters

    cell = (3.1, 4.2, 5.3, 71.0, 83.0, 104.0)
    np.testing.assert_allclose(cell_parameters(lattice_matrix(*cell)), cell, rtol=1e-12)
    np.testing.assert_allclose(cell_parameters(np.diag([2.0, 3.0, 4.0]) @ np.eye(3)), [2, 3, 4, 90, 90, 90])


def test_label_of_every_rule():
    from spectool.xrd.simulate import LABEL_RULES, SampleRow, label_of

    labels = {"cell_formula": "Na4Cl4", "formula": "NaCl", "spacegroup_symbol": "Fm-3m",
              "crystal_system": "cubic", "structure_type": "Rock Salt"}
    row = SampleRow("data/halides/nacl.cif", "NaCl", np.zeros(3, np.float32), {}, np.zeros(6), labels)
    expect = {"stem": "nacl", "parent": "halides", "formula": "Na4Cl4", "reduced-formula": "NaCl",
              "spacegroup": "Fm-3m", "crystal-system": "cubic", "structure-type": "Rock Salt"}
    assert {rule: label_of(row, rule) for rule in LABEL_RULES} == expect
    assert label_of(SampleRow("x.cif", "", np.zeros(3, np.float32), {}, np.zeros(6), {}), "spacegroup") == ""
