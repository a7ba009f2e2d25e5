"""Turbostratic stacks: Warren bands from the layer's rods, 00l of a few layers, intensity conserved."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.xrd.crystal import Crystal, lattice_matrix
from spectool.xrd.reflections import structure_factor_intensities
from spectool.xrd.turbostratic import (
    ROD_SAMPLES,
    is_smectite,
    layer_setting,
    rod_reflections,
    stack_interference,
)


def clay_layer(a=5.2, b=9.0, c=12.5, beta=90.0) -> Crystal:
    """A 2:1-like layer (octahedral Al between two tetrahedral Si sheets, ~6.5 Å thick) and interlayer Ca."""
    sites = [
        ("Al", 0.0, 1 / 6, 0.5), ("Al", 0.0, 1 / 2, 0.5), ("Al", 0.5, 2 / 3, 0.5), ("Al", 0.5, 0.0, 0.5),
        ("Si", 0.0, 1 / 3, 0.28), ("Si", 0.5, 5 / 6, 0.28), ("Si", 0.0, 1 / 3, 0.72), ("Si", 0.5, 5 / 6, 0.72),
        ("O", 0.25, 0.25, 0.23), ("O", 0.75, 0.75, 0.23), ("O", 0.0, 0.0, 0.37), ("O", 0.5, 0.5, 0.37),
        ("O", 0.25, 0.25, 0.77), ("O", 0.75, 0.75, 0.77), ("O", 0.0, 0.0, 0.63), ("O", 0.5, 0.5, 0.63),
        ("Ca", 0.0, 0.0, 0.0),
    ]
    occupancy = [1.0] * (len(sites) - 1) + [0.5]
    return Crystal(lattice_matrix(a, b, c, 90, beta, 90), [s[1:] for s in sites], [s[0] for s in sites], occupancy)


def test_smectites_are_named_in_labels_files_and_minerals():
    assert is_smectite("Montmorillonite") and is_smectite("Ca-montmorillonite")
    assert is_smectite("FERRUGINOUS_SMECTITE") and is_smectite("Nontronite-000-amcsd-0007180")
    assert not is_smectite("Illite") and not is_smectite("Kaolinite-1A") and not is_smectite("")


def test_stack_interference_has_unit_mean_and_n_at_the_basal_peaks():
    zeta = np.arange(0, 4000) / 1000
    g = stack_interference(zeta, 6)
    assert g.mean() == pytest.approx(1.0, rel=1e-3)
    assert stack_interference(np.array([1.0, 2.0, 3.0]), 6) == pytest.approx([6.0, 6.0, 6.0])
    assert stack_interference(np.array([0.5]), 6)[0] == pytest.approx(0.0, abs=1e-12)  # N even: a zero between peaks


def test_the_layers_are_the_ab_planes_whole_whatever_the_cells_origin():
    layer, d = layer_setting(clay_layer(beta=99.0))
    assert d == pytest.approx(12.5 * np.sin(np.radians(99.0)))  # the normal spacing, not c
    assert np.allclose(layer.lattice, np.diag([5.2, 9.0, ROD_SAMPLES * d]))
    assert layer.frac_coords[:, 2].max() < 1 / ROD_SAMPLES  # one layer in the long cell
    # the layer (no interlayer cation, which belongs to neither neighbour) with the cell's origin in its
    # octahedral sheet, half of it at the top of the cell
    full = clay_layer()
    whole = Crystal(full.lattice, full.frac_coords[:-1], full.elements[:-1], full.occupancy[:-1])
    moved = Crystal(whole.lattice, np.c_[whole.frac_coords[:, :2], (whole.frac_coords[:, 2] + 0.5) % 1.0],
                    whole.elements, whole.occupancy)
    f_whole, f_split = (rod_reflections(c, g_max=0.8)[1] for c in (whole, moved))
    assert f_split == pytest.approx(f_whole, rel=1e-6)
    hexagonal = Crystal(lattice_matrix(5.2, 5.2, 12.5, 90, 90, 120), [[0, 0, 0.5]], ["Al"], [1.0])
    assert layer_setting(hexagonal) is None


def test_bands_rise_at_the_layers_spacing_and_the_basal_peaks_stay():
    hkl, factor, cell, d = rod_reflections(clay_layer(), g_max=1.0)
    g = np.sqrt(((hkl / cell[:3]) ** 2).sum(1))
    rods = (hkl[:, 0] != 0) | (hkl[:, 1] != 0)
    for h, k in ((1, 1), (0, 2), (2, 0), (1, 3)):  # Warren: a band rises sharply at the layer's 2-D spacing
        rod = (np.abs(hkl[:, 0]) == h) & (np.abs(hkl[:, 1]) == k)
        onset = np.hypot(h / 5.2, k / 9.0)
        profile, _ = np.histogram(g[rod], bins=np.arange(onset - 0.0081, 1.0, 0.004), weights=(factor / g**2)[rod])
        assert profile[:2].sum() == 0 and profile[2] > 0.3 * profile.max()  # the step at the onset
    basal = ~rods
    zeta = hkl[basal, 2] / ROD_SAMPLES
    assert zeta.min() >= 0.5  # no small-angle lobe
    strongest = zeta[np.argmax(factor[basal])]
    assert strongest == pytest.approx(round(strongest))  # 00l peaks at integer l of the basal spacing d
    assert d == pytest.approx(12.5)


def test_turbostratic_stacking_keeps_the_ordered_crystals_intensity():
    """Parseval: a layer thinner than d has Σ_l |F(h, k, l)|² = ∫ |F(h, k, ζ)|² dζ, so each rod's samples, put
    back on one cell (÷ s²), carry the ordered crystal's intensity."""
    crystal = clay_layer()
    hkl_o, _, f2 = structure_factor_intensities(crystal, 0.0, 0.9)
    hkl_t, factor, _, _ = rod_reflections(crystal, g_max=0.9)
    for rod in (lambda h: (h[:, 0] != 0) | (h[:, 1] != 0), lambda h: (h[:, 0] == 0) & (h[:, 1] == 0)):
        ordered = 2 * f2[rod(hkl_o)].sum()
        stacked = factor[rod(hkl_t)].sum() / ROD_SAMPLES**2
        assert stacked == pytest.approx(ordered, rel=0.05)
