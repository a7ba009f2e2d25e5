"""Simulation, in one module: one crystal → one powder pattern on a grid plus its stick list (pure: no
files, no pymatgen), and the work unit of ``spectool simulate`` a process pool runs: the structures of a
file (loaded by :mod:`spectool.xrd.structures`) → rows of a spectra set with labels, sample columns and
stick lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from spectool.errors import FormatError, SpectoolError, UsageError
from spectool.spectra import Chunk, Ragged
from spectool.xrd.crystal import Crystal
from spectool.xrd.profiles import DEFAULT_WINDOW, SHAPES, line_positions, peak_fwhm, render
from spectool.xrd.radiation import Radiation
from spectool.xrd.reflections import SCALED_INTENSITY_TOL, Reflections, compute_reflections, lorentz_polarization

LABEL_RULES = ("stem", "parent", "formula", "reduced-formula", "spacegroup", "crystal-system",
               "structure-type")

#: How layers stack (``simulate --stacking``): see :func:`simulate_files`.
STACKINGS = ("ordered", "turbostratic", "auto")
#: Largest extra 2θ (degrees) on each side of the grid whose reflections may add tails.
MAX_MARGIN = 10.0


@dataclass(frozen=True)
class ProfileOptions:
    """How sticks become a pattern.

    Attributes:
        shape: ``gaussian``, ``lorentzian`` or ``pseudo-voigt``.
        eta: Lorentzian fraction of the pseudo-Voigt, 0..1.
        fwhm: constant FWHM in degrees 2θ.
        uvw: Caglioti (U, V, W) in deg².
        crystallite_size: Scherrer crystallite size in nm (K = 0.9).
        window: half-width in FWHM that each peak touches (default by shape).
        normalize: scale the pattern to a maximum of 1; else absolute (Σ y·step = Σ I).
    """

    shape: str = "gaussian"
    eta: float = 0.5
    fwhm: float | None = None
    uvw: tuple[float, float, float] | None = None
    crystallite_size: float | None = None
    window: float | None = None
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown profile shape {self.shape!r}; one of {', '.join(SHAPES)}")
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"eta must be within 0..1, not {self.eta}")
        for name in ("fwhm", "crystallite_size", "window"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, not {value}")

    def widths(self, two_theta: np.ndarray, wavelength: float) -> np.ndarray:
        """FWHM (P,) in degrees at 2θ (P,) degrees."""
        return peak_fwhm(two_theta, wavelength, self.fwhm, self.uvw, self.crystallite_size)

    def margin(self, grid: np.ndarray, wavelength: float) -> float:
        """Extra 2θ (degrees) beyond the grid ends whose peaks can reach into it."""
        return _margin(self, float(grid[0]), float(grid[-1]), float(wavelength))


@lru_cache(maxsize=64)
def _margin(profile: ProfileOptions, start: float, stop: float, wavelength: float) -> float:
    """:meth:`ProfileOptions.margin` of a grid from ``start`` to ``stop`` degrees (once per setting)."""
    ends = np.array([start, stop, min(stop + MAX_MARGIN, 179.0)])
    window = DEFAULT_WINDOW[profile.shape] if profile.window is None else profile.window
    return float(min(window * profile.widths(ends, wavelength).max(), MAX_MARGIN))


def simulate_pattern(
    crystal: Crystal,
    grid: np.ndarray,
    radiation: Radiation,
    profile: ProfileOptions = ProfileOptions(),
    monochromator_two_theta: float | None = None,
    turbostratic: bool = False,
) -> tuple[np.ndarray, Reflections]:
    """Powder pattern (L,) float32 of ``crystal`` on ``grid`` (L,) degrees 2θ, and its sticks; with
    ``turbostratic`` of its layers stacked at random (:mod:`spectool.xrd.turbostratic`: a smectite's bands).

    Reflections are computed with the primary line; each further line of ``radiation`` (the
    Kα2 of a doublet) adds a copy of every stick at the 2θ Bragg's law gives for the same d,
    times its weight, with the Lorentz–polarisation factor taken at that line's own angle
    (|F|² depends on d only), see :func:`line_sticks`. Peaks just outside the grid contribute their tails. The returned
    sticks are those of the primary line inside the grid range, absolute intensities.

    Raises ``FormatError`` (without a path: the caller adds it) when an element has no
    scattering factors or no reflection falls in the range.
    """
    grid = np.asarray(grid, dtype=np.float64)
    lam = radiation.wavelength
    margin = profile.margin(grid, lam)
    lo, hi = max(grid[0] - margin, 0.0), min(grid[-1] + margin, 180.0)
    try:
        if turbostratic:
            from spectool.xrd.turbostratic import turbostratic_reflections

            wide = turbostratic_reflections(crystal, lam, (lo, hi), monochromator_two_theta)
            if wide is None:
                raise FormatError("cannot stack its layers at random: no cell plane with a rectangular layer cell")
        else:
            wide = compute_reflections(crystal, lam, (lo, hi), monochromator_two_theta, drop_weak=False)
    except KeyError as exc:
        raise FormatError(exc.args[0]) from None
    sticks = _in_range(wide, grid[0], grid[-1])
    if len(sticks) == 0:
        raise FormatError(
            f"no reflection between {grid[0]:g}° and {grid[-1]:g}° 2θ at λ = {lam:g} Å"
        )
    tt, inten = line_sticks(wide, radiation, monochromator_two_theta)
    y = render(grid, tt, inten, profile.widths(tt, lam), profile.shape, profile.eta, profile.window)
    if profile.normalize and y.max() > 0:
        y = y / y.max()
    return y.astype(np.float32), sticks


def line_sticks(
    peaks: Reflections, radiation: Radiation, monochromator_two_theta: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sticks of every line of ``radiation``: 2θ (S,) degrees and intensities (S,).

    ``peaks`` are the primary line's (intensity 2|F|² LP(θ₁)); line j puts each peak with
    λ_j ≤ 2d at 2θ_j = 2 asin(λ_j / 2d) with intensity weight_j · 2|F|² · LP(θ_j), i.e. the
    primary intensity times weight_j · LP(θ_j) / LP(θ₁).
    """
    centres, heights = [peaks.two_theta], [peaks.intensity * radiation.weights[0]]
    lp1 = None
    for wavelength, weight in zip(radiation.wavelengths[1:], radiation.weights[1:]):
        if lp1 is None:
            lp1 = lorentz_polarization(np.radians(peaks.two_theta / 2), monochromator_two_theta)
        tt, ok = line_positions(peaks.d, wavelength)
        lp = lorentz_polarization(np.radians(tt[ok] / 2), monochromator_two_theta)
        centres.append(tt[ok])
        heights.append(peaks.intensity[ok] * weight * lp / lp1[ok])
    return np.concatenate(centres), np.concatenate(heights)


def _in_range(peaks: Reflections, lo: float, hi: float) -> Reflections:
    """Peaks with lo ≤ 2θ ≤ hi, minus numerical zeros (pymatgen's cut relative to the strongest)."""
    inside = (peaks.two_theta >= lo) & (peaks.two_theta <= hi)
    if not inside.any():
        return peaks.select(inside)
    top = peaks.intensity[inside].max()
    return peaks.select(inside & (peaks.intensity / top * 100 > SCALED_INTENSITY_TOL))


@dataclass
class SimulatedSample:
    """One simulated pattern with its sticks and labels (what a set row needs)."""

    path: str
    name: str
    pattern: np.ndarray  # (L,) float32
    reflections: object  # spectool.xrd.reflections.Reflections
    crystal: Crystal
    labels: dict[str, object]
    messages: list[str]


def simulate_files(
    paths: Iterable[str | Path],
    grid: np.ndarray,
    radiation,
    profile=None,
    b_iso: float | None = None,
    monochromator_two_theta: float | None = None,
    symmetry: bool = True,
    symprec: float = 0.01,
    stacking: str = "ordered",
) -> Iterator[SimulatedSample | SpectoolError]:
    """Simulate every structure of every file, in order: the hook for ``spectool simulate``.

    Yields a :class:`SimulatedSample` per structure (CIF data block), or the
    ``SpectoolError`` (with its path) of a file or block that failed, so a batch goes on.
    ``b_iso`` (Å²) replaces the B of every site when given. ``symmetry`` adds space group
    labels from spglib (~2 ms a structure). ``stacking`` (:data:`STACKINGS`): ``ordered`` crystals,
    every structure's layers ``turbostratic``, or ``auto``: turbostratic where the file names a smectite
    (:func:`~spectool.xrd.turbostratic.names_smectite`). Suitable for a worker pool: one call per shard.
    """
    from spectool.xrd.structures import iter_loaded, symmetry_labels, validate
    from spectool.xrd.turbostratic import is_smectite, names_smectite

    profile = profile or ProfileOptions()
    for item in iter_loaded(paths):
        if isinstance(item, SpectoolError):
            yield item
            continue
        try:
            crystal = item.crystal if b_iso is None else item.crystal.with_b_iso(b_iso)
            validate(crystal)
            turbostratic = stacking == "turbostratic" or (
                stacking == "auto" and (names_smectite(item.path) or is_smectite(item.name)))
            pattern, sticks = simulate_pattern(crystal, grid, radiation, profile, monochromator_two_theta, turbostratic)
        except SpectoolError as exc:
            yield exc.where(f"{item.path}" + (f"[{item.name}]" if item.name else ""))
            continue
        labels: dict[str, object] = {"formula": item.formula, "block": item.name}
        if symmetry:
            labels.update(symmetry_labels(crystal, symprec))
        yield SimulatedSample(item.path, item.name, pattern, sticks, crystal, labels, item.messages)


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
    stacking: str = "ordered"

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


@lru_cache(maxsize=8)
def _prepared(settings: SimulationSettings) -> tuple:
    """Grid, radiation and profile of ``settings``, made once per worker, not per file."""
    return settings.grid(), settings.parsed_radiation(), settings.profile()


def simulate_file(path: str, settings: SimulationSettings) -> list:
    """Every structure of one file as a :class:`SampleRow`, or the error for the file/block."""
    out: list = []
    grid, radiation, profile = _prepared(settings)
    for item in simulate_files([path], grid, radiation, profile, settings.b_iso, settings.monochromator_two_theta, settings.symmetry,
                               settings.symprec, settings.stacking):
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
    stem = Path(path).stem
    for row in out:
        if isinstance(row, SampleRow):
            row.id = f"{stem}:{row.block}" if several else stem
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
    a, b, c = lattice
    lengths = np.sqrt((lattice * lattice).sum(axis=1))  # as np.linalg.norm(lattice, axis=1)
    norms = np.sqrt([a @ a, b @ b, c @ c])  # as np.linalg.norm of one vector (a dot product)
    first, second = [1, 0, 0], [2, 2, 1]  # (b, c), (a, c), (a, b)
    cosines = np.array([b @ c, a @ c, a @ b]) / norms[first] / norms[second]
    return np.concatenate([lengths, np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))])


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
    if rule == "stem":
        return Path(row.path).stem
    if rule == "parent":
        return Path(row.path).parent.name
    key = {"formula": "cell_formula", "reduced-formula": "formula", "spacegroup": "spacegroup_symbol",
           "crystal-system": "crystal_system", "structure-type": "structure_type"}[rule]
    return str(row.labels.get(key, ""))
