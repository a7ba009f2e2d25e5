"""Shared fixtures: small sets made on the fly, an in-memory Env, a subprocess runner."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spectool.env import Env
from spectool.spectra import Axis, Chunk, Ragged, SetMeta

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """spectool's caches (the search index's norms, io/searchcache.py) go to a temporary folder, not ~/.cache."""
    os.environ["SPECTOOL_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def env() -> Env:
    """An Env on in-memory streams (stdout not a terminal)."""
    return Env(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO(),
               stdin_isatty=False, stdout_isatty=False, stderr_isatty=False)


def make_chunk(n: int = 12, length: int = 50, seed: int = 0, with_peaks: bool = True) -> Chunk:
    rng = np.random.default_rng(seed)
    X = rng.random((n, length), dtype=np.float32)
    samples = {"id": np.array([f"s{seed}-{i}" for i in range(n)], dtype=object),
               "spacegroup": np.arange(n, dtype=np.int32), "cell": rng.random((n, 6))}
    peaks = None
    if with_peaks:
        rows = [{"two_theta": rng.random(k) * 80, "hkl": rng.integers(-3, 4, (k, 3))}
                for k in rng.integers(0, 5, n)]
        peaks = Ragged.from_rows(rows)
    return Chunk(X, samples=samples, peaks=peaks)


def make_meta(length: int = 50) -> SetMeta:
    return SetMeta(axis=Axis(np.linspace(5, 90, length)), kind="xrd", wavelength=1.5406, radiation="CuKa")


#: How a command stopped by Ctrl-C may end: status 130, or by SIGINT itself (−2 to Python, 130 to a shell).
#: CPython 3.11 ends a process by SIGINT whenever its KeyboardInterrupt passed through ``exec`` of a string
#: (a dataclass being created while a module imports: spglib's, h5py's …), however the program handled it;
#: spectool's message, cleanup and removed outputs are the same either way.
INTERRUPTED = (130, -signal.SIGINT)


def default_sigint() -> None:
    """``preexec_fn`` for a child that a test interrupts: SIGINT back to its default, so Python turns it
    into KeyboardInterrupt even when the tests run where SIGINT is ignored (``nohup … &``, some CI)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """``spectool ARGS`` in a real subprocess (real pipes, real exit status)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "spectool", *args], input=stdin, capture_output=True,
                          cwd=cwd, env=full_env, timeout=120)
