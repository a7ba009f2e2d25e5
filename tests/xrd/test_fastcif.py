"""fastcif against pymatgen's CifParser path on small hand-written CIFs (tests/data/cifs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.xrd import fastcif
from spectool.xrd.reflections import compute_reflections
from spectool.xrd.structures import load_structures

pytest.importorskip("pymatgen")

DATA = Path(__file__).resolve().parents[1] / "data" / "cifs"
CIFS = sorted(DATA.glob("*.cif"))
PYMATGEN_ONLY = {"symbol_only_Pm-3m.cif"}  # no operations listed: pymatgen's space-group tables


def _sites(crystal) -> np.ndarray:
    frac = crystal.frac_coords - np.floor(crystal.frac_coords)
    frac[frac > 1 - 1e-9] -= 1
    key = np.array([hash(e) % 100003 for e in crystal.elements], float)
    rows = np.column_stack([key, frac, crystal.occupancy, crystal.b_iso])
    return rows[np.lexsort(rows.T[::-1])]


def test_data_present():
    assert len(CIFS) >= 6


@pytest.mark.parametrize("path", CIFS, ids=lambda p: p.name)
def test_same_structures_as_pymatgen(path):
    fast_blocks = fastcif.read_cif(path.read_text())
    assert (fast_blocks is None) == (path.name in PYMATGEN_ONLY)
    fast, slow = load_structures(path), load_structures(path, fast=False)
    assert [s.name for s in fast] == [s.name for s in slow]
    for f, s in zip(fast, slow):
        assert f.formula == s.formula
        # both build the cell from a, b, c, α, β, γ; a pymatgen release may order the trigonometry differently
        np.testing.assert_allclose(f.crystal.lattice, s.crystal.lattice, rtol=0, atol=1e-12)  # Å
        np.testing.assert_allclose(_sites(f.crystal), _sites(s.crystal), atol=1e-12)
        rf = compute_reflections(f.crystal, 1.54184, (5, 120)).scaled(100)
        rs = compute_reflections(s.crystal, 1.54184, (5, 120)).scaled(100)
        np.testing.assert_allclose(rf.two_theta, rs.two_theta, atol=1e-9)
        np.testing.assert_allclose(rf.intensity, rs.intensity, atol=1e-7)


def test_expected_contents():
    (nacl,) = load_structures(DATA / "nacl_Fm-3m.cif")
    assert len(nacl.crystal.elements) == 8 and nacl.crystal.lattice[0, 0] == pytest.approx(5.6402)
    assert sorted(set(nacl.crystal.b_iso)) == [0.98, 1.21]
    (yag,) = load_structures(DATA / "garnet_Ia-3d.cif")
    assert len(yag.crystal.elements) == 160 and yag.formula == "Y3Al5O12"
    (sp,) = load_structures(DATA / "spinel_disordered.cif")
    half = sp.crystal.occupancy < 1
    assert half.sum() == 16 and set(np.asarray(sp.crystal.elements)[half]) == {"Fe", "Ni"}
    assert len(np.unique(sp.crystal.site)) == 56  # the 0-occupancy Fe3 is left out
    cuau, ice, cscl = load_structures(DATA / "three_blocks.cif")
    assert len(np.unique(cuau.crystal.site)) == 4 and len(cuau.crystal.elements) == 8
    assert set(ice.crystal.elements) == {"O", "H"}  # deuterium scatters as H
    np.testing.assert_allclose(sorted(cscl.crystal.b_iso), 8 * np.pi**2 * np.array([0.012, 0.015]))
    (quartz,) = load_structures(DATA / "quartz_P3221.cif")
    assert len(quartz.crystal.elements) == 9
    assert any("rounded to ideal" in m for m in quartz.messages)
    assert 2 / 3 in quartz.crystal.frac_coords


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a cif at all\n",
        "data_x\n_cell_length_a 4\n",
        "data_x\nloop_\n_a\n_b\n1 2 3\n",
        "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n_cell_angle_alpha 90\n"
        "_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n"
        "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nXx1 0 0 0\n",
    ],
)
def test_declines_what_it_cannot_read(text):
    assert fastcif.read_cif(text) is None


def test_bad_files_still_format_errors(tmp_path):
    for i, text in enumerate(["", "garbage\n", "data_x\n_cell_length_a 4\n"]):
        path = tmp_path / f"bad{i}.cif"
        path.write_text(text)
        with pytest.raises(FormatError) as info:
            load_structures(path)
        assert info.value.path == str(path)


def test_symmetry_operation_parsing():
    rot, trans = fastcif.parse_op("-y+1/2, x-y, z+0.25")
    np.testing.assert_array_equal(np.reshape(rot, (3, 3)), [[0, -1, 0], [1, -1, 0], [0, 0, 1]])
    assert trans == (0.5, 0.0, 0.25)
    with pytest.raises(fastcif.Unsupported):
        fastcif.parse_op("x, y")


def test_close_pairs_is_periodic_and_exact():
    pts = np.array([[0.99995, 0.5, 0.5], [0.00002, 0.5, 0.5], [0.3, 0.3, 0.3], [0.3, 0.30011, 0.3]])
    i, j = fastcif.close_pairs(pts)
    assert list(zip(i.tolist(), j.tolist())) == [(0, 1)]
