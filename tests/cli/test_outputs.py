"""Outputs under stress, through real commands: a full disk is one line, exit 1, nothing left behind."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from spectool.env import Env
from spectool.io.sets import create_set
from tests.conftest import DATA, ROOT, make_chunk, make_meta

LIMIT = 48 * 1024  # bytes a child may write to one file (RLIMIT_FSIZE): a full disk without root


def _limited() -> None:
    """``preexec_fn``: files beyond LIMIT fail with EFBIG, as a full disk fails with ENOSPC
    (Python ignores SIGXFSZ, so the write fails instead of killing the process)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _run_limited(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spectool", *args], capture_output=True, cwd=cwd, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, preexec_fn=_limited)


@pytest.fixture(scope="module")
def big_set(tmp_path_factory):
    """Random rows do not compress: ~1 MB, far over LIMIT."""
    path = tmp_path_factory.mktemp("sets") / "big.h5"
    with create_set(str(path), make_meta(2000), Env()) as out:
        for seed in range(2):
            out.append(make_chunk(n=64, length=2000, seed=seed))
    return path


@pytest.mark.parametrize("command", [
    ["merge", "{set}", "{set}"],
    ["augment", "{set}", "-n", "2"],
    ["simulate", str(DATA / "cifs" / "nacl_Fm-3m.cif"), str(DATA / "cifs" / "quartz_P3221.cif"), "--step", "0.001"],
], ids=lambda c: c[0])
@pytest.mark.parametrize("suffix", [".h5", ".npy"])
def test_full_disk_is_one_line_and_leaves_the_old_output(command, suffix, big_set, tmp_path):
    out = tmp_path / f"out{suffix}"
    out.write_bytes(b"the previous output")
    args = [a.replace("{set}", str(big_set)) for a in command]
    res = _run_limited(*args, "-o", out.name, "-q", cwd=tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 1, err  # not 139 (h5py segfault), not 2
    assert err.splitlines() == [f"spectool: error: {out.name}: no space left: file too large for the file "
                                "system or the size limit (ulimit -f)"]
    assert out.read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary files
