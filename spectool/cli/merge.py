"""``spectool merge``: join sets (e.g. shards of one simulation) into one, chunk by chunk."""

from __future__ import annotations

from typing import Annotated

import typer

from spectool.cli.app import app
from spectool.cli.common import OutputOpt, command
from spectool.env import Env


@command(app, "merge")
def merge(
    env: Env,
    sets: Annotated[list[str], typer.Argument(metavar="SET", help="Sets on one axis, joined in the order given.")],
    output: OutputOpt = "-",
    fmt: Annotated[str | None, typer.Option("--format", help="hdf5 or npy [default: from the suffix].")] = None,
) -> None:
    """Join sets on the same axis into one set, streaming (never all in memory).

    Labels are matched by name; sample columns and stick lists are kept when every input has them.
    Shards of one `spectool simulate --shard I/N` run, merged in order, equal the unsharded run.
    """
    from spectool.io.merge import merge_sets

    n = merge_sets(sets, output, env, fmt)
    env.info(f"merge: {n} spectra from {len(sets)} set(s) written to {output}")
