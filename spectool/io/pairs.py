"""Paired sets (structure → spectrum): a spectra set whose samples name their structure file.

A paired set is an ordinary set (``spectool/1``) with sample columns ``id`` (the file stem both sides
share), ``source`` (the spectrum's file), ``structure`` (the structure file, absolute path) and
``absorber`` (the absorbing element). Structure files: CIF, POSCAR/VASP, pymatgen JSON (crystals, with
periodic images) and .xyz (molecules: symbols or atomic numbers, Å).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectool.errors import FormatError, SpectoolError
from spectool.graph.atoms import Atoms, atoms_from_crystal, parse_xyz
from spectool.spectra import Axis

STRUCTURE_SUFFIXES = (".xyz", ".cif", ".mcif", ".vasp", ".poscar", ".json", ".cssr", ".xsf")
COLUMNS = ("id", "source", "structure", "absorber")


def read_atoms(path: str | Path) -> Atoms:
    """A structure file → :class:`~spectool.graph.atoms.Atoms` (:class:`FormatError` naming the file)."""
    path = Path(path)
    if path.suffix.lower() == ".xyz":
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise FormatError(f"cannot read: {exc.strerror or exc}", path) from None
        try:
            return parse_xyz(text)
        except SpectoolError as exc:
            raise exc.where(path) from None
    from spectool.xrd.structures import load_structures

    return atoms_from_crystal(load_structures(path)[0].crystal)


def read_absorber_atoms(path: str | Path, absorber: str) -> Atoms:
    """:func:`read_atoms`, refusing a structure without ``absorber`` (one line naming the file)."""
    atoms = read_atoms(path)
    try:
        atoms.sites_of(absorber)
    except SpectoolError as exc:
        raise exc.where(path) from None
    return atoms


def structure_index(specs: list[str]) -> tuple[dict[str, str], list[SpectoolError]]:
    """Structure files by stem (absolute paths) and the problems (missing paths, a stem twice)."""
    from spectool.io.inputs import expand_inputs

    index: dict[str, str] = {}
    problems: list[SpectoolError] = []
    for path, problem in expand_inputs(specs, STRUCTURE_SUFFIXES):
        stem = Path(path).stem
        if problem:
            problems.append(FormatError(problem, path))
        elif stem in index:
            problems.append(FormatError(f"a second structure named {stem!r} (the first: {index[stem]})", path))
        else:
            index[stem] = str(Path(path).resolve())
    return index, problems


@dataclass
class Pairs:
    """A paired set in memory: ``X`` (N, L) float32 spectra on ``axis``, ``kind``, and per sample
    ``ids``, ``structures`` (paths) and ``absorbers`` (element symbols)."""

    X: np.ndarray
    axis: Axis
    kind: str
    ids: list[str]
    structures: list[str]
    absorbers: list[str]
    history: list[dict]


def read_pairs(spec: str, env) -> Pairs:
    """Open a paired set; :class:`FormatError` when it lacks the structure columns."""
    from spectool.io.sets import open_set

    with open_set(spec, env) as reader:
        chunk = reader.read_rows(0, len(reader), peaks=False)
        meta = reader.meta
    missing = [c for c in ("structure", "absorber") if c not in chunk.samples]
    if missing:
        raise FormatError(f"not a paired set (no {', '.join(missing)} column): make one with spectool pairs", spec)
    text = {c: [_text(v) for v in chunk.samples.get(c, np.arange(len(chunk)))] for c in ("id", "structure", "absorber")}
    return Pairs(np.asarray(chunk.X, np.float32), meta.axis, meta.kind, text["id"], text["structure"],
                 text["absorber"], list(meta.history))


def is_paired_set(spec: str, env) -> bool:
    """Whether ``spec`` is a set with a ``structure`` column (without reading its rows)."""
    from spectool.io.sets import is_set_path, open_set

    if spec == "-" or not Path(spec).is_file() or not is_set_path(spec):
        return False
    try:
        with open_set(spec, env) as reader:
            return "structure" in reader.meta.columns
    except SpectoolError:
        return False


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
