"""Six binary structures, simulate → augment -n 40 → train: CNN, ViT and RCNet learn at their default training
settings (small architectures keep the test quick), and the saved model names clean simulated patterns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectool.io.checkpoint import load_checkpoint
from tests.conftest import ROOT, run_cli

GRID = ["--range", "10:80", "--step", "0.1"]
TINY = {"cnn": ["--arg", "channels=[16,16,32,32]", "--arg", "hidden=[64,32]"],
        "vit": ["--patch", "10", "--dim", "32", "--depth", "2", "--heads", "2"],
        "resnet": ["--arg", "width=8", "--arg", "stages=[1,1,1]"]}


def six_structures(folder) -> None:
    """Rock salt, CsCl, zinc blende, fluorite, rutile and wurtzite, one CIF each."""
    from pymatgen.core import Lattice, Structure

    made = {"NaCl": ("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
            "CsCl": ("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
            "ZnS": ("F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.25, 0.25, 0.25]]),
            "CaF2": ("Fm-3m", Lattice.cubic(5.46), ["Ca", "F"], [[0, 0, 0], [0.25, 0.25, 0.25]]),
            "TiO2": ("P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]),
            "ZnO": ("P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]])}
    for name, (group, lattice, species, coords) in made.items():
        Structure.from_spacegroup(group, lattice, species, coords).to(filename=str(folder / f"{name}.cif"))


def _spectool(*args: str):
    """run_cli with room for a loaded machine: a training run, not a timing."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "spectool", *args], capture_output=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    d = tmp_path_factory.mktemp("six")
    (d / "cifs").mkdir()
    six_structures(d / "cifs")
    assert run_cli("simulate", str(d / "cifs"), "--label", "stem", *GRID, "-o", str(d / "sim.h5")).returncode == 0
    assert run_cli("augment", str(d / "sim.h5"), "-n", "40", "-o", str(d / "aug.h5")).returncode == 0
    return d


@pytest.mark.parametrize("name", ["cnn", "vit", "resnet"])
def test_six_structures_learn_at_default_settings(six, name, tmp_path):
    out = tmp_path / "m.safetensors"
    # every class has one structure: the honest split has nothing to hold out, so rows are asked for
    # --epochs caps the run (~20 s of CPU each); batch size, patience, BatchNorm handling and smear are train's
    res = _spectool("train", str(six / "aug.h5"), "-m", name, *TINY[name], "--split", "rows", "--epochs", "50",
                    "--threads", "1", "-o", str(out))
    err = res.stderr.decode()
    assert res.returncode == 0, err
    ckpt = load_checkpoint(out)
    assert ckpt.train["val"]["top1"] >= 0.9, err
    assert ckpt.train["checks"]["score_spread"] > 0.5 and not ckpt.train["checks"]["warnings"]
    import h5py

    with h5py.File(six / "sim.h5") as f:
        X = torch.as_tensor(f["entry/data/X"][:])
        names = [n.decode() if isinstance(n, bytes) else n for n in f["entry/labels/names"][:]]
        truth = [names[i] for i in f["entry/labels/y"][:]]
    with torch.no_grad():
        pred = ckpt.model(X).argmax(1).numpy()
    assert list(np.array(ckpt.labels)[pred]) == truth  # the clean patterns, in evaluation mode


def test_one_command_from_structures_to_a_model(six, tmp_path):
    scan = tmp_path / "scan.xy"
    x = np.arange(10, 60.0001, 0.05)
    scan.write_text("".join(f"{v:.2f} {1 + np.exp(-((v - 31.7) / 0.1) ** 2) * 100:.3f}\n" for v in x))
    out = tmp_path / "m.safetensors"
    res = run_cli("train", str(six / "cifs"), "--like", str(scan), "--copies", "4", "-m", "cnn", *TINY["cnn"],
                  "--epochs", "1", "--threads", "1", "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    ckpt = load_checkpoint(out)
    axis = ckpt.tensors["axis"].numpy()
    assert len(axis) == len(x) and np.allclose(axis[[0, -1]], [10, 60])  # the scan's grid
    assert [s["op"] for s in ckpt.preprocess["steps"]] == ["baseline", "normalize"]  # what predict replays
    refs, t = ckpt.train["references"], ckpt.tensors
    assert refs["format"] == "spectool-references/1" and [c["label"] for c in refs["classes"]] == ckpt.labels
    assert all(c["cif"] and c["cif"].lstrip().startswith(("#", "data_")) for c in refs["classes"])
    offsets, tt = t["references.offsets"].numpy(), t["references.two_theta"].numpy()
    assert offsets.shape == (7,) and offsets[-1] == len(tt) == len(t["references.hkl"]) and t["references.cell"].shape == (6, 6)
    nacl = ckpt.labels.index("NaCl")
    assert np.any(np.abs(tt[offsets[nacl]:offsets[nacl + 1]] - 31.7) < 0.1)  # NaCl (200)
