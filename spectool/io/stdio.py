"""``-`` for stdin/stdout, format sniffing, atomic writes.

HDF5 cannot seek on a pipe, so stdin is spooled into a temporary file (RAM up to
``SPOOL_MAX_BYTES``, then ``$TMPDIR``) and stdout is built in one and copied out.
Files are written to a temporary name beside the target and renamed into place, so a
reader never sees half a file and an existing output survives a failed run intact. A
symlink is followed to its target; a device, FIFO or socket is never replaced but streamed
into once the output is complete. A full disk is one line naming the output, exit 1.
"""

from __future__ import annotations

import errno
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
    if (spec == "-" and env.stdout_isatty) or (spec != "-" and _is_terminal(spec)):
        raise UsageError("refusing to write binary data to a terminal; "
                         "give -o FILE or pipe the output into another command")


def _is_terminal(spec: str) -> bool:
    """Whether ``spec`` names a terminal device (``-o /dev/tty``)."""
    try:
        if not stat.S_ISCHR(os.stat(spec).st_mode):
            return False
        fd = os.open(spec, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


NO_SPACE = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "no space left: disk quota exceeded",
            errno.EFBIG: "no space left: file too large for the file system or the size limit (ulimit -f)"}


def no_space(exc: BaseException) -> str | None:
    """What a write failure means when it is a full disk (or quota, or size limit); None otherwise."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return NO_SPACE[exc.errno]
        exc = exc.__cause__ or exc.__context__
    return None


@contextmanager
def full_disk_reported(target: object) -> Iterator[None]:
    """Turn a full disk inside the block into one error naming ``target`` (exit 1)."""
    try:
        yield
    except OSError as exc:
        message = no_space(exc)
        if message is None:
            raise
        raise OutputError(message, target) from None


@contextmanager
def atomic_output(spec: str, env: Env, suffix: str = "") -> Iterator[Target]:
    """Yield somewhere to write ``spec`` to; publish it only if the block succeeds.

    For a path: see :func:`atomic_path`. For ``-``: a spooled temporary file copied to stdout
    at the end.
    """
    refuse_binary_to_terminal(spec, env)
    if spec == "-":
        with full_disk_reported("<stdout>"), \
                tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES, dir=_spool_dir()) as spool:
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
def atomic_path(target: Path, suffix: str = "", mode: int = 0o666) -> Iterator[Path]:
    """A temporary path to write ``target`` to, published only when the block succeeds.

    A regular file (or a new name): the temporary file lies beside it and is fsynced, given
    ``mode & ~umask`` and renamed over it. A symlink: the same for the file it points to. A
    device, FIFO or socket (``-o /dev/null``) is never replaced: the finished temporary file
    (in ``$SPECTOOL_TMPDIR`` or ``$TMPDIR``) is streamed into it. The temporary file is always
    removed; a full disk is an :class:`OutputError` naming ``target``.
    """
    target = _followed(target)
    if target.is_dir():
        raise UsageError("is a folder, not a file", target)
    special = _is_special(target)
    tmp = _temporary(target, _spool_dir() if special else check_output_folder(target), suffix)
    try:
        with full_disk_reported(target):
            yield tmp
            if special:
                _stream_into(tmp, target)
            else:
                _fsync(tmp)
                os.chmod(tmp, mode & ~_umask())
                os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target``, published onto it (:func:`_publish`) when the block succeeds
    and removed in any case: a folder output (a corpus) appears only when complete; the folder
    counterpart of :func:`atomic_path`."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished folder onto ``target``; an old one there is moved aside, then removed."""
    old = None
    if target.is_dir() and any(target.iterdir()):
        old = target.with_name(f"{staging.name}.old")
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _followed(target: Path) -> Path:
    """Where writing ``target`` lands: a symlink's final target (which may not exist yet)."""
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def _is_special(target: Path) -> bool:
    """An existing output that is neither a regular file nor a folder: a device, FIFO or socket."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _temporary(target: Path, directory: str | Path | None, suffix: str) -> Path:
    """A new empty file named after ``target`` in ``directory`` (None: the system's temporary folder)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix, dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot create output: {no_space(exc) or exc.strerror}", target) from None
    os.close(fd)
    return Path(name)


def _stream_into(tmp: Path, target: Path) -> None:
    """Copy the finished output into a device or FIFO (opening a FIFO waits for its reader)."""
    with open(tmp, "rb") as source:
        try:
            sink = open(target, "wb")
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror}", target) from None
        with sink:
            shutil.copyfileobj(source, sink, 2**20)


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
