"""Reflections against the oracle, pymatgen's XRDCalculator."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.xrd.reflections import compute_reflections
from spectool.xrd.structures import crystal_from_structure

from .structures_zoo import zoo

pytest.importorskip("pymatgen")

STRUCTURES = zoo()
POS_TOL = 1e-3  # degrees 2θ
INT_TOL = 0.5  # % of the strongest peak
REPORTED = 0.5  # % of the strongest: peaks that must match


def _compare(structure, wavelength, two_theta_range, b=None):
    """Max |Δ2θ| (deg) and |ΔI| (% of max) over pymatgen's peaks above REPORTED %."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    ref = XRDCalculator(wavelength, debye_waller_factors=b).get_pattern(structure, True, two_theta_range)
    crystal = crystal_from_structure(structure)
    if b:
        crystal = crystal.with_b_iso(b)
    ours = compute_reflections(crystal, XRDCalculator(wavelength).wavelength, two_theta_range)
    ours = ours.scaled(100)
    x, y = np.asarray(ref.x), np.asarray(ref.y)
    strong = y > REPORTED
    j = np.searchsorted(ours.two_theta, x[strong])
    j = np.clip(j, 1, len(ours) - 1)
    near = np.where(
        np.abs(ours.two_theta[j - 1] - x[strong]) < np.abs(ours.two_theta[j] - x[strong]), j - 1, j
    )
    dpos = np.abs(ours.two_theta[near] - x[strong]).max()
    dint = np.abs(ours.intensity[near] - y[strong]).max()
    # our strong peaks are all in pymatgen's list too
    mine = ours.two_theta[ours.intensity > REPORTED]
    extra = np.min(np.abs(mine[:, None] - x[None, :]), axis=1).max()
    return ref, ours, dpos, dint, extra


@pytest.mark.parametrize("name", sorted(STRUCTURES))
@pytest.mark.parametrize("wavelength, two_theta_range", [("CuKa", (5, 90)), ("MoKa", (2, 60))])
def test_matches_pymatgen(name, wavelength, two_theta_range):
    ref, ours, dpos, dint, extra = _compare(STRUCTURES[name], wavelength, two_theta_range)
    assert dpos < POS_TOL and extra < POS_TOL
    assert dint < INT_TOL
    assert len(ours) == len(ref.x)
    mult = np.array([sum(f["multiplicity"] for f in fam) for fam in ref.hkls])
    np.testing.assert_array_equal(ours.multiplicity, mult)


@pytest.mark.parametrize("name", ["NaCl", "rutile", "garnet", "CuAu_disordered", "triclinic"])
def test_matches_pymatgen_with_debye_waller(name):
    structure = STRUCTURES[name]
    b = {el.symbol: 0.3 + 0.2 * i for i, el in enumerate(structure.composition.elements)}
    _, _, dpos, dint, extra = _compare(structure, "CuKa", (5, 120), b)
    assert dpos < POS_TOL and extra < POS_TOL and dint < INT_TOL


def test_family_representatives_match_pymatgen():
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    for name in ("NaCl", "rutile", "forsterite"):
        ref = XRDCalculator().get_pattern(STRUCTURES[name])
        ours = compute_reflections(crystal_from_structure(STRUCTURES[name]), 1.54184, (0, 90))
        single = [i for i, fam in enumerate(ref.hkls) if len(fam) == 1]
        expect = np.array([ref.hkls[i][0]["hkl"] for i in single])
        np.testing.assert_array_equal(ours.hkl[single], expect)


def test_d_and_bragg_consistent():
    ours = compute_reflections(crystal_from_structure(STRUCTURES["calcite"]), 1.54056, (5, 90))
    np.testing.assert_allclose(2 * ours.d * np.sin(np.radians(ours.two_theta / 2)), 1.54056, rtol=1e-12)
    assert np.all(np.diff(ours.two_theta) > 0)


def test_large_cell_is_large():
    assert len(STRUCTURES["garnet"]) == 160


def test_crystal_systems_covered():
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    systems = {SpacegroupAnalyzer(s, 0.01).get_crystal_system() for s in STRUCTURES.values()}
    assert systems == {"cubic", "tetragonal", "hexagonal", "trigonal", "orthorhombic", "monoclinic", "triclinic"}


def test_whole_sphere_and_empty_range():
    crystal = crystal_from_structure(STRUCTURES["NaCl"])
    assert len(compute_reflections(crystal, 1.54184, None)) > 0
    assert len(compute_reflections(crystal, 50.0, (5, 90))) == 0


def test_monochromator_reduces_to_plain_at_zero():
    from spectool.xrd.reflections import lorentz_polarization

    theta = np.radians(np.linspace(3, 80, 20))
    np.testing.assert_allclose(lorentz_polarization(theta, 0.0), lorentz_polarization(theta, None))
    graphite = lorentz_polarization(theta, 26.6)
    assert np.all(np.isfinite(graphite)) and not np.allclose(graphite, lorentz_polarization(theta))


def test_peaks_merge_reflections_within_the_two_theta_tolerance():
    from spectool.xrd.reflections import TWO_THETA_TOL, merge_peaks

    tt = np.array([30.0, 20.0, 30.0 + TWO_THETA_TOL / 4, 20.0, 40.0])
    hkl = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0], [2, 0, 0]])
    peaks = merge_peaks(tt, 2 * np.sin(np.radians(tt / 2)) / 1.5, np.array([1.0, 2.0, 3.0, 4.0, 5.0]), hkl)
    np.testing.assert_array_equal(peaks.two_theta, [20.0, 30.0, 40.0])
    np.testing.assert_array_equal(peaks.intensity, [6.0, 4.0, 5.0])
    np.testing.assert_array_equal(peaks.multiplicity, [4, 4, 2])
    np.testing.assert_array_equal(peaks.hkl, [[1, 1, 0], [1, 0, 0], [2, 0, 0]])


def test_merged_peak_keeps_the_largest_of_negative_indices():
    from spectool.xrd.reflections import merge_peaks

    tt = np.array([25.0, 25.0, 25.0, 35.0])
    hkl = np.array([[-1, 2, 0], [-1, 1, 3], [-2, 5, 5], [0, -3, -1]])
    peaks = merge_peaks(tt, 2 * np.sin(np.radians(tt / 2)) / 1.5, np.ones(4), hkl)
    np.testing.assert_array_equal(peaks.hkl, [[-1, 2, 0], [0, -3, -1]])
    np.testing.assert_array_equal(peaks.multiplicity, [6, 2])
