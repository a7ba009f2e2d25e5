"""``spectool pairs``: structure files + spectra → one paired set (matched by file stem)."""

from __future__ import annotations

from typing import Annotated

import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, command
from spectool.env import Env
from spectool.errors import FormatError, SpectoolError
from spectool.io.pairs import COLUMNS


@command(app, "pairs")
def pairs(
    env: Env,
    structures: Annotated[str, typer.Argument(metavar="STRUCTURES", help=(
        "A folder (searched recursively), a file or a glob of structures: .xyz (molecules), CIF, POSCAR/.vasp, "
        "pymatgen JSON (crystals)."))],
    spectra: Annotated[list[str], typer.Argument(metavar="SPECTRA", help=(
        "Spectra: files, folders, globs or sets (- for stdin), all on one axis: preprocess them first "
        "(-s edge:onset=Fe, or --grid) when they differ."))],
    absorber: Annotated[str, typer.Option("--absorber", "-a", metavar="ELEMENT", help=(
        "The absorbing element (e.g. Fe): each of its atoms is an absorbing site, the spectrum their mean."))],
    output: Annotated[str, typer.Option("-o", "--output", metavar="PATH", help="The paired set (.h5 or .npy).")
                      ] = "pairs.h5",
) -> None:
    """Pair each spectrum with the structure file of the same stem into one set for train --task spectrum.

    The set holds the spectra and, per sample, the structure file's path and the absorbing element. Each
    spectrum without a structure, structure without a spectrum, structure without the absorbing element,
    unreadable structure and spectrum on another axis than the first is named on one line; the rest are
    paired (exit 1 when any were named).
    """
    from spectool.io.pairs import structure_index

    index, problems = structure_index([structures])
    batch = Batch(env, noun="pair")
    for problem in problems:
        with batch.item(problem.path or structures):
            raise problem
    rows = _match(env, spectra, index, absorber.strip().capitalize(), batch)
    for stem in sorted(set(index) - rows.matched):
        with batch.item(index[stem]):
            raise FormatError("structure without a spectrum of the same stem")
    if rows.n:
        _write(env, rows, output, [structures, *spectra], absorber)
    batch.finish()


class _Rows:
    """The pairs collected so far: spectra rows, their axis and kind, the sample columns, and the stems
    that met a spectrum (paired or not)."""

    def __init__(self):
        self.X, self.axis, self.kind, self.matched = [], None, "other", set()
        self.columns: dict[str, list] = {name: [] for name in COLUMNS}

    @property
    def n(self) -> int:
        return len(self.X)

    def add(self, item, i: int, stem: str, structure: str, absorber: str) -> None:
        if self.axis is None:
            self.axis, self.kind = item.axis, item.kind
        elif not self.axis.same_as(item.axis):
            raise FormatError(f"on an axis of {item.axis.describe()}, not the first spectrum's "
                              f"{self.axis.describe()}: preprocess the spectra onto one axis first")
        source = item.samples.get("source", [item.name] * len(item))[i]
        for name, value in zip(self.columns, (stem, _text(source), structure, absorber)):
            self.columns[name].append(value)
        self.X.append(item.X[i])


def _match(env: Env, specs: list[str], index: dict[str, str], absorber: str, batch: Batch) -> _Rows:
    from spectool.io.pairs import read_absorber_atoms
    from spectool.io.spectra import iter_spectra

    rows = _Rows()
    for name, item in iter_spectra(specs, env):
        if isinstance(item, SpectoolError):
            with batch.item(name):
                raise item
            continue
        for i, stem in enumerate(_text(s) for s in item.samples["id"]):
            where = name if item.is_scan else f"{name}#{stem}"
            with batch.item(where):
                if stem not in index:
                    raise FormatError("spectrum without a structure of the same stem")
                if stem in rows.matched:
                    raise FormatError(f"a second spectrum named {stem!r}")
                rows.matched.add(stem)
                read_absorber_atoms(index[stem], absorber)
                rows.add(item, i, stem, index[stem], absorber)
    return rows


def _write(env: Env, rows: _Rows, output: str, inputs: list[str], absorber: str) -> None:
    import numpy as np

    from spectool.io.sets import history_record, write_set
    from spectool.spectra import Chunk, SetMeta

    record = history_record("pairs", {"absorber": absorber}, [])
    samples = {k: np.array(v, dtype=object) for k, v in rows.columns.items()}
    write_set(output, SetMeta(axis=rows.axis, kind=rows.kind), Chunk(np.stack(rows.X).astype(np.float32),
                                                                      samples=samples), env, record)
    env.info(f"pairs: {rows.n} pairs written to {output}")


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
