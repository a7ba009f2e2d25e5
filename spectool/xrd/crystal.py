"""A light crystal record: the only input the physics needs, free of pymatgen objects; and the cell
geometry its readers share (cell vectors from parameters, close pairs of positions)."""

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


def lattice_matrix(a: float, b: float, c: float, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Cell vectors (3, 3) Å as rows, exactly pymatgen's ``Lattice.from_parameters`` (angles in degrees)."""
    angles_r = np.radians([alpha, beta, gamma])
    cos_alpha, cos_beta, cos_gamma = np.cos(angles_r)
    sin_alpha, sin_beta, sin_gamma = np.sin(angles_r)
    val = max(-1.0, min(1.0, (cos_alpha * cos_beta - cos_gamma) / (sin_alpha * sin_beta)))
    gamma_star = np.arccos(val)
    return np.array([
        [a * sin_beta, 0.0, a * cos_beta],
        [-b * sin_alpha * np.cos(gamma_star), b * sin_alpha * np.sin(gamma_star), b * cos_alpha],
        [0.0, 0.0, float(c)],
    ])  # fmt: skip


def close_pairs(points: np.ndarray, tol: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of ``points`` (m, 3) fractional that lie within ``tol`` (scalar or
    per axis (3,), below 0.25) of each other on every axis, periodically (pymatgen's
    ``find_in_coord_list_pbc`` test). O(m log m) plus the pairs: sorted on x, only neighbours
    closer than ``tol`` in x are compared."""
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), (3,))
    w = points - np.floor(points)
    order = np.argsort(w[:, 0], kind="stable")
    xs = w[order, 0]
    wrap = int(np.searchsorted(xs, 2 * tol[0]))
    xs_ext = np.concatenate([xs, xs[:wrap] + 1.0])
    idx_ext = np.concatenate([order, order[:wrap]])
    hi = np.searchsorted(xs_ext, xs + 2 * tol[0], side="right")
    counts = np.maximum(hi - np.arange(1, xs.size + 1), 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a = np.repeat(np.arange(xs.size), counts)
    b = a + 1 + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    i, j = order[a], idx_ext[b]
    d = points[i] - points[j]
    d -= np.round(d)
    ok = np.all(np.abs(d) < tol, axis=1) & (i != j)
    i, j = np.minimum(i[ok], j[ok]), np.maximum(i[ok], j[ok])
    if i.size > 1:
        code = np.unique(i * len(points) + j)
        i, j = code // len(points), code % len(points)
    return i, j
