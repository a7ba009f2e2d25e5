"""One exit status per kind of failure, in every command (README): an output that cannot be written
is 1 with one line, never "no usable input"; a reader that leaves is 141, never "written to -"."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from spectool.cli.main import run
from spectool.io.sets import create_set
from tests.conftest import DATA, ROOT, make_chunk, make_meta

LENGTH = 50
SCAN = str(DATA / "scans" / "simple.xy")
CIF = str(DATA / "cifs" / "nacl_Fm-3m.cif")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A labelled set of 40 random rows and a tiny CNN on its axis."""
    from spectool.env import Env
    from spectool.io.checkpoint import save_checkpoint
    from spectool.models.registry import create_model, tiny_kwargs

    root = tmp_path_factory.mktemp("exit")
    env = Env(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=False)
    with create_set(str(root / "set.h5"), make_meta(LENGTH), env, record={"command": "test"}) as out:
        for seed in range(4):
            out.append(make_chunk(10, LENGTH, seed=seed, with_peaks=False), labels=["a", "b"] * 5)
    model = create_model("cnn1d", **tiny_kwargs("cnn1d"))
    save_checkpoint(root / "m.safetensors", model, labels=[f"c{i}" for i in range(5)], input=make_meta(LENGTH),
                    preprocess={"steps": []}, train={})
    return {"set": str(root / "set.h5"), "model": str(root / "m.safetensors")}


WRITERS = {  # command → its arguments, given the set S, the model M and an output O
    "simulate": lambda S, M, O: ["simulate", CIF, "-o", O],
    "merge": lambda S, M, O: ["merge", S, S, "-o", O],
    "augment": lambda S, M, O: ["augment", S, "-n", "1", "-o", O],
    "preprocess-set": lambda S, M, O: ["preprocess", S, "-o", O],
    "preprocess-scan": lambda S, M, O: ["preprocess", SCAN, "-o", O],
    "predict": lambda S, M, O: ["predict", "-m", M, S, "-o", O],
    "embed": lambda S, M, O: ["embed", "-m", M, S, "-o", O],
    "explain": lambda S, M, O: ["explain", "-m", M, S, "--method", "occlusion", "-o", O],
    "cluster": lambda S, M, O: ["cluster", S, "--project", "pca", "--method", "kmeans", "-o", O],
    "train": lambda S, M, O: ["train", S, "--model", "knn", "-o", O + ".safetensors"],
}


@pytest.mark.parametrize("name", WRITERS)
def test_unwritable_output_is_exit_1_and_one_line(name, files, tmp_path, capsys):
    target = str(tmp_path / "missing" / "out.h5")
    code = run(WRITERS[name](files["set"], files["model"], target) + ["-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1, err
    assert err == [f"spectool: error: {tmp_path / 'missing'}: output folder does not exist"]
    assert not (tmp_path / "missing").exists()


def test_corpus_into_a_missing_folder_is_exit_1(tmp_path, capsys):
    code = run(["corpus", "prototypes", "--types", "B1", "--per-type", "1", "-o", str(tmp_path / "no" / "c")])
    assert code == 1 and "output folder does not exist" in capsys.readouterr().err


class ReaderLeaves(io.RawIOBase):
    """stdout on a pipe whose reader goes away after ``keep`` bytes: the write that crosses it is cut
    short, as a kernel pipe (and the BufferedWriter over it) reports it; every later write raises."""

    def __init__(self, keep: int = 256):
        self.keep, self.taken = keep, 0
        self.buffer = self  # sys.stdout.buffer

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.taken >= self.keep:
            raise BrokenPipeError(32, "Broken pipe")
        n = min(len(data), self.keep - self.taken)
        self.taken += n
        return n


PIPED = {**{name: WRITERS[name] for name in ("simulate", "merge", "augment", "preprocess-set", "embed", "explain",
                                              "cluster")},
         "predict-tsv": lambda S, M, O: ["predict", "-m", M, S],
         "info-json": lambda S, M, O: ["info", "--json", S, S, S],
         "ops": lambda S, M, O: ["ops"]}


@pytest.mark.parametrize("name", PIPED)
def test_closed_pipe_is_exit_141_and_silent(name, files, monkeypatch, capsys):
    pipe = ReaderLeaves()
    monkeypatch.setattr(sys, "stdout", pipe)
    code = run(PIPED[name](files["set"], files["model"], "-"))
    assert (code, capsys.readouterr().err) == (141, "")
    assert pipe.taken == pipe.keep


def test_real_pipe_closed_by_head_is_exit_141(files):
    """A real kernel pipe takes 64 KiB and then only part of the next write: the rest must not be dropped."""
    args = [sys.executable, "-m", "spectool", "augment", files["set"], "-n", "40", "-o", "-"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.read(10) == b"\x89HDF\r\n\x1a\n\x00\x00"
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(60) == 141, stderr
    assert b"written to" not in stderr and b"Traceback" not in stderr
