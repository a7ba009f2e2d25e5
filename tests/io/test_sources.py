"""Reading the structure-type library's sources: label tables, packages, AMCSD files, CIF folders."""

from __future__ import annotations

import sqlite3

import pytest

from spectool.errors import FormatError, UsageError
from spectool.io.sources import amcsd_rows, cif_files, package_path, read_label_table


def test_label_table_by_path_and_name(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("# a comment\npath,structure_type\nsub/a.cif,Halite\nb.cif,\n")
    assert read_label_table(table) == {"sub/a.cif": "Halite", "a.cif": "Halite"}
    table.write_text("path,formula\na.cif,NaCl\n")
    with pytest.raises(FormatError, match="needs a column"):
        read_label_table(table)


def test_missing_package_names_the_install(monkeypatch):
    with pytest.raises(UsageError, match="pip install --no-deps no-such-package"):
        package_path("no_such_package", "data")


def test_not_an_amcsd_database_is_a_format_error(tmp_path):
    db = tmp_path / "x.db"
    sqlite3.connect(db).execute("CREATE TABLE t (a)").connection.commit()
    with pytest.raises(FormatError, match="not an AMCSD database"):
        list(amcsd_rows(db))


def test_cif_files_recursive_and_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/x.CIF", "a.cif", "c.txt"):
        (tmp_path / name).write_text("")
    assert [p.relative_to(tmp_path).as_posix() for p in cif_files(tmp_path)] == ["a.cif", "b/x.CIF"]
    with pytest.raises(UsageError, match="not a folder"):
        cif_files(tmp_path / "a.cif")
