"""Extra groups in an HDF5 set beside its rows: ``/entry/explain``, ``/entry/embedding``, ``/entry/clusters``.

Later stages add their results on the same rows (DESIGN.md §3). They are written into the file
that :func:`spectool.io.sets.create_set` is building, before it closes, so the whole set — rows
and extra groups — appears atomically or not at all::

    with create_set(out, meta, env, record) as builder:
        builder.append(chunk)
        group = ExtraGroup(builder, "explain", NX_class="NXcollection")
        group.append("arm", maps)          # (B, L), grows along the first dimension
        group.put("classes", names)        # written once

Only HDF5 sets can hold extra groups; an NPY output gets a :class:`UsageError`.
"""

from __future__ import annotations

import json

import numpy as np

from spectool.errors import UsageError


def _h5_values(values) -> tuple[np.ndarray, object]:
    """(array, dtype) ready for h5py: strings become variable-length UTF-8."""
    import h5py

    values = np.asarray(values)
    if values.dtype.kind in "USO":
        return values.astype(object), h5py.string_dtype("utf-8")
    return values, values.dtype


class ExtraGroup:
    """One group ``/entry/NAME`` of the set a :class:`~spectool.io.sets.SetBuilder` is writing."""

    def __init__(self, builder, name: str, **attrs):
        file = getattr(builder.writer, "file", None)
        if file is None:
            raise UsageError(f"/entry/{name} needs an HDF5 output (.h5), not NPY")
        self.group = file["entry"].require_group(name)
        self.set_attrs(**attrs)

    def set_attrs(self, **attrs) -> None:
        """Attributes; dicts and lists of non-strings are stored as JSON strings."""
        for key, value in attrs.items():
            if isinstance(value, dict) or (isinstance(value, (list, tuple))
                                           and not all(isinstance(v, str) for v in value)):
                value = json.dumps(value)
            self.group.attrs[key] = value

    def put(self, name: str, values, **attrs) -> None:
        """A whole dataset at once (replacing one of that name)."""
        values, dtype = _h5_values(values)
        if name in self.group:
            del self.group[name]
        dataset = self.group.create_dataset(name, data=values, dtype=dtype)
        dataset.attrs.update(attrs)

    def link(self, name: str, target: str) -> None:
        """A hard link ``name`` → the dataset at absolute path ``target`` (e.g. the shared axis)."""
        if name not in self.group:
            self.group[name] = self.group.file[target]

    def append(self, name: str, values, **attrs) -> None:
        """Rows (B, …) appended along the first dimension; created on first use (float maps gzip'd)."""
        values, dtype = _h5_values(values)
        if name not in self.group:
            tail = values.shape[1:]
            compress = {"compression": "gzip", "compression_opts": 4, "shuffle": True} \
                if values.dtype.kind == "f" else {}
            rows = max(1, min(16, 2**20 // max(1, int(np.prod(tail)) * 4)))
            dataset = self.group.create_dataset(name, shape=(0,) + tail, maxshape=(None,) + tail,
                                                dtype=dtype, chunks=(rows,) + tail if tail else (4096,),
                                                **compress)
            dataset.attrs.update(attrs)
        dataset = self.group[name]
        if dataset.shape[1:] != values.shape[1:]:
            raise ValueError(f"/{dataset.name}: rows of shape {values.shape[1:]}, expected {dataset.shape[1:]}")
        lo = dataset.shape[0]
        dataset.resize(lo + len(values), axis=0)
        dataset[lo:] = values


def read_group(path: str, name: str) -> tuple[dict[str, np.ndarray], dict]:
    """Every dataset of ``/entry/NAME`` (strings decoded) and its attributes (for tests and tools)."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f[f"entry/{name}"]
        data = {key: _decode(ds[()]) for key, ds in group.items() if isinstance(ds, h5py.Dataset)}
        return data, {k: (v.decode() if isinstance(v, bytes) else v) for k, v in group.attrs.items()}


def _decode(values):
    if isinstance(values, np.ndarray) and values.dtype == object:
        return np.array([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)
    return values.decode() if isinstance(values, bytes) else values
