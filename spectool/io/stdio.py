"""``-`` for stdin/stdout, format sniffing, atomic writes.

HDF5 cannot seek on a pipe, so stdin is spooled into a temporary file (RAM up to
``SPOOL_MAX_BYTES``, then ``$TMPDIR``) and stdout is built in one and copied out.
Files are written to a temporary name beside the target and renamed into place, so a
reader never sees half a file and an existing output survives a failed run intact.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Union

from spectool.env import Env
from spectool.errors import FormatError, OutputError, UsageError

SPOOL_MAX_BYTES = 256 * 2**20
MAGIC = {b"\x89HDF\r\n\x1a\n": "hdf5", b"\x93NUMPY": "npy", b"PK\x03\x04": "zip"}

Target = Union[str, IO[bytes]]  # a temporary path, or a binary stream for stdout


def sniff(head: bytes) -> str:
    """Tell a container by its first bytes: ``hdf5``, ``npy``, ``zip`` or ``text``."""
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    return "text"


def sniff_path(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return sniff(f.read(8))


def spool_stdin(env: Env) -> IO[bytes]:
    """Stdin as a seekable binary file; a redirected regular file is used directly."""
    try:
        if stat.S_ISREG(os.fstat(env.stdin.fileno()).st_mode):
            stream = os.fdopen(os.dup(env.stdin.fileno()), "rb")
            stream.seek(0)
            return stream
    except (AttributeError, OSError, ValueError):
        pass
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES, dir=_spool_dir())
    shutil.copyfileobj(env.stdin, spool, 2**20)
    spool.seek(0)
    return spool


def _spool_dir() -> str | None:
    return os.environ.get("SPECTOOL_TMPDIR") or None


def check_input_path(spec: str) -> Path:
    """A readable regular file, or a :class:`FormatError` naming it."""
    path = Path(spec)
    if not path.exists():
        raise FormatError("no such file", path)
    if path.is_dir():
        raise FormatError("is a folder, not a file", path)
    if not os.access(path, os.R_OK):
        raise FormatError("permission denied", path)
    return path


def refuse_binary_to_terminal(spec: str, env: Env) -> None:
    """Binary data on a terminal is useless and can upset it: refuse with a hint."""
    if spec == "-" and env.stdout_isatty:
        raise UsageError("refusing to write binary data to a terminal; "
                         "give -o FILE or pipe the output into another command")


@contextmanager
def atomic_output(spec: str, env: Env, suffix: str = "") -> Iterator[Target]:
    """Yield somewhere to write ``spec`` to; publish it only if the block succeeds.

    For a path: a temporary file beside it, fsynced and renamed over the target.
    For ``-``: a spooled temporary file copied to stdout at the end.
    """
    refuse_binary_to_terminal(spec, env)
    if spec == "-":
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES, dir=_spool_dir()) as spool:
            yield spool
            spool.flush()
            spool.seek(0)
            while block := spool.read(2**20):
                write_all(env.stdout, block)
            env.stdout.flush()
        return
    with atomic_path(Path(spec), suffix) as tmp:
        yield str(tmp)


@contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block succeeds."""
    directory = check_output_folder(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix,
                                        dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot create output: {exc.strerror}", target) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def check_output_folder(target: str | os.PathLike) -> Path:
    """The folder ``target`` will be written in, or an :class:`OutputError` (exit 1) if it cannot be."""
    directory = Path(target).parent
    if not directory.is_dir():
        raise OutputError("output folder does not exist" if not directory.exists() else "not a folder", directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError("output folder is not writable", directory)
    return directory


def write_all(stream: IO[bytes], data: bytes) -> None:
    """Write every byte: a pipe takes a large write in parts, and a part lost is output lost.

    The write after the reader went away raises :class:`BrokenPipeError` (exit 141).
    """
    view = memoryview(data)
    while view:
        written = stream.write(view)
        if written is None:  # a non-blocking stream that took nothing
            raise BlockingIOError("output stream is not ready")
        view = view[written:]


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def display_name(spec: str) -> str:
    """What to call an input in messages: ``<stdin>`` for ``-``."""
    return "<stdin>" if spec == "-" else spec
