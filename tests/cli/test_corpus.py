"""``spectool corpus prototypes`` from the command line: files, tables, splits, refusal, atomicity."""

from __future__ import annotations

import csv
import json

import h5py
import pytest

from tests.conftest import run_cli

pytest.importorskip("pymatgen")

TINY = ("corpus", "prototypes", "--types", "B1,C1", "--per-type", "3", "--holdout", "0.34")


def _table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "c"
    result = run_cli(*TINY, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_tiny_corpus_files_and_tables(tiny):
    types = _table(tiny / "types.csv")
    manifest = _table(tiny / "manifest.csv")
    assert {t["label"] for t in types} == {"B1", "C1"}
    halite = next(t for t in types if t["label"] == "B1")
    assert (halite["aflow"], halite["strukturbericht"], halite["pearson"], halite["prototype_formula"],
            halite["spacegroup"], halite["sites"]) == ("AB_cF8_225_a_b", "B1", "cF8", "NaCl", "225", "2")
    assert "Halite" in halite["mineral"] and (halite["compounds"], halite["train"], halite["test"]) == ("3", "2", "1")
    assert len(manifest) == 6 and {r["split"] for r in manifest} == {"train", "test"}
    on_disk = sorted(str(p.relative_to(tiny)) for p in tiny.rglob("*.cif"))
    assert on_disk == sorted(r["path"] for r in manifest)
    for row in manifest:
        assert row["path"].startswith(f"{row['split']}/{row['label']}/") and row["seed"] == "0"
    assert not list(tiny.parent.glob(".*tmp*")), "staging folder left behind"


def test_same_seed_same_bytes_any_workers(tiny, tmp_path):
    again = tmp_path / "again"
    assert run_cli(*TINY, "-o", str(again), "-j", "2").returncode == 0
    files = sorted(p.relative_to(tiny) for p in tiny.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((tiny / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_refuses_a_non_empty_folder_unless_forced(tiny, tmp_path):
    result = run_cli(*TINY, "-o", str(tiny))
    assert result.returncode == 2 and b"--force" in result.stderr
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    result = run_cli(*TINY, "-o", str(other), "--force")
    assert result.returncode == 2 and (other / "notes.txt").read_text() == "keep me"


def test_force_replaces_a_corpus(tmp_path):
    out = tmp_path / "c"
    assert run_cli("corpus", "prototypes", "--types", "B2", "--per-type", "2", "-o", str(out)).returncode == 0
    result = run_cli("corpus", "prototypes", "--types", "A1", "--per-type", "2", "-o", str(out), "--force")
    assert result.returncode == 0, result.stderr
    assert {r["label"] for r in _table(out / "manifest.csv")} == {"A1"}
    assert not list(out.rglob("B2*")) and not list(tmp_path.glob(".*"))


def test_a_failure_leaves_no_corpus(tmp_path, env, monkeypatch):
    from spectool.cli import corpus as cli
    from spectool.corpus.library import load_library, select_types

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cli, "write_csv", broken)
    target = tmp_path / "c"
    with pytest.raises(OSError):
        cli._build(env, select_types(load_library(), ["B1"]), target, 2, 0, 0.0, 0.02, 0.02, 1)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_list_prints_types(tmp_path):
    result = run_cli("corpus", "prototypes", "--list", "--max-sites", "40")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].split("\t")[:4] == ["label", "aflow", "strukturbericht", "pearson"]
    labels = {line.split("\t")[0] for line in lines[1:]}
    assert {"B1", "C1", "C4", "D5_1", "C2", "H1_1", "G0_1", "A2B_hP9_152_c_a", "B4", "B3"} <= labels
    result = run_cli("corpus", "prototypes", "--list", "--types", "rutile", "--json")
    (row,) = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert row["label"] == "C4" and row["spacegroup"] == 136


def test_usage_errors():
    assert run_cli("corpus", "prototypes", "--types", "B1").returncode == 2  # no -o
    result = run_cli("corpus", "prototypes", "--list", "--types", "nonsense")
    assert result.returncode == 2 and "nonsense" in result.stderr.decode()


def test_corpus_simulates_with_parent_and_manifest_labels(tiny, tmp_path):
    out = tmp_path / "set.h5"
    result = run_cli("simulate", str(tiny / "train"), "--label", str(tiny / "manifest.csv"), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as f:
        names = [n.decode() for n in f["entry/labels/names"][:]]
        y = f["entry/labels/y"][:]
        ids = [s.decode() for s in f["entry/samples/id"][:]]
    assert len(y) == 4 and sorted(names) == ["B1", "C1"]
    assert all(names[label] == i.split("-")[0] for label, i in zip(y, ids))
