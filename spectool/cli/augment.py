"""``spectool augment``: K physics-informed variants of every pattern, streamed chunk by chunk."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import DeviceOpt, OutputOpt, SeedOpt, WorkersOpt, command
from spectool.cli.workers import pool_map, worker_pool
from spectool.env import Env
from spectool.learn.device import DEFAULT_DEVICE

OP_HELP = ("An operation NAME[:key=value,…] (repeatable; ranges as lo:hi), replacing the preset's op of that "
           "name or added to it: peak_scale, peak_drop, shift, window, noise, background, hump (pattern level); "
           "strain, size, texture, impurity, displacement (need the stick lists simulate keeps). "
           "E.g. --op strain:max=0.02 --op size:nm=10:40 --op displacement:mm=-0.2:0.2.")
CHUNK_ROWS = 64


@command(app, "augment")
def augment(
    env: Env,
    input: Annotated[str, typer.Argument(metavar="SET", help="A spectra set (path or -).")],
    copies: Annotated[int, typer.Option("-n", "--copies", min=1, help="Variants per pattern.")] = 10,
    output: OutputOpt = "-",
    preset: Annotated[str, typer.Option(help="pattern (ViT paper: scale, drop, shift, window), physics "
                                             "(CrySTINet: strain, size, texture, impurity, noise, background), "
                                             "both, or none.")] = "pattern",
    op: Annotated[Optional[list[str]], typer.Option("--op", metavar="NAME[:K=V,…]", help=OP_HELP)] = None,
    without: Annotated[Optional[list[str]], typer.Option("--without", metavar="NAME",
                                                         help="Drop an operation of the preset.")] = None,
    balance: Annotated[bool, typer.Option(help="Give rare labels more copies (up to 10× -n).")] = False,
    keep_original: Annotated[bool, typer.Option(help="Also write each pattern unchanged.")] = False,
    seed: SeedOpt = 0,
    workers: WorkersOpt = 1,
    device: DeviceOpt = DEFAULT_DEVICE,
    fmt: Annotated[Optional[str], typer.Option("--format", help="hdf5 or npy [default: from the suffix].")] = None,
) -> None:
    """Make augmented copies of every pattern of a set.

    Copy c of row s draws only from the random stream of (seed, s, c): the output is identical for any --workers
    and chunk size. Each output row keeps its labels and sample columns, plus `parent` (source row) and `copy`.
    """
    from spectool.io.stdio import refuse_binary_to_terminal
    from spectool.signal.stream import build_ops

    refuse_binary_to_terminal(output, env)
    ops = build_ops(preset, op or [], without or [])
    _run(env, input, output, ops, copies, balance, keep_original, seed, workers, device, fmt)


def _run(env: Env, spec: str, output: str, ops, copies, balance, keep_original, seed, workers, device, fmt):
    import numpy as np

    from spectool.io.sets import create_set, history_record, open_set
    from spectool.learn.data import read_labels
    from spectool.signal.augment import balance_copies, check_ops
    from spectool.signal.ops import Context
    from spectool.signal.render import RenderSettings
    from spectool.signal.stream import AugmentPlan

    with open_set(spec, env) as reader:
        meta = reader.meta
        check_ops(ops, meta.has_peaks and "cell" in meta.columns)
        y = read_labels(reader)
        per_row = balance_copies(y, copies) if balance else np.full(len(y), copies, np.int64)
        plan = AugmentPlan(ops, seed, per_row, meta.axis, RenderSettings.from_history(meta.history, meta.wavelength),
                           Context(meta.wavelength, None, meta.kind), _device(device), keep_original)
        params = {"ops": [o.to_json() for o in ops], "copies": copies, "balance": balance,
                  "keep_original": keep_original}
        record = history_record("augment", params, [spec], seed)
        out_meta = meta.evolve(has_peaks=False, columns=[])
        total = int(per_row.sum()) + (len(y) if keep_original else 0)
        parallel = workers if spec != "-" and plan.device is None else 1  # workers read the set themselves
        with worker_pool(parallel) as pool, create_set(output, out_meta, env, record, fmt) as out, \
                env.progress("augment", total) as advance:
            for block in _blocks(reader, spec, plan, pool):
                out.append(block)
                advance(len(block))
    env.info(f"augment: {total} patterns written to {output}")


def _device(device: str) -> str | None:
    """None (numpy) on the CPU; the torch device when a GPU is asked for or auto finds one."""
    from spectool.learn.device import resolve_device

    resolved = resolve_device(device)
    return None if resolved == "cpu" else resolved


def _blocks(reader, spec: str, plan, pool):
    """Augmented chunks in row order; with a pool, its workers read and augment."""
    from functools import partial

    from spectool.signal.stream import augment_block

    needs_peaks = any(o.stage == "sticks" for o in plan.ops)
    if pool is None:
        for chunk in reader.iter_chunks(CHUNK_ROWS, peaks=needs_peaks):
            yield augment_block(chunk, plan)
        return
    starts = range(0, len(reader), CHUNK_ROWS)
    yield from pool_map(pool, partial(_augment_rows, path=spec, plan=plan, peaks=needs_peaks), starts)


def _augment_rows(start: int, path: str, plan, peaks: bool):
    from spectool.env import Env
    from spectool.io.sets import open_set
    from spectool.signal.stream import augment_block

    with open_set(path, Env()) as reader:
        return augment_block(reader.read_rows(start, min(start + CHUNK_ROWS, len(reader)), peaks=peaks), plan)
