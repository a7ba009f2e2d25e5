"""Class labels from file names or from a CSV table mapping ids/paths to labels."""

from __future__ import annotations

import csv
from pathlib import Path

from spectool.errors import FormatError

PATH_RULES = ("stem", "parent", "none")


def read_label_table(path: str) -> dict[str, str]:
    """A CSV mapping an id, file name or path (first column) to a label (second column)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read label table ({exc})", path) from None
    if rows and rows[0][:2] and rows[0][0].lower() in ("id", "path", "file", "name", "stem"):
        rows = rows[1:]
    bad = next((i for i, r in enumerate(rows) if len(r) < 2), None)
    if bad is not None:
        raise FormatError("expected two columns: id-or-path,label", path, bad + 1)
    return {r[0].strip(): r[1].strip() for r in rows}


def label_from_table(table: dict[str, str], path: str, sample_id: str) -> str:
    """The table's label for a file, tried by path, absolute path, name, id and stem ('' if none)."""
    p = Path(path)
    for key in (path, str(p.resolve()), p.name, sample_id, p.stem):
        if key in table:
            return table[key]
    return ""


def label_from_path(path: str, rule: str) -> str:
    """``stem`` (file name without suffix), ``parent`` (folder name) or ``none`` ('')."""
    return {"stem": Path(path).stem, "parent": Path(path).parent.name, "none": ""}[rule]
