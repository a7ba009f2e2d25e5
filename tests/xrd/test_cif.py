"""The gemmi CIF reader against pymatgen's CifParser path, on small CIFs in tests/data/cifs and
made here: occupancies, ADPs, hexagonal and rhombohedral settings, fallbacks and errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.xrd import cif
from spectool.xrd.crystal import close_pairs
from spectool.xrd.reflections import compute_reflections
from spectool.xrd.structures import load_structures, reduced_formula

pytest.importorskip("pymatgen")
pytest.importorskip("gemmi")

DATA = Path(__file__).resolve().parents[1] / "data" / "cifs"
CIFS = sorted(DATA.glob("*.cif"))
# no operations listed (pymatgen's space-group tables); text before the first block (gemmi refuses it)
PYMATGEN_ONLY = {"symbol_only_Pm-3m.cif", "three_blocks.cif"}
CELL = "_cell_length_a {a}\n_cell_length_b {a}\n_cell_length_c {c}\n_cell_angle_alpha {al}\n" \
       "_cell_angle_beta {al}\n_cell_angle_gamma {ga}\n"


def _sites(crystal, with_b: bool = True) -> np.ndarray:
    frac = crystal.frac_coords - np.floor(crystal.frac_coords)
    frac[frac > 1 - 1e-9] -= 1
    key = np.array([hash(e) % 100003 for e in crystal.elements], float)
    rows = np.column_stack([key, frac, crystal.occupancy] + ([crystal.b_iso] if with_b else []))
    return rows[np.lexsort(rows.T[::-1])]


def _same_as_pymatgen(path: Path, b_shared_sites: bool = False) -> None:
    fast, slow = load_structures(path), load_structures(path, fast=False)
    assert [s.name for s in fast] == [s.name for s in slow]
    for f, s in zip(fast, slow):
        assert f.formula == s.formula
        np.testing.assert_allclose(f.crystal.lattice, s.crystal.lattice, rtol=0, atol=1e-12)  # Å
        np.testing.assert_allclose(_sites(f.crystal, not b_shared_sites), _sites(s.crystal, not b_shared_sites),
                                   atol=1e-12)
        rf = compute_reflections(f.crystal, 1.54184, (5, 120)).scaled(100)
        rs = compute_reflections(s.crystal, 1.54184, (5, 120)).scaled(100)
        np.testing.assert_allclose(rf.two_theta, rs.two_theta, atol=1e-9)
        np.testing.assert_allclose(rf.intensity, rs.intensity, atol=1e-7 if not b_shared_sites else 0.5)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_data_present():
    assert len(CIFS) >= 6


@pytest.mark.parametrize("path", CIFS, ids=lambda p: p.name)
def test_same_structures_as_pymatgen(path):
    assert (cif.read_cif(path.read_text()) is None) == (path.name in PYMATGEN_ONLY)
    # pymatgen's path gives both species of the spinel's shared site the B of its last label
    _same_as_pymatgen(path, b_shared_sites=path.name == "spinel_disordered.cif")


def test_expected_contents():
    (nacl,) = load_structures(DATA / "nacl_Fm-3m.cif")
    assert len(nacl.crystal.elements) == 8 and nacl.crystal.lattice[0, 0] == pytest.approx(5.6402)
    np.testing.assert_allclose(sorted(set(np.round(nacl.crystal.b_iso, 12))), [0.98, 1.21])
    (yag,) = load_structures(DATA / "garnet_Ia-3d.cif")
    assert len(yag.crystal.elements) == 160 and yag.formula == "Y3Al5O12"
    (quartz,) = load_structures(DATA / "quartz_P3221.cif")
    assert len(quartz.crystal.elements) == 9
    assert any("rounded to ideal" in m for m in quartz.messages)
    assert 2 / 3 in quartz.crystal.frac_coords


def test_occupancies_and_shared_sites():
    (sp,) = load_structures(DATA / "spinel_disordered.cif")
    half = sp.crystal.occupancy < 1
    assert half.sum() == 16 and set(np.asarray(sp.crystal.elements)[half]) == {"Fe", "Ni"}
    assert len(np.unique(sp.crystal.site)) == 56  # the 0-occupancy Fe3 is left out
    shared = sp.crystal.site[half]
    assert len(np.unique(shared)) == 8  # Fe 0.5 + Ni 0.5 on each of the 8 shared positions
    assert dict(zip(*np.unique(np.asarray(sp.crystal.elements)[half], return_counts=True))) == {"Fe": 8, "Ni": 8}


ADP = ("data_adp\n" + CELL.format(a=4.0, c=6.0, al=90, ga=90) + "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n"
       "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
       "_atom_site_fract_z\n_atom_site_occupancy\n_atom_site_U_iso_or_equiv\n"
       "Fe1 Fe2+ 0 0 0 0.75 0.0100(2)\nO1 O2- 0.5 0.5 0.5 1 ?\nO2 O2- 0.5 0 0.5 1 ?\n"
       "loop_\n_atom_site_aniso_label\n_atom_site_aniso_U_11\n_atom_site_aniso_U_22\n_atom_site_aniso_U_33\n"
       "_atom_site_aniso_U_12\n_atom_site_aniso_U_13\n_atom_site_aniso_U_23\n"
       "O1 0.01 0.02 0.03 0.004 0 0\n")


def test_adps_charges_and_occupancy(tmp_path):
    (s,) = load_structures(_write(tmp_path, "adp.cif", ADP))
    assert s.crystal.elements == ("Fe", "O", "O")  # Fe2+ / O2- scatter as their elements
    assert s.crystal.occupancy.tolist() == [0.75, 1.0, 1.0]
    assert s.crystal.b_iso[0] == pytest.approx(8 * math.pi**2 * 0.01)
    # orthogonal cell: U_eq is the mean of the diagonal (U12 does not count)
    assert s.crystal.b_iso[1] == pytest.approx(8 * math.pi**2 * 0.02)
    assert s.crystal.b_iso[2] == 0.0  # no ADP at all
    assert s.formula == "Fe0.75O2"  # pymatgen's formula of a fractional composition


def test_u_eq_of_an_oblique_cell_is_invariant():
    """U_eq of an isotropic tensor written in CIF convention (U^ij = U (a*_i·a*_j)/(|a*_i||a*_j|))
    is U, in any cell."""
    from spectool.xrd.crystal import lattice_matrix

    lattice = lattice_matrix(5.0, 6.0, 7.0, 80.0, 100.0, 115.0)
    recip = np.linalg.inv(lattice).T
    norms = np.linalg.norm(recip, axis=1)
    u_cif = 0.02 * (recip @ recip.T) / np.outer(norms, norms)

    class Aniso:
        u11, u22, u33, u12, u13, u23 = (u_cif[0, 0], u_cif[1, 1], u_cif[2, 2], u_cif[0, 1], u_cif[0, 2],
                                        u_cif[1, 2])

        def nonzero(self):
            return True

    assert cif.site_b(0.0, Aniso(), lattice) == pytest.approx(8 * math.pi**2 * 0.02, rel=1e-12)


def test_hexagonal_setting_with_listed_operations(tmp_path):
    """Corundum (R-3c, hexagonal axes) as pymatgen writes it symmetrised: 36 operations."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    s = Structure.from_spacegroup("R-3c", Lattice.hexagonal(4.759, 12.991), ["Al", "O"],
                                  [[0, 0, 0.35216], [0.30624, 0, 0.25]])
    path = tmp_path / "corundum.cif"
    CifWriter(s, symprec=0.01).write_file(path)
    assert cif.read_cif(path.read_text()) is not None
    (got,) = load_structures(path)
    assert len(got.crystal.elements) == 30 and got.formula == "Al2O3"
    _same_as_pymatgen(path)


def test_rhombohedral_axes(tmp_path):
    """R-3 on rhombohedral axes (a = b = c, α = β = γ ≠ 90°), atoms on and off the 3-fold axis."""
    ops = ["x,y,z", "z,x,y", "y,z,x", "-x,-y,-z", "-z,-x,-y", "-y,-z,-x"]
    text = ("data_rh\n" + CELL.format(a=5.1, c=5.1, al=55.3, ga=55.3)
            + "loop_\n_space_group_symop_operation_xyz\n" + "\n".join(f"'{o}'" for o in ops) + "\n"
            "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
            "Fe1 0.3553 0.3553 0.3553\nO1 0.5561 -0.0561 0.25\n")
    path = _write(tmp_path, "rh.cif", text)
    (got,) = load_structures(path)
    assert sorted(got.crystal.elements).count("Fe") == 2 and sorted(got.crystal.elements).count("O") == 6
    _same_as_pymatgen(path)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a cif at all\n",
        "data_x\n_cell_length_a 4\n",
        "data_x\nloop_\n_a\n_b\n1 2 3\n",
        # unknown element, a water symbol, a decimal translation that is not in 24ths
        "data_x\n" + CELL.format(a=4, c=4, al=90, ga=90) + "loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n"
        "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nXx1 0 0 0\n",
        "data_x\n" + CELL.format(a=4, c=4, al=90, ga=90) + "loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n"
        "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nWat1 0 0 0\n",
        "data_x\n" + CELL.format(a=4, c=4, al=90, ga=90) + "loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z'\n"
        "'x+0.3333,y,z'\nloop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
        "Na1 0 0 0\n",
        # two atoms on one position whose occupancies sum to more than 1: pymatgen's error to give
        "data_x\n" + CELL.format(a=4, c=4, al=90, ga=90) + "loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n"
        "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
        "_atom_site_occupancy\nNa1 0 0 0 0.7\nK1 0 0 0 0.7\n",
    ],
)
def test_declines_what_it_leaves_to_pymatgen(text):
    assert cif.read_cif(text) is None


def test_declined_file_still_read_by_pymatgen():
    """Text before the first block: gemmi refuses the syntax, pymatgen reads all three blocks."""
    path = DATA / "three_blocks.cif"
    assert cif.read_cif(path.read_text()) is None
    cuau, ice, cscl = load_structures(path)
    assert len(np.unique(cuau.crystal.site)) == 4 and len(cuau.crystal.elements) == 8
    assert set(ice.crystal.elements) == {"O", "H"}  # deuterium scatters as H
    np.testing.assert_allclose(sorted(cscl.crystal.b_iso), 8 * np.pi**2 * np.array([0.012, 0.015]))


def test_bad_files_are_one_line_format_errors_naming_the_file(tmp_path):
    for i, text in enumerate(["", "garbage\n", "data_x\n_cell_length_a 4\n", "data_x\nloop_\n_a\n'unclosed\n"]):
        path = _write(tmp_path, f"bad{i}.cif", text)
        with pytest.raises(FormatError) as info:
            load_structures(path)
        assert info.value.path == str(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_symmetry_operation_parsing():
    rot, trans = cif.parse_op("-y+1/2, x-y, z+0.25")
    np.testing.assert_array_equal(rot, [[0, -1, 0], [1, -1, 0], [0, 0, 1]])
    assert trans == (0.5, 0.0, 0.25)
    with pytest.raises(cif.Declined):
        cif.parse_op("x, y")


def test_orbits_drop_images_on_special_positions():
    rots = np.array([np.eye(3), -np.eye(3)])
    trans = np.zeros((2, 3))
    frac, atom = cif.orbits(np.array([[0.0, 0.5, 0.5], [0.1, 0.2, 0.3]]), rots, trans)
    assert atom.tolist() == [0, 1, 1]  # the centrosymmetric position has one image
    np.testing.assert_allclose(frac[2], [0.9, 0.8, 0.7])


def test_orbits_keep_what_the_greedy_pass_keeps():
    """Images 0.6e-4 apart in a chain: the second is dropped (close to the first), the third kept
    (close only to the dropped one), as pymatgen's one-by-one pass does."""
    rots = np.repeat(np.eye(3)[None], 3, axis=0)
    trans = np.array([[0, 0, 0], [0.6e-4, 0, 0], [1.2e-4, 0, 0]])
    frac, atom = cif.orbits(np.array([[0.2, 0.3, 0.4]]), rots, trans)
    np.testing.assert_allclose(frac[:, 0], [0.2, 0.2 + 1.2e-4])
    with pytest.raises(cif.Declined):  # exactly one tolerance apart: rounding decides, pymatgen's call
        cif.orbits(np.array([[0.25, 0.5, 0.5]]), rots[:2], np.array([[0, 0, 0], [cif.SITE_TOL, 0, 0]]))


def test_close_pairs_is_periodic_and_exact():
    pts = np.array([[0.99995, 0.5, 0.5], [0.00002, 0.5, 0.5], [0.3, 0.3, 0.3], [0.3, 0.30011, 0.3]])
    i, j = close_pairs(pts, 1e-4)
    assert list(zip(i.tolist(), j.tolist())) == [(0, 1)]


@pytest.mark.parametrize("composition", [
    {"Na": 4, "Cl": 4}, {"O": 2}, {"Li": 2, "O": 2}, {"Li": 4, "Fe": 4, "P": 4, "O": 16}, {"He": 1, "Ne": 2},
    {"Ca": 2, "C": 2, "O": 6}, {"Ba": 1, "Ti": 1, "O": 3}, {"K": 2, "S": 2, "O": 8}, {"Cu": 0.5, "Au": 0.5},
    {"H": 4, "O": 2}, {"Ar": 2, "Kr": 2, "Xe": 4}, {"Si": 8, "O": 16, "Na": 2, "Al": 2},
])
def test_reduced_formula_is_pymatgens(composition):
    from pymatgen.core.composition import Composition

    assert reduced_formula(composition) == Composition(composition).reduced_formula


def test_anisotropic_b_is_the_same_on_both_paths(tmp_path):
    """A site with anisotropic U's only gets 8π² U_eq through gemmi and through pymatgen."""
    path = _write(tmp_path, "adp.cif", ADP)
    (fast,), (slow,) = load_structures(path), load_structures(path, fast=False)
    np.testing.assert_allclose(_sites(fast.crystal), _sites(slow.crystal), atol=1e-12)
    assert sorted(slow.crystal.b_iso)[1] == pytest.approx(8 * math.pi**2 * 0.01)


def test_a_ctrl_c_while_gemmi_reads_arrives_once_it_is_done():
    """A KeyboardInterrupt raised inside gemmi's C++ bindings aborts the process (std::terminate); SIGINT
    is held back while the reader runs and delivered right after, where Python raises it cleanly."""
    import os
    import signal

    from spectool.xrd.cif import interrupts_deferred

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    seen = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                seen.append("went on")  # not interrupted inside the block
            seen.append("not reached")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == ["went on"]
