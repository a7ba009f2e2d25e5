"""Phase references from files: a folder of structures (CIF, POSCAR, …) or of measured scans, with labels.

Labels come from a table in the folder (``manifest.csv`` or ``labels.csv`` with columns ``path``
and ``label``, paths relative to the folder; spectool's corpus writes such a manifest) or, without
one, from where the files sit: ``DIR/quartz/x.cif`` → ``quartz`` (as ``simulate --label parent``),
``DIR/quartz.cif`` → ``quartz``. Structures are put in their conventional
standard setting (:func:`spectool.fit.reference.conventional`) before their reflections are stored.

Measured references (a laboratory's standards, fitted by full-pattern summation,
:mod:`spectool.fit.measured`): a folder of scans in any format spectool reads, a set (HDF5/NPY,
labels and an optional ``rir`` sample column), or a CSV table naming the scans. A table may also
name its columns ``file`` (for ``path``) and ``phase_name`` (for ``label``), as powdR's RockJock
library does, and gives each reference's RIR in a ``rir`` column (empty: unknown).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from spectool.errors import FormatError, UsageError

TABLES = ("manifest.csv", "labels.csv")
SUFFIXES = (".cif", ".mcif", ".vasp", ".json", ".poscar")
#: Column names of a table, each with the aliases it may have (first present wins).
PATH_COLUMNS = ("path", "file")
LABEL_COLUMNS = ("label", "phase_name")
RIR_COLUMN = "rir"


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
    rows = [r for r in read_table(table) if split is None or r.get("split", split) == split]
    return [(r["label"], root / r["path"]) for r in namesakes_first(rows)]


def namesakes_first(rows: list[dict]) -> list[dict]:
    """Rows with, within each label, one whose ``name`` column is the label's mineral first (a
    library's Halite type: halite before its AFLOW prototype, low-temperature KBD4), then one of each
    other named mineral (real minerals before the rest of the table: corundum, karelianite,
    eskolaite, hematite before a second corundum), then further structures of the namesake and of
    those minerals, else in table order: the structures predict fits should look like what the type is
    named for, and span the chemistry of its minerals, whose intensities differ (Fe₂O₃ against Al₂O₃)."""
    seen: set[tuple[str, str]] = set()

    def rank(row: dict) -> int:
        named = is_namesake(row) or _mineral(row)
        first = named and (row["label"], _name(row)) not in seen
        seen.add((row["label"], _name(row)))
        if is_namesake(row):
            return 0 if first else 2
        return 1 if first else 2 if named else 3

    ranks = [rank(r) for r in rows]
    return [r for _, _, r in sorted(zip(ranks, range(len(rows)), rows), key=lambda t: t[:2])]


def _name(row: dict) -> str:
    """A row's ``name`` without bracketed formulas or a ``<missing>`` mark: ``Calcite (CaCO3, G01)`` → ``calcite``."""
    return re.sub(r"\s*[\[(].*", "", row.get("name", "").replace("<missing>", "")).strip().casefold()


def _mineral(row: dict) -> bool:
    """Whether a row names a mineral of a database (AMCSD, a CIF's ``_chemical_name_mineral``), not a prototype."""
    return bool(_name(row)) and row.get("source", "") != "aflow"


def is_namesake(row: dict) -> bool:
    """Whether a table row's ``name`` is its label's mineral (``Quartz`` for the label ``Quartz-152``,
    ``Calcite (CaCO3, G01)`` for ``Calcite``)."""
    head, _, tail = row["label"].rpartition("-")
    base = head if head and tail.isdigit() else row["label"]
    return _name(row) == base.casefold()


def read_table(table: Path) -> list[dict]:
    """Rows of a label table with their columns under the names ``path``, ``label`` (and ``rir``, lower
    case) whatever alias of :data:`PATH_COLUMNS` / :data:`LABEL_COLUMNS` the file uses."""
    with open(table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = {c.strip().lower(): c for c in (rows[0] if rows else {})}
    path = next((columns[c] for c in PATH_COLUMNS if c in columns), None)
    label = next((columns[c] for c in LABEL_COLUMNS if c in columns), None)
    if path is None or label is None:
        raise FormatError("a label table needs the columns path and label", table)
    rir = columns.get(RIR_COLUMN)
    return [{**r, "path": r[path], "label": r[label], **({"rir": r[rir]} if rir else {})} for r in rows]


def is_measured_source(source: str | Path) -> bool:
    """Whether ``--references`` names measured scans (a set, a scan, a table of scans, a folder without
    structure files) rather than structures."""
    root = Path(source)
    if root.is_file():
        return root.suffix.lower() not in SUFFIXES
    if not root.is_dir():
        return False
    table = next((root / t for t in TABLES if (root / t).is_file()), None)
    if table is not None:
        return not any(Path(r["path"]).suffix.lower() in SUFFIXES for r in read_table(table))
    return not any(p.suffix.lower() in SUFFIXES or p.name.upper() == "POSCAR" for p in root.rglob("*"))


def _rir(text: str | None, where, line: int | None = None) -> float | None:
    if text is None or not str(text).strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value != value:  # NaN: a set's way of saying unknown
        return None
    if not value > 0 or value == float("inf"):
        raise FormatError(f"RIR must be a positive number, not {text!r}", where, line)
    return value


def measured_entries(source: str | Path, env, wavelength: float | None = None) -> tuple[list, list[str]]:
    """The measured references of ``source``: ([(label, name, Spectra, row, RIR or None)], one message
    per input that could not be read). Labels: the table's, a set's row labels, else the scan's parent
    folder (a scan directly in the folder: its stem); RIR: the table's ``rir`` column or a set's
    ``rir`` sample column."""
    from spectool.errors import SpectoolError
    from spectool.io.spectra import iter_spectra

    root = Path(source)
    if not root.exists():
        raise UsageError("--references: no such file or folder", root)
    table = root if root.is_file() and root.suffix.lower() == ".csv" else (
        next((root / t for t in TABLES if (root / t).is_file()), None) if root.is_dir() else None)
    if table is not None:
        rows = read_table(table)
        listed = [(str(table.parent / r["path"]), r["label"], _rir(r.get("rir"), table, i + 2))
                  for i, r in enumerate(rows)]
    else:
        listed = [(str(root), None, None)]
    out, errors = [], []
    for path, label, rir in listed:
        for name, item in iter_spectra([path], env, wavelength):
            if isinstance(item, SpectoolError):
                errors.append(str(item))
                continue
            out += _item_entries(item, label, rir, root)
    return out, errors


def _item_entries(item, label: str | None, rir: float | None, root: Path) -> list:
    """(label, name, item, row, RIR) of each row of one read :class:`Spectra`."""
    if item.is_scan:
        p = Path(item.name)
        own = label or (p.stem if p.parent == root or root.is_file() else p.parent.name)
        return [(own, p.stem, item, i, rir) for i in range(len(item))]
    ids = item.samples.get("id")
    rirs = item.samples.get(RIR_COLUMN)
    entries = []
    for i in range(len(item)):
        name = str(ids[i]) if ids is not None else f"{Path(item.name).stem}#{i}"
        own = label or (item.labels[i] if item.labels and item.labels[i] else name)
        value = rir if rirs is None else _rir(str(rirs[i]), item.name)
        entries.append((own, name, item, i, value))
    return entries


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
    """((label, PhaseReference) for every structure that loads, one message per one that does not).
    A smectite (:func:`~spectool.xrd.turbostratic.is_smectite` of its label, its file's name or the
    CIF's mineral name) is fitted as smectites occur: turbostratic, at the basal spacings of its swelling
    (:func:`~spectool.fit.reference.references_from_loaded`)."""
    from spectool.fit.reference import references_from_loaded
    from spectool.xrd.structures import load_structures
    from spectool.xrd.turbostratic import is_smectite, names_smectite

    out, errors = [], []
    for label, path in pairs:
        smectite = is_smectite(label) or names_smectite(path)
        try:
            for item in load_structures(path):
                out += [(label, ref) for ref in references_from_loaded(item, lambda p, name: Path(p).stem, smectite)]
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
