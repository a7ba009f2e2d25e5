"""Phase references from files: a folder of structures (CIF, POSCAR, …) with their labels.

Labels come from a table in the folder (``manifest.csv`` or ``labels.csv`` with columns ``path``
and ``label``, paths relative to the folder; spectool's corpus writes such a manifest) or, without
one, from where the files sit: ``DIR/quartz/x.cif`` → ``quartz`` (as ``simulate --label parent``),
``DIR/quartz.cif`` → ``quartz``. Structures are put in their conventional
standard setting (:func:`spectool.fit.reference.conventional`) before their reflections are stored.
"""

from __future__ import annotations

import csv
from pathlib import Path

from spectool.errors import FormatError, UsageError

TABLES = ("manifest.csv", "labels.csv")
SUFFIXES = (".cif", ".mcif", ".vasp", ".json", ".poscar")


def labelled_files(folder: str | Path, split: str | None = None) -> list[tuple[str, Path]]:
    """(label, path) of every structure in ``folder``: from its label table if it has one (rows of
    ``split`` only when the table has a ``split`` column and ``split`` is given), else by subfolder
    name, or file stem for files directly in ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError("--references needs a folder of structure files", root)
    table = next((root / t for t in TABLES if (root / t).is_file()), None)
    if table is None:
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES or p.name.upper() == "POSCAR")
        if not files:
            raise UsageError("no structure files (.cif, POSCAR, .json) here", root)
        return [(p.stem if p.parent == root else p.parent.name, p) for p in files]
    with open(table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise FormatError("a label table needs the columns path and label", table)
    return [(r["label"], root / r["path"]) for r in rows if split is None or r.get("split", split) == split]


def pick_members(pairs: list[tuple[str, Path]], per_label: int) -> list[tuple[str, Path]]:
    """The first ``per_label`` files of each label, in table order (a corpus lists its prototype first)."""
    seen: dict[str, int] = {}
    out = []
    for label, path in pairs:
        if seen.get(label, 0) < per_label:
            seen[label] = seen.get(label, 0) + 1
            out.append((label, path))
    return out


def load_references(pairs: list[tuple[str, Path]]) -> tuple[list[tuple[str, object]], list[str]]:
    """((label, PhaseReference) for every structure that loads, one message per one that does not)."""
    from spectool.fit.reference import reference_from_loaded
    from spectool.xrd.structures import load_structures

    out, errors = [], []
    for label, path in pairs:
        try:
            for item in load_structures(path):
                out.append((label, reference_from_loaded(item, lambda p, name: Path(p).stem)))
        except (FormatError, KeyError, ValueError) as exc:
            errors.append(f"{path}: {exc}")
    return out, errors


def library_from_folder(folder: str | Path, warn=None) -> dict[str, list]:
    """label → [PhaseReference] of every structure in ``folder``; ``warn(message)`` hears of each
    file that does not load. :class:`UsageError` when none does."""
    entries, errors = load_references(labelled_files(folder))
    for message in errors:
        if warn is not None:
            warn(f"{message} (not used as a reference)")
    if not entries:
        raise UsageError("no structure here could be read", folder)
    library: dict[str, list] = {}
    for label, ref in entries:
        library.setdefault(label, []).append(ref)
    return library
