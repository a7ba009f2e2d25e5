"""Loading structures: CIF blocks, B factors, other formats, validation errors with the path."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.xrd.crystal import Crystal
from spectool.xrd.reflections import compute_reflections
from spectool.xrd.structures import load_structures, symmetry_labels, validate

pytest.importorskip("pymatgen")

HEADER = """data_{name}
_symmetry_space_group_name_H-M   '{sg}'
_cell_length_a   {a}
_cell_length_b   {a}
_cell_length_c   {a}
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
"""
NACL = HEADER.format(name="NaCl", sg="F m -3 m", a=5.64) + """loop_
 _symmetry_equiv_pos_as_xyz
 'x, y, z'
 '-x, -y, -z'
 'x, y+1/2, z+1/2'
 'x+1/2, y, z+1/2'
 'x+1/2, y+1/2, z'
loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
 _atom_site_B_iso_or_equiv
 Na1 Na 0 0 0 1 1.2(1)
 Cl1 Cl 0.5 0.5 0.5 1 0.8
"""
CSCL = HEADER.format(name="CsCl", sg="P 1", a=4.12) + """loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_U_iso_or_equiv
 Cs1 Cs 0 0 0 0.01
 Cl1 Cl 0.5 0.5 0.5 0.02
"""
ATOMS = """loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_several_blocks_and_b_factors(tmp_path):
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    loaded = load_structures(_write(tmp_path, "two.cif", NACL + "\n" + CSCL))
    assert [s.name for s in loaded] == ["NaCl", "CsCl"]
    assert [s.formula for s in loaded] == ["NaCl", "CsCl"]
    nacl, cscl = loaded[0].crystal, loaded[1].crystal
    assert len(nacl.elements) == 8
    np.testing.assert_allclose(sorted(set(nacl.b_iso)), [0.8, 1.2])
    np.testing.assert_allclose(sorted(set(cscl.b_iso)), 8 * np.pi**2 * np.array([0.01, 0.02]))
    # B per site from the CIF equals pymatgen's per-element Debye-Waller factors
    from pymatgen.core import Lattice, Structure

    ref_s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    ref = XRDCalculator(debye_waller_factors={"Na": 1.2, "Cl": 0.8}).get_pattern(ref_s, True, (5, 120))
    ours = compute_reflections(nacl, 1.54184, (5, 120)).scaled(100)
    # same kinematic formulas evaluated in another order: rounding only (2θ in degrees, I in % of the strongest)
    np.testing.assert_allclose(ours.two_theta, ref.x, atol=1e-6)
    np.testing.assert_allclose(ours.intensity, ref.y, atol=1e-6)


def test_partial_occupancy_and_labels(tmp_path):
    text = HEADER.format(name="CuAu", sg="P 1", a=3.87) + ATOMS + " M1 Cu 0 0 0 0.5\n M2 Au 0 0 0 0.5\n"
    (s,) = load_structures(_write(tmp_path, "cuau.cif", text))
    assert sorted(s.crystal.elements) == ["Au", "Cu"] and np.allclose(s.crystal.occupancy, 0.5)
    validate(s.crystal)  # one disordered site, not overlapping atoms
    labels = symmetry_labels(s.crystal)
    assert labels == {"spacegroup_number": 221, "spacegroup_symbol": "Pm-3m", "crystal_system": "cubic"}


def test_poscar_and_json(tmp_path):
    from pymatgen.core import Lattice, Structure

    s = Structure(Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.to(filename=str(tmp_path / "POSCAR"))
    s.to(filename=str(tmp_path / "cscl.json"))
    for name in ("POSCAR", "cscl.json"):
        (got,) = load_structures(tmp_path / name)
        assert got.formula == "CsCl" and len(got.crystal.elements) == 2


@pytest.mark.parametrize(
    "text, match",
    [
        ("this is not a CIF\n", None),
        (HEADER.format(name="empty", sg="P 1", a=4) + "_cell_volume 64\n", None),
        (HEADER.format(name="clash", sg="P 1", a=4) + ATOMS + " A Na 0 0 0 1\n B Cl 0.02 0 0 1\n", "overlapping"),
        (HEADER.format(name="alien", sg="P 1", a=4) + ATOMS + " A Xx 0 0 0 1\n", None),
    ],
)
def test_bad_cif_names_the_path(tmp_path, text, match):
    path = _write(tmp_path, "bad.cif", text)
    with pytest.raises(FormatError, match=match) as info:
        for s in load_structures(path):
            try:
                validate(s.crystal)
            except FormatError as exc:
                raise exc.where(path) from None
    assert info.value.path == str(path)


def test_validate_rejects():
    with pytest.raises(FormatError, match="no atoms"):
        validate(Crystal(4 * np.eye(3), np.zeros((0, 3)), [], []))
    with pytest.raises(FormatError, match="Og"):
        validate(Crystal(4 * np.eye(3), [[0, 0, 0]], ["Og"], [1.0]))
    # periodic image: 0.98 and 0.0 are 0.08 Å apart
    with pytest.raises(FormatError, match="overlapping"):
        validate(Crystal(4 * np.eye(3), [[0, 0, 0], [0.98, 0, 0]], ["Na", "Cl"], [1.0, 1.0]))
    # split position of a disordered atom: occupancies sum to 1
    validate(Crystal(4 * np.eye(3), [[0, 0, 0], [0.05, 0, 0]], ["Na", "Na"], [0.5, 0.5]))


def test_missing_file():
    with pytest.raises(FormatError) as info:
        load_structures("/nonexistent/x.cif")
    assert info.value.path == "/nonexistent/x.cif"


def _naive_close(crystal, cutoff):
    """Oracle: every pair, every image in a 5×5×5 block of cells."""
    import itertools

    pairs = set()
    n = len(crystal.elements)
    for i, j in itertools.combinations(range(n), 2):
        if crystal.occupancy[i] + crystal.occupancy[j] <= 1 + 1e-6:
            continue
        for s in itertools.product(range(-2, 3), repeat=3):
            d = (crystal.frac_coords[i] - crystal.frac_coords[j] + s) @ crystal.lattice
            if np.linalg.norm(d) < cutoff:
                pairs.add((i, j))
    return pairs


@pytest.mark.parametrize("dense_sites", [0, 96])  # candidates from the sort, from all pairs
def test_closest_pair_against_naive_oracle(dense_sites, monkeypatch):
    from spectool.xrd import structures
    from spectool.xrd.crystal import lattice_matrix
    from spectool.xrd.structures import closest_pair

    monkeypatch.setattr(structures, "DENSE_SITES", dense_sites)
    rng = np.random.default_rng(3)
    for _ in range(25):
        n = int(rng.integers(2, 40))
        lattice = lattice_matrix(*rng.uniform(4, 12, 3), *rng.uniform(75, 105, 3))
        crystal = Crystal(lattice, rng.uniform(-1, 2, (n, 3)), ["Na"] * n, rng.choice([0.5, 1.0], n))
        cutoff = float(rng.uniform(0.5, 2.0))
        expect = _naive_close(crystal, cutoff)
        got = closest_pair(crystal, cutoff)
        assert (got is None) == (not expect)
        if got is not None:
            assert (got[0], got[1]) == min(expect)


def test_closest_pair_same_for_any_site_numbering():
    """Ordered crystals numbered 0..n-1 take a shortcut; other numberings (and one disordered site) the
    general path: both find the same pair, reported by site number."""
    from spectool.xrd.crystal import lattice_matrix
    from spectool.xrd.structures import closest_pair

    lattice = lattice_matrix(5, 6, 7, 80, 95, 100)
    frac = np.array([[0.1, 0.1, 0.1], [0.5, 0.5, 0.5], [0.52, 0.5, 0.5], [0.9, 0.2, 0.3]])
    ordered = Crystal(lattice, frac, ["Na", "Cl", "Cl", "K"], [1, 1, 1, 1])
    assert closest_pair(ordered, 0.5) == pytest.approx((1, 2, 0.02 * np.linalg.norm(lattice[0])))
    renumbered = Crystal(lattice, frac, ["Na", "Cl", "Cl", "K"], [1, 1, 1, 1], site=[3, 5, 7, 9])
    assert closest_pair(renumbered, 0.5)[:2] == (5, 7)
    split = Crystal(lattice, np.vstack([frac, frac[:1]]), ["Na", "Cl", "Cl", "K", "Li"], [0.5, 1, 1, 1, 0.5],
                    site=[0, 1, 2, 3, 0])
    assert closest_pair(split, 0.5)[:2] == (1, 2)


def test_symmetry_labels_same_for_any_site_numbering():
    from spectool.xrd.crystal import lattice_matrix

    lattice = lattice_matrix(4.0, 4.0, 4.0, 90, 90, 90)
    cscl = Crystal(lattice, [[0, 0, 0], [0.5, 0.5, 0.5]], ["Cs", "Cl"], [1, 1])
    renumbered = Crystal(lattice, [[0, 0, 0], [0.5, 0.5, 0.5]], ["Cs", "Cl"], [1, 1], site=[4, 9])
    same_species = Crystal(lattice, [[0, 0, 0], [0.5, 0.5, 0.5]], ["Cs", "Cs"], [1, 1])
    assert symmetry_labels(cscl) == symmetry_labels(renumbered) == {
        "spacegroup_number": 221, "spacegroup_symbol": "Pm-3m", "crystal_system": "cubic"}
    assert symmetry_labels(same_species)["spacegroup_symbol"] == "Im-3m"  # body-centred: one kind
