"""A smectite's scan is fitted as a turbostratic stack: bands, basal spacing and a refined 00l intensity."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.fit.cell import reciprocal_metric
from spectool.fit.engine import fit_hypotheses
from spectool.fit.reference import conventional, reference_from_crystal, structure_of, turbostratic_reference
from spectool.fit.verify import fit_quality
from spectool.xrd.turbostratic import ROD_SAMPLES
from tests.xrd.test_turbostratic import clay_layer


def render(ref, cell, x, fwhm=0.35, wavelength=1.5406, basal=1.0):
    """Gaussian peaks of ``ref``'s reflections at ``cell`` on x (degrees 2θ), × LP; 00l × ``basal``."""
    h = ref.hkl.astype(np.float64)
    s = wavelength * np.sqrt(np.einsum("mi,ij,mj->m", h, reciprocal_metric(cell), h)) / 2
    ok = s < 1
    theta = np.arcsin(s[ok])
    lp = (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
    weight = ref.factor[ok] * lp * np.where((h[ok, 0] == 0) & (h[ok, 1] == 0), basal, 1.0)
    sigma = fwhm / 2.3548
    return (weight * np.exp(-0.5 * ((x[:, None] - np.degrees(2 * theta)) / sigma) ** 2)).sum(1)


def test_the_reference_is_a_layer_cell_with_a_refined_basal_orientation():
    crystal = clay_layer()
    ref = turbostratic_reference(crystal, "Montmorillonite", mass=700.0, formula="CaAl2Si4O12")
    assert ref.name == "Montmorillonite (turbostratic, d 12.5 Å)" and ref.system == "orthorhombic"
    assert ref.texture == (0, 0, 1) and ref.layer_samples == ROD_SAMPLES
    assert ref.mass == pytest.approx(700.0 * ROD_SAMPLES)  # the cell holds s layers' volume: Hill–Howard unchanged
    assert ref.reported_cell(ref.cell) == pytest.approx([5.2, 9.0, 12.5, 90, 90, 90])
    assert 50 < len(ref.hkl) < 1000  # the rods' samples binned into a few hundred reflections
    swollen = turbostratic_reference(crystal, "Montmorillonite", 700.0, spacing=15.0)
    assert swollen.reported_cell(swollen.cell)[2] == pytest.approx(15.0) and swollen.name.endswith("d 15.0 Å)")
    layer = (ref.hkl[:, 0] != 0) | (ref.hkl[:, 1] != 0)  # the bands do not move with the spacing: their onsets stay
    onset = np.sqrt(((ref.hkl[layer] / ref.cell[:3]) ** 2).sum(1)).min()
    assert onset == pytest.approx(np.sqrt(((swollen.hkl[(swollen.hkl[:, 0] != 0) | (swollen.hkl[:, 1] != 0)]
                                            / swollen.cell[:3]) ** 2).sum(1)).min(), rel=2e-3)


def test_a_turbostratic_scan_fits_the_stack_and_not_the_ordered_crystal():
    crystal = clay_layer()
    stack = turbostratic_reference(crystal, "smectite", 700.0)
    ordered = reference_from_crystal(*conventional(structure_of(crystal))[:2], "ordered")
    x = np.arange(4.0, 70.0, 0.02)
    truth = stack.cell * np.r_[1.01, 1.01, 0.99, 1, 1, 1]  # a, b 1 % larger, d 1 % smaller
    rng = np.random.default_rng(0)
    y = render(stack, truth, x, basal=0.4)  # the 00l weaker than a random powder's, as measured
    y = y / y.max() + 0.05 + rng.normal(0, 0.004, x.size)
    turbo, crystal_fit = fit_hypotheses(x, y, [[stack], [ordered]])
    assert fit_quality(turbo) > 0.75 and fit_quality(turbo) > fit_quality(crystal_fit) + 0.2
    a, b, d = stack.reported_cell(turbo.phases[0].cell)[:3]
    assert (a, b, d) == pytest.approx((5.2 * 1.01, 9.0 * 1.01, 12.5 * 0.99), rel=0.003)
    assert turbo.phases[0].texture[1] > 1.05  # March r > 1: 00l weakened


def test_the_search_sees_the_bands_not_only_the_first_basal_peak():
    from spectool.fit.search import SearchOptions, broad_reflections

    ref = turbostratic_reference(clay_layer(), "smectite", 700.0)
    hkl, factor = broad_reflections(ref)
    assert len(hkl) < len(ref.hkl) and factor.sum() == pytest.approx(ref.factor.sum(), rel=1e-5)
    q = ((hkl / ref.cell[:3]) ** 2).sum(1)
    strongest = np.argsort(-factor / q)[:SearchOptions().reflections]
    assert ((hkl[strongest, 0] != 0) | (hkl[strongest, 1] != 0)).mean() > 0.7


def test_a_users_table_reads_the_basal_spacing_not_the_long_cell():
    from types import SimpleNamespace

    from spectool.io.predictions import _cell

    ref = turbostratic_reference(clay_layer(), "smectite", 700.0)
    assert _cell(SimpleNamespace(reference=ref, cell=ref.cell * np.r_[1, 1, 0.98, 1, 1, 1])) == pytest.approx(
        [5.2, 9.0, 12.25, 90, 90, 90])
    assert _cell(SimpleNamespace(reference=None, cell=np.r_[4.0, 4, 4, 90, 90, 90]))[0] == 4.0


def test_parsimony_does_not_count_a_stacks_sampled_bands_as_lines():
    from types import SimpleNamespace

    from spectool.fit.verify import visible_lines

    stack = turbostratic_reference(clay_layer(), "smectite", 700.0)
    crystal = reference_from_crystal(*conventional(structure_of(clay_layer()))[:2], "ordered")
    x = np.arange(4.0, 70.0, 0.02)

    def fit(ref):
        phase = SimpleNamespace(reference=ref, height=np.ones(3), two_theta=np.array([10.0, 20, 30]))
        return SimpleNamespace(converged=True, phases=[phase])

    assert visible_lines(fit(crystal), x) == 3 and visible_lines(fit(stack), x) is None
