"""The model that ships (spectool/data/default.safetensors), the recipe that rebuilds it, and the demo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from spectool.io.checkpoint import read_header
from tests.conftest import ROOT, run_cli

DEFAULT = ROOT / "spectool" / "data" / "default.safetensors"
EXAMPLE = ROOT / "spectool" / "data" / "examples" / "example.xy"


def test_the_shipped_model_names_the_example_scans_type_in_its_top_5():
    out = run_cli("predict", "--top", "5", "--json", "--no-refine", str(EXAMPLE))  # the network alone
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert "Rutile" in [entry["label"] for entry in record["top"]]  # the example is rutile
    rutile = next(entry for entry in record["top"] if entry["label"] == "Rutile")
    assert rutile["strukturbericht"] == "C4" and "Cassiterite" in rutile["mineral"]  # the type's other minerals


def test_the_shipped_model_verifies_the_example_by_fitting_rutile():
    """Its references (make references) let predict fit the candidates: rutile first, its cell refined."""
    out = run_cli("predict", "--top", "3", "--json", "--phases", "1", str(EXAMPLE))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["verified"] and record["label"] == "Rutile" and not record["unknown"]
    best = record["top"][0]
    assert best["explained"] > 0.8 and best["rwp"] < 0.3
    a, _, c = best["cell"][:3]
    assert a == pytest.approx(4.59, abs=0.05) and c == pytest.approx(2.96, abs=0.05)
    assert read_header(DEFAULT).meta["references"]["format"] == "spectool-references/1"


def test_spectool_model_overrides_the_shipped_one(tmp_path):
    out = run_cli("predict", str(EXAMPLE), env={"SPECTOOL_MODEL": str(tmp_path / "missing.safetensors")})
    assert out.returncode == 2 and b"missing.safetensors" in out.stderr


def test_the_shipped_checkpoint_carries_its_recipe_and_metrics():
    assert DEFAULT.stat().st_size <= 25 * 2**20
    meta = read_header(DEFAULT).meta
    steps = [step["op"] for step in meta["preprocess"]["steps"]]
    assert "baseline" in steps
    train = meta["train"]
    assert train["test"]["n"] > 100 and 0 < train["test"]["top1"] <= train["test"]["top5"] <= 1
    assert train["val"]["top1"] > 0.2 and train["best_epoch"] >= 1 and train["argv"][:2] == ["spectool", "train"]
    assert len(meta["labels"]) > 2000 and meta["label_info"]["Halite"]["strukturbericht"] == "B1"
    assert {"aflow", "amcsd"} <= set(meta["library"]["licences"])  # where its types came from


def _write_minerals(folder) -> None:
    """Nine CIFs of three structure types, named FORMULA-Mineral as a laboratory's folder might be."""
    from pymatgen.core import Lattice, Structure

    folder.mkdir()
    rock_salt = [[0, 0, 0], [0.5, 0.5, 0.5]]
    for name, a, species in (("NaCl-Halite", 5.64, ["Na", "Cl"]), ("KCl-Sylvite", 6.29, ["K", "Cl"]),
                             ("PbS-Galena", 5.94, ["Pb", "S"])):
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), species, rock_salt).to(filename=str(folder / f"{name}.cif"))
    for name, a, cation in (("CaF2-Fluorite", 5.46, "Ca"), ("SrF2-Strontiofluorite", 5.80, "Sr"),
                            ("BaF2-Frankdicksonite", 6.20, "Ba")):
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, "F"], [[0, 0, 0], [0.25, 0.25, 0.25]]).to(
            filename=str(folder / f"{name}.cif"))
    for name, a, c in (("TiO2-Rutile", 4.59, 2.96), ("SnO2-Cassiterite", 4.74, 3.19), ("GeO2-Argutite", 4.40, 2.86)):
        Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(a, c), [name[:2], "O"],
                                  [[0, 0, 0], [0.305, 0.305, 0]]).to(filename=str(folder / f"{name}.cif"))


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_model_on_a_tiny_library_and_resumes_where_it_stopped(tmp_path):
    cifs, build, out = tmp_path / "cifs", tmp_path / "build", tmp_path / "model.safetensors"
    _write_minerals(cifs)
    args = ["make", "-s", "model", f"PYTHON={sys.executable}", f"BUILD={build}", f"OUT={out}", "SOURCES=",
            f"CIF_DIRS={cifs}", "HOLDOUT=0.34", "COPIES=1", "EPOCHS=1", "REF_PER_TYPE=1", "CALIBRATE_N=3"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    meta = read_header(out).meta
    assert len(meta["labels"]) == 3 and meta["train"]["epochs_run"] == 1
    assert meta["train"]["test"]["n"] == 3  # one compound of each type held out whole
    rutile = next(info for info in meta["label_info"].values() if "Rutile" in info.get("mineral", ""))
    assert "Cassiterite" in rutile["mineral"] and rutile["crystal_system"] == "tetragonal"
    assert meta["references"]["format"] == "spectool-references/1"
    assert meta["library"]["types"] == 3 and meta["library"]["structures"] == 9  # provenance travels along
    shown = json.loads(run_cli("info", "--json", str(out)).stdout)
    assert shown["library"]["licences"] == meta["library"]["licences"]
    assert not (build / "train.state.safetensors").exists()
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)  # nothing left to do
    assert again.returncode == 0 and "spectool" not in again.stdout + again.stderr


def test_demo_runs_the_whole_pipeline_and_names_its_example(tmp_path):
    work = tmp_path / "demo"
    out = subprocess.run([sys.executable, "-m", "spectool", "demo", "--dir", str(work)], capture_output=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)  # ~1 min; run_cli allows 120 s
    assert out.returncode == 0, out.stderr
    for name in ("corpus/types.csv", "sim.h5", "train.h5", "model.safetensors", "predicted.h5", "maps.h5"):
        assert (work / name).exists(), name
    assert list((work / "pictures").glob("*.png"))
    header, first = out.stdout.decode().splitlines()[:2]
    row = dict(zip(header.split("\t"), first.split("\t")))
    assert row["rank"] == "1" and row["label"] == "C4" and row["pearson"] == "tP6"  # rutile, as simulated
    # a majority of the probability: the lattice search's profile over cell and zero is flatter than one pass
    assert row["ood"] == "no" and float(row["probability"]) >= 0.5
    assert b"the model named C4 first" in out.stderr
