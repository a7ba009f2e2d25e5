"""Absorber-centred graphs (PAPERS.md D): per absorbing site its k nearest neighbours within a cutoff,
padded with virtual atoms at the cutoff when there are fewer. Arrays only; the model expands the
distances into radial basis functions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.graph.atoms import Atoms
from spectool.graph.neighbours import candidates, nearest


@dataclass
class StarGraphs:
    """G graphs of k neighbours each. ``centre`` (G,) atomic number of the absorber; ``numbers`` (G, k)
    of the neighbours (0: virtual atom); ``distances`` (G, k) float32 Å (the cutoff for a virtual atom);
    ``vectors`` (G, k, 3) float32 Å (0 for a virtual atom); ``site`` (G,) the absorber's atom index;
    ``sample`` (G,) int64 which structure each graph belongs to (a sample's spectrum is the mean over its
    absorbing sites)."""

    centre: np.ndarray
    numbers: np.ndarray
    distances: np.ndarray
    vectors: np.ndarray
    site: np.ndarray
    sample: np.ndarray

    def __len__(self) -> int:
        return len(self.centre)

    @property
    def n_samples(self) -> int:
        return int(self.sample.max()) + 1 if len(self.sample) else 0

    def tensors(self) -> dict[str, np.ndarray]:
        """What the model reads (the sites stay here for explanations)."""
        return {"centre": self.centre, "numbers": self.numbers, "distances": self.distances,
                "vectors": self.vectors, "sample": self.sample}

    @classmethod
    def concat(cls, parts: list["StarGraphs"]) -> "StarGraphs":
        """The graphs of several collections, their samples numbered on in order."""
        offsets = np.cumsum([0] + [p.n_samples for p in parts])
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("centre", "numbers", "distances", "vectors", "site")),
                   np.concatenate([p.sample + o for p, o in zip(parts, offsets)]))

    def of_samples(self, rows: np.ndarray) -> "StarGraphs":
        """The graphs of samples ``rows`` (renumbered 0 … len(rows) − 1 in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        new = np.full(self.n_samples, -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))
        pick = np.flatnonzero(new[self.sample] >= 0)
        pick = pick[np.argsort(new[self.sample[pick]], kind="stable")]
        return StarGraphs(self.centre[pick], self.numbers[pick], self.distances[pick], self.vectors[pick],
                          self.site[pick], new[self.sample[pick]])


def star_graph(atoms: Atoms, site: int, k: int, cutoff: float, pool=None) -> tuple[np.ndarray, ...]:
    """(numbers (k,), distances (k,), vectors (k, 3)) of one absorbing site, virtual atoms last."""
    nb = nearest(atoms, site, k, cutoff, pool)
    m = len(nb.index)
    numbers = np.zeros(k, dtype=np.int64)
    distances = np.full(k, cutoff, dtype=np.float32)
    vectors = np.zeros((k, 3), dtype=np.float32)
    numbers[:m], distances[:m], vectors[:m] = atoms.numbers[nb.index], nb.distances, nb.vectors
    return numbers, distances, vectors


def star_graphs(structures: list[Atoms], absorber: str, k: int = 20, cutoff: float = 8.0) -> StarGraphs:
    """One graph per atom of ``absorber`` in each structure (:class:`FormatError` from
    :meth:`Atoms.sites_of` when a structure has none)."""
    parts = []
    for s, atoms in enumerate(structures):
        pool = candidates(atoms, cutoff)
        for site in atoms.sites_of(absorber):
            parts.append((atoms.numbers[site], *star_graph(atoms, site, k, cutoff, pool), site, s))
    if not parts:
        return StarGraphs(np.zeros(0, np.int64), np.zeros((0, k), np.int64), np.zeros((0, k), np.float32),
                          np.zeros((0, k, 3), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
    centre, numbers, distances, vectors, site, sample = zip(*parts)
    return StarGraphs(np.array(centre, np.int64), np.stack(numbers), np.stack(distances), np.stack(vectors),
                      np.array(site, np.int64), np.array(sample, np.int64))

