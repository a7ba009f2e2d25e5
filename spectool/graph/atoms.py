"""The atoms of a molecule or crystal, as the graph builders need them (no pymatgen objects).

.xyz text is parsed here (symbols or atomic numbers in the first column, Å); crystals arrive as
:class:`~spectool.xrd.crystal.Crystal` records from :mod:`spectool.xrd.structures`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.errors import FormatError
from spectool.xrd.scattering import ATOMIC_NUMBER, SYMBOLS


@dataclass(frozen=True)
class Atoms:
    """``numbers`` (n,) int atomic numbers, ``positions`` (n, 3) float64 Cartesian Å, ``lattice`` (3, 3)
    rows a, b, c in Å for a crystal (periodic) or None for a molecule."""

    numbers: np.ndarray
    positions: np.ndarray
    lattice: np.ndarray | None = None

    @property
    def periodic(self) -> bool:
        return self.lattice is not None

    @property
    def symbols(self) -> list[str]:
        return [SYMBOLS[z - 1] for z in self.numbers]

    def sites_of(self, element: str) -> np.ndarray:
        """Indices (m,) of the atoms of ``element``; :class:`FormatError` when there is none."""
        z = ATOMIC_NUMBER.get(element)
        if z is None:
            raise FormatError(f"unknown absorbing element {element!r}")
        sites = np.flatnonzero(self.numbers == z)
        if not len(sites):
            raise FormatError(f"no {element} atom (the absorbing element)")
        return sites


def parse_xyz(text: str) -> Atoms:
    """An .xyz file's text → a molecule: line 1 the atom count, line 2 a comment, then ``E x y z`` with E
    an element symbol or atomic number. :class:`FormatError` (with the line) for anything else."""
    lines = text.splitlines()
    try:
        n = int(lines[0].split()[0])
    except (IndexError, ValueError):
        raise FormatError("not an .xyz file (line 1 must be the number of atoms)", line=1) from None
    rows = [line for line in lines[2:2 + n]]
    if len(rows) < n or n < 1:
        raise FormatError(f"an .xyz file of {n} atoms with {len(rows)} atom lines", line=len(lines))
    numbers, positions = zip(*(_xyz_row(row, i + 3) for i, row in enumerate(rows)))
    return Atoms(np.array(numbers, dtype=np.int64), np.array(positions, dtype=np.float64))


def _xyz_row(row: str, line: int) -> tuple[int, list[float]]:
    parts = row.split()
    if len(parts) < 4:
        raise FormatError("an atom line needs an element and x y z", line=line)
    try:
        xyz = [float(v) for v in parts[1:4]]
    except ValueError:
        raise FormatError(f"coordinates must be numbers, not {' '.join(parts[1:4])!r}", line=line) from None
    return _atomic_number(parts[0], line), xyz


def _atomic_number(token: str, line: int) -> int:
    if token.isdigit():
        z = int(token)
        if 1 <= z <= len(SYMBOLS):
            return z
    else:
        symbol = token.rstrip("0123456789+-").capitalize()
        if symbol in ATOMIC_NUMBER:
            return ATOMIC_NUMBER[symbol]
    raise FormatError(f"unknown element {token!r}", line=line)


def atoms_from_crystal(crystal) -> Atoms:
    """A :class:`~spectool.xrd.crystal.Crystal` → periodic atoms: one atom per site, the element of the
    highest occupancy where a site is shared."""
    best: dict[int, int] = {}
    for i, site in enumerate(crystal.site):
        if site not in best or crystal.occupancy[i] > crystal.occupancy[best[site]]:
            best[site] = i
    keep = np.array(sorted(best.values()), dtype=np.int64)
    numbers = np.array([ATOMIC_NUMBER[crystal.elements[i]] for i in keep], dtype=np.int64)
    return Atoms(numbers, crystal.frac_coords[keep] @ crystal.lattice, np.array(crystal.lattice, dtype=np.float64))
