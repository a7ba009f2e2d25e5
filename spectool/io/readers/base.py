"""The scan record every reader returns, the reader registry, and shared validation.

A reader is a function ``read(data: bytes, name: str) -> list[Scan]`` registered with the
suffixes it usually has and a ``sniff(head, name)`` test on the first bytes; content wins
over the extension (``.raw`` is both Bruker and GSAS). Readers raise only
:class:`spectool.errors.FormatError` for bad content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from spectool.errors import FormatError

#: The suffix that stands for any numeric one (``.0``, ``.1``, … ``.1001``), as Bruker OPUS numbers
#: its files: a reader registering it is the suffix hint for such names and folder walks pick them up.
NUMBERED = ".<n>"
_NUMBERED = re.compile(r"\.\d+$")


def suffix_of(name: str) -> str:
    """The lower-case suffix of a file name (``.xy``), :data:`NUMBERED` for a numeric one, '' for none."""
    base = name.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if _NUMBERED.search(base):
        return NUMBERED
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""


@dataclass
class Scan:
    """One measured spectrum.

    ``x`` (L,) float64 strictly increasing, in ``units`` of ``quantity``; ``y`` (L,) float64;
    ``sigma`` (L,) or None. ``wavelength`` is the primary (Kα1) wavelength in Å for X-ray
    data, ``meta`` holds what else the file says (``kalpha2``, ``ratio``, ``sample``,
    ``signal`` = counts|cps|transmittance|absorbance|…, ``scan_index``).
    """

    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray | None = None
    quantity: str = "two_theta"
    units: str = "deg"
    kind: str = "xrd"
    wavelength: float | None = None
    radiation: str | None = None
    meta: dict = field(default_factory=dict)
    source: str = ""
    format: str = ""

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    read: Callable[[bytes, str], list[Scan]]
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes, str], bool]
    description: str


READERS: dict[str, ReaderSpec] = {}


def register_reader(name: str, suffixes: tuple[str, ...], sniff: Callable[[bytes, str], bool],
                    description: str):
    """Decorator adding ``read`` to the registry under ``name``."""

    def wrap(read):
        READERS[name] = ReaderSpec(name, read, tuple(s.lower() for s in suffixes), sniff, description)
        return read

    return wrap


def finalize(scan: Scan, name: str) -> Scan:
    """Check and normalise a scan: finite, ≥ 3 points, axis sorted ascending, no duplicates.

    A descending axis (FTIR exports) is reversed and ``meta['descending']`` set; NaN/inf,
    repeated axis values and a non-monotonic axis raise :class:`FormatError`.
    """
    x = np.asarray(scan.x, dtype=np.float64)
    y = np.asarray(scan.y, dtype=np.float64)
    sigma = None if scan.sigma is None else np.asarray(scan.sigma, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise FormatError(f"axis and intensity differ in length ({x.size} vs {y.size})", name)
    if len(x) < 3:
        raise FormatError(f"only {len(x)} data point(s)", name)
    for label, values in (("axis", x), ("intensity", y), ("sigma", sigma)):
        if values is not None and not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise FormatError(f"{label} value at point {bad + 1} is not finite", name)
    steps = np.diff(x)
    if np.all(steps < 0):
        x, y = x[::-1].copy(), y[::-1].copy()
        sigma = None if sigma is None else sigma[::-1].copy()
        scan.meta["descending"] = True
        steps = -steps[::-1]
    if np.any(steps == 0):
        bad = int(np.flatnonzero(steps == 0)[0])
        raise FormatError(f"axis value {x[bad]:g} is repeated (points {bad + 1} and {bad + 2})", name)
    if np.any(steps < 0):
        bad = int(np.flatnonzero(steps < 0)[0])
        raise FormatError(f"axis is not monotonic: {x[bad]:g} then {x[bad + 1]:g} "
                          f"(points {bad + 1} and {bad + 2})", name)
    scan.x, scan.y, scan.sigma = x, y, sigma
    scan.source = scan.source or name
    return scan
