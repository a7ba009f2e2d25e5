"""Verification, re-ranking, mixtures and "unknown" with a stand-in network (cosine to each reference)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from spectool.fit.reference import reference_from_crystal
from spectool.fit.search import SearchIndex
from spectool.fit.verify import VerifyOptions, identify, verify_candidates, visible_lines
from spectool.xrd.crystal import Crystal
from spectool.xrd.radiation import parse_radiation
from tests.fit.conftest import render_scan, strained

CU12 = parse_radiation("CuKa12")
LINES = (CU12.wavelengths, CU12.weights)
GRID = np.arange(15.0, 75.0001, 0.025)
KNOWN = ("rutile", "NaCl", "ZnO")


@pytest.fixture(scope="module")
def library(zoo_refs):
    return {name: [zoo_refs[name][0]] for name in KNOWN}


@pytest.fixture(scope="module")
def proposer(zoo_refs):
    """A stand-in network: softmax over the cosine of the pattern to each known phase's own pattern."""
    patterns = {name: render_scan(zoo_refs[name][1], GRID, fwhm=0.4) for name in KNOWN}

    def propose(y):
        cos = np.array([y @ p / (np.linalg.norm(y) * np.linalg.norm(p) + 1e-12) for p in patterns.values()])
        prob = np.exp(8 * cos) / np.exp(8 * cos).sum()
        order = np.argsort(-prob)
        return [(KNOWN[i], float(prob[i])) for i in order]

    return propose


def _mixture(zoo_refs, fractions: dict, rng_seed=0):
    y = np.zeros_like(GRID)
    for name, w in fractions.items():
        ref, crystal = zoo_refs[name]
        y += w / (ref.mass * ref.volume) * render_scan(strained(crystal, 1.01, 1.01, 1.01), GRID, zero=0.05)
    y = y / y.max()
    return y + 0.02 + np.random.default_rng(rng_seed).normal(0, 0.004, y.size)


def test_fit_puts_the_true_phase_first_where_the_network_had_it_second(zoo_refs):
    """A look-alike (same cell and peak positions, other atom positions and so other intensities) that
    the network prefers loses to the true phase once both are fitted."""
    ref, crystal = zoo_refs["rutile"]
    moved = crystal.frac_coords.copy()
    moved[crystal.elements.index("O"):] = np.abs(moved[crystal.elements.index("O"):]) * 0.55  # O off its site
    fake = Crystal(crystal.lattice, moved, crystal.elements, crystal.occupancy)
    lookalike = reference_from_crystal(fake, "tetragonal", "look-alike", ref.mass)
    y = render_scan(crystal, GRID)
    y = y / y.max() + np.random.default_rng(2).normal(0, 0.005, y.size)
    ranked = verify_candidates(GRID, y, [("look-alike", 0.6), ("rutile", 0.4)],
                               {"rutile": [ref], "look-alike": [lookalike]}, LINES)
    assert [c.label for c in ranked] == ["rutile", "look-alike"]
    assert ranked[0].fit.rwp < ranked[1].fit.rwp


def _doubled_and_distorted(crystal, shift: float):
    """``crystal`` in a cell doubled along c, with its first atom moved by ``shift`` (fractional, along c):
    the same pattern plus weak superstructure lines, as a lower-symmetry description of a type has."""
    lattice = crystal.lattice * np.array([[1.0], [1.0], [2.0]])
    half = crystal.frac_coords * np.array([1.0, 1.0, 0.5])
    coords = np.vstack([half, half + np.array([0.0, 0.0, 0.5])])
    coords[0, 2] += shift
    twice = lambda a: None if a is None else np.concatenate([np.asarray(a), np.asarray(a)])
    return Crystal(lattice, coords, list(crystal.elements) * 2, twice(crystal.occupancy))


def test_of_two_alike_fits_the_reference_with_fewer_lines_ranks_first(zoo_refs):
    """Parsimony: NaCl against its own structure in a doubled, slightly distorted cell (weak extra lines;
    fits alike) that the network prefers a little. By score alone the network decides; within the margin the
    reference that needs fewer visible lines wins. A clearly better fit still wins whatever its lines."""
    ref, crystal = zoo_refs["NaCl"]
    twin = reference_from_crystal(_doubled_and_distorted(crystal, 0.01), "tetragonal", "supercell", 2 * ref.mass)
    y = render_scan(crystal, GRID)
    y = y / y.max() + 0.02 + np.random.default_rng(3).normal(0, 0.004, y.size)
    library = {"NaCl": [ref], "supercell": [twin]}
    proposals = [("supercell", 0.52), ("NaCl", 0.48)]
    ranked = verify_candidates(GRID, y, proposals, library, LINES)
    alone = verify_candidates(GRID, y, proposals, library, LINES, VerifyOptions(parsimony_margin=0))
    assert abs(ranked[0].score - ranked[1].score) < 0.02
    assert visible_lines(alone[1].fit, GRID) < visible_lines(alone[0].fit, GRID)
    assert [c.label for c in alone] == ["supercell", "NaCl"]
    assert [c.label for c in ranked] == ["NaCl", "supercell"]
    # fewer lines do not rescue a clearly worse fit: NaCl without its all-odd reflections (111), (311), …
    even = (ref.hkl % 2 == 0).all(1)
    partial = replace(ref, name="partial", hkl=ref.hkl[even], factor=ref.factor[even])
    ranked = verify_candidates(GRID, y, [("partial", 0.52), ("supercell", 0.48)],
                               {"partial": [partial], "supercell": [twin]}, LINES)
    assert visible_lines(ranked[1].fit, GRID) < visible_lines(ranked[0].fit, GRID)
    assert ranked[0].label == "supercell"


@pytest.mark.parametrize("fractions", [{"rutile": 0.3, "NaCl": 0.7}, {"ZnO": 0.5, "rutile": 0.2, "NaCl": 0.3}])
def test_mixture_phases_found_with_fractions(zoo_refs, library, proposer, fractions):
    verdict = identify(GRID, _mixture(zoo_refs, fractions), proposer, library, LINES, VerifyOptions(max_phases=4))
    assert sorted(verdict.labels) == sorted(fractions)
    found = {p.name: p.weight_fraction for p in verdict.phases.phases}
    for name, w in fractions.items():
        assert found[name] == pytest.approx(w, abs=0.05)
    assert not verdict.unknown


def test_structure_not_in_the_library_is_unknown(zoo_refs, library, proposer):
    """A calcite scan, with only rutile, NaCl and ZnO to fit: most of its peak area stays unexplained."""
    y = render_scan(zoo_refs["calcite"][1], GRID)
    y = y / y.max() + np.random.default_rng(3).normal(0, 0.004, y.size)
    verdict = identify(GRID, y, proposer, library, LINES, VerifyOptions(max_phases=2))
    assert verdict.unknown
    assert len(verdict.candidates) == 3  # still listed


def test_peak_evidence_of_a_single_phase(zoo_refs, library, proposer):
    y = render_scan(zoo_refs["NaCl"][1], GRID)
    y = y / y.max() + np.random.default_rng(4).normal(0, 0.003, y.size)
    def no_search(*_):
        raise AssertionError("one phase without search_first: the network's best candidate, no library search")

    verdict = identify(GRID, y, proposer, library, LINES, VerifyOptions(max_phases=1, search_first=0), search=no_search)
    assert verdict.labels == ["NaCl"]
    (ev,) = verdict.evidence
    assert len(ev.matched) >= 5 and not ev.missing and not ev.unexplained


def test_search_first_fits_what_the_network_did_not_propose(zoo_refs, library):
    """A network that only knows calcite (absent): the scan's own search–match puts ZnO among the candidates."""
    y = render_scan(zoo_refs["ZnO"][1], GRID)
    y = y / y.max() + np.random.default_rng(5).normal(0, 0.003, y.size)
    search = SearchIndex(library, GRID, *LINES).match
    verdict = identify(GRID, y, _blind, library, LINES, VerifyOptions(max_phases=1), search=search)
    assert verdict.labels == ["ZnO"] and not verdict.unknown
    blind = identify(GRID, y, _blind, library, LINES, VerifyOptions(max_phases=1, search_first=0), search=search)
    assert blind.labels != ["ZnO"]


def _blind(y):
    """A network that proposes nothing useful: whatever the pattern, calcite (absent from the scans)."""
    return [("calcite", 1.0)]


@pytest.fixture(scope="module")
def wide_library(zoo_refs):
    return {name: [zoo_refs[name][0]] for name in (*KNOWN, "calcite")}


@pytest.mark.parametrize("fractions", [{"NaCl": 0.15, "ZnO": 0.85}, {"ZnO": 0.2, "rutile": 0.5, "NaCl": 0.3}])
def test_mixture_found_by_the_library_search_where_the_network_proposes_nothing(zoo_refs, wide_library,
                                                                                fractions):
    """Every phase found and its Hill–Howard fraction within 5 wt % though the network only ever
    proposes a phase that is not there: the search–match of each residual against the library
    proposes them."""
    verdict = identify(GRID, _mixture(zoo_refs, fractions, 5), _blind, wide_library, LINES, VerifyOptions(beam=2, max_phases=4))
    assert sorted(verdict.labels) == sorted(fractions)
    found = {p.name: p.weight_fraction for p in verdict.phases.phases}
    for name, w in fractions.items():
        assert found[name] == pytest.approx(w, abs=0.05)


def test_a_lone_phase_is_not_split_into_two(zoo_refs, wide_library):
    """A single ZnO with a look-alike in the library (same cell, other intensities): one phase."""
    ref, crystal = zoo_refs["ZnO"]
    moved = crystal.frac_coords.copy()
    moved[:, 2] = (moved[:, 2] + 0.07 * (np.array(crystal.elements) == "O")) % 1
    lookalike = reference_from_crystal(Crystal(crystal.lattice, moved, crystal.elements, crystal.occupancy),
                                       "hexagonal", "look-alike", ref.mass)
    verdict = identify(GRID, _mixture(zoo_refs, {"ZnO": 1.0}, 6), _blind,
                       {**wide_library, "look-alike": [lookalike]}, LINES, VerifyOptions(beam=2, max_phases=2))
    assert verdict.labels == ["ZnO"]
    assert verdict.phases.phases[0].weight_fraction == pytest.approx(1.0)


def test_the_mixture_search_fits_every_member_of_a_proposed_label(zoo_refs):
    """A type-level library: label "rutile-type" has a member 12 % too large (out of the ±5 % cell bound)
    and the right one. Search–match names the label only through the wrong member; without the wide
    pre-scale the joint fit tries both members and keeps the right one, so rutile is found with its
    fraction; with it, either member fits at rutile's cell."""
    ref, crystal = zoo_refs["rutile"]
    big = reference_from_crystal(strained(crystal, 1.12, 1.12, 1.12), "tetragonal", "rutile-big", ref.mass)
    library = {"NaCl": [zoo_refs["NaCl"][0]], "rutile-type": [big, ref]}

    def search(pattern, zero):  # names rutile-type by its wrong member only
        return [("rutile-type", big, 1.0), ("NaCl", zoo_refs["NaCl"][0], 0.5)]

    def propose(y):  # the network knows NaCl only
        return [("NaCl", 0.9)]

    fractions = {"NaCl": 0.6, "rutile": 0.4}
    y = _mixture(zoo_refs, fractions, 7)
    verdict = identify(GRID, y, propose, library, LINES, VerifyOptions(beam=2, max_phases=3, all_members=True,
                                                                        scale_bound=0), search=search)
    found = {p.name: p.weight_fraction for p in verdict.phases.phases}
    assert sorted(verdict.labels) == ["NaCl", "rutile-type"] and set(found) == {"NaCl", "rutile"}
    assert found["rutile"] == pytest.approx(0.4, abs=0.05)
    # with the wide pre-scale (the default) the 12 % larger member fits too, scaled onto rutile's cell
    verdict = identify(GRID, y, propose, library, LINES, VerifyOptions(beam=2, max_phases=3, all_members=True),
                       search=search)
    fitted = {p.name: p for p in verdict.phases.phases}
    rutile = next(p for name, p in fitted.items() if name.startswith("rutile"))
    assert sorted(verdict.labels) == ["NaCl", "rutile-type"] and rutile.weight_fraction == pytest.approx(0.4, abs=0.05)
    assert rutile.cell[:3] == pytest.approx(ref.cell[:3] * 1.01, rel=0.005)  # _mixture strains by 1 %


def test_a_weak_scatterer_beside_a_heavy_one_is_found_with_its_fraction(zoo_refs):
    """30 wt % calcite (Ca, C, O) beside CsCl explains about 3 % of the peak area, less than phase_margin:
    it joins through the peaks only it has (VerifyOptions.new_peak_margin), with its Hill–Howard fraction."""
    from spectool.fit.reference import conventional
    from tests.xrd.structures_zoo import zoo

    crystal, system, mass, formula = conventional(zoo()["CsCl"])
    refs = {**zoo_refs, "CsCl": (reference_from_crystal(crystal, system, "CsCl", mass, formula), crystal)}
    library = {name: [ref] for name, (ref, _) in refs.items()}
    fractions = {"CsCl": 0.7, "calcite": 0.3}
    verdict = identify(GRID, _mixture(refs, fractions), lambda y: [("NaCl", 1.0)], library, LINES,
                       VerifyOptions(beam=2, max_phases=4))
    assert sorted(verdict.labels) == sorted(fractions)
    found = {p.name: p.weight_fraction for p in verdict.phases.phases}
    for name, w in fractions.items():
        assert found[name] == pytest.approx(w, abs=0.05)


def _fitted(label: str, score: float, n_lines: int) -> "Candidate":
    """A candidate whose one-phase fit shows ``n_lines`` lines of equal height within GRID."""
    from spectool.fit.engine import FitResult, PhaseFit
    from spectool.fit.verify import Candidate

    two_theta = np.linspace(GRID[0] + 1, GRID[-1] - 1, n_lines)
    phase = PhaseFit(label, np.ones(6), 1.0, 1.0, 1.0, 0.1, 0.5, 0.9, 1.0, two_theta, np.ones(n_lines))
    none = np.zeros(0)
    return Candidate(label, 0.5, FitResult([phase], 0.0, 0.0, 0.1, 0.9, none, none, none), score)


def test_parsimony_reorders_only_fitted_candidates_within_the_margin():
    from spectool.fit.verify import Candidate, parsimonious

    many, few, far = _fitted("many", 0.70, 90), _fitted("few", 0.69, 20), _fitted("far", 0.60, 5)
    assert [c.label for c in parsimonious([many, few, far], GRID, 0.02)] == ["few", "many", "far"]
    assert [c.label for c in parsimonious([many, few, far], GRID, 0.0)] == ["many", "few", "far"]
    unfitted = Candidate("no reference", 0.9, None, 0.71)  # the best has no lines to count: order by score
    assert [c.label for c in parsimonious([many, few, unfitted], GRID, 0.02)] == ["no reference", "many", "few"]
