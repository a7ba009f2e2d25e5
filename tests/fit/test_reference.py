"""Phase references: reflections merged only where the crystal system keeps them together."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.fit.cell import cell_volume, free_count
from spectool.fit.reference import hill_howard, merge_equivalent


def _box(n=3):
    r = np.arange(-n, n + 1)
    hkl = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    return hkl[np.any(hkl != 0, axis=1)]


def test_cubic_merges_accidental_coincidences():
    """(300) and (221) have the same d in every cubic cell: one group."""
    hkl = np.array([[3, 0, 0], [2, 2, 1], [0, 0, 3]])
    groups, factor = merge_equivalent(hkl, np.ones(3), np.r_[5.0, 5, 5, 90, 90, 90], "cubic")
    assert len(groups) == 1 and factor[0] == 3


def test_tetragonal_keeps_what_c_over_a_separates():
    """(300) and (221) part when c/a moves: two groups; (100) and (010) stay together."""
    hkl = np.array([[3, 0, 0], [2, 2, 1], [1, 0, 0], [0, 1, 0]])
    groups, factor = merge_equivalent(hkl, np.ones(4), np.r_[5.0, 5, 5, 90, 90, 90], "tetragonal")
    assert len(groups) == 3 and sorted(factor.tolist()) == [1, 1, 2]


def test_merging_keeps_total_intensity():
    hkl = _box()
    f = np.random.default_rng(0).random(len(hkl))
    for system in ("cubic", "hexagonal", "monoclinic", "triclinic"):
        _, factor = merge_equivalent(hkl, f, np.r_[5.0, 5, 5, 90, 90, 90], system)
        assert factor.sum() == pytest.approx(f.sum())


def test_free_parameters_per_system():
    assert [free_count(s) for s in ("cubic", "tetragonal", "trigonal", "orthorhombic", "monoclinic", "triclinic")] \
        == [1, 2, 2, 3, 4, 6]


def test_volume_and_hill_howard():
    assert cell_volume(np.r_[2.0, 3, 4, 90, 90, 90]) == pytest.approx(24)
    np.testing.assert_allclose(hill_howard([1, 1], [10, 30], [1, 1]), [0.25, 0.75])
