"""Class groups files: JSON ``{"group name": ["label", …], …}`` (or a list of label lists), as
``spectool cluster --group-classes`` writes them and ``spectool train --groups`` reads them."""

from __future__ import annotations

import json
from pathlib import Path

from spectool.errors import FormatError
from spectool.io.stdio import atomic_path


def read_groups(path: str) -> list[list[str]]:
    """Groups of label names from a JSON file (dict name → labels, or list of lists)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FormatError("no such file", path) from None
    except (OSError, ValueError) as exc:
        raise FormatError(f"not a JSON groups file: {exc}", path) from None
    if isinstance(data, dict) and isinstance(data.get("groups"), list):
        data = data["groups"]  # what `spectool cluster --group-classes` writes
    groups = list(data.values()) if isinstance(data, dict) else data
    if not (isinstance(groups, list) and all(isinstance(g, list) for g in groups)):
        raise FormatError("groups must map a group name to a list of labels", path)
    return [[str(x) for x in g] for g in groups]


def write_groups(path: str, groups: list[list[str]]) -> None:
    """``{"groups": [[label, …], …]}`` at ``path``, atomically, one group a line."""
    with atomic_path(Path(path)) as tmp:
        body = ",\n  ".join(json.dumps(g, ensure_ascii=False) for g in groups)
        tmp.write_text(f'{{"groups": [\n  {body}\n]}}\n')  # exactly the agreed {"groups": [[label, …], …]}
