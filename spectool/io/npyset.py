"""The spectra set as NPY: one float32 array (N, L) or (L,) plus an optional JSON sidecar.

``set.npy`` holds X; ``set.json`` beside it holds the axis, labels, sample columns, stick
lists and history. On a pipe there is no sidecar: the stream is a sequence of NPY arrays
sent back to back (one per chunk), read with ``numpy.lib.format.read_array``.
"""

from __future__ import annotations

import ast
import json
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from spectool.errors import FormatError
from spectool.spectra import FORMAT_VERSION, Axis, Chunk, Ragged, SetMeta

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
        self.name, self.X, self.sidecar = name, X, {} if sidecar is None else sidecar
        _check_sidecar(self.sidecar, len(X), name)
        self.meta = self._meta()
        self._y = np.asarray(self.sidecar.get("labels", {}).get("y", [-1] * len(X)), np.int32)
        if len(self._y) != len(X):
            raise FormatError(f"sidecar has {len(self._y)} labels for {len(X)} spectra", name)
        self._samples = {k: _column(v, k, name) for k, v in self.sidecar.get("samples", {}).items()}
        if any(len(v) != len(X) for v in self._samples.values()):
            raise FormatError(f"sidecar: every sample column needs {len(X)} values", name)
        self._peaks = _ragged_from_json(self.sidecar["peaks"], len(X), name) if "peaks" in self.sidecar else None

    def _meta(self) -> SetMeta:
        doc = self.sidecar
        if str(doc.get("spectool_format", FORMAT_VERSION)) != FORMAT_VERSION:
            raise FormatError(f"sidecar format {doc['spectool_format']} is not supported", self.name)
        try:
            axis = Axis.from_json(doc["axis"]) if "axis" in doc else Axis.index(self.X.shape[1])
        except (TypeError, ValueError):
            raise FormatError("sidecar: 'axis' values are not a list of numbers", self.name) from None
        if axis.values.ndim != 1 or len(axis) != self.X.shape[1]:
            raise FormatError(f"axis has {axis.values.size} points but the array has {self.X.shape[1]} columns",
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
        samples = {k: v[lo:hi] for k, v in self._samples.items()}
        ragged = self._peaks.take(lo, hi) if peaks and self._peaks is not None else None
        return Chunk(np.asarray(self.X[lo:hi], dtype=np.float32), self._y[lo:hi], samples, ragged, start=lo)

    def close(self) -> None:
        pass


_SIDECAR_TYPES = {"spectool_format": (str, int), "kind": str, "axis": dict, "labels": dict, "samples": dict,
                  "instrument": dict, "signal_units": str, "history": list, "peaks": dict}


def _check_sidecar(doc: object, n: int, name: str) -> None:
    """Refuse a sidecar whose parts are not of the types and lengths a set of ``n`` rows needs."""
    if not isinstance(doc, dict):
        raise FormatError("sidecar is not a JSON object", name)
    for key, kind in _SIDECAR_TYPES.items():
        if key in doc and not isinstance(doc[key], kind):
            raise FormatError(f"sidecar: {key!r} has the wrong type ({type(doc[key]).__name__})", name)
    labels, instrument = doc.get("labels", {}), doc.get("instrument", {})
    names, y = labels.get("names", []), labels.get("y", [])
    if not (isinstance(names, list) and all(isinstance(x, str) for x in names)):
        raise FormatError("sidecar: label names must be a list of strings", name)
    if not (isinstance(y, list) and all(type(k) is int and -1 <= k < 2**31 for k in y)):
        raise FormatError("sidecar: labels must be -1 or class indices", name)
    wavelength, radiation = instrument.get("wavelength"), instrument.get("radiation")
    if not (wavelength is None or (type(wavelength) in (int, float) and 0 < wavelength < 1e3)):
        raise FormatError(f"sidecar: wavelength {wavelength!r} is not a positive number", name)
    if not (radiation is None or isinstance(radiation, str)):
        raise FormatError("sidecar: radiation must be a string", name)
    if not all(isinstance(h, dict) for h in doc.get("history", [])):
        raise FormatError("sidecar: history must be a list of JSON objects", name)


def _column(values: object, key: str, name: str) -> np.ndarray:
    """A sample column or stick-list field as an array: numbers (any shape per row) or strings (or null)."""
    try:
        if not isinstance(values, list):
            raise ValueError
        if values and all(v is None or isinstance(v, str) for v in values):
            return np.asarray(values, dtype=object)
        column = np.asarray(values)
        if column.dtype.kind not in "biuf":
            raise ValueError
    except (ValueError, TypeError, OverflowError):
        raise FormatError(f"sidecar: {key!r} must be a list of numbers (rows of equal shape) or of "
                          "strings", name) from None
    return column


def _ragged_from_json(doc: dict, n: int, name: str) -> Ragged:
    offsets = _column(doc.get("offsets"), "peaks offsets", name)
    fields = doc.get("fields")
    if (offsets.ndim != 1 or len(offsets) != n + 1 or offsets.dtype.kind not in "iu" or offsets[0] != 0
            or np.any(np.diff(offsets) < 0) or not isinstance(fields, dict)):
        raise FormatError(f"sidecar: peaks need {n + 1} rising offsets from 0 and fields", name)
    out = {k: _column(v, f"peaks {k}", name) for k, v in fields.items()}
    if any(len(v) != offsets[-1] for v in out.values()):
        raise FormatError(f"sidecar: every peaks field needs {offsets[-1]} values", name)
    return Ragged(offsets.astype(np.int64), out)


MAX_HEADER = 65536  # bytes of NPY header text we parse (numpy writes < 200)
READ_PIECE = 16 * 2**20  # a stream's data is read in pieces: a claimed shape cannot make us allocate


@dataclass(frozen=True)
class NpyHeader:
    """What an NPY header says: dtype, shape, order, and where the data starts (bytes)."""

    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    data_offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def read_npy_header(stream: IO[bytes], after_magic: bool = False) -> NpyHeader:
    """Parse and check an NPY header (ValueError if bad): a numeric dtype, a shape of ≤ 2
    non-negative ints. Reads nothing past the header."""
    offset = 0
    if not after_magic:
        if stream.read(6) != b"\x93NUMPY":
            raise ValueError("bad magic bytes")
        offset = 6
    version = stream.read(2)
    if len(version) != 2 or version[0] not in (1, 2, 3):
        raise ValueError("unknown NPY version")
    size_fmt = "<H" if version[0] == 1 else "<I"
    raw = stream.read(struct.calcsize(size_fmt))
    if len(raw) != struct.calcsize(size_fmt):
        raise ValueError("truncated header")
    (length,) = struct.unpack(size_fmt, raw)
    if length > MAX_HEADER:
        raise ValueError(f"header of {length} bytes is implausible")
    text = stream.read(length)
    if len(text) != length:
        raise ValueError("truncated header")
    fields = _header_fields(text.decode("latin-1"))
    return NpyHeader(*fields, data_offset=offset + 2 + len(raw) + length)


def _header_fields(text: str) -> tuple[np.dtype, tuple[int, ...], bool]:
    try:
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError("header is not a Python literal") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError("header lacks descr, fortran_order or shape")
    try:
        dtype = np.dtype(header["descr"]) if isinstance(header["descr"], str) else None
    except (TypeError, ValueError, SyntaxError):  # numpy parses "(2,)f4,<f4" with ast
        dtype = None
    if dtype is None or dtype.kind not in "fiu":
        raise ValueError(f"data type {header['descr']!r} is not a plain number type")
    shape = header["shape"]
    if not (isinstance(shape, tuple) and len(shape) <= 2
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**62 for d in shape)):
        raise ValueError(f"shape {shape!r} is not one or two sizes")
    if not isinstance(header["fortran_order"], bool):
        raise ValueError("fortran_order is not True or False")
    return dtype, shape, header["fortran_order"]


def open_npy(source: str | IO[bytes], name: str) -> NpyReader:
    """An NPY file (memory-mapped, with its sidecar) or a stream of NPY arrays."""
    try:
        X = _map_file(source) if isinstance(source, str) else _read_stream(source)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(f"not a readable NPY array ({exc})", name) from None
    return NpyReader(X, name, read_sidecar(source) if isinstance(source, str) else None)


def _map_file(path: str) -> np.ndarray:
    """The array of an NPY file, memory-mapped once its header agrees with the file's size."""
    with open(path, "rb") as f:
        header = read_npy_header(f)
        size = os.fstat(f.fileno()).st_size
    if header.data_offset + header.nbytes > size:
        raise ValueError(f"header claims {header.shape} {header.dtype} ({header.nbytes} bytes) but the "
                         f"file holds {size - header.data_offset} bytes of data")
    if header.nbytes == 0:
        return np.zeros(header.shape, header.dtype)
    return np.memmap(path, header.dtype, "r", header.data_offset, header.shape,
                     "F" if header.fortran_order else "C")


def _read_stream(stream: IO[bytes]) -> np.ndarray:
    parts = []
    while True:
        magic = stream.read(6)
        if not magic:
            break
        if magic != b"\x93NUMPY":
            raise ValueError("bad magic bytes in the NPY stream")
        parts.append(_read_after_magic(stream))
    if not parts:
        raise ValueError("empty stream")
    parts = [p.reshape(1, -1) if p.ndim == 1 else p for p in parts]
    if any(p.ndim != 2 or p.shape[1] != parts[0].shape[1] for p in parts):
        raise ValueError("arrays in the stream differ in length")
    return np.concatenate(parts)


def _read_after_magic(stream: IO[bytes]) -> np.ndarray:
    header = read_npy_header(stream, after_magic=True)
    data = bytearray()
    while len(data) < header.nbytes:  # never ask for more than a piece: the shape may lie
        piece = stream.read(min(READ_PIECE, header.nbytes - len(data)))
        if not piece:
            raise ValueError(f"truncated NPY data (header claims {header.shape} {header.dtype})")
        data += piece
    order = "F" if header.fortran_order else "C"
    return np.frombuffer(bytes(data), dtype=header.dtype).reshape(header.shape, order=order)


def read_sidecar(npy_path: str) -> dict | None:
    path = sidecar_path(npy_path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise FormatError(f"unreadable sidecar ({exc})", path) from None


def read_npz(path: str, name: str) -> NpyReader:
    """``.npz`` input: arrays ``X`` (or the first), optional ``axis`` and ``y``.

    Each member's NPY header is checked and its data read in pieces, so a header cannot
    claim more memory than the archive really unpacks to.
    """
    try:
        arrays = _npz_arrays(path)
        X = arrays["X"] if "X" in arrays else next(iter(arrays.values()))
        side: dict = {}
        if "axis" in arrays:
            side["axis"] = {"values": arrays["axis"].tolist(), "quantity": "two_theta", "units": "deg"}
        if "y" in arrays:
            side["labels"] = {"y": arrays["y"].astype(int).tolist(), "names": []}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
        raise FormatError(f"not a readable .npz archive ({exc})", name) from None
    except StopIteration:
        raise FormatError("empty .npz archive", name) from None
    return NpyReader(X, name, side)


def _npz_arrays(path: str) -> dict[str, np.ndarray]:
    """The members spectool uses (X or the first, axis, y) by name."""
    with zipfile.ZipFile(path) as zf:
        members = [m for m in zf.infolist() if m.filename.endswith(".npy")]
        keys = [m.filename[:-4] for m in members]
        wanted = {"X" if "X" in keys else keys[0] if keys else "", "axis", "y"}
        out = {}
        for key, member in zip(keys, members):
            if key in wanted and key not in out:
                with zf.open(member) as f:
                    if f.read(6) != b"\x93NUMPY":
                        raise ValueError(f"member {member.filename} is not NPY")
                    out[key] = _read_after_magic(f)
        return out
