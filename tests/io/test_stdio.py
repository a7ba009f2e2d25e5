"""The atomic writers: special files are streamed into, never replaced; symlinks are followed."""

from __future__ import annotations

import errno
import gc
import io
import os
import stat
import threading

import pytest

from spectool.errors import SpectoolError, UsageError
from spectool.io.hdf5set import HDF5Writer
from spectool.io.sets import create_set, open_set
from spectool.io.stdio import atomic_path, refuse_binary_to_terminal
from tests.conftest import make_chunk, make_meta


def _write_set(path, env, seed=0):
    with create_set(str(path), make_meta(), env) as out:
        out.append(make_chunk(seed=seed))


def test_fifo_output_is_streamed_into_not_replaced(tmp_path, env):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    _write_set(fifo, env)
    reader.join(30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe, not a regular file put in its place
    assert got and got[0].startswith(b"\x89HDF\r\n\x1a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary file beside it
    (tmp_path / "copy.h5").write_bytes(got[0])
    with open_set(str(tmp_path / "copy.h5"), env) as back:
        assert back.meta.n == 12


def test_symlink_output_writes_its_target(tmp_path, env):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "set.h5"
    target.write_bytes(b"old")
    link = tmp_path / "latest.h5"
    link.symlink_to(target)
    _write_set(link, env)
    assert link.is_symlink() and os.readlink(link) == str(target)
    with open_set(str(target), env) as back:
        assert back.meta.n == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.h5", "real"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["set.h5"]


def test_dangling_symlink_output_creates_its_target(tmp_path, env):
    link = tmp_path / "latest.h5"
    link.symlink_to("made.h5")
    _write_set(link, env)
    assert link.is_symlink() and (tmp_path / "made.h5").is_file()


def test_folder_as_output_is_refused(tmp_path):
    with pytest.raises(SpectoolError, match="is a folder"):
        with atomic_path(tmp_path):
            pass
    assert list(tmp_path.iterdir()) == []


class _DiskFillsUp(io.BytesIO):
    """A stream that takes ``room`` bytes, then fails as a full disk does (the write before may be partial)."""

    def __init__(self, room: int):
        super().__init__()
        self.room = room

    def write(self, data) -> int:
        if self.tell() + len(data) > self.room:
            if self.tell() < self.room:
                return super().write(bytes(memoryview(data).cast("B")[: self.room - self.tell()]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


def test_full_disk_under_hdf5_is_the_disk_error_and_closes_cleanly():
    """HDF5 never sees the failed write (h5py crashes freeing objects of a file it could not close)."""
    writer = HDF5Writer(_DiskFillsUp(60_000), make_meta(2000))
    with pytest.raises(OSError) as info:
        for seed in range(4):
            writer.append(make_chunk(n=64, length=2000, seed=seed))
        writer.close([], [])
    assert info.value.errno == errno.ENOSPC
    writer.abort()
    del writer
    gc.collect()  # freeing the h5py objects is where exit 139 happened


def test_full_disk_names_the_output_and_removes_the_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(SpectoolError, match="no space left on device") as info:
        with atomic_path(target) as tmp:
            tmp.write_text("new, half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.path == str(target) and target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with pytest.raises(PermissionError):  # other failures are not disguised as a full disk
        with atomic_path(target):
            raise PermissionError(errno.EACCES, "Permission denied")


def test_a_terminal_device_as_output_is_refused(env):
    master, slave = os.openpty()
    try:
        with pytest.raises(UsageError, match="terminal"):
            refuse_binary_to_terminal(os.ttyname(slave), env)
    finally:
        os.close(master)
        os.close(slave)
