"""Library search–match: the cosine of a pattern with every reference, over cell scale and zero shift."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.fit.search import SearchIndex
from spectool.xrd.radiation import parse_radiation
from tests.fit.conftest import render_scan, strained

CU12 = parse_radiation("CuKa12")
GRID = np.arange(15.0, 75.0001, 0.025)


@pytest.fixture(scope="module")
def index(zoo_refs):
    return SearchIndex({name: [ref] for name, (ref, _) in zoo_refs.items()}, GRID, CU12.wavelengths, CU12.weights)


@pytest.mark.parametrize("name", ["NaCl", "rutile", "ZnO", "calcite"])
def test_each_structure_ranks_itself_first_though_strained_and_shifted(zoo_refs, index, name):
    y = render_scan(strained(zoo_refs[name][1], 1.03, 1.03, 1.03), GRID, zero=0.05)
    y = y / y.max() + 0.05
    ranked = index.match(y)
    assert ranked[0][0] == name and ranked[0][2] > 0.8
    assert ranked[0][2] - ranked[1][2] > 0.1


def test_scores_are_cosines(zoo_refs, index):
    y = render_scan(zoo_refs["NaCl"][1], GRID)
    s = index.scores(y)
    assert np.all(s <= 1.0 + 1e-6)
    assert index.scores(7 * y) == pytest.approx(s, rel=1e-4)
    assert not np.any(index.scores(np.zeros_like(y)))
