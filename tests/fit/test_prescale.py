"""The wide isotropic pre-scale: a type's reference of another compound, 8–15 % off in cell, fits after it."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.fit.engine import FitOptions, fit_hypotheses
from spectool.fit.prescale import best_scale, prescaled
from spectool.xrd.radiation import parse_radiation
from tests.fit.conftest import render_scan, strained

CU12 = parse_radiation("CuKa12")
GRID = np.arange(10.0, 80.0001, 0.02)


@pytest.mark.parametrize("name, factor", [("NaCl", 1.12), ("ZnO", 0.87), ("rutile", 1.08), ("calcite", 0.92)])
def test_the_scale_of_an_isotypic_compound_is_found(zoo_refs, name, factor):
    ref, crystal = zoo_refs[name]
    y = render_scan(strained(crystal, factor, factor, factor), GRID, fwhm=0.12, zero=0.05)
    y = y / y.max() + np.random.default_rng(1).normal(0, 0.01, y.size)
    scale, gain = best_scale(GRID, y, ref, CU12.wavelengths[0])
    assert scale == pytest.approx(factor, abs=0.004) and gain > 2
    assert prescaled(GRID, y, ref, CU12.wavelengths[0]).cell[:3] == pytest.approx(ref.cell[:3] * scale)


def test_a_reference_on_its_own_cell_is_left_as_it_is(zoo_refs):
    ref, crystal = zoo_refs["rutile"]
    y = render_scan(strained(crystal, 1.01, 1.01, 1.01), GRID)
    assert prescaled(GRID, y, ref, CU12.wavelengths[0]) is ref  # within the fit's own bounds


def test_the_fit_of_a_reference_12_percent_off_succeeds_only_prescaled(zoo_refs):
    ref, crystal = zoo_refs["NaCl"]
    y = render_scan(strained(crystal, 1.12, 1.12, 1.12), GRID, fwhm=0.12)
    y = y / y.max()
    plain, scaled = fit_hypotheses(GRID, y, [[ref], [prescaled(GRID, y, ref, CU12.wavelengths[0])]],
                                   CU12.wavelengths, CU12.weights, FitOptions())
    assert plain.explained < 0.5 < 0.9 < scaled.explained
    assert scaled.phases[0].cell[0] == pytest.approx(ref.cell[0] * 1.12, rel=1e-3)
