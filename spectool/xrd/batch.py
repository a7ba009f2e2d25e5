"""Simulated samples → rows of a spectra set: labels, sample columns, stick lists.

Pure glue between :func:`spectool.xrd.structures.simulate_files` and the set writer,
also the per-file work unit a process pool runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from spectool.errors import SpectoolError, UsageError
from spectool.spectra import Chunk, Ragged

LABEL_RULES = ("stem", "parent", "formula", "reduced-formula", "spacegroup", "crystal-system",
               "structure-type")


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that decides a pattern; JSON-able (it goes into the set's history)."""

    start: float = 5.0
    stop: float = 90.0
    step: float = 0.02
    radiation: str = "CuKa"
    shape: str = "gaussian"
    eta: float = 0.5
    fwhm: float | None = None
    uvw: tuple[float, float, float] | None = None
    crystallite_size: float | None = None
    normalize: bool = True
    b_iso: float | None = None
    monochromator_two_theta: float | None = None
    symmetry: bool = True
    symprec: float = 0.01
    structure_type: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    def grid(self) -> np.ndarray:
        from spectool.xrd.profiles import make_grid

        return make_grid(self.start, self.stop, self.step)

    def parsed_radiation(self):
        from spectool.xrd.radiation import parse_radiation

        try:
            return parse_radiation(self.radiation)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def profile(self):
        from spectool.xrd.simulate import ProfileOptions

        try:
            return ProfileOptions(shape=self.shape, eta=self.eta, fwhm=self.fwhm, uvw=self.uvw,
                                  crystallite_size=self.crystallite_size, normalize=self.normalize)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def simulate_file(path: str, settings: SimulationSettings) -> list:
    """Every structure of one file as a :class:`SampleRow`, or the error for the file/block."""
    from spectool.xrd.structures import simulate_files

    out: list = []
    for item in simulate_files([path], settings.grid(), settings.parsed_radiation(), settings.profile(),
                               settings.b_iso, settings.monochromator_two_theta, settings.symmetry,
                               settings.symprec):
        if isinstance(item, SpectoolError):
            out.append(item)
            continue
        labels = {**item.labels, "cell_formula": cell_formula(item.crystal)}
        if settings.structure_type:
            from spectool.xrd.prototypes import structure_type

            labels["structure_type"] = structure_type(item.crystal)
        out.append(SampleRow(item.path, item.name, item.pattern, _sticks(item.reflections),
                             cell_parameters(item.crystal.lattice), labels, tuple(item.messages)))
    several = sum(isinstance(r, SampleRow) for r in out) > 1
    for row in out:
        if isinstance(row, SampleRow):
            row.id = f"{Path(path).stem}:{row.block}" if several else Path(path).stem
    return out


@dataclass
class SampleRow:
    """What one set row needs from a simulated structure."""

    path: str
    block: str
    pattern: np.ndarray  # (L,) float32
    sticks: dict[str, np.ndarray]  # two_theta, d, intensity, hkl, multiplicity
    cell: np.ndarray  # (6,) a, b, c Å; α, β, γ deg
    labels: dict[str, object]
    messages: tuple[str, ...] = ()
    id: str = ""  # the file stem, with ``:block`` when the file holds several structures


def _sticks(reflections) -> dict[str, np.ndarray]:
    return {"two_theta": reflections.two_theta.astype(np.float64), "d": reflections.d.astype(np.float64),
            "intensity": reflections.intensity.astype(np.float64), "hkl": reflections.hkl.astype(np.int32),
            "multiplicity": reflections.multiplicity.astype(np.int32)}


def cell_formula(crystal) -> str:
    """The unit cell's formula, occupancies summed per element: ``Na4Cl4``, ``Cu0.5Au0.5``."""
    totals: dict[str, float] = {}
    for element, occupancy in zip(crystal.elements, crystal.occupancy):
        totals[element] = totals.get(element, 0.0) + float(occupancy)
    return "".join(f"{el}{_amount(n)}" for el, n in totals.items())


def _amount(n: float) -> str:
    if abs(n - round(n)) < 1e-6:
        return "" if round(n) == 1 else str(int(round(n)))
    return f"{n:.3f}".rstrip("0")


def cell_parameters(lattice: np.ndarray) -> np.ndarray:
    """(a, b, c) in Å and (α, β, γ) in degrees of a (3, 3) row-vector lattice."""
    a, b, c = np.linalg.norm(lattice, axis=1)
    angle = lambda u, v: np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))  # noqa: E731
    return np.array([a, b, c, angle(lattice[1], lattice[2]), angle(lattice[0], lattice[2]),
                     angle(lattice[0], lattice[1])])


def rows_to_chunk(rows: Sequence[SampleRow]) -> Chunk:
    """Stack rows into a chunk with sample columns and the ragged stick lists."""
    labels = [r.labels for r in rows]
    samples = {
        "id": np.array([r.id for r in rows], dtype=object),
        "source": np.array([r.path for r in rows], dtype=object),
        "block": np.array([r.block for r in rows], dtype=object),
        "formula": np.array([str(l.get("cell_formula", "")) for l in labels], dtype=object),
        "reduced_formula": np.array([str(l.get("formula", "")) for l in labels], dtype=object),
        "spacegroup_number": np.array([int(l.get("spacegroup_number", 0)) for l in labels], dtype=np.int32),
        "spacegroup_symbol": np.array([str(l.get("spacegroup_symbol", "")) for l in labels], dtype=object),
        "crystal_system": np.array([str(l.get("crystal_system", "")) for l in labels], dtype=object),
        "cell": np.stack([r.cell for r in rows]),
    }
    if any("structure_type" in l for l in labels):
        samples["structure_type"] = np.array([str(l.get("structure_type", "")) for l in labels], dtype=object)
    return Chunk(np.stack([r.pattern for r in rows]), samples=samples,
                 peaks=Ragged.from_rows([r.sticks for r in rows]))


def label_of(row: SampleRow, rule: str) -> str:
    """The class label of a row under ``rule`` (one of LABEL_RULES)."""
    values = {"stem": Path(row.path).stem, "parent": Path(row.path).parent.name,
              "formula": row.labels.get("cell_formula", ""), "reduced-formula": row.labels.get("formula", ""),
              "spacegroup": row.labels.get("spacegroup_symbol", ""),
              "crystal-system": row.labels.get("crystal_system", ""),
              "structure-type": row.labels.get("structure_type", "")}
    return str(values[rule])
