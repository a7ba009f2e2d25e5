"""The k nearest neighbours of an atom within a cutoff: plain coordinates for molecules, periodic
images for crystals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.graph.atoms import Atoms


@dataclass(frozen=True)
class Neighbours:
    """Up to k neighbours of one atom, nearest first: ``index`` (m,) atom indices (in the cell for a
    crystal), ``vectors`` (m, 3) Å from the centre to each neighbour, ``distances`` (m,) Å."""

    index: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray


def image_shifts(lattice: np.ndarray, cutoff: float) -> np.ndarray:
    """Cartesian translations (T, 3) of every lattice image that may hold an atom within ``cutoff`` Å of
    any atom of the cell: ±ceil(cutoff / interplanar spacing) + 1 cells along each axis."""
    reciprocal = np.linalg.inv(lattice).T  # rows: b_i with a_i · b_j = δ_ij
    reach = np.ceil(cutoff * np.linalg.norm(reciprocal, axis=1)).astype(int) + 1
    grid = np.stack(np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij"), -1).reshape(-1, 3)
    return grid @ lattice


def candidates(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Every atom a neighbour may be: (index (P,), position (P, 3) Å), periodic images for a crystal."""
    if not atoms.periodic:
        return np.arange(len(atoms.numbers)), atoms.positions
    shifts = image_shifts(atoms.lattice, cutoff)
    positions = (atoms.positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    return np.tile(np.arange(len(atoms.numbers)), len(shifts)), positions


def nearest(atoms: Atoms, centre: int, k: int, cutoff: float, pool=None) -> Neighbours:
    """The ``k`` atoms nearest to atom ``centre`` within ``cutoff`` Å (itself excluded; its own periodic
    images count), nearest first, ties by index. ``pool``: :func:`candidates` when already computed."""
    index, positions = pool if pool is not None else candidates(atoms, cutoff)
    vectors = positions - atoms.positions[centre]
    distances = np.linalg.norm(vectors, axis=1)
    keep = (distances <= cutoff) & (distances > 1e-8)
    order = np.flatnonzero(keep)[np.lexsort((index[keep], distances[keep]))][:k]
    return Neighbours(index[order], vectors[order], distances[order])
