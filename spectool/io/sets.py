"""Open and create spectra sets by path or ``-``, whatever the container (HDF5, NPY, NPZ).

``open_set`` sniffs magic bytes, so the extension is only a hint; ``create_set`` writes
atomically and appends one history record.
"""

from __future__ import annotations

import hashlib
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Iterator, Protocol, Sequence

import numpy as np

from spectool import __version__
from spectool.env import Env
from spectool.errors import FormatError, UsageError
from spectool.io import stdio
from spectool.io.hdf5set import HDF5Reader, HDF5Writer
from spectool.spectra import Chunk, SetMeta
from spectool.io.npyset import NpyFileWriter, NpyStreamWriter, open_npy, read_npz, sidecar_path

SET_SUFFIXES = {".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".nxs": "hdf5", ".npy": "npy"}
INPUT_SET_SUFFIXES = set(SET_SUFFIXES) | {".npz"}


class SetReader(Protocol):
    meta: SetMeta
    name: str

    def __len__(self) -> int: ...
    def iter_chunks(self, rows: int = 1024, start: int = 0, stop: int | None = None,
                    peaks: bool = True) -> Iterator[Chunk]: ...
    def read_rows(self, lo: int, hi: int, peaks: bool = True) -> Chunk: ...
    def close(self) -> None: ...


def is_set_path(spec: str) -> bool:
    """Whether an input looks like a set (by content for files, by suffix otherwise)."""
    if spec == "-":
        return True
    path = Path(spec)
    if path.is_file():
        try:
            kind = stdio.sniff_path(path)
        except OSError:
            return False
        return kind in ("hdf5", "npy") or (kind == "zip" and path.suffix.lower() == ".npz")
    return path.suffix.lower() in INPUT_SET_SUFFIXES


@contextmanager
def open_set(spec: str, env: Env, spooled: IO[bytes] | None = None) -> Iterator[SetReader]:
    """A reader for a set at ``spec`` (path or ``-``); raises :class:`FormatError`.

    ``spooled``: stdin already spooled by a caller that sniffed it (``-`` can be read once).
    """
    name = stdio.display_name(spec)
    with ExitStack() as stack:
        if spec == "-":
            stream = spooled or stack.enter_context(stdio.spool_stdin(env))
            source, head = stream, stream.read(8)
            stream.seek(0)
        else:
            source = str(stdio.check_input_path(spec))
            with open(source, "rb") as f:
                head = f.read(8)
        reader = _reader_for(stdio.sniff(head), source, name, spec)
        stack.callback(reader.close)
        if reader.meta.n == 0:
            raise FormatError("the set holds no spectra", name)
        yield reader


def _reader_for(kind: str, source, name: str, spec: str) -> SetReader:
    if kind == "hdf5":
        return HDF5Reader(source, name)
    if kind == "npy":
        return open_npy(source, name)
    if kind == "zip" and isinstance(source, str) and spec.lower().endswith(".npz"):
        return read_npz(source, name)
    if not head_has_data(source):
        raise FormatError("empty file", name)
    raise FormatError("not a spectra set (expected HDF5, NPY or NPZ)", name)


def head_has_data(source) -> bool:
    if isinstance(source, str):
        return Path(source).stat().st_size > 0
    position = source.tell()
    source.seek(0, 2)
    size = source.tell()
    source.seek(position)
    return size > 0


class SetBuilder:
    """Appends chunks to a writer, mapping string labels to indices as they appear."""

    def __init__(self, writer, meta: SetMeta):
        self.writer, self.meta = writer, meta
        self.label_names = list(meta.label_names)
        self._index = {name: i for i, name in enumerate(self.label_names)}

    @property
    def n(self) -> int:
        return self.writer.n

    def label_index(self, labels: Sequence[str]) -> np.ndarray:
        """Indices for label names, adding unseen names at the end; '' means unlabelled."""
        out = np.empty(len(labels), np.int32)
        for i, label in enumerate(labels):
            if label == "" or label is None:
                out[i] = -1
                continue
            if label not in self._index:
                self._index[label] = len(self.label_names)
                self.label_names.append(label)
            out[i] = self._index[label]
        return out

    def append(self, chunk: Chunk, labels: Sequence[str] | None = None) -> None:
        if chunk.X.ndim != 2 or chunk.X.shape[1] != len(self.meta.axis):
            raise ValueError(f"chunk shape {chunk.X.shape} does not fit an axis of {len(self.meta.axis)}")
        if labels is not None:
            chunk = Chunk(chunk.X, self.label_index(labels), chunk.samples, chunk.peaks, chunk.start)
        self.writer.append(chunk)


def output_format(spec: str, requested: str | None = None) -> str:
    """``hdf5`` or ``npy``: as asked, else by suffix, else HDF5."""
    if requested:
        if requested not in ("hdf5", "npy"):
            raise UsageError(f"unknown output format {requested!r} (use hdf5 or npy)")
        return requested
    if spec == "-":
        return "hdf5"
    suffix = Path(spec).suffix.lower()
    if suffix and suffix not in SET_SUFFIXES:
        raise UsageError(f"cannot tell the output format from {suffix!r}: use .h5 or .npy, "
                         "or give --format", spec)
    return SET_SUFFIXES.get(suffix, "hdf5")


@contextmanager
def create_set(spec: str, meta: SetMeta, env: Env, record: dict | None = None,
               fmt: str | None = None, compression: str | None = "gzip") -> Iterator[SetBuilder]:
    """Write a set to ``spec`` atomically; ``record`` is appended to the history on success."""
    fmt = output_format(spec, fmt)
    with ExitStack() as stack:
        sidecar = None  # entered first, so a failure writing the data is reported as the data's
        if fmt == "npy" and spec != "-":
            sidecar = str(stack.enter_context(stdio.atomic_path(sidecar_path(spec), ".json")))
        target = stack.enter_context(stdio.atomic_output(spec, env))
        writer = _writer_for(fmt, target, meta, sidecar, compression)
        builder = SetBuilder(writer, meta)
        try:
            yield builder
            writer.close(builder.label_names, list(meta.history) + ([record] if record else []))
        except BaseException:
            writer.abort()
            raise


def _writer_for(fmt: str, target, meta: SetMeta, sidecar: str | None, compression):
    if fmt == "hdf5":
        return HDF5Writer(target, meta, compression=compression)
    if isinstance(target, str):
        return NpyFileWriter(target, meta, sidecar)
    return NpyStreamWriter(target, meta)


def write_set(spec: str, meta: SetMeta, chunk: Chunk, env: Env, record: dict | None = None,
              labels: Sequence[str] | None = None, fmt: str | None = None) -> None:
    """Write a whole in-memory set."""
    with create_set(spec, meta, env, record, fmt) as out:
        out.append(chunk, labels)


def sha256_file(path: str | Path, block: int = 2**22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(block):
            digest.update(data)
    return digest.hexdigest()


def history_record(command: str, params: dict, inputs: Sequence[str] = (), seed: int | None = None) -> dict:
    """One ``/entry/history`` entry: command, version, parameters, seed, input hashes, argv."""
    hashed = [{"path": p, "sha256": sha256_file(p) if p != "-" and Path(p).is_file() else None}
              for p in inputs]
    return {"command": command, "spectool": __version__, "params": params, "seed": seed,
            "inputs": hashed, "argv": ["spectool", *sys.argv[1:]]}
