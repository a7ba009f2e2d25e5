"""Training data: splits and batch streams over a spectra set, in memory or chunk by chunk.

Sets larger than memory train from HDF5 with a chunk-aware sampler: contiguous blocks of
rows (a few HDF5 chunks each) are read whole in a shuffled order, pooled a few blocks at a
time and shuffled within the pool, so every read is sequential and memory stays at
``pool_blocks × block_rows × L`` floats. Small sets are read once into memory and batched
by random permutation. Both draw from ``numpy.random.default_rng([seed, epoch])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from spectool.errors import UsageError

IN_MEMORY_BYTES = 2 * 2**30  # sets smaller than this are loaded whole


@dataclass
class Split:
    """Row indices (sorted) of the training and validation parts."""

    train: np.ndarray
    val: np.ndarray


def stratified_split(y: np.ndarray, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Per class, ``val_fraction`` of the rows (at least one when a class has ≥ 2) go to validation.

    Unlabelled rows (y < 0) are left out of both.
    """
    _check_fraction(val_fraction)
    rng = np.random.default_rng([seed, 7])
    train, val = [], []
    for label in np.unique(y[y >= 0]):
        rows = rng.permutation(np.flatnonzero(y == label))
        k = _val_count(len(rows), val_fraction)
        val.append(rows[:k])
        train.append(rows[k:])
    return Split(_sorted(train), _sorted(val))


def grouped_split(y: np.ndarray, groups: np.ndarray, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Per class, ``val_fraction`` of its groups (e.g. augment's ``parent``: the structure a row was made
    from) go to validation with all their rows; a group never lies on both sides.

    A group belongs to the class of its first labelled row; a class with one group keeps it in training
    (no validation rows). Unlabelled rows (y < 0) are left out of both.
    """
    _check_fraction(val_fraction)
    rng = np.random.default_rng([seed, 7])
    rows = np.flatnonzero(y >= 0)
    ids, first = np.unique(groups[rows], return_index=True)
    owner = y[rows][first]  # the class of each group
    held = np.zeros(len(ids), bool)
    for label in np.unique(owner):
        members = rng.permutation(np.flatnonzero(owner == label))
        held[members[:_val_count(len(members), val_fraction)]] = True
    is_val = held[np.searchsorted(ids, groups[rows])]
    return Split(rows[~is_val], rows[is_val])


def _check_fraction(val_fraction: float) -> None:
    if not 0 < val_fraction < 1:
        raise UsageError(f"validation fraction must lie in (0, 1), not {val_fraction}")


def _val_count(n: int, val_fraction: float) -> int:
    """How many of a class's n rows (or groups) validate: the share rounded, ≥ 1 and ≤ n − 1 when n ≥ 2."""
    if n < 2:
        return 0
    return min(max(int(round(n * val_fraction)), 1), n - 1)


def _sorted(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, int)


def read_labels(reader) -> np.ndarray:
    """All labels (N,) int32 of a set, read chunk by chunk."""
    return np.concatenate([c.y for c in reader.iter_chunks(rows=65536, peaks=False)])


def read_column(reader, name: str) -> np.ndarray | None:
    """One 1-D sample column (N,) of a set (e.g. ``parent``), or None when the set has none."""
    if name not in (getattr(reader.meta, "columns", None) or []):
        return None
    parts = [np.asarray(c.samples[name]) for c in reader.iter_chunks(rows=65536, peaks=False)]
    return np.concatenate(parts) if parts and parts[0].ndim == 1 else None


class BatchSource:
    """Yields (X (B, L) float32, y (B,) int64, rows (B,)) batches over ``rows`` of a set.

    ``transform(X, rows, epoch)`` (e.g. on-the-fly augmentation) is applied per batch.
    """

    def __init__(self, reader, rows: np.ndarray, batch_size: int, shuffle: bool = True, seed: int = 0,
                 block_rows: int = 512, pool_blocks: int = 8, in_memory: bool | None = None,
                 transform: Callable | None = None, rank: int = 0, world: int = 1):
        self.reader, self.rows, self.batch_size = reader, np.asarray(rows, dtype=np.int64), batch_size
        self.shuffle, self.seed, self.block_rows, self.pool_blocks = shuffle, seed, block_rows, pool_blocks
        self.transform, self.rank, self.world = transform, rank, world
        length = len(reader.meta.axis)
        if in_memory is None:
            in_memory = len(self.rows) * length * 4 <= IN_MEMORY_BYTES
        self._X = self._y = None
        if in_memory:
            self._X, self._y = _load_rows(reader, self.rows)

    def __len__(self) -> int:
        """Batches per epoch (for this rank)."""
        return -(-self._rank_rows() // self.batch_size)

    def _rank_rows(self) -> int:
        return len(self.rows[self.rank::self.world])

    def epoch(self, epoch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, epoch])
        batches = self._memory_batches(rng) if self._X is not None else self._block_batches(rng)
        for X, y, rows in batches:
            if self.transform is not None:
                X = self.transform(X, rows, epoch)
            yield X, y, rows

    def _memory_batches(self, rng):
        order = rng.permutation(len(self.rows)) if self.shuffle else np.arange(len(self.rows))
        order = order[self.rank::self.world]
        for lo in range(0, len(order), self.batch_size):
            take = order[lo:lo + self.batch_size]
            yield self._X[take], self._y[take], self.rows[take]

    def _block_batches(self, rng):
        blocks = _blocks(self.rows, self.block_rows)
        if self.shuffle:
            blocks = [blocks[i] for i in rng.permutation(len(blocks))]
        blocks = blocks[self.rank::self.world]
        carry = None
        for lo in range(0, len(blocks), self.pool_blocks):
            X, y, rows = _read_blocks(self.reader, blocks[lo:lo + self.pool_blocks])
            if carry is not None:
                X, y, rows = (np.concatenate([a, b]) for a, b in zip(carry, (X, y, rows)))
            order = rng.permutation(len(rows)) if self.shuffle else np.arange(len(rows))
            full = len(order) - len(order) % self.batch_size
            for start in range(0, full, self.batch_size):
                take = order[start:start + self.batch_size]
                yield X[take], y[take], rows[take]
            rest = order[full:]
            carry = (X[rest], y[rest], rows[rest])
        if carry is not None and len(carry[2]):
            yield carry


def _blocks(rows: np.ndarray, block_rows: int) -> list[np.ndarray]:
    """The wanted rows grouped by the block of the set they lie in."""
    ids = rows // block_rows
    cuts = np.flatnonzero(np.diff(ids)) + 1
    return np.split(rows, cuts)


def _read_blocks(reader, blocks: list[np.ndarray]):
    """One contiguous read per block, keeping only the wanted rows."""
    Xs, ys, kept = [], [], []
    for rows in blocks:
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        chunk = reader.read_rows(lo, hi, peaks=False)
        Xs.append(np.asarray(chunk.X)[rows - lo])
        ys.append(chunk.y[rows - lo])
        kept.append(rows)
    return np.concatenate(Xs), np.concatenate(ys).astype(np.int64), np.concatenate(kept)


def _load_rows(reader, rows: np.ndarray):
    X, y, _ = _read_blocks(reader, _blocks(rows, 8192))
    return np.ascontiguousarray(X, dtype=np.float32), y
