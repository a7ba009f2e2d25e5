"""Counter-based random streams, one per output row, drawn for a whole batch at once.

Row r of an augment chunk is copy ``c`` of sample ``s``; its key is a 64-bit hash of
``(seed, s, c)``. A number is a pure function of (row key, op slot, call, index):

    value = mix64(key ^ mix64(counter)),   counter = slot · 2⁴⁸ + call · 2³² + index

where ``mix64`` is the SplitMix64 finaliser (Stafford's variant 13, a bijection of 64-bit
words) and uniforms take the top 53 bits. So the numbers of a row never depend on which
other rows share its batch (chunk size, workers), on how many values are drawn past the
ones used (a per-peak draw may ask for only the peaks a row has), nor on the order rows are
drawn in, and a whole batch is one vectorised call per draw. ``slot`` is the op's position
in the pipeline, ``call`` counts the draws an op makes, ``index`` (< 2³²) the value within a
draw. Bulk per-point normals come from a small numpy generator per row seeded by a drawn
key (the ziggurat per row is as fast as any vectorised hash-and-Box–Muller here).
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 1.0 / 2.0**53
_GOLDEN3 = np.uint64((0x9E3779B97F4A7C15 * 3) & (2**64 - 1))


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of uint64 words ``z`` (any shape), in place; returns ``z``."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def row_keys(seed: int, samples, copies) -> np.ndarray:
    """(B,) uint64 keys of rows ``(seed, sample, copy)``: chained mix64, one row at a time
    equal to the whole batch at once."""
    s = np.asarray(samples, np.int64).astype(np.uint64)
    c = np.asarray(copies, np.int64).astype(np.uint64)
    k = mix64(np.full(s.shape, np.uint64(int(seed) & (2**64 - 1))) + _GOLDEN)
    k = mix64(k ^ mix64(s + _GOLDEN))
    return mix64(k ^ mix64(c + _GOLDEN3))


class RowStreams:
    """The random streams of a batch of output rows (see the module docstring).

    ``keys`` (B,) uint64; ``slot`` the op's position in the pipeline. Each drawing method
    uses the next ``call`` number, so an op's draws are independent of each other.
    """

    def __init__(self, keys: np.ndarray, slot: int = 0):
        self.keys = np.asarray(keys, np.uint64)
        self.slot = int(slot)
        self.call = 0

    def __len__(self) -> int:
        return len(self.keys)

    def child(self, slot: int) -> "RowStreams":
        """The streams of op number ``slot`` (its own counter space, call 0)."""
        return RowStreams(self.keys, slot)

    def _counter(self, index: np.ndarray) -> np.ndarray:
        call, self.call = self.call, self.call + 1
        base = (self.slot << 48) | (call << 32)
        return mix64(np.asarray(index, np.uint64) + np.uint64(base) + _GOLDEN)

    def bits_at(self, rows: np.ndarray, index: np.ndarray) -> np.ndarray:
        """uint64 words for (row, index) pairs of one call: ``rows`` and ``index`` broadcast."""
        ctr = self._counter(index)
        return mix64(self.keys[rows] ^ ctr)

    def uniform_at(self, rows, index, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
        """U[lo, hi) float64 for (row, index) pairs (one call): a ragged draw, e.g. per peak."""
        u = (self.bits_at(np.asarray(rows, np.intp), index) >> np.uint64(11)) * _TO_UNIT
        return lo + (hi - lo) * u if (lo, hi) != (0.0, 1.0) else u

    def uniform(self, lo: float = 0.0, hi: float = 1.0, size: int | None = None) -> np.ndarray:
        """U[lo, hi) per row: (B,) float64, or (B, size) with ``size``."""
        rows = np.arange(len(self))
        if size is None:
            return self.uniform_at(rows, np.zeros(1, np.uint64), lo, hi)
        return self.uniform_at(rows[:, None], np.arange(size, dtype=np.uint64)[None, :], lo, hi)

    def integers(self, lo: int, hi: int) -> np.ndarray:
        """One integer per row, uniform on lo … hi − 1: (B,) int64."""
        return np.minimum(lo + np.floor(self.uniform() * (hi - lo)).astype(np.int64), hi - 1)

    def seeds(self) -> np.ndarray:
        """(B,) uint64: one fresh seed per row, for a per-row numpy generator."""
        return self.bits_at(np.arange(len(self)), np.zeros(1, np.uint64))

    def generators(self) -> list[np.random.Generator]:
        """One numpy generator per row (SFC64 from :meth:`seeds`), for bulk per-point draws."""
        return [np.random.Generator(np.random.SFC64(int(s))) for s in self.seeds()]


def row_streams(seed: int, samples, copies) -> RowStreams:
    """The streams of output rows ``(seed, sample, copy)`` (B,)."""
    return RowStreams(row_keys(seed, samples, copies))
