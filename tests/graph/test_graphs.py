"""Structures as graphs: .xyz parsing, electron-configuration features, neighbour lists (against
pymatgen), periodic against molecular graphs of the same cluster, virtual atoms."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.graph.atoms import Atoms, atoms_from_crystal, parse_xyz
from spectool.graph.features import N_FEATURES, configuration, feature_table, valence
from spectool.graph.neighbours import nearest
from spectool.graph.star import star_graphs
from tests.conftest import DATA

XYZ = "3\nwater with an iron\nFe 0 0 0\n8 1.9 0 0\nH 2.5 0.7 0\n"


def test_xyz_reads_symbols_and_atomic_numbers():
    atoms = parse_xyz(XYZ)
    assert atoms.numbers.tolist() == [26, 8, 1] and not atoms.periodic
    np.testing.assert_allclose(atoms.positions[2], [2.5, 0.7, 0.0])


@pytest.mark.parametrize("text, line, what", [
    ("2\n\nFe 0 0 0\nQq 1 0 0\n", 4, "unknown element 'Qq'"),
    ("2\n\nFe 0 0 0\n200 1 0 0\n", 4, "unknown element '200'"),
    ("2\n\nFe 0 0 0\n", 3, "of 2 atoms with 1 atom lines"),
    ("two\n\n", 1, "number of atoms"),
    ("1\n\nFe 0 zero 0\n", 3, "coordinates must be numbers"),
])
def test_bad_xyz_is_one_format_error_with_its_line(text, line, what):
    with pytest.raises(FormatError, match=what) as caught:
        parse_xyz(text)
    assert caught.value.line == line


def test_a_structure_without_the_absorber_is_refused():
    with pytest.raises(FormatError, match="no Co atom"):
        parse_xyz(XYZ).sites_of("Co")


def test_electron_configuration_features():
    assert configuration(26)[:7].tolist() == [2, 2, 6, 2, 6, 2, 6]  # Fe: [Ar] 4s2 3d6
    assert configuration(118).sum() == 118
    assert [valence(configuration(z)) for z in (1, 8, 26, 29)] == [1, 6, 8, 11]
    table = feature_table()
    assert table.shape == (119, N_FEATURES) and not table[0].any()
    assert len({tuple(row) for row in table[1:]}) == 118  # every element its own features


def _nacl():
    from spectool.xrd.structures import load_structures

    return load_structures(DATA / "cifs" / "nacl_Fm-3m.cif")[0]


def test_neighbour_list_of_a_crystal_matches_pymatgen():
    from pymatgen.core import Structure

    loaded = _nacl()
    atoms = atoms_from_crystal(loaded.crystal)
    structure = Structure(atoms.lattice, atoms.symbols, atoms.positions, coords_are_cartesian=True)
    for site in (0, len(atoms.numbers) - 1):
        ours = nearest(atoms, site, k=200, cutoff=6.0)
        theirs = sorted(structure.get_neighbors(structure[site], 6.0), key=lambda n: (round(n.nn_distance, 6), n.index))
        assert len(ours.index) == len(theirs)
        np.testing.assert_allclose(ours.distances, [n.nn_distance for n in theirs], atol=1e-6)
        assert sorted(zip(np.round(ours.distances, 5), ours.index)) == \
            sorted(zip(np.round([n.nn_distance for n in theirs], 5), [n.index for n in theirs]))
        assert structure[ours.index[0]].specie.symbol != structure[site].specie.symbol  # Na's first shell: Cl


def test_periodic_and_molecular_graphs_of_the_same_cluster_agree():
    crystal = atoms_from_crystal(_nacl().crystal)
    # the cluster: every periodic image within 9 Å of atom 0, as a molecule
    from spectool.graph.neighbours import candidates

    index, positions = candidates(crystal, 9.0)
    keep = np.linalg.norm(positions - crystal.positions[0], axis=1) <= 9.0
    order = np.argsort(np.linalg.norm(positions[keep] - crystal.positions[0], axis=1), kind="stable")
    molecule = Atoms(crystal.numbers[index[keep]][order], positions[keep][order])
    assert molecule.numbers[0] == crystal.numbers[0]
    periodic = star_graphs([crystal], crystal.symbols[0], k=20, cutoff=8.0)
    cluster = star_graphs([molecule], crystal.symbols[0], k=20, cutoff=8.0)
    first = cluster.of_samples(np.array([0]))
    centre_graph = np.flatnonzero(first.site == 0)[0]
    np.testing.assert_allclose(periodic.distances[0], first.distances[centre_graph], atol=1e-6)
    assert periodic.numbers[0].tolist() == first.numbers[centre_graph].tolist()
    assert sorted(map(tuple, np.round(periodic.vectors[0], 4))) == sorted(map(tuple, np.round(first.vectors[centre_graph], 4)))


def test_fewer_neighbours_than_k_are_padded_with_virtual_atoms_at_the_cutoff():
    graphs = star_graphs([parse_xyz(XYZ)], "Fe", k=5, cutoff=8.0)
    assert graphs.numbers.tolist() == [[8, 1, 0, 0, 0]]
    np.testing.assert_allclose(graphs.distances[0, 2:], 8.0)
    assert not graphs.vectors[0, 2:].any()


def test_one_graph_per_absorbing_site_and_samples_kept_apart():
    two_fe = parse_xyz("3\n\nFe 0 0 0\nFe 2.4 0 0\nO 1.2 1 0\n")
    graphs = star_graphs([two_fe, parse_xyz(XYZ)], "Fe", k=4, cutoff=6.0)
    assert graphs.sample.tolist() == [0, 0, 1] and graphs.site.tolist() == [0, 1, 0]
    again = graphs.of_samples(np.array([1, 0]))
    assert again.sample.tolist() == [0, 1, 1] and again.site.tolist() == [0, 0, 1]


def test_line_graph_bonds_and_angles():
    from spectool.graph.line import line_graph, line_graphs

    bent = parse_xyz("3\n\nO 0 0 0\nH 1 0 0\nH 0 1 0\n")
    g = line_graph(bent, k=2, cutoff=1.2)  # O–H bonds only (H···H is 1.41 Å)
    assert sorted(zip(g.src.tolist(), g.dst.tolist())) == [(0, 1), (0, 2), (1, 0), (2, 0)]
    assert len(g.cosines) == 2 and np.allclose(g.cosines, 0.0, atol=1e-6)  # the right angle at O, both ways
    batch = line_graphs([bent, bent], k=2, cutoff=1.2).tensors()
    assert batch["sample"].tolist() == [0, 0, 0, 1, 1, 1] and batch["src"].max() == 5 and batch["bond_a"].max() == 5
