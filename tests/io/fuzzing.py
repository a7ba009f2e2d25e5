"""Fuzz targets shared by ``tests/io/test_fuzz.py`` (a few hundred cases each) and
``benchmarks/fuzz_readers.py`` (≥ 10,000 each).

A target is a seed corpus (real files: ``tests/data`` and small sets and checkpoints made
here) plus a function that feeds one input to spectool. Inputs are the seeds mutated by
hypothesis (bytes flipped, inserted, deleted, truncated, numbers made huge) or generated
garbage. The contract: spectool answers or raises one of its own errors
(:class:`spectool.errors.SpectoolError`), and no case allocates more than
:data:`MEMORY_BOUND` bytes of Python/numpy memory (traced with :mod:`tracemalloc`).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import tempfile
import tracemalloc
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from spectool.errors import SpectoolError

DATA = Path(__file__).resolve().parents[1] / "data" / "scans"
MEMORY_BOUND = 64 * 2**20  # bytes a single case may allocate (inputs are ≤ ~100 kB)
BIG_NUMBERS = (b"4294967295", b"1000000000", b"999999999999999999999", b"-1", b"0", b"1e308",
               b"nan", b"-inf", b"18446744073709551615", b"2147483648")


@dataclass(frozen=True)
class Target:
    """Seeds (name → bytes) and ``feed(data, name)`` that runs spectool on one input."""

    name: str
    seeds: Callable[[], dict[str, bytes]]
    feed: Callable[[bytes, str], object]


# --- mutations ----------------------------------------------------------------------------

@st.composite
def mutated(draw, seeds: dict[str, bytes]) -> tuple[bytes, str]:
    """A seed with 1–8 random edits, or (one case in ten) random bytes under a seed's name."""
    name = draw(st.sampled_from(sorted(seeds)))
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2048)), name
    buf = bytearray(seeds[name])
    for _ in range(draw(st.integers(1, 8))):
        _edit(draw, buf)
    return bytes(buf), name


def _edit(draw, buf: bytearray) -> None:
    kind = draw(st.sampled_from(("flip", "byte", "insert", "delete", "truncate", "number", "dup")))
    pos = draw(st.integers(0, max(len(buf) - 1, 0)))
    if kind == "flip" and buf:
        buf[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "byte" and buf:
        buf[pos] = draw(st.integers(0, 255))
    elif kind == "insert":
        buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    elif kind == "delete":
        del buf[pos:pos + draw(st.integers(1, 64))]
    elif kind == "truncate":
        del buf[pos:]
    elif kind == "number":
        _number(draw, buf, pos)
    elif kind == "dup":
        piece = bytes(buf[pos:pos + draw(st.integers(1, 256))])
        buf[pos:pos] = piece * draw(st.integers(1, 4))


def _number(draw, buf: bytearray, pos: int) -> None:
    """Replace the digits (text) or the 4/8-byte word (binary) at ``pos`` with an extreme value."""
    start = pos
    while start < len(buf) and not chr(buf[start]).isdigit():
        start += 1
    if start < len(buf) and start - pos < 64:
        end = start
        while end < len(buf) and chr(buf[end]).isdigit():
            end += 1
        buf[start:end] = draw(st.sampled_from(BIG_NUMBERS))
        return
    word = draw(st.sampled_from((0xFFFFFFFF, 0x7FFFFFFF, 0x40000000, 0, 1)))
    fmt = draw(st.sampled_from(("<I", "<Q", "<f", "<d")))
    value = float(word) if fmt in ("<f", "<d") else word
    if fmt == "<f":
        value = draw(st.sampled_from((float("nan"), float("inf"), 1e30, -1e30, 0.0)))
    packed = struct.pack(fmt, value)
    buf[pos:pos + len(packed)] = packed


# --- running one case ---------------------------------------------------------------------

class Failure(AssertionError):
    """A case broke the contract: a foreign exception, or too much memory."""


def run_case(target: Target, data: bytes, name: str, bound: int = MEMORY_BOUND) -> None:
    """Feed one input; raise :class:`Failure` unless it ends well or in a SpectoolError, prints
    nothing (stdout carries results) and stays under ``bound`` bytes."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            target.feed(data, name)
    except SpectoolError:
        pass
    except BaseException as exc:  # noqa: BLE001 - that is what a fuzzer is for
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise Failure(f"{target.name}: {type(exc).__name__}: {exc} (input {name}, "
                      f"{len(data)} bytes)") from exc
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        if started:
            tracemalloc.stop()
    if said.getvalue():
        raise Failure(f"{target.name}: printed {said.getvalue()[:80]!r} (input {name})")
    if peak > bound:
        raise Failure(f"{target.name}: allocated {peak / 2**20:.0f} MiB on a {len(data)}-byte input "
                      f"({name}); bound {bound / 2**20:.0f} MiB")


# --- scan readers -------------------------------------------------------------------------

def _reader_seeds(reader: str) -> Callable[[], dict[str, bytes]]:
    def seeds() -> dict[str, bytes]:
        from spectool.io.readers.base import READERS

        suffixes = READERS[reader].suffixes
        out = {p.name: p.read_bytes() for p in sorted(DATA.iterdir())
               if p.suffix.lower() in suffixes and p.suffix.lower() != ".prm"}
        out.update(_written(reader))
        return out
    return seeds


def _written(reader: str) -> dict[str, bytes]:
    from tests.io.readers import writers

    made = {"bruker_raw": ("sample.raw", writers.raw4), "brml": ("sample.brml", writers.brml),
            "rasx": ("sample.rasx", writers.rasx), "opus": ("sample.0", writers.opus),
            "spa": ("sample.spa", writers.spa)}
    if reader not in made:
        return {}
    name, make = made[reader]
    return {name: make()}


def _reader_feed(reader: str) -> Callable[[bytes, str], object]:
    def feed(data: bytes, name: str) -> object:
        from spectool.io.readers.base import READERS

        scans = READERS[reader].read(data, name)
        _check_scans(scans)
        return scans
    return feed


def _check_scans(scans) -> None:
    for scan in scans:
        assert np.all(np.isfinite(scan.x)) and np.all(np.diff(scan.x) > 0), "bad axis accepted"
        assert scan.y.shape == scan.x.shape, "x and y differ in shape"


def _dispatch_seeds() -> dict[str, bytes]:
    from spectool.io.readers.base import READERS

    out: dict[str, bytes] = {}
    for reader in READERS:
        out.update(_reader_seeds(reader)())
    return out


def _dispatch_feed(data: bytes, name: str) -> object:
    from spectool.io.readers import _dispatch

    return _dispatch(data, name, dict, None)  # read_scans minus its safety net, so bugs show


# --- set loaders --------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _set_files() -> dict[str, bytes]:
    """A small HDF5 set, an NPY set (array + sidecar, joined by NUL NUL), an NPZ."""
    from spectool.env import Env
    from spectool.io.sets import create_set
    from tests.conftest import make_chunk, make_meta

    env = Env(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".h5", ".npy"):
            path = os.path.join(tmp, "set" + suffix)
            with create_set(path, make_meta(length=40), env, record={"command": "fuzz"}) as w:
                w.append(make_chunk(n=6, length=40), labels=["a", "b", "", "a", "c", "b"])
            out["set" + suffix] = Path(path).read_bytes()
        out["set.npy"] += SIDECAR_MARK + Path(tmp, "set.json").read_bytes()
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buf, X=rng.random((4, 30), dtype=np.float32), axis=np.linspace(5, 90, 30), y=np.arange(4))
    out["set.npz"] = buf.getvalue()
    return out


SIDECAR_MARK = b"\x00\x00SIDECAR\x00\x00"


def _set_feed(data: bytes, name: str) -> object:
    """Write the input as a file (and sidecar) named like its seed, open it, read every row."""
    from spectool.env import Env
    from spectool.io.sets import open_set

    env = Env(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    with tempfile.TemporaryDirectory() as tmp:
        body, _, sidecar = data.partition(SIDECAR_MARK)
        path = os.path.join(tmp, name)
        Path(path).write_bytes(body)
        if sidecar:
            Path(path).with_suffix(".json").write_bytes(sidecar)
        with open_set(path, env) as reader:
            rows = sum(len(chunk) for chunk in reader.iter_chunks(64))
            assert rows == len(reader) == reader.meta.n
    return rows


def _npy_stream_feed(data: bytes, name: str) -> object:
    """The NPY stream reader (``spectool … -o - | spectool …``)."""
    from spectool.io.npyset import open_npy

    body = data.partition(SIDECAR_MARK)[0]
    reader = open_npy(io.BytesIO(body), name)
    return sum(len(c) for c in reader.iter_chunks(64))


def _only(*names: str) -> Callable[[], dict[str, bytes]]:
    return lambda: {k: v for k, v in _set_files().items() if k in names}


# --- checkpoints --------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _checkpoint_files() -> dict[str, bytes]:
    import torch

    from spectool.io.checkpoint import save_checkpoint
    from spectool.spectra import Axis
    from spectool.models.registry import create_model, tiny_kwargs

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("cnn1d", "logreg"):
            torch.manual_seed(0)
            model = create_model(arch, **tiny_kwargs(arch)).eval()
            path = Path(tmp, f"{arch}.safetensors")
            save_checkpoint(path, model, labels=[f"c{i}" for i in range(model.num_classes)],
                            input={"axis": Axis(np.linspace(5, 90, model.input_length)), "kind": "xrd"},
                            preprocess=[], train={"seed": 0})
            out[path.name] = path.read_bytes()
    return out


def _checkpoint_feed(data: bytes, name: str) -> object:
    from spectool.io.checkpoint import load_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, name)
        path.write_bytes(data)
        return load_checkpoint(path)


def _targets() -> dict[str, Target]:
    from spectool.io.readers.base import READERS

    out = {f"reader:{r}": Target(f"reader:{r}", _reader_seeds(r), _reader_feed(r)) for r in sorted(READERS)}
    out["read_scans"] = Target("read_scans", _dispatch_seeds, _dispatch_feed)
    out["set:hdf5"] = Target("set:hdf5", _only("set.h5"), _set_feed)
    out["set:npy"] = Target("set:npy", _only("set.npy"), _set_feed)
    out["set:npz"] = Target("set:npz", _only("set.npz"), _set_feed)
    out["set:npy-stream"] = Target("set:npy-stream", _only("set.npy"), _npy_stream_feed)
    out["checkpoint"] = Target("checkpoint", _checkpoint_files, _checkpoint_feed)
    return out


TARGETS = _targets()


def strategy(target: Target):
    """Inputs for ``target``: (bytes, seed name)."""
    return mutated(target.seeds())
