"""Whole-structure graphs with their line graphs (ALIGNN-style, PAPERS.md C): every atom (every atom of
the cell for a crystal, periodic images as neighbours) linked to its k nearest neighbours within a cutoff;
every pair of bonds from one atom is a triplet carrying the cosine of the bond angle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.graph.atoms import Atoms
from spectool.graph.neighbours import candidates, nearest


@dataclass
class LineGraph:
    """One structure: ``numbers`` (A,) atomic numbers; bonds ``src``/``dst`` (E,) atom indices (dst may be a
    periodic image of a cell atom), ``distances`` (E,) Å; triplets ``bond_a``/``bond_b`` (T,) bond indices
    sharing their source atom, ``cosines`` (T,) of the angle between them."""

    numbers: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    distances: np.ndarray
    bond_a: np.ndarray
    bond_b: np.ndarray
    cosines: np.ndarray


def line_graph(atoms: Atoms, k: int, cutoff: float) -> LineGraph:
    """The graph of ``atoms``: each atom's :func:`nearest` k neighbours within ``cutoff`` Å, and the angles."""
    pool = candidates(atoms, cutoff)
    src, dst, vec = [], [], []
    for i in range(len(atoms.numbers)):
        nb = nearest(atoms, i, k, cutoff, pool)
        src += [i] * len(nb.index)
        dst += nb.index.tolist()
        vec.append(nb.vectors)
    vectors = np.concatenate(vec) if vec else np.zeros((0, 3))
    src_a = np.asarray(src, dtype=np.int64)
    a, b = np.nonzero((src_a[:, None] == src_a[None, :]) & ~np.eye(len(src_a), dtype=bool))
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    cos = np.clip((unit[a] * unit[b]).sum(1), -1.0, 1.0)
    return LineGraph(atoms.numbers.astype(np.int64), src_a, np.asarray(dst, dtype=np.int64),
                     np.linalg.norm(vectors, axis=1).astype(np.float32), a.astype(np.int64), b.astype(np.int64),
                     cos.astype(np.float32))


@dataclass
class LineGraphs:
    """Line graphs of several structures, one per sample (``parts``), batched by :meth:`tensors`."""

    parts: list[LineGraph]

    def __len__(self) -> int:
        return len(self.parts)

    @property
    def n_samples(self) -> int:
        return len(self.parts)

    @classmethod
    def concat(cls, collections: list["LineGraphs"]) -> "LineGraphs":
        return cls([p for c in collections for p in c.parts])

    def of_samples(self, rows: np.ndarray) -> "LineGraphs":
        return LineGraphs([self.parts[int(r)] for r in rows])

    def tensors(self) -> dict[str, np.ndarray]:
        """The parts joined: atom, bond and triplet indices offset; ``sample`` (A,) of each atom."""
        atoms = np.cumsum([0] + [len(p.numbers) for p in self.parts])
        bonds = np.cumsum([0] + [len(p.src) for p in self.parts])
        join = lambda name, off: np.concatenate([getattr(p, name) + o for p, o in zip(self.parts, off)])  # noqa: E731
        return {"numbers": np.concatenate([p.numbers for p in self.parts]),
                "sample": np.concatenate([np.full(len(p.numbers), s) for s, p in enumerate(self.parts)]),
                "src": join("src", atoms[:-1]), "dst": join("dst", atoms[:-1]),
                "distances": np.concatenate([p.distances for p in self.parts]),
                "bond_a": join("bond_a", bonds[:-1]), "bond_b": join("bond_b", bonds[:-1]),
                "cosines": np.concatenate([p.cosines for p in self.parts])}


def line_graphs(structures: list[Atoms], k: int = 12, cutoff: float = 5.0) -> LineGraphs:
    return LineGraphs([line_graph(a, k, cutoff) for a in structures])
