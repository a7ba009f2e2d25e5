"""Results on stdout: a table on a terminal, TSV when piped, JSON Lines with ``--json``.

Rows are dicts; ``columns`` picks and orders what the table and TSV show, while JSON
carries every field. TSV is stable for ``cut``/``awk``: a header line, tab-separated,
no padding, floats with 6 significant digits.
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

import numpy as np

from spectool.env import Env


def format_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ",".join(format_cell(v) for v in value)
    return str(value).replace("\t", " ").replace("\n", " ")


def to_jsonable(value):
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_rows(env: Env, rows: Iterable[dict], columns: Sequence[str], title: str | None = None) -> None:
    """Write rows as JSON Lines (``env.json``), a rich table (TTY) or TSV.

    JSON and TSV stream row by row, so a long batch shows results as they come and a
    closed pipe (``| head``) stops the work early.
    """
    if env.stdout_isatty and not env.json:
        _write_table(env, list(rows), columns, title)
        return
    if not env.json:
        _write_text(env, "\t".join(columns) + "\n")
    for row in rows:
        if env.json:
            _write_text(env, json.dumps(to_jsonable(row), ensure_ascii=False) + "\n")
        else:
            _write_text(env, "\t".join(format_cell(row.get(c)) for c in columns) + "\n")


def _write_text(env: Env, text: str) -> None:
    env.stdout.write(text.encode("utf-8"))
    env.stdout.flush()


def _write_table(env: Env, rows: list[dict], columns: Sequence[str], title: str | None) -> None:
    import io

    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(format_cell(row.get(c)) for c in columns))
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=_terminal_width()).print(table)
    _write_text(env, buffer.getvalue())


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns
