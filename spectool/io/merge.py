"""Joining spectra sets: same axis and kind required; labels remapped by name."""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np

from spectool.env import Env
from spectool.errors import FormatError, UsageError
from spectool.spectra import Chunk, SetMeta
from spectool.io.sets import create_set, history_record, open_set

ROWS = 4096


def check_compatible(first: SetMeta, other: SetMeta, name: str) -> None:
    """Raise FormatError unless ``other`` lies on ``first``'s axis with the same kind."""
    a, b = first.axis, other.axis
    if not a.same_as(b) or (a.quantity, a.units) != (b.quantity, b.units):
        raise FormatError("its axis differs from the first set's: resample it first (spectool preprocess --like)", name)
    if first.kind != other.kind:
        raise FormatError(f"kind {other.kind!r} differs from the first set's {first.kind!r}", name)


def merged_meta(metas: list[SetMeta]) -> SetMeta:
    """The first set's metadata with the union of label names (first-seen order)."""
    names: list[str] = []
    for meta in metas:
        names += [n for n in meta.label_names if n not in names]
    common = [c for c in metas[0].columns if all(c in m.columns for m in metas)]
    return metas[0].evolve(label_names=names, columns=common, has_peaks=all(m.has_peaks for m in metas))


def merge_sets(specs: list[str], output: str, env: Env, fmt: str | None = None) -> int:
    """Write the sets at ``specs`` one after another into ``output``; returns N."""
    if len(specs) < 1 or specs.count("-") > 1:
        raise UsageError("give one or more sets (stdin at most once)")
    with ExitStack() as stack:
        readers = [stack.enter_context(open_set(spec, env)) for spec in specs]
        for reader in readers[1:]:
            check_compatible(readers[0].meta, reader.meta, reader.name)
        meta = merged_meta([r.meta for r in readers])
        record = history_record("merge", {"sets": specs}, specs)
        with create_set(output, meta, env, record, fmt) as out:
            for reader in readers:
                remap = np.array([meta.label_names.index(n) for n in reader.meta.label_names] + [-1], np.int32)
                for chunk in reader.iter_chunks(ROWS, peaks=meta.has_peaks):
                    samples = {k: v for k, v in chunk.samples.items() if k in meta.columns}
                    out.append(Chunk(chunk.X, remap[chunk.y], samples, chunk.peaks))
        return out.n
