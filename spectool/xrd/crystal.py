"""A light crystal record: the only input the physics needs, free of pymatgen objects."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Crystal:
    """Scatterers of one crystal in its unit cell.

    Each scatterer is one (site, element) pair: a disordered site with two species is two
    scatterers at the same position with their occupancies.

    Attributes:
        lattice: (3, 3) float64, rows are the cell vectors a, b, c in Å (Cartesian).
        frac_coords: (n, 3) float64 fractional coordinates.
        elements: (n,) element symbols (``"Fe"``, not ``"Fe2+"``).
        occupancy: (n,) float64 site occupancy of that element, 0..1.
        b_iso: (n,) float64 isotropic Debye–Waller B in Å² (0 = none).
        site: (n,) int index of the site each scatterer sits on (for distance checks).
    """

    lattice: np.ndarray
    frac_coords: np.ndarray
    elements: tuple[str, ...]
    occupancy: np.ndarray
    b_iso: np.ndarray = field(default=None)  # type: ignore[assignment]
    site: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.elements)
        object.__setattr__(self, "lattice", np.asarray(self.lattice, dtype=np.float64).reshape(3, 3))
        object.__setattr__(self, "frac_coords", np.asarray(self.frac_coords, dtype=np.float64).reshape(n, 3))
        object.__setattr__(self, "elements", tuple(self.elements))
        object.__setattr__(self, "occupancy", np.asarray(self.occupancy, dtype=np.float64).reshape(n))
        b = np.zeros(n) if self.b_iso is None else np.asarray(self.b_iso, dtype=np.float64).reshape(n)
        object.__setattr__(self, "b_iso", b)
        s = np.arange(n) if self.site is None else np.asarray(self.site, dtype=np.int64).reshape(n)
        object.__setattr__(self, "site", s)

    @property
    def volume(self) -> float:
        """Cell volume in Å³."""
        return float(abs(np.linalg.det(self.lattice)))

    def with_b_iso(self, b_iso: float | dict[str, float]) -> "Crystal":
        """Copy with B (Å²) set for every scatterer, or per element from a dict (others 0)."""
        if isinstance(b_iso, dict):
            b = np.array([float(b_iso.get(e, 0.0)) for e in self.elements])
        else:
            b = np.full(len(self.elements), float(b_iso))
        return Crystal(self.lattice, self.frac_coords, self.elements, self.occupancy, b, self.site)
