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

WHOLE_MAX_CELLS = 24  # a table column this narrow is never wrapped: numbers, labels, short names


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


def write_rows(env: Env, rows: Iterable[dict], columns: Sequence[str], title: str | None = None,
               optional: Sequence[str] = ()) -> None:
    """Write rows as JSON Lines (``env.json``), a rich table (TTY) or TSV.

    JSON and TSV stream row by row, so a long batch shows results as they come and a
    closed pipe (``| head``) stops the work early. ``optional`` names the columns the
    table may leave out to fit the terminal, in the order it gives them up.
    """
    if env.stdout_isatty and not env.json:
        rows = list(rows)
        if rows:
            _write_table(env, rows, columns, title, optional)
        return
    header = not env.json  # written with the first row: a run that writes no rows writes nothing
    for row in rows:
        if header:
            _write_text(env, "\t".join(columns) + "\n")
            header = False
        if env.json:
            _write_text(env, json.dumps(to_jsonable(row), ensure_ascii=False) + "\n")
        else:
            _write_text(env, "\t".join(format_cell(row.get(c)) for c in columns) + "\n")


def _write_text(env: Env, text: str) -> None:
    from spectool.io.stdio import write_all

    write_all(env.stdout, text.encode("utf-8"))
    env.stdout.flush()


def _write_table(env: Env, rows: list[dict], columns: Sequence[str], title: str | None,
                 optional: Sequence[str]) -> None:
    import io

    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    cells = [{c: format_cell(row.get(c)) for c in columns} for row in rows]
    widths = {c: max([cell_len(c)] + [cell_len(r[c]) for r in cells]) for c in columns}
    shown = fit_columns(widths, columns, optional, _terminal_width())
    widest = max(shown, key=lambda c: widths[c])
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in shown:  # numbers and names stay whole; only long text and the widest column wrap
        if column == widest or widths[column] > WHOLE_MAX_CELLS:
            table.add_column(column, overflow="fold")
        else:
            table.add_column(column, no_wrap=True, min_width=widths[column])
    for row in cells:
        table.add_row(*(row[c] for c in shown))
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=_terminal_width()).print(table)
    _write_text(env, buffer.getvalue())


def fit_columns(widths: dict[str, int], columns: Sequence[str], optional: Sequence[str], width: int) -> list[str]:
    """The columns a table shows: ``optional`` ones left out, in order, until it fits ``width`` characters.

    ``widths`` are the columns' natural widths in terminal cells (header included).
    """
    shown = list(columns)
    for name in optional:
        if table_width([widths[c] for c in shown]) <= width:
            break
        if name in shown:
            shown.remove(name)
    return shown


def table_width(widths: Sequence[int]) -> int:
    """Cells a rich table takes: the columns, one space of padding each side, a border around each."""
    return sum(widths) + 3 * len(widths) + 1


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns
