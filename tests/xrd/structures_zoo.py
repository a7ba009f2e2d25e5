"""Test structures built from space groups: every crystal system, disorder, a garnet."""

from __future__ import annotations


def zoo() -> dict:
    """name → pymatgen Structure (imported here: pymatgen is slow to import)."""
    from pymatgen.core import Lattice, Structure

    sg = Structure.from_spacegroup
    return {
        "NaCl": sg("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "Si": sg("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]),
        "CsCl": sg("Pm-3m", Lattice.cubic(4.123), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "SrTiO3": sg("Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
        "rutile": sg("P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.3053, 0.3053, 0]]),
        "ZnO": sg("P6_3mc", Lattice.hexagonal(3.2498, 5.2066), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.3819]]),
        "corundum": sg("R-3c", Lattice.hexagonal(4.759, 12.991), ["Al", "O"], [[0, 0, 0.35216], [0.30624, 0, 0.25]]),
        "calcite": sg(
            "R-3c", Lattice.hexagonal(4.988, 17.061), ["Ca", "C", "O"], [[0, 0, 0], [0, 0, 0.25], [0.2578, 0, 0.25]]
        ),
        "forsterite": sg(
            "Pnma",
            Lattice.orthorhombic(10.19, 5.978, 4.753),
            ["Mg", "Mg", "Si", "O", "O", "O"],
            [[0, 0, 0], [0.2774, 0.25, 0.9915], [0.0940, 0.25, 0.4262],
             [0.0917, 0.25, 0.7660], [0.4474, 0.25, 0.2203], [0.1628, 0.0331, 0.2774]],
        ),  # fmt: skip
        "monoclinic": sg(
            "P2_1/c",
            Lattice.monoclinic(5.12, 6.83, 7.41, 104.3),
            ["Zr", "O", "O"],
            [[0.2758, 0.0411, 0.2082], [0.0703, 0.3359, 0.3406], [0.4423, 0.7549, 0.4789]],
        ),
        "triclinic": sg(
            "P-1",
            Lattice.from_parameters(5.03, 6.21, 7.35, 82.1, 95.7, 103.4),
            ["K", "Al", "Si", "O"],
            [[0.11, 0.23, 0.31], [0.52, 0.18, 0.77], [0.29, 0.61, 0.05], [0.81, 0.44, 0.36]],
        ),
        "CuAu_disordered": sg("Fm-3m", Lattice.cubic(3.87), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]]),
        "spinel_inverse": sg(
            "Fd-3m",
            Lattice.cubic(8.39),
            [{"Fe": 1.0}, {"Fe": 0.5, "Ni": 0.5}, "O"],
            [[0.125, 0.125, 0.125], [0.5, 0.5, 0.5], [0.2549, 0.2549, 0.2549]],
        ),
        "garnet": sg(
            "Ia-3d",
            Lattice.cubic(12.00),
            ["Y", "Al", "Al", "O"],
            [[0.125, 0, 0.25], [0, 0, 0], [0.375, 0, 0.25], [-0.0306, 0.0512, 0.1500]],
        ),
    }
