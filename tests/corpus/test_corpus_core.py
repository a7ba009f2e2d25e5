"""The corpus core: library labels, substitution chemistry, symmetry-keeping lattice variation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymatgen")

from spectool.corpus.chemistry import ionic_charges, make_plan  # noqa: E402
from spectool.corpus.generate import assign_split, build_type, compounds_for_type, spacegroup_number  # noqa: E402
from spectool.corpus.lattice import point_group_rotations, random_strain, symmetrise  # noqa: E402
from spectool.corpus.library import DUPLICATES, load_library, make_labels, select_types  # noqa: E402


@pytest.fixture(scope="module")
def library():
    return load_library()


def _type(library, name):
    (kind,) = select_types(library, [name])
    return kind


def test_labels_are_unique_and_file_system_safe(library):
    labels = [t.label for t in library]
    assert len(set(labels)) == len(labels) == len(library) > 250
    assert all(label.replace("_", "").replace("-", "").replace(".", "").isalnum() for label in labels)
    assert make_labels([("B1", "AB_cF8_225_a_b", "NaCl"), ("C22", "x", "Fe2P"), ("C22", "y", "Fe2P"),
                        ("", "z", "O"), ("", "z", "C"), ("L'2", "w", "ThH2")]) == \
        ["B1", "C22-x", "C22-y", "z-O", "z-C", "Lprime2", ]


def test_named_minerals_are_in_the_library(library):
    expected = {"halite": "B1", "fluorite": "C1", "rutile": "C4", "corundum": "D5_1", "pyrite": "C2",
                "spinel": "H1_1", "calcite": "G0_1", "quartz (alpha)": "A2B_hP9_152_c_a",
                "wurtzite": "B4", "sphalerite": "B3", "(cubic) perovskite": "E2_1"}
    for name, label in expected.items():
        assert [t.label for t in select_types(library, [name])] == [label], name
    small = {t.label for t in select_types(library, max_sites=40)}
    assert set(expected.values()) <= small


def test_selection_by_size_and_duplicates(library):
    chosen = select_types(library, max_sites=4, min_sites=2)
    assert chosen and all(2 <= t.sites <= 4 for t in chosen)
    assert not any(t.aflow in DUPLICATES for t in select_types(library))
    with pytest.raises(Exception, match="no structure type"):
        select_types(library, ["no-such-type"])


def test_ionic_substitution_keeps_charge_balance_and_sites(library):
    halite = _type(library, "B1")
    plan = make_plan(halite.structure)
    assert plan.ionic and dict(zip(plan.elements, plan.charges)) == {"Na": 1, "Cl": -1}
    result = compounds_for_type(halite, 10, seed=3)
    formulas = {c.formula for c in result.compounds}
    assert "NaCl" in formulas and len(formulas) == len(result.compounds) >= 8
    for compound in result.compounds:
        structure = compound.structure
        assert len(structure) == len(halite.structure)
        charges = ionic_charges(structure.composition)
        assert charges is not None and sum(charges[el.symbol] * n for el, n in structure.composition.items()) == 0
        assert all(el.symbol in {"Li", "Na", "K", "Rb", "Cs", "Ag", "Cu", "Tl", "Hg", "F", "Cl", "Br", "I"}
                   for el in structure.composition)


def test_compounds_keep_the_space_group(library):
    for name in ("C4", "B4", "G0_1", "H1_1", "C14"):
        kind = _type(library, name)
        number = spacegroup_number(kind.structure)
        result = compounds_for_type(kind, 6, seed=1)
        assert len(result.compounds) >= 3
        assert all(spacegroup_number(c.structure) == number == c.spacegroup for c in result.compounds)


def test_prototype_is_compound_zero_unchanged(library):
    kind = _type(library, "C1")
    first = compounds_for_type(kind, 3, seed=0).compounds[0]
    assert first.draw == -1 and first.substitution == "" and first.scale == 1.0
    assert np.allclose(first.structure.lattice.matrix, kind.structure.lattice.matrix)


def test_deterministic_for_a_seed_and_prefix_stable(library):
    kind = _type(library, "L1_2")
    a, b = compounds_for_type(kind, 8, seed=7), compounds_for_type(kind, 8, seed=7)
    assert [c.id for c in a.compounds] == [c.id for c in b.compounds]
    assert all(np.array_equal(x.structure.lattice.matrix, y.structure.lattice.matrix)
               for x, y in zip(a.compounds, b.compounds))
    shorter = compounds_for_type(kind, 4, seed=7)
    assert [c.id for c in shorter.compounds] == [c.id for c in a.compounds[:4]]
    assert [c.id for c in compounds_for_type(kind, 8, seed=8).compounds] != [c.id for c in a.compounds]


def test_holdout_is_by_whole_compound(library):
    row, rows, texts, _ = build_type("C14", 20, 0, 0.25)
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids) == len(texts) == row["compounds"]
    test = [r for r in rows if r["split"] == "test"]
    assert len(test) == row["test"] == round(0.25 * len(rows)) and rows[0]["split"] == "train"
    assert all(r["path"] == f"{r['split']}/C14/{r['id']}.cif" for r in rows)
    again = build_type("C14", 20, 0, 0.25)[1]
    assert [r["split"] for r in again] == [r["split"] for r in rows]


def test_zero_holdout_keeps_everything_in_train(library):
    result = compounds_for_type(_type(library, "B2"), 5, seed=0)
    assign_split(result, 0.0, 0)
    assert {c.split for c in result.compounds} == {"train"}


@pytest.mark.parametrize("name, free", [("B1", 0), ("C4", 1), ("B4", 1), ("D5_1", 1), ("C14", 1)])
def test_symmetrised_strain_keeps_the_point_group(library, name, free):
    structure = _type(library, name).structure
    numbers = [s.specie.Z for s in structure]
    rotations = point_group_rotations(structure.lattice.matrix, structure.frac_coords, numbers)
    strain = random_strain(np.random.default_rng(0), 0.05, rotations)
    for r in rotations:
        assert np.allclose(r @ strain @ r.T, strain, atol=1e-12)
    assert abs(np.trace(strain)) < 1e-12
    assert (np.abs(strain).max() > 1e-4) == bool(free)  # cubic: volume only, which the caller sets
    assert np.allclose(symmetrise(strain, rotations), strain)
