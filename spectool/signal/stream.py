"""Augmenting a set chunk by chunk: one chunk of rows in, its augmented copies out.

Pure glue between :func:`spectool.signal.augment.augment_chunk` and the set format: labels
and sample columns follow each copy, with ``parent`` (the source row) and ``copy`` columns; a copy's
``id`` is its source's with ``~k`` appended (k = copy), so every row of the output names itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.spectra import Axis, Chunk


@dataclass
class AugmentPlan:
    """What every chunk needs: ops, seed, copies per row (N,), render settings, context, device."""

    ops: list
    seed: int
    copies: np.ndarray
    axis: Axis
    settings: object = None  # RenderSettings, for stick ops
    ctx: object = None  # Context
    device: str | None = None
    keep_original: bool = False


def augment_block(chunk: Chunk, plan: AugmentPlan) -> Chunk:
    """The augmented copies of ``chunk`` (rows ``chunk.start …``), originals first if kept."""
    from spectool.signal.augment import augment_chunk

    copies = plan.copies[chunk.start:chunk.start + len(chunk)]
    cell = chunk.samples.get("cell")
    Y, src = augment_chunk(chunk.X, plan.axis, plan.ops, plan.seed, copies, start=chunk.start,
                           peaks=chunk.peaks, cell=cell, settings=plan.settings, ctx=plan.ctx, device=plan.device)
    copy = np.arange(len(src)) - np.repeat(np.cumsum(copies) - copies, copies)
    if plan.keep_original:
        Y = np.concatenate([np.asarray(chunk.X, np.float32), Y])
        src = np.concatenate([np.arange(len(chunk)), src])
        copy = np.concatenate([np.full(len(chunk), -1), copy])
    samples = {k: np.asarray(v)[src] for k, v in chunk.samples.items() if np.asarray(v).ndim == 1}
    if "id" in samples:
        samples["id"] = copy_ids(samples["id"], copy)
    samples["parent"] = (chunk.start + src).astype(np.int64)
    samples["copy"] = copy.astype(np.int32)
    y = None if chunk.y is None else np.asarray(chunk.y)[src]
    return Chunk(Y, y, samples, None, start=0)


def copy_ids(ids: np.ndarray, copy: np.ndarray) -> np.ndarray:
    """``id~k`` for copy k ≥ 0, the id unchanged for a kept original (k = −1): (N,) object array."""
    return np.array([f"{i}~{k}" if k >= 0 else i for i, k in zip(ids, copy)], dtype=object)


PRESETS = ("pattern", "physics", "both", "none")


def build_ops(preset: str, specs: list[str], without: list[str]) -> list:
    """The preset's ops, each replaced by a same-named ``--op`` and minus ``--without``; new ops appended.

    Stick ops are ordered first (they re-render the pattern), pattern ops keep their order.
    """
    from spectool.errors import UsageError
    from spectool.signal.augment import check_ops, default_ops
    from spectool.signal.ops import load_all, parse_step

    if preset not in PRESETS:
        raise UsageError(f"--preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    ops = {"pattern": default_ops("pattern"), "physics": default_ops("physics"), "none": [],
           "both": default_ops("physics") + default_ops("pattern")}[preset]
    unknown = [name for name in without if name not in load_all()]
    if unknown:
        raise UsageError(f"--without: unknown operation {unknown[0]!r}")
    given = [parse_step(spec) for spec in specs]
    names = {o.name for o in given}
    ops = [o for o in ops if o.name not in names and o.name not in without]
    ops += [o for o in given if o.name not in without]
    check_ops(ops, has_sticks=True)  # stage checks now; stick lists are checked against the set later
    if not ops:
        raise UsageError("no augmentation left to apply")
    return sorted(ops, key=lambda o: o.stage != "sticks")
