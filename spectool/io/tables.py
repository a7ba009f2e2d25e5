"""CSV tables that commands write (a corpus's types.csv, manifest.csv, names.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

from spectool.io.stdio import atomic_path


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    """``rows`` as a CSV with a header of ``columns`` (other keys ignored), atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
