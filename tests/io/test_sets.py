"""The spectool/1 set: HDF5 and NPY round trips, chunked reads and writes, history, atomicity."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest

from spectool.errors import FormatError, UsageError
from spectool.spectra import Chunk
from spectool.io.sets import create_set, history_record, open_set, output_format
from tests.conftest import make_chunk, make_meta

LABELS = ["NaCl", "Si", "NaCl", "", "quartz", "Si", "Si", "NaCl", "", "quartz", "NaCl", "Si"]


@pytest.mark.parametrize("suffix", [".h5", ".npy"])
def test_round_trip_in_chunks(tmp_path, env, suffix):
    path = str(tmp_path / f"set{suffix}")
    chunks = [make_chunk(seed=s) for s in range(3)]
    with create_set(path, make_meta(), env, record={"command": "test"}) as out:
        for chunk in chunks:
            out.append(chunk, labels=LABELS)
    with open_set(path, env) as reader:
        meta = reader.meta
        back = list(reader.iter_chunks(rows=5))
    assert meta.n == 36 and meta.label_names == ["NaCl", "Si", "quartz"]
    assert meta.wavelength == pytest.approx(1.5406) and meta.radiation == "CuKa"
    assert meta.history == [{"command": "test"}] and meta.has_peaks
    X = np.concatenate([c.X for c in back])
    np.testing.assert_array_equal(X, np.concatenate([c.X for c in chunks]))
    y = np.concatenate([c.y for c in back])
    expected = [{"NaCl": 0, "Si": 1, "quartz": 2, "": -1}[label] for label in LABELS] * 3
    assert y.tolist() == expected
    ids = np.concatenate([c.samples["id"] for c in back])
    assert list(ids[:2]) == ["s0-0", "s0-1"] and len(ids) == 36
    cells = np.concatenate([c.samples["cell"] for c in back])
    np.testing.assert_allclose(cells, np.concatenate([c.samples["cell"] for c in chunks]))


@pytest.mark.parametrize("suffix", [".h5", ".npy"])
def test_ragged_peaks_survive_any_chunking(tmp_path, env, suffix):
    path = str(tmp_path / f"set{suffix}")
    chunks = [make_chunk(seed=s) for s in range(2)]
    with create_set(path, make_meta(), env) as out:
        for chunk in chunks:
            out.append(chunk)
    originals = [chunk.peaks.row(i) for chunk in chunks for i in range(len(chunk))]
    with open_set(path, env) as reader:
        back = [c.peaks.row(i) for c in reader.iter_chunks(rows=7) for i in range(len(c))]
    assert len(back) == len(originals)
    for a, b in zip(originals, back):
        np.testing.assert_allclose(a["two_theta"], b["two_theta"])
        np.testing.assert_array_equal(a["hkl"], b["hkl"])


def test_hdf5_layout_is_nexus(tmp_path, env):
    path = tmp_path / "set.h5"
    with create_set(str(path), make_meta(), env) as out:
        out.append(make_chunk(with_peaks=False))
    with h5py.File(path) as f:
        assert f["entry"].attrs["NX_class"] == "NXentry"
        assert f["entry"].attrs["spectool_format"] == "1"
        data = f["entry/data"]
        assert data.attrs["signal"] == "X" and list(data.attrs["axes"]) == [".", "axis"]
        assert data["X"].dtype == np.float32 and data["X"].compression == "gzip"
        assert data["axis"].attrs["quantity"] == "two_theta" and data["axis"].attrs["units"] == "deg"


def test_hdf5_to_stdout_and_back(env):
    with create_set("-", make_meta(), env) as out:
        out.append(make_chunk(), labels=LABELS)
    raw = env.stdout.getvalue()
    assert raw.startswith(b"\x89HDF\r\n\x1a\n")
    env.stdin = io.BytesIO(raw)
    with open_set("-", env) as reader:
        assert reader.meta.n == 12 and reader.meta.label_names == ["NaCl", "Si", "quartz"]


def test_npy_stream_to_stdout_is_a_sequence_of_arrays(env):
    with create_set("-", make_meta(), env, fmt="npy") as out:
        out.append(make_chunk(seed=1))
        out.append(make_chunk(seed=2))
    env.stdin = io.BytesIO(env.stdout.getvalue())
    with open_set("-", env) as reader:
        X = reader.read_rows(0, len(reader)).X
    np.testing.assert_array_equal(X, np.concatenate([make_chunk(seed=1).X, make_chunk(seed=2).X]))


def test_npy_without_sidecar_and_npz(tmp_path, env):
    X = np.random.default_rng(0).random((4, 30)).astype(np.float32)
    np.save(tmp_path / "plain.npy", X)
    np.savez(tmp_path / "arch.npz", X=X, axis=np.linspace(10, 40, 30), y=np.arange(4))
    with open_set(str(tmp_path / "plain.npy"), env) as reader:
        assert reader.meta.axis.quantity == "index" and reader.meta.n == 4
    with open_set(str(tmp_path / "arch.npz"), env) as reader:
        chunk = reader.read_rows(0, 4)
        assert reader.meta.axis.values[-1] == 40 and chunk.y.tolist() == [0, 1, 2, 3]


def test_refuses_binary_to_terminal(env):
    env.stdout_isatty = True
    with pytest.raises(UsageError, match="terminal"):
        with create_set("-", make_meta(), env):
            pass


def test_failed_write_leaves_existing_output_intact(tmp_path, env):
    path = tmp_path / "set.h5"
    with create_set(str(path), make_meta(), env) as out:
        out.append(make_chunk())
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with create_set(str(path), make_meta(), env) as out:
            out.append(make_chunk(seed=5))
            raise RuntimeError("killed half way")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["set.h5"]  # no temp file left behind


def test_new_output_appears_only_when_complete(tmp_path, env):
    path = tmp_path / "new.h5"
    with create_set(str(path), make_meta(), env) as out:
        out.append(make_chunk())
        assert not path.exists()
    assert path.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello world\n", "not a spectra set"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 40, "HDF5"),
    (b"\x93NUMPY\x01\x00" + b"\xff" * 20, "NPY"),
])
def test_bad_set_files_raise_format_error(tmp_path, env, content, message):
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message) as info:
        with open_set(str(path), env):
            pass
    assert str(path) in str(info.value)


def test_truncated_hdf5_is_a_format_error(tmp_path, env):
    path = tmp_path / "set.h5"
    with create_set(str(path), make_meta(), env) as out:
        out.append(make_chunk())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError):
        with open_set(str(path), env) as reader:
            list(reader.iter_chunks())


def test_newer_format_version_is_refused(tmp_path, env):
    path = tmp_path / "set.h5"
    with create_set(str(path), make_meta(), env) as out:
        out.append(make_chunk())
    with h5py.File(path, "r+") as f:
        f["entry"].attrs["spectool_format"] = "2"
    with pytest.raises(FormatError, match="version 2"):
        with open_set(str(path), env):
            pass


def test_output_format_by_suffix():
    assert output_format("a.h5") == "hdf5" and output_format("a.npy") == "npy"
    assert output_format("-") == "hdf5" and output_format("-", "npy") == "npy"
    with pytest.raises(UsageError):
        output_format("a.csv")


def test_history_record_hashes_inputs(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"abc")
    record = history_record("simulate", {"step": 0.02}, [str(path)], seed=3)
    assert record["inputs"][0]["sha256"].startswith("ba7816bf")
    assert record["command"] == "simulate" and record["seed"] == 3 and "spectool" in record


def test_chunk_must_fit_axis(tmp_path, env):
    with pytest.raises(ValueError):
        with create_set(str(tmp_path / "x.h5"), make_meta(50), env) as out:
            out.append(Chunk(np.zeros((2, 49), np.float32)))


def test_killed_writer_never_leaves_half_a_file(tmp_path, env):
    """SIGKILL in the middle of a write: the old output stays byte for byte."""
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    path = tmp_path / "set.h5"
    with create_set(str(path), make_meta(), env) as out:
        out.append(make_chunk())
    before = path.read_bytes()
    code = ("import sys, time, numpy as np\n"
            "from spectool.env import Env\nfrom spectool.io.sets import create_set\n"
            "from tests.conftest import make_chunk, make_meta\n"
            f"with create_set({str(path)!r}, make_meta(), Env()) as out:\n"
            "    print('writing', flush=True)\n"
            "    for i in range(10**6):\n"
            "        out.append(make_chunk(seed=i))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline() == b"writing\n"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert path.read_bytes() == before


def test_axis_same_as():
    from spectool.spectra import Axis

    a = Axis(np.linspace(5, 90, 11))
    assert a.same_as(Axis(a.values + 1e-9)) and a.same_as(Axis(a.values, "index", ""))
    assert not a.same_as(Axis(a.values + 1e-3)) and not a.same_as(Axis(a.values[:-1]))
    assert not a.same_as(Axis(a.values, "wavenumber", "1/cm"))
