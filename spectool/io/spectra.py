"""Raw spectra from any input: scans (every reader's format) and sets, as uniform batches.

``iter_spectra`` is the one place that turns INPUT arguments into arrays for commands that
accept scans and sets alike (preprocess, predict, explain): files, folders, globs, ``-``.
A bad input comes back as its error, so the batch goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from spectool.env import Env
from spectool.errors import FormatError, SpectoolError
from spectool.spectra import Axis, Spectra

SET_ROWS = 1024


def input_suffixes() -> set[str]:
    from spectool.io.readers import SCAN_SUFFIXES
    from spectool.io.sets import INPUT_SET_SUFFIXES

    return set(SCAN_SUFFIXES) | INPUT_SET_SUFFIXES


def iter_spectra(specs: list[str], env: Env, wavelength: float | None = None) -> Iterator[tuple[str, object]]:
    """(name, :class:`Spectra` or the :class:`SpectoolError`) for every scan and set chunk.

    ``wavelength`` (Å) fills in for X-ray scans whose file states none.
    """
    from spectool.io.inputs import expand_inputs
    from spectool.io.sets import is_set_path

    for path, problem in expand_inputs(specs, input_suffixes()):
        if problem:
            yield path, FormatError(problem, path)
            continue
        try:
            source = (_stdin(env, wavelength) if path == "-" else
                      _set_chunks(path, env) if is_set_path(path) else _scans(path, wavelength))
            for item in source:
                yield item.name, item
        except SpectoolError as exc:
            yield path, exc.where(path)


def _stdin(env: Env, wavelength: float | None) -> Iterator[Spectra]:
    """``-``: a set (HDF5, NPY) or scans in any format the readers sniff, told apart by content."""
    from spectool.io import stdio
    from spectool.io.readers import read_scans

    with stdio.spool_stdin(env) as stream:
        kind = stdio.sniff(stream.read(8))
        stream.seek(0)
        if kind in ("hdf5", "npy"):
            yield from _set_chunks("-", env, stream)
            return
        scans = read_scans(stream.read(), stdio.display_name("-"))
    yield from _scan_items("-", scans, wavelength)


def _scans(path: str, wavelength: float | None) -> Iterator[Spectra]:
    from spectool.io.readers import read_scans

    return _scan_items(path, read_scans(path), wavelength)


def _scan_items(path: str, scans: list, wavelength: float | None) -> Iterator[Spectra]:
    for i, scan in enumerate(scans):
        name = path if len(scans) == 1 else f"{path}#{i + 1}"
        sample_id = Path(path).stem + ("" if len(scans) == 1 else f"#{i + 1}")
        lam = scan.wavelength or (wavelength if scan.kind == "xrd" else None)
        samples = {"id": np.array([sample_id], object), "source": np.array([path], object),
                   "format": np.array([scan.format], object),
                   "wavelength": np.array([np.nan if lam is None else lam])}
        yield Spectra(name, np.asarray(scan.y, np.float32)[None, :], Axis(scan.x, scan.quantity, scan.units),
                      scan.kind, lam, scan.meta.get("laser_nm"), samples,
                      radiation=scan.radiation if scan.wavelength else None)


def _set_chunks(path: str, env: Env, spooled=None) -> Iterator[Spectra]:
    from spectool.io.sets import open_set

    with open_set(path, env, spooled) as reader:
        meta = reader.meta
        names = meta.label_names
        for chunk in reader.iter_chunks(SET_ROWS, peaks=False):
            labels = [names[k] if 0 <= k < len(names) else "" for k in chunk.y]
            yield Spectra(path, np.asarray(chunk.X, np.float32), meta.axis, meta.kind, meta.wavelength, None,
                          chunk.samples, labels, is_scan=False, radiation=meta.radiation)
