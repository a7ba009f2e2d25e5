"""The spectra set as NPY: one float32 array (N, L) or (L,) plus an optional JSON sidecar.

``set.npy`` holds X; ``set.json`` beside it holds the axis, labels, sample columns, stick
lists and history. On a pipe there is no sidecar: the stream is a sequence of NPY arrays
sent back to back (one per chunk), read with ``numpy.lib.format.read_array``.
"""

from __future__ import annotations

import ast
import json
import struct
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from spectool.errors import FormatError
from spectool.io.model import FORMAT_VERSION, Axis, Chunk, Ragged, SetMeta

HEADER_BYTES = 128  # fixed so the final shape can be written over the first guess


def sidecar_path(npy: str | Path) -> Path:
    return Path(npy).with_suffix(".json")


def _header(n: int, length: int) -> bytes:
    shape = f"({n}, {length})"
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    pad = HEADER_BYTES - 10 - len(text) - 1
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", HEADER_BYTES - 10) + (text + " " * pad + "\n").encode()


class NpyFileWriter:
    """Streams rows into ``target`` (a path) and writes the sidecar on close."""

    def __init__(self, target: str, meta: SetMeta, sidecar: str | None):
        self.meta, self.sidecar, self.n = meta, sidecar, 0
        self.length = len(meta.axis)
        self.file = open(target, "wb")
        self.file.write(_header(0, self.length))
        self.y: list[np.ndarray] = []
        self.samples: dict[str, list] = {}
        self.peaks: list[Ragged] = []

    def append(self, chunk: Chunk) -> None:
        self.file.write(np.ascontiguousarray(chunk.X, dtype="<f4").tobytes())
        b = len(chunk.X)
        self.y.append(np.full(b, -1, np.int32) if chunk.y is None else np.asarray(chunk.y, np.int32))
        for name, values in chunk.samples.items():
            self.samples.setdefault(name, []).extend(np.asarray(values).tolist())
        if chunk.peaks is not None:
            self.peaks.append(chunk.peaks)
        self.n += b

    def close(self, label_names: list[str], history: list[dict]) -> None:
        self.file.seek(0)
        self.file.write(_header(self.n, self.length))
        self.file.close()
        if self.sidecar is not None:
            with open(self.sidecar, "w", encoding="utf-8") as f:
                json.dump(self._sidecar(label_names, history), f)

    def _sidecar(self, label_names: list[str], history: list[dict]) -> dict:
        y = np.concatenate(self.y) if self.y else np.zeros(0, np.int32)
        doc = {
            "spectool_format": FORMAT_VERSION, "kind": self.meta.kind, "axis": self.meta.axis.to_json(),
            "labels": {"names": label_names, "y": y.tolist()}, "samples": self.samples,
            "instrument": {"wavelength": self.meta.wavelength, "radiation": self.meta.radiation},
            "signal_units": self.meta.signal_units, "history": history,
        }
        if self.peaks:
            doc["peaks"] = _ragged_to_json(self.peaks)
        return doc

    def abort(self) -> None:
        self.file.close()


class NpyStreamWriter:
    """Writes each chunk as its own NPY array to a stream (no sidecar)."""

    def __init__(self, stream: IO[bytes], meta: SetMeta):
        self.stream, self.meta, self.n = stream, meta, 0

    def append(self, chunk: Chunk) -> None:
        np.lib.format.write_array(self.stream, np.ascontiguousarray(chunk.X, dtype=np.float32))
        self.n += len(chunk.X)

    def close(self, label_names: list[str], history: list[dict]) -> None:
        self.stream.flush()

    def abort(self) -> None:
        pass


def _ragged_to_json(parts: list[Ragged]) -> dict:
    offsets = [0]
    fields: dict[str, list] = {}
    for part in parts:
        offsets.extend((part.offsets[1:] + offsets[-1]).tolist())
        for name, values in part.fields.items():
            fields.setdefault(name, []).extend(values.tolist())
    return {"offsets": offsets, "fields": fields}


class NpyReader:
    """Rows of an (N, L) array (memory-mapped for files) plus what its sidecar says."""

    def __init__(self, X: np.ndarray, name: str, sidecar: dict | None = None):
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.dtype.kind not in "fiu":
            raise FormatError(f"expected a numeric (N, L) or (L,) array, found {X.dtype} {X.shape}", name)
        self.name, self.X, self.sidecar = name, X, sidecar or {}
        self.meta = self._meta()
        self._y = np.asarray(self.sidecar.get("labels", {}).get("y", [-1] * len(X)), np.int32)
        if len(self._y) != len(X):
            raise FormatError(f"sidecar has {len(self._y)} labels for {len(X)} spectra", name)
        self._peaks = _ragged_from_json(self.sidecar["peaks"]) if "peaks" in self.sidecar else None

    def _meta(self) -> SetMeta:
        doc = self.sidecar
        if str(doc.get("spectool_format", FORMAT_VERSION)) != FORMAT_VERSION:
            raise FormatError(f"sidecar format {doc['spectool_format']} is not supported", self.name)
        axis = Axis.from_json(doc["axis"]) if "axis" in doc else Axis.index(self.X.shape[1])
        if len(axis) != self.X.shape[1]:
            raise FormatError(f"axis has {len(axis)} points but the array has {self.X.shape[1]} columns",
                              self.name)
        instrument = doc.get("instrument", {})
        return SetMeta(axis=axis, kind=doc.get("kind", "other"),
                       label_names=list(doc.get("labels", {}).get("names", [])),
                       wavelength=instrument.get("wavelength"), radiation=instrument.get("radiation"),
                       history=list(doc.get("history", [])), signal_units=doc.get("signal_units", "a.u."),
                       n=len(self.X), columns=list(doc.get("samples", {})), has_peaks="peaks" in doc)

    def __len__(self) -> int:
        return len(self.X)

    def iter_chunks(self, rows: int = 1024, start: int = 0, stop: int | None = None,
                    peaks: bool = True) -> Iterator[Chunk]:
        stop = len(self.X) if stop is None else min(stop, len(self.X))
        for lo in range(start, stop, rows):
            yield self.read_rows(lo, min(lo + rows, stop), peaks)

    def read_rows(self, lo: int, hi: int, peaks: bool = True) -> Chunk:
        samples = {k: np.asarray(v[lo:hi], dtype=object if v and isinstance(v[0], str) else None)
                   for k, v in self.sidecar.get("samples", {}).items()}
        ragged = self._peaks.take(lo, hi) if peaks and self._peaks is not None else None
        return Chunk(np.asarray(self.X[lo:hi], dtype=np.float32), self._y[lo:hi], samples, ragged, start=lo)

    def close(self) -> None:
        pass


def _ragged_from_json(doc: dict) -> Ragged:
    return Ragged(np.asarray(doc["offsets"], np.int64),
                  {k: np.asarray(v) for k, v in doc["fields"].items()})


class _ReadOnly:
    """Offers only ``read`` so numpy reads a stream sequentially instead of seeking."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream

    def read(self, n: int = -1) -> bytes:
        return self.stream.read(n)


def open_npy(source: str | IO[bytes], name: str) -> NpyReader:
    """An NPY file (memory-mapped, with its sidecar) or a stream of NPY arrays."""
    try:
        if isinstance(source, str):
            X = np.load(source, mmap_mode="r", allow_pickle=False)
        else:
            X = _read_stream(source)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(f"not a readable NPY array ({exc})", name) from None
    return NpyReader(X, name, read_sidecar(source) if isinstance(source, str) else None)


def _read_stream(stream: IO[bytes]) -> np.ndarray:
    reader, parts = _ReadOnly(stream), []
    while True:
        magic = stream.read(6)
        if not magic:
            break
        if magic != b"\x93NUMPY":
            raise ValueError("bad magic bytes in the NPY stream")
        parts.append(_read_after_magic(reader))
    if not parts:
        raise ValueError("empty stream")
    return np.concatenate([p.reshape(1, -1) if p.ndim == 1 else p for p in parts])


def _read_after_magic(reader: _ReadOnly) -> np.ndarray:
    major, _minor = reader.read(2)
    size_fmt = "<H" if major == 1 else "<I"
    header_len = struct.unpack(size_fmt, reader.read(struct.calcsize(size_fmt)))[0]
    header = ast.literal_eval(reader.read(header_len).decode("latin1"))
    dtype = np.dtype(header["descr"])
    if dtype.hasobject:
        raise ValueError("object arrays are refused (they need pickle)")
    count = int(np.prod(header["shape"]))
    data = reader.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError("truncated NPY data")
    order = "F" if header["fortran_order"] else "C"
    return np.frombuffer(data, dtype=dtype).reshape(header["shape"], order=order)


def read_sidecar(npy_path: str) -> dict | None:
    path = sidecar_path(npy_path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise FormatError(f"unreadable sidecar ({exc})", path) from None


def read_npz(path: str, name: str) -> NpyReader:
    """``.npz`` input: arrays ``X`` (or the first), optional ``axis`` and ``y``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if not keys:
                raise FormatError("empty .npz archive", name)
            X = archive["X"] if "X" in keys else archive[keys[0]]
            side: dict = {}
            if "axis" in keys:
                side["axis"] = {"values": archive["axis"].tolist(), "quantity": "two_theta", "units": "deg"}
            if "y" in keys:
                side["labels"] = {"y": archive["y"].astype(int).tolist(), "names": []}
    except (ValueError, OSError) as exc:
        raise FormatError(f"not a readable .npz archive ({exc})", name) from None
    return NpyReader(X, name, side)
