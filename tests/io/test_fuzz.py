"""Fuzzing: every scan reader, the set loaders and the checkpoint loader, fed mutated real files
and garbage (tests/io/fuzzing.py), raise only spectool's errors, print nothing and stay within a
memory bound. A few hundred derandomised cases per target here; benchmarks/fuzz_readers.py runs
≥ 10,000 each. Below them, one regression test per crash the fuzzer found."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.io.fuzzing import TARGETS, run_case, strategy

EXAMPLES = 200


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_raises_only_spectool_errors_within_memory(name):
    target = TARGETS[name]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy(target))
    def check(case):
        run_case(target, *case)

    check()


# --- regressions: each crash the fuzzer found, and each size a header may lie about ------------

import io  # noqa: E402
import os  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tracemalloc  # noqa: E402
import zipfile  # noqa: E402
from contextlib import contextmanager, redirect_stdout  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from spectool.errors import FormatError  # noqa: E402
from spectool.io.npyset import open_npy  # noqa: E402
from spectool.io.readers import read_scans  # noqa: E402
from spectool.io.readers.base import READERS  # noqa: E402
from spectool.io.sets import open_set  # noqa: E402
from tests.io.fuzzing import DATA, MEMORY_BOUND, SIDECAR_MARK, _set_files  # noqa: E402


@contextmanager
def bounded_memory(bound: int = MEMORY_BOUND):
    """Fail if the block allocates more than ``bound`` bytes (Python and numpy allocations)."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < bound, f"allocated {peak / 2**20:.0f} MiB"


def npy_bytes(shape, descr="'<f4'", fortran="False", data=b"", version=1) -> bytes:
    text = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}".encode()
    text += b" " * (63 - len(text) % 64) + b"\n"
    size = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + size + text + data


def test_xrdml_with_an_unknown_encoding_is_a_format_error():
    data = b'<?xml version="1.0" encoding="UTF--inf"?><xrdMeasurements/>'
    with pytest.raises(FormatError, match="malformed XML"):
        READERS["xrdml"].read(data, "s.xrdml")


def test_zip_of_an_unsupported_version_is_a_format_error():
    buf = bytearray(_set_files()["set.npz"])
    at = buf.rfind(b"PK\x01\x02")
    buf[at + 6] = 64  # "version needed to extract" 6.4
    with pytest.raises(FormatError, match="zip"):
        READERS["brml"].read(bytes(buf), "s.brml")


def test_jcamp_check_failure_is_an_error_and_prints_nothing():
    data = (DATA / "ir_transmittance.jdx").read_bytes()
    bad = data.replace(b"3996", b"3990", 1) if b"3996" in data else data
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            READERS["jcamp"].read(bad, "x.jdx")
        except FormatError as exc:
            assert "check failed" in exc.message
    assert out.getvalue() == ""


@pytest.mark.parametrize("header, words", [
    (npy_bytes("(2, 3"), "literal"),
    (npy_bytes("(2, 3)", descr="'<f2147483648'"), "data type"),
    (npy_bytes("(2, 3)", descr="'|O'"), "data type"),
    (npy_bytes("(2, 3)", descr="'(,)f4'"), "data type"),  # np.dtype raises SyntaxError
    (npy_bytes("(2, 3, 4)"), "shape"),
    (npy_bytes("(-1, 3)"), "shape"),
    (b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (2,)}\n", "lacks"),
    (npy_bytes("(1000000000, 100000)"), "claims"),
])
def test_bad_npy_headers_are_format_errors_without_allocating(tmp_path, env, header, words):
    path = tmp_path / "s.npy"
    path.write_bytes(header + b"\x00" * 64)
    with bounded_memory(), pytest.raises(FormatError, match=words):
        with open_set(str(path), env):
            pass


def test_npy_stream_claiming_a_huge_shape_reads_only_what_is_there(tmp_path):
    path = tmp_path / "spooled"  # stdin is spooled to a file: read(n) there allocates n bytes first
    path.write_bytes(npy_bytes("(1000000000, 100000)", data=b"\x00" * 400))
    with open(path, "rb") as stream, bounded_memory(), pytest.raises(FormatError, match="truncated"):
        open_npy(stream, "<stdin>")


def test_npz_member_claiming_a_huge_shape_is_refused(tmp_path, env):
    path = tmp_path / "s.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("X.npy", npy_bytes("(1000000000, 100000)", data=b"\x00" * 4000))
    with bounded_memory(), pytest.raises(FormatError, match="truncated"):
        with open_set(str(path), env):
            pass


def test_broken_npz_is_a_format_error(tmp_path, env):
    path = tmp_path / "s.npz"
    path.write_bytes(_set_files()["set.npz"][:200])
    with pytest.raises(FormatError, match="npz"):
        with open_set(str(path), env):
            pass


@pytest.mark.parametrize("sidecar, words", [
    (b"[]", "not a JSON object"),
    (b'{"labels": {"y": [99999999999, 0, 0, 0, 0, 0]}}', "class indices"),
    (b'{"samples": {"id": [[1], [1, 2], 3, 4, 5, 6]}}', "list of numbers"),
    (b'{"samples": {"id": [1, 2]}}', "6 values"),
    (b'{"axis": {"values": "abc"}}', "axis"),
    (b'{"instrument": {"wavelength": "Cu"}}', "wavelength"),
    (b'{"history": [1, 2]}', "history"),
    (b'{"peaks": {"offsets": [0, 5, 1, 2, 3, 4, 9], "fields": {}}}', "offsets"),
])
def test_bad_sidecar_is_a_format_error(tmp_path, env, sidecar, words):
    npy = _set_files()["set.npy"].partition(SIDECAR_MARK)[0]
    (tmp_path / "s.npy").write_bytes(npy)
    (tmp_path / "s.json").write_bytes(sidecar)
    with pytest.raises(FormatError, match=words):
        with open_set(str(tmp_path / "s.npy"), env) as reader:
            list(reader.iter_chunks())


def h5_set(path: Path, shape, **extra) -> Path:
    with h5py.File(path, "w") as f:
        data = f.create_group("entry/data")
        data.create_dataset("X", shape=shape, dtype="f4", chunks=(1, min(shape[1], 1024)))
        for key, value in extra.items():
            f[key] = value
    return path


@pytest.mark.parametrize("shape, words", [
    ((1_000_000_000, 1000), "claims"),
    ((10, 100_000_000), "more than spectool reads"),
])
def test_hdf5_claiming_a_huge_shape_is_refused_before_reading(tmp_path, env, shape, words):
    path = h5_set(tmp_path / "s.h5", shape)
    with bounded_memory(), pytest.raises(FormatError, match=words):
        with open_set(str(path), env):
            pass


@pytest.mark.parametrize("extra, words", [
    ({"entry/samples": 5}, "corrupt"),
    ({"entry/history": np.array([b"[1]"])}, "history"),
    ({"entry/data/axis": np.arange(5.0)}, "axis"),
])
def test_hdf5_of_unexpected_layout_is_a_format_error(tmp_path, env, extra, words):
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("entry/data/X", data=np.ones((3, 10), "f4"))
        for key, value in extra.items():
            f[key] = value
    with pytest.raises(FormatError, match=words):
        with open_set(str(path), env) as reader:
            list(reader.iter_chunks())


def test_hdf5_damaged_inside_is_a_format_error(tmp_path, env):
    data = bytearray(_set_files()["set.h5"])
    at = data.find(b"SNOD")
    data[at:at + 4] = b"XXXX"  # a symbol table node's signature: h5py raises RuntimeError
    path = tmp_path / "s.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="corrupt"):
        with open_set(str(path), env) as reader:
            list(reader.iter_chunks())


def test_safetensors_header_claiming_a_huge_tensor_is_refused(tmp_path):
    import json

    from spectool.io.checkpoint import load_checkpoint

    header = json.dumps({"w": {"dtype": "F32", "shape": [1_000_000_000, 1000], "data_offsets": [0, 8]},
                         "__metadata__": {"spectool.format": "spectool-checkpoint/1", "model": "{}"}}).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 8)
    with bounded_memory(), pytest.raises(FormatError):
        load_checkpoint(path)


@pytest.mark.parametrize("old, new, words", [
    (b"##NPOINTS=4\n##XYDATA=(X++", b"##NPOINTS=4294967295\n##XYDATA=(X++", "NPOINTS"),
    (b"100 5 6 7 8", b"100 5 6 7 8T9999999", "DUP"),
])
def test_jcamp_claiming_a_huge_point_count_is_refused_before_allocating(old, new, words):
    data = (DATA / "compound.jdx").read_bytes()
    assert old in data
    with bounded_memory(), pytest.raises(FormatError, match=words):
        READERS["jcamp"].read(data.replace(old, new), "c.jdx")


def h5_with_looping_heap(size_of: Callable[[int], int] = lambda size: size + 16) -> bytes:
    """The fuzz seed set with its global heap's last string object resized by ``size_of``: +16
    (what a fuzzed 2-byte change did) lands HDF5's walk on the zeros of the free space, where
    HDF5 2.0 loops for ever."""
    data = bytearray(_set_files()["set.h5"])
    at = data.find(b"GCOL\x01\x00\x00\x00")
    end, p, last = at + struct.unpack_from("<Q", data, at + 8)[0], at + 16, None
    while struct.unpack_from("<H", data, p)[0] != 0:  # to the free space object (index 0)
        last = p
        p += 16 + (struct.unpack_from("<Q", data, p + 8)[0] + 7) // 8 * 8
    assert last is not None and p + 32 < end
    struct.pack_into("<Q", data, last + 8, size_of(struct.unpack_from("<Q", data, last + 8)[0]))
    return bytes(data)


@pytest.mark.parametrize("size_of", [lambda size: size + 16, lambda size: 2**64 - 16])
def test_global_heap_hdf5_would_loop_on_is_a_format_error(size_of):
    from spectool.io.h5heap import check_global_heaps

    with pytest.raises(FormatError, match="global heap"):
        check_global_heaps(io.BytesIO(h5_with_looping_heap(size_of)), "s.h5")


def test_global_heap_check_passes_sound_sets_and_keeps_the_position():
    from spectool.io.h5heap import check_global_heaps

    stream = io.BytesIO(_set_files()["set.h5"])
    stream.seek(5)
    check_global_heaps(stream, "s.h5")
    assert stream.tell() == 5


def test_set_that_hung_hdf5_is_refused_in_one_line(tmp_path):
    path = tmp_path / "s.h5"
    path.write_bytes(h5_with_looping_heap())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:  # before the check, spectool spun inside HDF5 until killed
        done = subprocess.run([sys.executable, "-m", "spectool", "info", str(path)], capture_output=True,
                              env=env, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("spectool info hung on a damaged global heap")
    said = done.stderr.decode().splitlines()  # the input's line, then "no usable input"
    assert done.returncode == 2 and all(line.startswith("spectool: error: ") for line in said)
    assert said[0].startswith(f"spectool: error: {path}: corrupt HDF5 global heap at byte ")
