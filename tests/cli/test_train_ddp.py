"""`torchrun -m spectool train …` runs data-parallel on CPU (gloo); rank 0 alone writes the checkpoint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spectool.io.checkpoint import read_header
from tests.conftest import ROOT
from tests.learn.synth_sets import peak_set

TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.skipif(not TORCHRUN.exists() and shutil.which("torchrun") is None, reason="torchrun not installed")
def test_two_processes_train_one_checkpoint(tmp_path):
    data = peak_set(tmp_path / "set.h5", n_classes=3, per_class=30, length=64)
    out = tmp_path / "model.safetensors"
    cmd = [str(TORCHRUN if TORCHRUN.exists() else shutil.which("torchrun")), "--nproc-per-node", "2", "-m",
           "spectool", "train", data, "--model", "cnn", "--arg", "channels=[4,4,8,8]", "--epochs", "2",
           "--batch-size", "16", "-o", str(out), "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    train = read_header(out).meta["train"]
    assert train["world_size"] == 2 and train["epochs_run"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "set.h5"]
