"""The spectra set as HDF5, NeXus-compatible (silx, h5web and NeXpy plot it as it is).

Layout (DESIGN.md §3)::

    /entry            @NX_class=NXentry @spectool_format="1" @kind
    /entry/data       @NX_class=NXdata @signal="X" @axes=[".", "axis"]
        X (N, L) float32, chunked (16, L), gzip 4 + shuffle;  axis (L,) float64 @quantity @units
    /entry/labels     y (N,) int32 (-1 = unlabelled), names (C,) str
    /entry/samples    one column per field, first dimension N
    /entry/instrument wavelength (Å), radiation
    /entry/peaks      offsets (N+1,) int64 and per-peak fields (ragged stick lists)
    /entry/history    (K,) str, one JSON object per step
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import IO, Iterator, Union

import numpy as np

from spectool.errors import FormatError
from spectool.io.chunkwriter import GZIP_LEVEL, ChunkWriter
from spectool.io.h5heap import check_global_heaps
from spectool.spectra import FORMAT_VERSION, Axis, Chunk, Ragged, SetMeta

ROWS_PER_CHUNK = 16
READ_CACHE_BYTES = 64 * 2**20
MAX_LENGTH = 2**21  # points per spectrum a set may have (scans have ~10^4)
MAX_READ_BYTES = 16 * 2**20  # one read of rows allocates at most this much (at least one row)
MAX_RATIO = 1100  # deflate packs at most ~1032:1: a dataset claiming more than this is lying
SLACK_BYTES = 2**20
#: What h5py raises on a corrupt file or an unexpected layout (a group where a dataset should be…).
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError)
STR = None  # h5py string dtype, made lazily


def _h5py():
    import h5py

    return h5py


def _str_dtype():
    return _h5py().string_dtype("utf-8")


def _as_h5_column(values: np.ndarray) -> tuple[np.ndarray, object]:
    """A column ready for h5py and its dtype (strings become variable-length UTF-8)."""
    values = np.asarray(values)
    if values.dtype.kind in "USO":
        return values.astype(object), _str_dtype()
    return values, values.dtype


class DroppableStream:
    """The stream HDF5 writes through (h5py's file-object driver); a failed write never reaches HDF5.

    After a failed write (a full disk) HDF5 can neither flush nor close its file, and freeing h5py
    objects of that file crashes the interpreter (exit 139). So the first failure is kept in
    ``failure`` and that write and every later one dropped: HDF5 stays consistent and closes the
    file being abandoned; the writer raises ``failure`` at its next step (:meth:`check`).
    """

    def __init__(self, stream: IO[bytes]):
        self.stream, self.failure = stream, None

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        while self.failure is None and len(view):
            try:
                view = view[self.stream.write(view):]  # a raw file may take part of it
            except OSError as exc:
                self.failure = exc
        return size

    def flush(self) -> None:
        if self.failure is None:
            try:
                self.stream.flush()
            except OSError as exc:
                self.failure = exc

    def check(self) -> None:
        if self.failure is not None:
            raise self.failure

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


class HDF5Writer:
    """Appends chunks to a new set; ``close`` writes names and history."""

    def __init__(self, target: Union[str, IO[bytes]], meta: SetMeta, compression: str | None = "gzip"):
        h5py = _h5py()
        self.meta = meta
        self.n = 0
        self.n_peaks = 0
        self.compression = compression
        self.owned = open(target, "w+b", buffering=0) if isinstance(target, str) else None  # HDF5 caches
        self.stream = DroppableStream(self.owned or target)
        try:
            self.file = h5py.File(self.stream, "w", libver=("earliest", "v110"))
        except BaseException:
            self._release()
            raise
        self._write_header()
        self.signal = ChunkWriter(self.file["entry/data/X"]) if compression == "gzip" else None

    def _write_header(self) -> None:
        f, meta = self.file, self.meta
        f.attrs.update(NX_class="NXroot", default="entry")
        entry = f.create_group("entry")
        entry.attrs.update(NX_class="NXentry", default="data", spectool_format=FORMAT_VERSION,
                           kind=meta.kind)
        data = entry.create_group("data")
        data.attrs.update(NX_class="NXdata", signal="X", axes=[".", "axis"], axis_indices=1)
        axis = data.create_dataset("axis", data=meta.axis.values)
        axis.attrs.update(quantity=meta.axis.quantity, units=meta.axis.units)
        length = max(len(meta.axis), 1)
        compress = {"compression": "gzip", "compression_opts": GZIP_LEVEL, "shuffle": True} \
            if self.compression == "gzip" else {}
        x = data.create_dataset("X", shape=(0, len(meta.axis)), maxshape=(None, len(meta.axis)),
                                dtype=np.float32, chunks=(ROWS_PER_CHUNK, length), **compress)
        x.attrs.update(long_name="intensity", units=meta.signal_units)
        labels = entry.create_group("labels")
        labels.create_dataset("y", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(4096,))
        entry.create_group("samples")
        instrument = entry.create_group("instrument")
        instrument.attrs["NX_class"] = "NXinstrument"
        if meta.wavelength is not None:
            instrument.create_dataset("wavelength", data=float(meta.wavelength)).attrs["units"] = "angstrom"
        if meta.radiation:
            instrument.create_dataset("radiation", data=meta.radiation, dtype=_str_dtype())

    def append(self, chunk: Chunk) -> None:
        """Write rows; ``chunk.y`` must already index ``meta.label_names``."""
        with self._writing():
            self._append(chunk)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed write surfaces here, as itself, whatever HDF5 made of the bytes it never got."""
        try:
            yield
        except Exception:
            self.stream.check()
            raise
        self.stream.check()

    def _append(self, chunk: Chunk) -> None:
        b = len(chunk.X)
        if b == 0:
            return
        lo, hi = self.n, self.n + b
        data = self.file["entry/data/X"]
        data.resize(hi, axis=0)
        if self.signal is not None:
            self.signal.append(chunk.X)
        else:
            data[lo:hi] = np.asarray(chunk.X, dtype=np.float32)
        y = self.file["entry/labels/y"]
        y.resize(hi, axis=0)
        y[lo:hi] = -1 if chunk.y is None else np.asarray(chunk.y, dtype=np.int32)
        self._append_samples(chunk.samples, lo, hi)
        if chunk.peaks is not None:
            self._append_peaks(chunk.peaks, lo)
        self.n = hi

    def _append_samples(self, samples: dict[str, np.ndarray], lo: int, hi: int) -> None:
        group = self.file["entry/samples"]
        for name, values in samples.items():
            values, dtype = _as_h5_column(values)
            if name not in group:
                if lo:
                    raise ValueError(f"sample column {name!r} appeared after row 0")
                group.create_dataset(name, shape=(0,) + values.shape[1:], dtype=dtype,
                                     maxshape=(None,) + values.shape[1:], chunks=True)
            column = group[name]
            column.resize(hi, axis=0)
            column[lo:hi] = values

    def _append_peaks(self, peaks: Ragged, row0: int) -> None:
        group = self.file["entry"].require_group("peaks")
        if "offsets" not in group:
            if row0:
                raise ValueError("peaks appeared after row 0")
            group.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(4096,))
        offsets = group["offsets"]
        p0 = self.n_peaks
        offsets.resize(row0 + len(peaks) + 1, axis=0)
        offsets[row0 + 1:] = peaks.offsets[1:] + p0
        p1 = p0 + int(peaks.offsets[-1])
        for name, values in peaks.fields.items():
            values = np.asarray(values)
            if name not in group:
                group.create_dataset(name, shape=(0,) + values.shape[1:], dtype=values.dtype,
                                     maxshape=(None,) + values.shape[1:], chunks=True)
            group[name].resize(p1, axis=0)
            group[name][p0:p1] = values
        self.n_peaks = p1

    def close(self, label_names: list[str], history: list[dict]) -> None:
        """Write names and history and close; on failure the caller calls :meth:`abort`."""
        with self._writing():
            if self.signal is not None:
                self.signal.close()
            entry = self.file["entry"]
            entry["labels"].create_dataset("names", data=np.array(label_names, dtype=object),
                                           dtype=_str_dtype())
            entry.create_dataset("history", data=np.array([json.dumps(h, sort_keys=True) for h in history],
                                                          dtype=object), dtype=_str_dtype())
            entry.attrs["n"] = self.n
            self.file.close()
        self._release()

    def abort(self) -> None:
        """Abandon the file: no more bytes reach the disk, and HDF5 closes it cleanly."""
        if self.signal is not None:
            self.signal.abort()
        if self.stream.failure is None:
            self.stream.failure = OSError("output abandoned")  # drop what HDF5 still flushes
        try:
            self.file.close()
        except Exception:  # noqa: BLE001 - the file is discarded anyway
            pass
        self._release()

    def _release(self) -> None:
        if self.owned is not None:
            self.owned.close()


class HDF5Reader:
    """Reads a set's metadata at once and its rows chunk by chunk."""

    def __init__(self, source: Union[str, IO[bytes]], name: str):
        h5py = _h5py()
        self.name = name
        _check_heaps(source, name)
        try:
            self.file = h5py.File(source, "r", rdcc_nbytes=READ_CACHE_BYTES)
        except H5_ERRORS as exc:
            raise FormatError(f"not a readable HDF5 file ({exc})", name) from None
        try:
            with _corrupt(name):
                if "entry/data/X" not in self.file:
                    raise FormatError("HDF5 file is not a spectra set (no /entry/data/X)", name)
                self.meta = self._read_meta()
        except FormatError:
            self.file.close()
            raise

    def _read_meta(self) -> SetMeta:
        entry = self.file["entry"]
        version = str(entry.attrs.get("spectool_format", FORMAT_VERSION))
        if version != FORMAT_VERSION:
            raise FormatError(f"set format version {version} is not supported (this spectool reads "
                              f"{FORMAT_VERSION}); upgrade spectool", self.name)
        data = entry["data"]
        x = data["X"]
        if x.ndim != 2 or x.dtype.kind not in "fiu":
            raise FormatError(f"/entry/data/X is {x.dtype} with {x.ndim} dimensions, expected numbers (N, L)",
                              self.name)
        if x.shape[1] > MAX_LENGTH:
            raise FormatError(f"spectra of {x.shape[1]} points are more than spectool reads ({MAX_LENGTH})",
                              self.name)
        for ds in _datasets(entry):
            _check_stored(ds, self.name)
        if "axis" in data:
            ax = data["axis"]
            if ax.shape != (x.shape[1],):
                raise FormatError(f"axis has shape {ax.shape} but X has {x.shape[1]} columns", self.name)
            axis = Axis(ax[()], _attr(ax, "quantity", "index"), _attr(ax, "units", ""))
        else:
            axis = Axis.index(x.shape[1])
        if len(axis) != x.shape[1]:
            raise FormatError(f"axis has {len(axis)} points but X has {x.shape[1]} columns", self.name)
        instrument = entry.get("instrument", {})
        return SetMeta(
            axis=axis,
            kind=_attr(entry, "kind", "other"),
            label_names=_strings(entry, "labels/names"),
            wavelength=float(instrument["wavelength"][()]) if "wavelength" in instrument else None,
            radiation=_decode(instrument["radiation"][()]) if "radiation" in instrument else None,
            history=_history(_strings(entry, "history"), self.name),
            signal_units=_attr(x, "units", "a.u."),
            n=x.shape[0],
            columns=list(entry["samples"].keys()) if "samples" in entry else [],
            has_peaks="peaks/offsets" in entry,
        )

    def __len__(self) -> int:
        return self.meta.n

    def iter_chunks(self, rows: int = 1024, start: int = 0, stop: int | None = None,
                    peaks: bool = True) -> Iterator[Chunk]:
        stop = self.meta.n if stop is None else min(stop, self.meta.n)
        rows = max(1, min(rows, MAX_READ_BYTES // max(4 * len(self.meta.axis), 1)))
        for lo in range(start, stop, rows):
            yield self.read_rows(lo, min(lo + rows, stop), peaks=peaks)

    def read_rows(self, lo: int, hi: int, peaks: bool = True) -> Chunk:
        with _corrupt(self.name):
            return self._read_rows(lo, hi, peaks)

    def _read_rows(self, lo: int, hi: int, peaks: bool) -> Chunk:
        entry = self.file["entry"]
        X = entry["data/X"][lo:hi]
        y = entry["labels/y"][lo:hi] if "labels/y" in entry else np.full(hi - lo, -1, np.int32)
        samples = {name: _column(col[lo:hi]) for name, col in entry.get("samples", {}).items()}
        ragged = self._read_peaks(lo, hi) if peaks and self.meta.has_peaks else None
        return Chunk(X, y.astype(np.int32), samples, ragged, start=lo)

    def _read_peaks(self, lo: int, hi: int) -> Ragged:
        group = self.file["entry/peaks"]
        offsets = group["offsets"][lo:hi + 1]
        p0, p1 = int(offsets[0]), int(offsets[-1])
        if len(offsets) != hi - lo + 1 or np.any(np.diff(offsets) < 0) or p0 < 0:
            raise FormatError(f"/entry/peaks/offsets are not {hi - lo + 1} rising values at row {lo}", self.name)
        fields = {name: ds[p0:p1] for name, ds in group.items() if name != "offsets"}
        return Ragged(offsets - p0, fields)

    def close(self) -> None:
        self.file.close()


def _check_heaps(source: Union[str, IO[bytes]], name: str) -> None:
    """HDF5 loops for ever on some damaged global heaps: refuse those before h5py sees the file."""
    if isinstance(source, str):
        with open(source, "rb") as stream:
            check_global_heaps(stream, name)
    else:
        check_global_heaps(source, name)


@contextmanager
def _corrupt(name: str) -> Iterator[None]:
    """Turn what h5py raises on a damaged or oddly laid out file into one FormatError."""
    try:
        yield
    except FormatError:
        raise
    except H5_ERRORS as exc:
        raise FormatError(f"corrupt or not a spectool set ({type(exc).__name__}: {exc})", name) from None


def _datasets(group) -> list:
    """Every dataset below ``group``, each once (HDF5's own walk: hard links only, cycles cut)."""
    found: list = []
    group.visititems(lambda _, obj: found.append(obj) if isinstance(obj, _h5py().Dataset) else None)
    return found


def _check_stored(ds, name: str) -> None:
    """Refuse a dataset whose shape claims far more than the file stores (before reading it)."""
    claimed = ds.size * ds.dtype.itemsize
    stored = ds.id.get_storage_size()
    if claimed > MAX_RATIO * stored + SLACK_BYTES:
        raise FormatError(f"{ds.name} claims {ds.shape} ({claimed} bytes) but the file stores {stored}", name)


def _history(texts: list[str], name: str) -> list[dict]:
    records = [json.loads(t) for t in texts]
    if not all(isinstance(r, dict) for r in records):
        raise FormatError("/entry/history holds something other than JSON objects", name)
    return records


def _decode(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _attr(obj, name: str, default: str) -> str:
    return _decode(obj.attrs[name]) if name in obj.attrs else default


def _strings(group, path: str) -> list[str]:
    return [_decode(v) for v in group[path][()]] if path in group else []


def _column(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.array([_decode(v) for v in values], dtype=object)
    return values
