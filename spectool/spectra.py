"""In-memory shapes of a spectra set (file format ``spectool/1``, DESIGN.md §3).

A set is N spectra of length L on one shared axis, with per-row labels and sample
columns, optional ragged stick lists (``peaks``) and a history of the steps that made it.
:class:`Spectra` is rows from any one source (a scan or a set chunk) with what the source says.
The data model that io/ reads and writes and the core computes on; it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

FORMAT_VERSION = "1"
QUANTITY_UNITS = {
    "two_theta": "deg",
    "wavenumber": "1/cm",
    "raman_shift": "1/cm",
    "energy": "eV",
    "q": "1/angstrom",
    "d_spacing": "angstrom",
    "wavelength": "nm",
    "index": "",
}
KINDS = ("xrd", "ftir", "raman", "xanes", "other")


@dataclass
class Axis:
    """The shared x axis: ``values`` (L,) float64, strictly increasing, in ``units``."""

    values: np.ndarray
    quantity: str = "two_theta"
    units: str = "deg"

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def step(self) -> float | None:
        """The constant step, or None if the grid is not uniform (within 1e-6 relative)."""
        if len(self.values) < 2:
            return None
        diffs = np.diff(self.values)
        return float(diffs.mean()) if np.allclose(diffs, diffs[0], rtol=1e-6, atol=0) else None

    def same_as(self, other: "Axis", atol: float = 1e-6) -> bool:
        """Same points (within ``atol`` in axis units) and quantity ("index" matches any)."""
        quantities = {self.quantity, other.quantity} - {"index"}
        return (len(self) == len(other) and len(quantities) <= 1
                and np.allclose(self.values, other.values, rtol=0, atol=atol))

    def to_json(self) -> dict:
        return {"quantity": self.quantity, "units": self.units, "values": self.values.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Axis":
        return cls(np.asarray(data["values"], dtype=np.float64), data.get("quantity", "index"),
                   data.get("units", ""))

    def describe(self) -> str:
        """For messages: ``4251 points 5–90 deg (two_theta)``."""
        if not len(self):
            return "an empty axis"
        return (f"{len(self)} points {self.values[0]:g}–{self.values[-1]:g} {self.units}".rstrip()
                + f" ({self.quantity})")

    @classmethod
    def index(cls, length: int) -> "Axis":
        """0, 1, … L-1 for data that came without an axis."""
        return cls(np.arange(length, dtype=np.float64), "index", "")


@dataclass
class Ragged:
    """Variable-length lists per sample: row i owns ``fields[*][offsets[i]:offsets[i+1]]``."""

    offsets: np.ndarray  # (B+1,) int64, offsets[0] == 0
    fields: dict[str, np.ndarray]  # each (P, ...) with P == offsets[-1]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> dict[str, np.ndarray]:
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return {name: values[lo:hi] for name, values in self.fields.items()}

    @classmethod
    def from_rows(cls, rows: list[dict[str, np.ndarray]]) -> "Ragged":
        lengths = [len(next(iter(r.values()))) if r else 0 for r in rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        names = list(rows[0]) if rows else []
        fields = {n: np.concatenate([np.asarray(r[n]) for r in rows]) for n in names}
        return cls(offsets, fields)

    def take(self, lo: int, hi: int) -> "Ragged":
        """Rows ``lo:hi`` as a new Ragged with offsets starting at 0."""
        start, stop = self.offsets[lo], self.offsets[hi]
        return Ragged(self.offsets[lo:hi + 1] - start,
                      {n: v[start:stop] for n, v in self.fields.items()})


@dataclass
class Chunk:
    """Rows of a set: ``X`` (B, L) float32, ``y`` (B,) int32 (-1 = unlabelled)."""

    X: np.ndarray
    y: np.ndarray | None = None
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    peaks: Ragged | None = None
    start: int = 0  # index of the first row in the whole set

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class SetMeta:
    """Everything about a set but its rows."""

    axis: Axis
    kind: str = "xrd"
    label_names: list[str] = field(default_factory=list)
    wavelength: float | None = None  # Å
    radiation: str | None = None
    history: list[dict] = field(default_factory=list)
    signal_units: str = "a.u."
    n: int = 0
    columns: list[str] = field(default_factory=list)
    has_peaks: bool = False

    def evolve(self, **changes) -> "SetMeta":
        """A copy with some fields replaced (history copied, not shared)."""
        changes.setdefault("history", list(self.history))
        return replace(self, **changes)


@dataclass
class SpectraSet:
    """A whole set in memory (small sets; large ones stream through Chunk)."""

    meta: SetMeta
    X: np.ndarray
    y: np.ndarray
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    peaks: Ragged | None = None

    def __len__(self) -> int:
        return len(self.X)

    def as_chunk(self) -> Chunk:
        return Chunk(self.X, self.y, self.samples, self.peaks)


@dataclass
class Spectra:
    """Rows from one source on one axis: ``X`` (B, L) float32, with what the source says."""

    name: str
    X: np.ndarray
    axis: Axis
    kind: str = "xrd"
    wavelength: float | None = None  # Å
    laser_nm: float | None = None
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    labels: list[str] | None = None  # class names per row, when the source is labelled
    is_scan: bool = True
    radiation: str | None = None  # e.g. "CuKa", when the source names it

    def __len__(self) -> int:
        return len(self.X)

    def at_wavelength(self, wavelength: float | None) -> "Spectra":
        """These spectra as a ``bragg`` step left them: at ``wavelength`` (Å), set-wide and per sample,
        and no longer of the named radiation. Themselves when the wavelength is unchanged."""
        if wavelength == self.wavelength:
            return self
        samples = dict(self.samples)
        if "wavelength" in samples:
            samples["wavelength"] = np.full(len(self), np.nan if wavelength is None else wavelength)
        return replace(self, wavelength=wavelength, radiation=None, samples=samples)


def covered(y: np.ndarray) -> slice:
    """The span of a prepared row (L,) the scan covered: first to last non-zero point (resampling onto a
    model's axis fills zeros beyond the scan's ends); empty for a row of zeros."""
    nz = np.flatnonzero(y)
    return slice(int(nz[0]), int(nz[-1]) + 1) if nz.size else slice(0, 0)
