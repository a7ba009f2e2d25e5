"""``spectool corpus library`` from the command line: a folder of CIFs, named by tags, a label table
or file names; a bad CIF named and skipped; tables, splits, metadata; the packaged sources when
installed."""

from __future__ import annotations

import csv
import json
from importlib.util import find_spec

import pytest

from tests.conftest import run_cli

pytest.importorskip("pymatgen")

ROCK_SALT = """data_{name}
_chemical_name_mineral '{mineral}'
_journal_name_full 'Test Journal'
_journal_year 2001
_cell_length_a {a}
_cell_length_b {a}
_cell_length_c {a}
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
{cation}1 {cation} 0 0 0
{anion}1 {anion} 0.5 0.5 0.5
"""
CESIUM_CHLORIDE = """data_cscl
_cell_length_a 4.12
_cell_length_b 4.12
_cell_length_c 4.12
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P m -3 m'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Cs1 Cs 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""


def _table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def cifs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifs")
    for name, mineral, cation, anion, a in [("nacl", "Halite", "Na", "Cl", 5.64), ("kcl", "Sylvite", "K", "Cl", 6.29),
                                            ("mgo", "?", "Mg", "O", 4.21), ("kbr", "?", "K", "Br", 6.60)]:
        (folder / f"{name}.cif").write_text(ROCK_SALT.format(name=name, mineral=mineral, cation=cation,
                                                             anion=anion, a=a))
    (folder / "sub").mkdir()
    (folder / "sub" / "CsCl-Cesium_chloride.cif").write_text(CESIUM_CHLORIDE)  # named by its file name
    (folder / "broken.cif").write_text("data_x\n_cell_length_a 1\n")
    (folder / "labels.csv").write_text("file,mineral\nmgo.cif,Periclase\n")
    return folder


@pytest.fixture(scope="module")
def library(cifs, tmp_path_factory):
    out = tmp_path_factory.mktemp("lib") / "library"
    result = run_cli("corpus", "library", "--cifs", str(cifs), "--holdout", "0.5", "-o", str(out))
    return out, result


def test_library_from_cifs(library):
    out, result = library
    assert result.returncode == 1, result.stderr  # broken.cif failed, the rest was written
    errors = [line for line in result.stderr.decode().splitlines() if line.startswith("spectool: error:")]
    assert len(errors) == 2 and "broken.cif" in errors[0] and "named above" in errors[1]
    types = {t["label"]: t for t in _table(out / "types.csv")}
    assert set(types) == {"Halite", "Cesium-chloride"}
    halite = types["Halite"]
    assert halite["key"] == "AB_cF8_225_a_b" and halite["sources"] == "cifs"
    assert halite["mineral"].split(", ") == ["Halite", "Periclase", "Sylvite"]  # KBr is unnamed: it only joins
    assert (halite["compounds"], halite["train"], halite["test"]) == ("4", "2", "2")
    manifest = _table(out / "manifest.csv")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.cif")) == sorted(r["path"] for r in manifest)
    nacl = next(r for r in manifest if r["formula"] == "NaCl")
    assert nacl["reference"] == "(2001) Test Journal" and nacl["licence"] == "as stated in the folder"
    assert all(r["path"].startswith(f"{r['split']}/{r['label']}/") for r in manifest)
    names = {r["name"]: (r["label"], r["structures"]) for r in _table(out / "names.csv")}
    assert names == {"Halite": ("Halite", "1"), "Sylvite": ("Halite", "1"), "Periclase": ("Halite", "1"),
                     "Cesium chloride": ("Cesium-chloride", "1")}
    meta = json.loads((out / "library.json").read_text())
    assert meta["types"] == 2 and meta["structures"] == 5 and meta["used"] == {"cifs": 5}


def test_same_seed_same_library_any_workers(cifs, library, tmp_path):
    out, _ = library
    again = tmp_path / "again"
    result = run_cli("corpus", "library", "--cifs", str(cifs), "--holdout", "0.5", "-j", "2", "-q", "-o", str(again))
    assert result.returncode == 1
    for name in ("types.csv", "manifest.csv", "library.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_refusals_before_any_work(tmp_path):
    result = run_cli("corpus", "library", "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and b"name at least one source" in result.stderr
    result = run_cli("corpus", "library", "--amcsd-db", str(tmp_path / "none.db"), "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and b"none.db is not a file" in result.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = run_cli("corpus", "library", "--cifs", str(tmp_path), "-o", str(tmp_path / "full"))
    assert result.returncode == 2 and b"not empty" in result.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.skipif(find_spec("kim_tools") is None, reason="kim-tools not installed (spectool[library])")
def test_aflow_encyclopedia_records_of_the_installed_package_build():
    from spectool.corpus.sources import aflow_entry, analyse
    from spectool.io.sources import AFLOW_DATA, aflow_records, package_path

    records = {r["label"]: r for _, r in aflow_records(package_path(*AFLOW_DATA))}
    assert len(records) > 1900
    assert analyse(aflow_entry(records["A2B3_hR10_167_c_e-001"])).key == "A2B3_hR10_167_c_e"
    assert analyse(aflow_entry(records["AB_cF8_225_a_b-001"])).strukturbericht == "B1"


@pytest.mark.skipif(find_spec("larixite") is None, reason="larixite not installed (spectool[library])")
def test_amcsd_rows_of_the_installed_package_read():
    from itertools import islice

    from spectool.corpus.sources import amcsd_entry, analyse
    from spectool.io.sources import AMCSD_DB, amcsd_rows, package_path

    (first,) = islice(amcsd_rows(package_path(*AMCSD_DB)), 1)
    row = analyse(amcsd_entry(first))
    assert row.name == "Galena" and row.key == "AB_cF8_225_a_b" and "American Mineralogist" in row.reference


def _amcsd_db(path):
    """A one-structure database in larixite's schema (the tables and columns spectool reads)."""
    import sqlite3
    from base64 import b64encode

    import numpy as np

    def enc(values):
        return b64encode((np.asarray(values) * 4.0e6).round().astype(np.int32).tobytes()).decode()

    ops = ["x,y,z", "-x,-y,z", "-x,y,-z", "x,-y,-z", "z,x,y", "z,-x,-y", "-z,-x,y", "-z,x,-y", "y,z,x", "-y,z,-x",
           "y,-z,-x", "-y,-z,x", "y,x,-z", "-y,-x,-z", "y,-x,z", "-y,x,z", "x,z,-y", "-x,z,y", "-x,-z,-y", "x,-z,y",
           "z,y,-x", "z,-y,x", "-z,y,x", "-z,-y,-x", "x+1/2,y+1/2,z", "x+1/2,y,z+1/2", "x,y+1/2,z+1/2"]
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE minerals (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE spacegroups (id INTEGER PRIMARY KEY, hm_notation TEXT, symmetry_xyz TEXT);
        CREATE TABLE publications (id INTEGER PRIMARY KEY, journalname TEXT, volume TEXT, year INTEGER,
                                   page_first TEXT, page_last TEXT);
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE publication_authors (publication_id INTEGER, author_id INTEGER);
        CREATE TABLE cif (id INTEGER PRIMARY KEY, mineral_id INTEGER, spacegroup_id INTEGER, publication_id INTEGER,
                          formula TEXT, pub_title TEXT, a TEXT, b TEXT, c TEXT, alpha TEXT, beta TEXT, gamma TEXT,
                          atoms_sites TEXT, atoms_x TEXT, atoms_y TEXT, atoms_z TEXT, atoms_occupancy TEXT);
        INSERT INTO minerals VALUES (1, 'Halite');
        INSERT INTO publications VALUES (1, 'American Mineralogist', '10', 1925, '281', '304');
        INSERT INTO authors VALUES (1, 'Ramsdell L S');
        INSERT INTO publication_authors VALUES (1, 1);
    """)
    db.execute("INSERT INTO spacegroups VALUES (1, 'F m -3 m', ?)", (json.dumps(ops),))
    db.execute("INSERT INTO cif VALUES (5, 1, 1, 1, 'Na Cl', 'Halite', '5.64', '5.64', '5.64', '90', '90', '90', "
               "?, ?, ?, ?, '0')", (json.dumps(["Na", "Cl"]), enc([0, 0.5]), enc([0, 0.5]), enc([0, 0.5])))
    db.commit()
    db.close()


def test_amcsd_database_file(tmp_path):
    _amcsd_db(tmp_path / "amcsd.db")
    out = tmp_path / "lib"
    result = run_cli("corpus", "library", "--amcsd-db", str(tmp_path / "amcsd.db"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    (row,) = _table(out / "manifest.csv")
    assert (row["label"], row["source"], row["origin"]) == ("Halite", "amcsd", "AMCSD 0000005")
    assert row["reference"] == "Ramsdell L S (1925) American Mineralogist 10, 281-304"
    assert "free for scientific use" in json.loads((out / "library.json").read_text())["licences"]["amcsd"]
    assert "_journal_name_full 'American Mineralogist'" in (out / row["path"]).read_text()
