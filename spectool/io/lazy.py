"""A set writer that opens on the first rows, taking its axis and kind from them.

For commands whose output axis is only known once the first input has been processed
(preprocess, predict -o). Later rows must lie on the same axis; sample columns are those of
the first rows, filled with blanks where a later source lacks one.
"""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np

from spectool.env import Env
from spectool.errors import FormatError
from spectool.spectra import Axis, Chunk, SetMeta


class LazySetWriter:
    def __init__(self, output: str, env: Env, record: dict, fmt: str | None = None):
        self.output, self.env, self.record, self.fmt = output, env, record, fmt
        self.stack = ExitStack()
        self.builder = None
        self.axis: Axis | None = None
        self.columns: dict[str, np.dtype] = {}

    @property
    def n(self) -> int:
        return 0 if self.builder is None else self.builder.n

    def __enter__(self) -> "LazySetWriter":
        self.stack.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        if exc[0] is None and self.builder is None:
            self.stack.__exit__(None, None, None)  # nothing was written: no output at all
            return False
        return self.stack.__exit__(*exc)

    def append(self, item, X: np.ndarray, axis: Axis, labels: list[str] | None) -> None:
        """Rows ``X`` (B, L) of ``item`` (a :class:`spectool.spectra.Spectra`) on ``axis``."""
        if self.builder is None:
            self._open(item, axis)
        elif not self.axis.same_as(axis):
            raise FormatError(f"ends on an axis of {len(axis)} points ({axis.values[0]:g}–{axis.values[-1]:g} "
                              f"{axis.units}), not the first input's {len(self.axis)}: finish the recipe with "
                              "a resample (--grid or --like)", item.name)
        samples = {name: _column(item.samples, name, dtype, len(X)) for name, dtype in self.columns.items()}
        self.builder.append(Chunk(np.asarray(X, np.float32), samples=samples), labels)

    def _open(self, item, axis: Axis) -> None:
        from spectool.io.sets import create_set

        self.axis = axis
        self.columns = {k: np.asarray(v).dtype for k, v in item.samples.items() if np.asarray(v).ndim == 1}
        meta = SetMeta(axis=axis, kind=item.kind, wavelength=item.wavelength, radiation=item.radiation)
        self.builder = self.stack.enter_context(create_set(self.output, meta, self.env, self.record, self.fmt))


def _column(samples: dict, name: str, dtype: np.dtype, n: int) -> np.ndarray:
    if name in samples and len(samples[name]) == n:
        return np.asarray(samples[name]).astype(dtype)
    if dtype.kind in "fc":
        return np.full(n, np.nan, dtype)
    if dtype.kind in "iub":
        return np.full(n, -1 if dtype.kind == "i" else 0, dtype)
    return np.array([""] * n, dtype=object)
