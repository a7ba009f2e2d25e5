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


def test_an_index_given_its_stored_norms_scores_as_one_built_from_scratch(zoo_refs, index):
    library = {name: [ref] for name, (ref, _) in zoo_refs.items()}
    again = SearchIndex(library, GRID, CU12.wavelengths, CU12.weights, norms=index.norm.numpy())
    y = render_scan(strained(zoo_refs["ZnO"][1], 1.01, 1.01, 1.01), GRID, zero=0.03)
    assert again.scores(y) == pytest.approx(index.scores(y), rel=1e-6)
    wrong = SearchIndex(library, GRID, CU12.wavelengths, CU12.weights, norms=np.ones((2, 3)))  # another index's
    assert wrong.norm.numpy() == pytest.approx(index.norm.numpy())


def test_the_index_key_changes_with_whatever_the_index_depends_on(zoo_refs):
    from dataclasses import replace

    from spectool.fit.search import SearchOptions, index_key

    library = {name: [ref] for name, (ref, _) in zoo_refs.items()}
    key = index_key(library, GRID, CU12.wavelengths, CU12.weights)
    assert key == index_key(dict(library), GRID.copy(), CU12.wavelengths, CU12.weights)
    nacl = library["NaCl"][0]
    others = [
        index_key({**library, "NaCl": [replace(nacl, factor=nacl.factor * 2)]}, GRID, CU12.wavelengths, CU12.weights),
        index_key({k: library[k] for k in reversed(library)}, GRID, CU12.wavelengths, CU12.weights),
        index_key(library, GRID[1:], CU12.wavelengths, CU12.weights),
        index_key(library, GRID, (1.5406,), (1.0,)),
        index_key(library, GRID, CU12.wavelengths, CU12.weights, SearchOptions(scales=11)),
    ]
    assert key not in others and len(set(others)) == len(others)


def test_scores_equal_the_cosine_read_at_each_shifted_position(zoo_refs, index):
    """The scores against the definition, evaluated position by position: for every whole-step shift,
    Φ⋆t interpolated linearly at each stick, weighed by its intensity, over the norm, best of all."""
    import torch
    import torch.nn.functional as F

    y = render_scan(strained(zoo_refs["rutile"][1], 1.02, 1.02, 1.02), GRID, zero=0.07)
    zero = 0.04
    t = np.clip(y[:index.n], 0, None).reshape(-1, index.k).mean(1)
    t = torch.as_tensor(t - t.mean(), dtype=torch.float32)
    pad = index.half + 2
    tc = F.conv1d(F.pad(t, (pad + index.half, pad + index.half))[None, None], index.kernel[None, None])[0, 0]
    grid = torch.arange(-pad, index.L + pad, dtype=torch.float32)  # tc[j] = (Φ ⋆ t)(grid[j])
    best = None
    for s in range(-round(index.options.shift / index.dx), round(index.options.shift / index.dx) + 1):
        at = index.pos + zero / index.dx + s
        val = torch.as_tensor(np.interp(at.numpy().ravel(), grid.numpy(), tc.numpy(), left=0, right=0)).reshape(at.shape)
        dot = (val * index.inten).sum(2)
        best = dot if best is None else torch.maximum(best, dot)
    expected = ((best / index.norm).max(1).values / t.norm()).numpy()
    assert index.scores(y, zero) == pytest.approx(expected, abs=1e-5)
