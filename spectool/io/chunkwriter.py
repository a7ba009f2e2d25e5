"""Writing the (N, L) signal of an HDF5 set chunk by chunk, compressing on several threads.

h5py compresses in the writing thread, one chunk at a time; zlib releases the GIL, so
compressing whole chunks ourselves in a thread pool and handing them to HDF5 with
``write_direct_chunk`` multiplies throughput by the cores at hand. The bytes are exactly
what HDF5's shuffle + deflate pipeline writes, so any HDF5 reader decodes them.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

GZIP_LEVEL = 4


def shuffle_deflate(rows: np.ndarray, level: int = GZIP_LEVEL) -> bytes:
    """One chunk (r, L) float32 through HDF5's shuffle filter (bytes grouped by significance) then zlib."""
    raw = np.ascontiguousarray(rows, dtype="<f4").view(np.uint8).reshape(-1, 4)
    return zlib.compress(raw.T.tobytes(), level)


class ChunkWriter:
    """Appends rows to a chunked, shuffle+gzip dataset of shape (N, L), chunks (r, L).

    Rows are buffered until a whole chunk is ready; chunks are compressed in a pool and
    written in order; ``close`` writes the last, partial chunk (padded with zeros, which
    the dataset's extent hides).
    """

    def __init__(self, dataset, threads: int | None = None, level: int = GZIP_LEVEL):
        self.dataset, self.level = dataset, level
        self.rows = dataset.chunks[0]
        self.buffer = np.empty((0, dataset.shape[1]), np.float32)
        self.next_chunk = dataset.shape[0] // self.rows
        self.pool = ThreadPoolExecutor(threads or min(4, os.cpu_count() or 1))
        self.pending: deque = deque()

    def append(self, X: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, np.asarray(X, np.float32)])
        whole = len(self.buffer) // self.rows * self.rows
        for lo in range(0, whole, self.rows):
            self._submit(self.buffer[lo:lo + self.rows])
        self.buffer = self.buffer[whole:]
        while len(self.pending) > 2 * self.pool._max_workers:
            self._write_one()

    def _submit(self, rows: np.ndarray) -> None:
        self.pending.append((self.next_chunk, self.pool.submit(shuffle_deflate, rows.copy(), self.level)))
        self.next_chunk += 1

    def _write_one(self) -> None:
        index, future = self.pending.popleft()
        self.dataset.id.write_direct_chunk((index * self.rows, 0), future.result())

    def close(self) -> None:
        if len(self.buffer):
            padded = np.zeros((self.rows, self.buffer.shape[1]), np.float32)
            padded[:len(self.buffer)] = self.buffer
            self._submit(padded)
            self.buffer = self.buffer[:0]
        while self.pending:
            self._write_one()
        self.pool.shutdown()

    def abort(self) -> None:
        self.pool.shutdown(cancel_futures=True)
