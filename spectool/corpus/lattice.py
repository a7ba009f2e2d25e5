"""Lattice variation that keeps a crystal's symmetry: symmetrised strain.

A strain ε keeps every operation of the point group G exactly when R ε Rᵀ = ε for all
R ∈ G (Cartesian rotations). The average of R ε Rᵀ over G projects any symmetric strain
onto that subspace, so a random ε becomes one the crystal system allows: cubic keeps one
parameter (volume), hexagonal and tetragonal two (a, c), orthorhombic three, monoclinic
four, triclinic six. Fractional coordinates stay as they are.
"""

from __future__ import annotations

import warnings

import numpy as np


def point_group_rotations(lattice: np.ndarray, frac_coords: np.ndarray, numbers: list[int],
                          symprec: float = 0.01) -> np.ndarray:
    """Cartesian rotations (k, 3, 3) of the crystal's point group from spglib (``symprec`` Å).

    ``lattice`` holds the cell vectors as rows (Å). A fractional rotation W (spglib's, acting
    on column vectors) is R = A W A⁻¹ in Cartesian space, with A = latticeᵀ.
    """
    import spglib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = spglib.get_symmetry_dataset((lattice, frac_coords, numbers), symprec=symprec)
    if dataset is None:
        return np.eye(3)[None]
    a = np.asarray(lattice, dtype=float).T
    rotations = np.unique(np.asarray(dataset.rotations), axis=0)
    return a @ rotations @ np.linalg.inv(a)


def symmetrise(strain: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """The part of a symmetric (3, 3) ``strain`` that every rotation (k, 3, 3) leaves unchanged:
    the group average of R ε Rᵀ."""
    strain = 0.5 * (strain + strain.T)
    return np.einsum("kij,jl,kml->im", rotations, strain, rotations) / len(rotations)


def random_strain(rng: np.random.Generator, sigma: float, rotations: np.ndarray) -> np.ndarray:
    """A symmetry-allowed strain with Gaussian components of standard deviation ``sigma``
    (dimensionless) before projection, shifted so that the volume is kept (trace 0 to
    first order): the volume is set separately by the caller."""
    raw = rng.normal(0.0, sigma, (3, 3))
    strain = symmetrise(raw, rotations)
    return strain - np.trace(strain) / 3 * np.eye(3)


def deformed(lattice: np.ndarray, scale: float, strain: np.ndarray) -> np.ndarray:
    """Lattice rows (Å) scaled by ``scale`` and deformed by (I + ``strain``): L' = s·L(I + ε)."""
    return scale * np.asarray(lattice, dtype=float) @ (np.eye(3) + strain)
