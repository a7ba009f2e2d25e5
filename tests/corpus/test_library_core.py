"""The structure-type library's pure parts: Wyckoff orbits, AFLOW builds, type keys, AMCSD rows,
names and grouping. Inline records only; nothing here needs kim-tools or larixite."""

from __future__ import annotations

import json
from base64 import b64encode

import numpy as np
import pytest

pytest.importorskip("pymatgen")

from spectool.corpus import aflow, amcsd, wyckoff  # noqa: E402
from spectool.corpus.generate import spacegroup_number  # noqa: E402
from spectool.corpus.grouping import build_types, split, unique_labels  # noqa: E402
from spectool.corpus.sources import (Analysed, aflow_entry, analyse, cif_entry, cif_name, name_from_file,  # noqa: E402
                                     ordered, structure_from_cif)
from spectool.corpus.typekey import primitive_sites, type_key  # noqa: E402

# Records as the encyclopedia's info.json gives them (parameters copied from kim-tools 0.4.15).
HALITE = {"label": "AB_cF8_225_a_b-001", "prototype": "NaCl", "title": "Rock Salt/Halite (NaCl, $B1$) Structure",
          "strukturbericht": "B1", "parameter_symbols": ["a"], "parameter_values": [5.6393]}
QUARTZ = {"label": "A2B_hP9_152_c_a-001", "prototype": "O2Si", "title": "$\\alpha$-Quartz (low Quartz) Structure",
          "strukturbericht": None, "parameter_symbols": ["a", "c/a", "x1", "x2", "y2", "z2"],
          "parameter_values": [4.914, 1.10012, 0.5301, 0.1462, 0.413, 0.88067]}
CORUNDUM = {"label": "A2B3_hR10_167_c_e-001", "prototype": "Al2O3", "strukturbericht": "D5_1",
            "title": "Corundum ($\\alpha$-alumina, Al$_{2}$O$_{3}$, $D5_{1}$) Structure",
            "parameter_symbols": ["a", "c/a", "x1", "x2"], "parameter_values": [4.76067, 2.72958, 0.64784, 0.9439]}
LINIO2 = {"label": "ABC2_hR4_166_a_b_c-010", "prototype": "LiNiO2", "title": "LiNiO$_{2}$ Structure",
          "strukturbericht": None, "parameter_symbols": ["a", "c/a", "z3"], "parameter_values": [2.878, 4.93051, 0.25]}


def _nearest(structure) -> float:
    d = structure.distance_matrix
    return float(d[np.triu_indices(len(structure), 1)].min())


def test_every_wyckoff_orbit_has_its_multiplicity():
    values = {"x": 0.1123, "y": 0.2711, "z": 0.3917}  # generic: no special position by accident
    for key, letters in wyckoff.table().items():
        number, rhombohedral = int(key.rstrip("R")), key.endswith("R")
        for letter, (multiplicity, _) in letters.items():
            images = wyckoff.orbit(number, wyckoff.representative(number, letter, values, rhombohedral))
            assert len(images) == multiplicity * (3 if rhombohedral else 1), (key, letter)


def test_affine_positions_and_rhombohedral_axes():
    matrix, shift = wyckoff.affine("x,2x,-z+1/4")
    assert np.allclose(matrix @ [0.1, 0.0, 0.2] + shift, [0.1, 0.2, 0.05])
    # (x,x,x) on rhombohedral axes is (0,0,x) on hexagonal axes
    assert np.allclose(wyckoff.representative(166, "c", {"x": 0.3}, rhombohedral=True), [0, 0, 0.3])
    with pytest.raises(wyckoff.WyckoffError, match="needs"):
        wyckoff.representative(166, "c", {}, rhombohedral=False)
    with pytest.raises(wyckoff.WyckoffError, match="no Wyckoff position"):
        wyckoff.representative(225, "z", {})


def test_aflow_halite_quartz_and_corundum_are_built_right():
    halite = aflow.build(HALITE)
    assert len(halite) == 8 and halite.composition.reduced_formula == "NaCl"
    assert spacegroup_number(halite) == 225 and _nearest(halite) == pytest.approx(5.6393 / 2)
    quartz = aflow.build(QUARTZ)
    assert len(quartz) == 9 and spacegroup_number(quartz) == 152
    assert _nearest(quartz) == pytest.approx(1.61, abs=0.02)  # Si–O
    corundum = aflow.build(CORUNDUM)  # hR: parameters on rhombohedral axes
    assert len(corundum) == 30 and spacegroup_number(corundum) == 167
    assert _nearest(corundum) == pytest.approx(1.86, abs=0.02)  # Al–O


def test_hr_record_with_hexagonal_parameters_is_read_on_hexagonal_axes():
    structure = aflow.build(LINIO2)
    assert structure.composition.reduced_formula == "LiNiO2" and spacegroup_number(structure) == 166
    assert _nearest(structure) > 1.8


def test_species_follow_the_counts_not_the_alphabet():
    assert aflow.species_order((2, 1), {"O": 2.0, "Si": 1.0}) == ["O", "Si"]
    assert aflow.species_order((1, 2), {"O": 2.0, "Si": 1.0}) == ["Si", "O"]  # a legacy, non-alphabetical label
    with pytest.raises(aflow.BuildError, match="counts"):
        aflow.species_order((1, 3), {"O": 2.0, "Si": 1.0})


def test_a_hydroxyl_group_with_its_own_letter_is_built_as_oxygen():
    assert aflow.parse_units("Mg3O5(OH)4Si2") == {"Mg": 3.0, "O": 5.0, "OH": 4.0, "Si": 2.0}
    elements, composition = aflow.formula_species((3, 5, 4, 2), "Mg3O5(OH)4Si2")  # clinochlore's label
    assert elements == ["Mg", "O", "O", "Si"] and composition == {"Mg": 3.0, "O": 9.0, "Si": 2.0}
    assert aflow.formula_species((2, 1), "O2Si") == (["O", "Si"], {"O": 2.0, "Si": 1.0})
    with pytest.raises(aflow.BuildError, match="not one atom"):
        aflow.formula_species((1, 1), "K(NO3)")
    brucite = {"label": "A2B_hP3_164_d_a-001", "prototype": "Mg(OH)2", "parameter_symbols": ["a", "c/a", "z2"],
               "parameter_values": [3.147, 1.5155, 0.22]}
    built = aflow.build(brucite)
    assert built.composition.reduced_formula == "MgO2" and spacegroup_number(built) == 164


def test_elements_sharing_sites_are_built_as_a_disordered_species():
    assert aflow.mixed_species((1, 8, 4), {"Al": 1.0, "K": 1.0, "O": 8.0, "Si": 3.0}) == \
        ["K", "O", {"Al": 0.25, "Si": 0.75}]  # sanidine's label: Al and Si on the T sites
    solid_solution = {**HALITE, "prototype": "ClK0.5Na0.5"}
    from pymatgen.core import Composition

    built = aflow.build(solid_solution)
    assert {tuple(sorted(site.species.get_el_amt_dict().items())) for site in built} == \
        {(("Cl", 1.0),), (("K", 0.5), ("Na", 0.5))}
    assert built.composition.fractional_composition.almost_equals(Composition("ClK0.5Na0.5").fractional_composition)
    row = analyse(aflow_entry(solid_solution))
    rewritten = structure_from_cif(row.text)
    assert row.key == "AB_cF8_225_a_b" and rewritten.composition.fractional_composition.almost_equals(
        built.composition.fractional_composition)


@pytest.mark.parametrize("change, message", [
    ({"prototype": "Ag5-xTe3"}, "not a formula"),
    ({"prototype": "Na2Cl"}, "matches the formula"),
    ({"parameter_values": [0.8]}, "apart"),
    ({"label": "AB_cF8_225_a_z-001"}, "no Wyckoff position"),
    ({"label": "AB_cF8"}, "not an AFLOW prototype label"),
])
def test_bad_records_are_refused_with_a_reason(change, message):
    with pytest.raises(aflow.BuildError, match=message):
        aflow.build({**HALITE, **change})


def test_names_without_tex():
    assert aflow.names(QUARTZ) == {"strukturbericht": "", "name": "alpha-Quartz (low Quartz)"}
    assert aflow.names(CORUNDUM)["name"] == "Corundum (alpha-alumina, Al2O3, D51)"


def test_type_key_ignores_elements_cell_and_origin():
    from pymatgen.core import Lattice, Structure

    rock = aflow.build(HALITE)
    swapped = Structure(Lattice.cubic(6.6), ["K" if s.specie.symbol == "Na" else "Br" for s in rock],
                        (rock.frac_coords + 0.5) % 1.0)  # other elements, cation on 4b instead of 4a
    key = type_key(rock)
    assert key == type_key(swapped) == type_key(rock.get_primitive_structure()) == type_key(rock * (2, 1, 1))
    assert key == "AB_cF8_225_a_b" and primitive_sites(key) == 2
    assert type_key(aflow.build(CORUNDUM)) == "A2B3_hR10_167_c_e"
    assert type_key(aflow.build(QUARTZ)) != type_key(aflow.build(CORUNDUM))


def _encode(values) -> str:
    return b64encode((np.asarray(values) * 4.0e6).round().astype(np.int32).tobytes()).decode()


AMCSD_ROW = {"id": 42, "mineral": "Halite", "hm": "F m -3 m", "formula": "Na Cl", "title": "Halite at 1 atm",
             "symops": json.dumps(["x,y,z", "-x,-y,z", "-x,y,-z", "x,-y,-z", "z,x,y", "z,-x,-y", "-z,-x,y",
                                   "-z,x,-y", "y,z,x", "-y,z,-x", "y,-z,-x", "-y,-z,x", "y,x,-z", "-y,-x,-z",
                                   "y,-x,z", "-y,x,z", "x,z,-y", "-x,z,y", "-x,-z,-y", "x,-z,y", "z,y,-x",
                                   "z,-y,x", "-z,y,x", "-z,-y,-x", "x+1/2,y+1/2,z", "x+1/2,y,z+1/2",
                                   "x,y+1/2,z+1/2"]),
             "a": "5.64", "b": "5.64", "c": "5.64", "alpha": "90", "beta": "90", "gamma": "90",
             "sites": json.dumps(["Na", "Cl"]), "x": _encode([0, 0.5]), "y": _encode([0, 0.5]),
             "z": _encode([0, 0.5]), "occupancy": "0", "journal": "American Mineralogist", "volume": "10",
             "year": 1925, "page_first": "281", "page_last": "304", "authors": "Ramsdell L S; Other A"}


def test_amcsd_row_becomes_a_cif_that_keeps_its_reference():
    text = amcsd.cif_text(AMCSD_ROW)
    structure = structure_from_cif(text)
    assert structure.composition.reduced_formula == "NaCl" and spacegroup_number(structure) == 225
    assert "_journal_name_full 'American Mineralogist'" in text and "'Other A'" in text
    assert amcsd.reference(AMCSD_ROW) == "Ramsdell L S; Other A (1925) American Mineralogist 10, 281-304"
    assert np.isnan(amcsd.decode(_encode([0.25, 2.0])))[1]  # 2 is the database's '?'
    mixed = {**AMCSD_ROW, "sites": json.dumps(["Na", "K", "Cl"]), "x": _encode([0, 0, 0.5]), "y": _encode([0, 0, 0.5]),
             "z": _encode([0, 0, 0.5])}  # Na and K share a site, no occupancies given
    assert structure_from_cif(amcsd.cif_text(mixed))[0].species.as_dict() == {"Na": 0.5, "K": 0.5}
    assert np.allclose(amcsd.shared_site_occupancies(np.zeros((2, 3)), np.array([0.8, 0.202])), [0.8 / 1.002,
                                                                                               0.202 / 1.002])
    with pytest.raises(Exception, match="no usable atom positions"):
        amcsd.cif_text({**AMCSD_ROW, "x": _encode([0.0, 2.0])})


DISORDERED = """data_x
_cell_length_a 4.2
_cell_length_b 4.2
_cell_length_c 4.2
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
_chemical_name_mineral 'Periclase'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Mg1 Mg 0 0 0 0.7
Fe1 Fe 0 0 0 0.3
O1 O 0.5 0.5 0.5 1
H1 H 0.1 0.1 0.1 1
X1 O 0.3 0.3 0.3 0.2
"""


def test_ordered_keeps_majority_species_and_drops_hydrogen_and_partial_sites():
    simple = ordered(structure_from_cif(DISORDERED))
    assert sorted(s.specie.symbol for s in simple) == ["Mg", "O"]
    assert cif_name(DISORDERED) == "Periclase"
    assert name_from_file("Al2Si2O9H4-Kaolinite") == "Kaolinite" and name_from_file("mp-1234") == ""
    assert cif_entry("x/MgO.cif", DISORDERED, "periclase-table").name == "periclase-table"


def test_a_cif_with_overfull_sites_is_rescaled_and_rewritten():
    overfull = DISORDERED.replace("Fe1 Fe 0 0 0 0.3", "Fe1 Fe 0 0 0 0.5")  # Mg 0.7 + Fe 0.5 on one site
    with pytest.raises(Exception, match="unreadable CIF"):
        structure_from_cif(overfull)
    row = analyse(cif_entry("x/overfull.cif", overfull))
    rewritten = structure_from_cif(row.text)  # readable with the usual tolerance
    lenient = structure_from_cif(overfull, occupancy_tolerance=2.0)
    assert rewritten.composition.fractional_composition.almost_equals(lenient.composition.fractional_composition)
    assert row.name == "Periclase" and row.compound == "MgO"
    assert "occupancies rescaled" in row.text.splitlines()[0]


def test_a_structure_simulate_would_refuse_is_left_out():
    overlapping = DISORDERED.replace("X1 O 0.3 0.3 0.3 0.2", "X1 O 0.56 0.5 0.5 1")  # two O 0.25 Å apart
    # (0.004 Å apart they would be one atom listed twice, read once: test_an_atom_listed_twice_…)
    with pytest.raises(Exception, match="overlapping atoms"):
        analyse(cif_entry("x/overlap.cif", overlapping))


def test_analyse_gives_compound_key_and_cif():
    row = analyse(aflow_entry(CORUNDUM))
    assert (row.key, row.compound, row.spacegroup, row.sites) == ("A2B3_hR10_167_c_e", "Al2O3", 167, 10)
    assert row.strukturbericht == "D5_1" and structure_from_cif(row.text).composition.reduced_formula == "Al2O3"


def _row(id, source, name, compound, key="AB_cF8_225_a_b"):
    return Analysed(id=id, source=source, name=name, strukturbericht="", reference="", licence="", origin=id,
                    formula=compound, compound=compound, key=key, spacegroup=225, sites=2, text="")


def test_types_are_named_capped_and_split_by_whole_compound():
    rows = [_row("amcsd-1", "amcsd", "Halite", "NaCl"), _row("amcsd-2", "amcsd", "halite", "NaCl"),
            _row("amcsd-3", "amcsd", "Sylvite", "KCl"), _row("cif-1", "cifs", "", "KBr"),
            _row("cif-2", "cifs", "", "LiF"), _row("cif-3", "cifs", "", "AgCl"),
            _row("cif-9", "cifs", "", "CsCl", key="AB_cP2_221_a_b")]
    types, unnamed = build_types(rows, per_type=4, holdout=0.5, seed=0)
    assert unnamed == 1 and len(types) == 1  # the CsCl-type entry has no name: it cannot found a type
    (halite,) = types
    assert halite.label == "Halite" and halite.names[:2] == ["Halite", "Sylvite"]
    assert len(halite.entries) == 4 and len({e.compound for e in halite.entries}) == 4  # one per compound first
    by_compound = {}
    for entry, where in zip(halite.entries, halite.splits):
        by_compound.setdefault(entry.compound, set()).add(where)
    assert all(len(s) == 1 for s in by_compound.values())
    assert halite.splits[0] == "train" and halite.splits.count("test") == 2
    again, _ = build_types(list(reversed(rows)), per_type=4, holdout=0.5, seed=0)
    assert [e.id for e in again[0].entries] == [e.id for e in halite.entries] and again[0].splits == halite.splits
    seeds = {tuple(split(halite.entries, 0.5, seed, halite.key)) for seed in range(8)}
    assert len(seeds) > 1 and all(s[0] == "train" for s in seeds)  # the seed picks the test compounds


def test_a_type_is_named_after_its_aflow_prototypes_mineral_when_the_sources_name_it():
    rows = [_row(f"amcsd-{i}", "amcsd", "Tapiolite-(Fe)", "FeTa2O6", key="AB2_tP6_136_a_f") for i in range(3)]
    rows += [_row("amcsd-9", "amcsd", "Rutile", "TiO2", key="AB2_tP6_136_a_f"),
             _row("aflow-1", "aflow", "Rutile (TiO2, C4)", "TiO2", key="AB2_tP6_136_a_f")]
    (kind,), _ = build_types(rows, per_type=4, holdout=0.0, seed=0)
    assert kind.label == "Rutile" and kind.names == ["Rutile", "Tapiolite-(Fe)"]
    no_rutile, _ = build_types(rows[:3] + rows[4:], per_type=4, holdout=0.0, seed=0)
    assert no_rutile[0].names == ["Tapiolite-(Fe)"]  # by frequency when no source names the prototype's mineral
    rock_salt = [_row(f"amcsd-{i}", "amcsd", "Periclase", "MgO") for i in range(3)]
    rock_salt += [_row("amcsd-9", "amcsd", "Halite", "NaCl"), _row("aflow-1", "aflow", "Rock Salt (NaCl, B1)", "NaCl")]
    (kind,), _ = build_types(rock_salt, per_type=4, holdout=0.0, seed=0)
    assert kind.label == "Halite"  # the mineral whose compound is the prototype's
    assert kind.title == "Rock Salt (NaCl, B1)"


def test_a_types_aflow_title_is_its_minerals_prototype_not_the_first_listed():
    rows = [_row("aflow-0", "aflow", "Low Temperature KBD4", "KB"), _row("amcsd-1", "amcsd", "Halite", "NaCl"),
            _row("aflow-1", "aflow", "Rock Salt/Halite (NaCl, B1)", "NaCl")]
    (kind,), _ = build_types(rows, per_type=4, holdout=0.0, seed=0)
    assert (kind.label, kind.title) == ("Halite", "Rock Salt/Halite (NaCl, B1)")
    (kind,), _ = build_types(rows[:2], per_type=4, holdout=0.0, seed=0)
    assert (kind.label, kind.title) == ("Halite", "Low Temperature KBD4")  # none names it: the first


def test_labels_are_unique_the_largest_type_keeps_the_bare_name():
    from spectool.corpus.grouping import LibraryType

    big = LibraryType("A2B_hP9_152_c_a", "", ["Quartz"], "", "", [_row("a", "amcsd", "Quartz", "SiO2")] * 3)
    small = LibraryType("A2B_hP9_180_c_j", "", ["Quartz"], "", "", [_row("b", "amcsd", "Quartz", "SiO2")])
    other = LibraryType("AB_cF8_225_a_b", "", [], "B1", "Rock Salt", [_row("c", "aflow", "", "NaCl")])
    assert unique_labels([small, big, other]) == ["Quartz-180", "Quartz", "B1"]


def test_left_and_right_handed_quartz_have_one_key():
    right = aflow.build(QUARTZ)
    left = right.copy()
    left.scale_lattice(right.volume)
    for i, site in enumerate(right):
        left.replace(i, site.species, coords=-site.frac_coords)
    assert {spacegroup_number(right), spacegroup_number(left)} == {152, 154}
    assert type_key(left) == type_key(right) and "_152_" in type_key(left)


def _rhombohedral(name, species, a, c, x):
    """An R-3c ABO3 CIF entry: A on 6b, B on 6a, O on 18e (x, 0, 1/4) (hexagonal axes)."""
    from pymatgen.core import Lattice, Structure

    from spectool.corpus.sources import cif_of_structure

    structure = Structure.from_spacegroup(167, Lattice.hexagonal(a, c), species,
                                          [[0, 0, 0], [0, 0, 0.25], [x, 0, 0.25]])
    return analyse(cif_entry(f"{name}.cif", cif_of_structure(structure, name), name))


def test_one_key_holding_two_structures_gives_two_types():
    calcite = _rhombohedral("Calcite", ["Ca", "C", "O"], 4.99, 17.06, 0.2578)
    magnesite = _rhombohedral("Magnesite", ["Mg", "C", "O"], 4.63, 15.02, 0.2778)
    perovskite = _rhombohedral("Lanthanum aluminate", ["Al", "La", "O"], 5.36, 13.11, 0.545)
    assert calcite.key == magnesite.key == perovskite.key  # same Wyckoff sites, different structures
    types, _ = build_types([calcite, magnesite, perovskite], per_type=4, holdout=0.0, seed=0)
    assert sorted(sorted(e.compound for e in t.entries) for t in types) == [["CaCO3", "MgCO3"], ["LaAlO3"]]
    assert len({t.label for t in types}) == 2


def test_a_type_keeps_its_prototype_and_namesake_compounds_in_training():
    def row(id, source, name, compound, origin):
        return Analysed(id=id, source=source, name=name, strukturbericht="", reference="", licence="",
                        origin=origin, formula=compound, compound=compound, key="AB_cF8_225_a_b", spacegroup=225,
                        sites=2, text="")

    rows = [row("aflow-a", "aflow", "Low Temperature KBD4", "KB", "AB4C_tP12_137_a_g_b-001"),
            row("aflow-b", "aflow", "Rock Salt/Halite (NaCl, B1) Structure", "NaCl", "AB_cF8_225_a_b-001"),
            row("amcsd-0", "amcsd", "Halite", "NaCl", "AMCSD 0")]
    rows += [row(f"amcsd-{i}", "amcsd", "<missing>", f"X{i}Y", f"AMCSD {i}") for i in range(1, 30)]
    for seed in range(5):
        (kind,), _ = build_types(rows, per_type=6, holdout=0.5, seed=seed)
        assert kind.entries[0].id == "aflow-b"  # the type's own prototype, not KBD4 (rock salt without H)
        where = {e.compound: s for e, s in zip(kind.entries, kind.splits)}
        assert where["NaCl"] == "train" and list(where.values()).count("test") == 3  # never the namesake compound


def test_an_atom_listed_twice_is_read_once_and_a_shared_site_is_kept():
    from spectool.corpus.sources import cif_of_structure, without_repeats
    from pymatgen.core import Lattice, Structure

    twice = Structure(Lattice.cubic(4.0), ["Si", "Si", "O", "Al"], [[0, 0, 0], [0.0005, 0, 0], [0.5, 0.5, 0.5],
                                                                  [0.5, 0.5, 0.5]])
    once = without_repeats(twice)
    assert [s.specie.symbol for s in once] == ["Si", "O", "Al"]  # the Si repeat goes; O and Al share a site
    text = cif_of_structure(Structure(Lattice.cubic(4.0), ["Si", "Si"], [[0, 0, 0], [0.0005, 0, 0]]), "x")
    assert len(structure_from_cif(text)) == 1


def test_a_cif_listing_an_atom_twice_is_written_anew_for_every_reader(tmp_path):
    from spectool.xrd.structures import load_structures, validate

    text = ("data_x\n_cell_length_a 4.0\n_cell_length_b 4.0\n_cell_length_c 4.0\n_cell_angle_alpha 90\n"
            "_cell_angle_beta 90\n_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'P 1'\n"
            "_chemical_name_mineral Twice\nloop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
            "_atom_site_fract_y\n_atom_site_fract_z\nNa1 Na 0 0 0\nNa2 Na 0.0003 0 0\nCl1 Cl 0.5 0.5 0.5\n")
    row = analyse(cif_entry("twice.cif", text, "Twice"))
    assert "atoms listed twice read once" in row.text
    (tmp_path / "twice.cif").write_text(row.text)
    (loaded,) = load_structures(tmp_path / "twice.cif")  # simulate's reader (gemmi)
    validate(loaded.crystal)  # the overlap that simulate refused is gone
    assert loaded.formula.replace(" ", "") in ("NaCl", "Na1Cl1")


def _spinel(name, species, a, x):
    """A spinel CIF entry: species on 8a, 16d and 32e (x, x, x) of Fd-3m (origin choice 1, pymatgen's)."""
    from pymatgen.core import Lattice, Structure

    from spectool.corpus.sources import cif_of_structure

    structure = Structure.from_spacegroup(227, Lattice.cubic(a), species,
                                          [[0, 0, 0], [0.625, 0.625, 0.625], [x, x, x]])
    return analyse(cif_entry(f"{name}.cif", cif_of_structure(structure, name), name))


def test_two_decorations_of_one_structure_are_one_type():
    from spectool.corpus.typekey import decoration_key

    spinel = _spinel("Spinel", ["Mg", "Al", "O"], 8.08, 0.3874)
    magnetite = _spinel("Magnetite", ["Fe", "Fe", "O"], 8.396, 0.3799)  # Fe on both cation sites
    assert spinel.key != magnetite.key and decoration_key(spinel.key) == decoration_key(magnetite.key)
    (kind,), _ = build_types([spinel, magnetite], per_type=4, holdout=0.0, seed=0)
    assert sorted(e.compound for e in kind.entries) == ["Fe3O4", "MgAl2O4"]
    assert kind.key in (spinel.key, magnetite.key)


def test_decoration_key_drops_species_but_keeps_orbits():
    from spectool.corpus.typekey import decoration_key

    sanidine, orthoclase = "AB4C8_mC52_12_i_2j_gi3j", "AB2C2D8_mC52_12_i_j_j_gi3j"
    assert decoration_key(sanidine) == decoration_key(orthoclase) == "mC52_12_g2i5j"
    assert decoration_key("AB_cF8_225_a_b") == decoration_key("AB_cF8_225_b_a") == "cF8_225_ab"
    assert decoration_key("AB_cF8_225_a_b") != decoration_key("A_cF4_225_a")
    assert decoration_key("A_cF4_225_a#2") == decoration_key("A_cF4_225_a")
