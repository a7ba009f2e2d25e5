"""Physics-level augmentation on stick lists (CrySTINet; XRD-AutoAnalyzer defaults).

The sticks of every output row are held flat in one :class:`Sticks` batch (each stick
knows its row); the ops change positions, intensities or sizes for all rows at once, and
:func:`render_sticks` turns the batch into profiles with :mod:`spectool.signal.render`.

- ``strain``: each cell axis scaled by 1 + ε, ε ~ U(−max, max) per axis (axes equal by
  symmetry stay equal); d from hkl through the strained reciprocal metric tensor
  1/d² = hᵀ G* h with G* = G⁻¹ (reciprocal metric tensor); 2θ by Bragg's law.
- ``size``: crystallite size τ ~ U(nm) per row → Scherrer FWHM K λ / (τ cos θ), added in
  quadrature to the instrument's.
- ``texture``: March–Dollase W(α) = (r² cos²α + sin²α / r)^(−3/2), r ~ U(1 − s, 1 + s), along
  a random low-index direction; α is the angle between the reflection's reciprocal vector and
  it (the stick's representative hkl stands for its whole family: an approximation).
- ``impurity``: a few foreign sticks at random 2θ, intensity relative to the row's strongest.
- ``displacement``: sample height error s ~ U(mm) on a goniometer of radius R (Bragg–Brentano):
  Δ2θ = −2 s cos θ / R (rad), a shift that falls with angle, unlike a constant zero shift.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spectool.errors import UsageError
from spectool.spectra import Ragged
from spectool.signal.ops import Op, flag, number, register, span

DIRECTIONS = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1]])


@dataclass(frozen=True)
class Sticks:
    """Sticks of ``n_rows`` output rows, flat: per stick (P,) ``row``, ``two_theta`` (deg),
    ``d`` (Å), ``intensity``, ``hkl`` (P, 3) int (0 0 0 = not from the lattice); per row
    ``cell`` (n_rows, 6) Å/deg or None and ``size_nm`` (n_rows,) (NaN = not drawn)."""

    row: np.ndarray
    two_theta: np.ndarray
    d: np.ndarray
    intensity: np.ndarray
    hkl: np.ndarray | None
    cell: np.ndarray | None
    size_nm: np.ndarray
    wavelength: float
    displacement: np.ndarray | None = None  # per row s / R (sample height over goniometer radius)

    @property
    def n_rows(self) -> int:
        return len(self.size_nm)

    @classmethod
    def expand(cls, peaks: Ragged, src: np.ndarray, wavelength: float,
               cell: np.ndarray | None = None) -> "Sticks":
        """Sticks for output rows that copy input rows ``src`` (R,) of ``peaks``."""
        counts = np.diff(peaks.offsets)[src]
        row = np.repeat(np.arange(len(src)), counts)
        first = np.repeat(peaks.offsets[src] - np.cumsum(counts) + counts, counts)
        idx = first + np.arange(counts.sum())
        f = peaks.fields
        hkl = np.asarray(f["hkl"])[idx].astype(np.int64) if "hkl" in f else None
        tt = np.asarray(f["two_theta"], np.float64)[idx]
        d = np.asarray(f["d"], np.float64)[idx] if "d" in f else wavelength / (2 * np.sin(np.radians(tt / 2)))
        cells = None if cell is None else np.asarray(cell, np.float64)[src]
        return cls(row, tt, d, np.asarray(f["intensity"], np.float64)[idx], hkl, cells,
                   np.full(len(src), np.nan), float(wavelength))


def metric_tensor(cell: np.ndarray) -> np.ndarray:
    """G (N, 3, 3) Å² of cells (N, 6): a, b, c Å and α, β, γ deg."""
    a, b, c = cell[:, 0], cell[:, 1], cell[:, 2]
    ca, cb, cg = (np.cos(np.radians(cell[:, i])) for i in (3, 4, 5))
    return np.stack([np.stack([a * a, a * b * cg, a * c * cb], -1),
                     np.stack([a * b * cg, b * b, b * c * ca], -1),
                     np.stack([a * c * cb, b * c * ca, c * c], -1)], -2)


def d_spacing(hkl: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """d (P,) Å of reflections hkl (P, 3) in cells (P, 6): 1/d² = hᵀ G⁻¹ h."""
    gstar = np.linalg.inv(metric_tensor(cell))
    h = hkl.astype(np.float64)
    return 1.0 / np.sqrt(np.einsum("pi,pij,pj->p", h, gstar, h))


def d_from_gstar(hkl: np.ndarray, gstar: np.ndarray, row: np.ndarray) -> np.ndarray:
    """d (P,) Å of reflections hkl (P, 3) with reciprocal metric tensors ``gstar`` (N, 3, 3)
    Å⁻² picked by ``row`` (P,): 1/d² = Σᵢⱼ hᵢ G*ᵢⱼ hⱼ, summed term by term (no (P, 3, 3) copy)."""
    h = hkl.astype(np.float64)
    inv = np.zeros(len(h))
    for i in range(3):
        for j in range(i, 3):
            inv += (1 if i == j else 2) * h[:, i] * h[:, j] * gstar[row, i, j]
    return 1.0 / np.sqrt(inv)


def _need(op: str, sticks: Sticks, cell: bool = True) -> None:
    if sticks.hkl is None or (cell and sticks.cell is None):
        raise UsageError(f"{op} needs stick lists with hkl{' and cells' if cell else ''} "
                         "(a set made by simulate); this set has none")


@register
@dataclass(frozen=True)
class Strain(Op):
    """Lattice strain: each axis × (1 + ε), ε ~ U(−max, max); ``per_axis`` false = isotropic.
    With ``keep_symmetry``, axes of equal length get the same ε (a cubic cell stays cubic)."""

    name = "strain"
    stage = "sticks"
    checks = {"max": number(0, 0.5), "per_axis": flag(), "keep_symmetry": flag()}
    max: float = 0.03
    per_axis: bool = True
    keep_symmetry: bool = True

    def draw(self, streams, sticks: Sticks) -> np.ndarray:
        """ε (n_rows, 3) per cell axis from ``streams`` (:class:`~spectool.signal.streams.RowStreams`)."""
        eps = streams.uniform(-self.max, self.max, 3)
        if not self.per_axis:
            return np.repeat(eps[:, :1], 3, axis=1)
        if self.keep_symmetry and sticks.cell is not None:
            a, b, c = sticks.cell[:, 0], sticks.cell[:, 1], sticks.cell[:, 2]
            eps[:, 1] = np.where(np.isclose(a, b, rtol=1e-4), eps[:, 0], eps[:, 1])
            eps[:, 2] = np.where(np.isclose(b, c, rtol=1e-4), eps[:, 1],
                                 np.where(np.isclose(a, c, rtol=1e-4), eps[:, 0], eps[:, 2]))
        return eps

    def apply_sticks(self, sticks: Sticks, streams) -> Sticks:
        _need(self.name, sticks)
        eps = self.draw(streams, sticks)
        cell = sticks.cell.copy()
        cell[:, :3] *= 1.0 + eps
        lattice = np.any(sticks.hkl != 0, axis=1)
        d = sticks.d.copy()
        gstar = np.linalg.inv(metric_tensor(cell))  # one per row, not per stick
        d[lattice] = d_from_gstar(sticks.hkl[lattice], gstar, sticks.row[lattice])
        s = sticks.wavelength / (2 * d)
        tt = np.where(s <= 1, 2 * np.degrees(np.arcsin(np.minimum(s, 1))), 180.0)
        return replace(sticks, d=d, two_theta=tt, cell=cell,
                       intensity=np.where(s <= 1, sticks.intensity, 0.0))


@register
@dataclass(frozen=True)
class Size(Op):
    """Crystallite size τ ~ U(nm) (nm) per row: Scherrer broadening K λ / (τ cos θ), K = 0.9."""

    name = "size"
    stage = "sticks"
    checks = {"nm": span(0.5, 1e5)}
    nm: tuple = (5.0, 30.0)

    def apply_sticks(self, sticks: Sticks, streams) -> Sticks:
        return replace(sticks, size_nm=streams.uniform(*self.nm))


@register
@dataclass(frozen=True)
class Texture(Op):
    """March–Dollase preferred orientation: r ~ U(1 − strength, 1 + strength) along one of
    the low-index directions (001, 010, 100, 011, 101, 110, 111) drawn per row."""

    name = "texture"
    stage = "sticks"
    checks = {"strength": number(0, 0.95)}
    strength: float = 0.5

    def apply_sticks(self, sticks: Sticks, streams) -> Sticks:
        _need(self.name, sticks)
        r = streams.uniform(1 - self.strength, 1 + self.strength)
        pick = streams.integers(0, len(DIRECTIONS))
        lattice = np.any(sticks.hkl != 0, axis=1)
        gstar = np.linalg.inv(metric_tensor(sticks.cell))  # (n_rows, 3, 3), one per row
        p = DIRECTIONS[pick].astype(float)
        gp = np.einsum("nij,nj->ni", gstar, p)  # G* p per row
        h = sticks.hkl.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            hp = np.einsum("pi,pi->p", h, gp[sticks.row])
            hh = 1.0 / d_from_gstar(sticks.hkl, gstar, sticks.row) ** 2
            cos2 = hp ** 2 / (hh * np.einsum("ni,ni->n", p, gp)[sticks.row])
        cos2 = np.clip(np.nan_to_num(cos2), 0.0, 1.0)
        rr = r[sticks.row]
        w = (rr ** 2 * cos2 + (1 - cos2) / rr) ** -1.5
        return replace(sticks, intensity=np.where(lattice, sticks.intensity * w, sticks.intensity))


@register
@dataclass(frozen=True)
class Impurity(Op):
    """``count`` ~ U{lo..hi} foreign sticks per row at 2θ ~ U(two_theta) (deg; default the
    grid's range), intensity ~ U(intensity) × the row's strongest stick."""

    name = "impurity"
    stage = "sticks"
    checks = {"count": span(0, 100, integer=True), "intensity": span(0, 1),
              "two_theta": lambda v: None if v is None else span(0, 180)(v)}
    count: tuple = (0, 3)
    intensity: tuple = (0.01, 0.1)
    two_theta: tuple | None = None

    def apply_sticks(self, sticks: Sticks, streams, grid: np.ndarray | None = None) -> Sticks:
        lo, hi = self.two_theta or ((grid[0], grid[-1]) if grid is not None else (5.0, 90.0))
        n = streams.integers(int(self.count[0]), int(self.count[1]) + 1)
        row = np.repeat(np.arange(len(n)), n)
        k = (np.arange(len(row)) - np.repeat(np.cumsum(n) - n, n)).astype(np.uint64)  # index in row
        tt = streams.uniform_at(row, k, lo, hi)
        rel = streams.uniform_at(row, k, *self.intensity)
        top = np.zeros(sticks.n_rows)
        np.maximum.at(top, sticks.row, sticks.intensity)
        return _append(sticks, row, tt, rel * top[row])


@register
@dataclass(frozen=True)
class Displacement(Op):
    """Sample displacement s ~ U(mm) (mm, + towards the source) on a goniometer of radius
    ``radius`` (mm): every stick moves by Δ2θ = −2 s cos θ / R (rad). Apply after ``strain``."""

    name = "displacement"
    stage = "sticks"
    checks = {"mm": span(-5, 5), "radius": number(10, 2000)}
    mm: tuple = (-0.2, 0.2)
    radius: float = 240.0

    def apply_sticks(self, sticks: Sticks, streams) -> Sticks:
        return replace(sticks, displacement=streams.uniform(*self.mm) / self.radius)


def displaced(two_theta: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """2θ (deg) seen with a sample displaced by ``ratio`` = s/R: 2θ − 2 (s/R) cos θ (rad → deg)."""
    return two_theta - np.degrees(2 * ratio * np.cos(np.radians(two_theta / 2)))


def _append(sticks: Sticks, row, tt, inten) -> Sticks:
    """Sticks plus new non-lattice ones, kept in row order."""
    rows = np.concatenate([sticks.row, row])
    order = np.argsort(rows, kind="stable")
    d = sticks.wavelength / (2 * np.sin(np.radians(tt / 2)))
    hkl = None if sticks.hkl is None else np.concatenate([sticks.hkl, np.zeros((len(row), 3), np.int64)])
    cat = lambda a, b: np.concatenate([a, b])[order]  # noqa: E731
    return replace(sticks, row=rows[order], two_theta=cat(sticks.two_theta, tt), d=cat(sticks.d, d),
                   intensity=cat(sticks.intensity, inten), hkl=None if hkl is None else hkl[order])


def render_sticks(sticks: Sticks, grid: np.ndarray, settings) -> np.ndarray:
    """Profiles (n_rows, L) float32 of a stick batch on ``grid`` (deg), every line of
    ``settings.wavelengths`` at the same d; scaled to max 1 if ``settings.normalize``."""
    from spectool.signal.render import normalize_max, render_rows

    out = None
    size = sticks.size_nm[sticks.row]
    for lam, weight in zip(settings.wavelengths, settings.weights):
        s = lam / (2 * sticks.d)
        ok = (s <= 1) & (sticks.intensity > 0)
        tt = 2 * np.degrees(np.arcsin(np.minimum(s[ok], 1)))
        if sticks.displacement is not None:
            tt = displaced(tt, sticks.displacement[sticks.row[ok]])
        fwhm = settings.stick_widths(tt, size[ok])
        line = render_rows(grid, sticks.row[ok], tt, sticks.intensity[ok] * weight, fwhm,
                           sticks.n_rows, settings.shape, settings.eta, settings.reach)
        out = line if out is None else np.add(out, line, out=out)
    if out is None:
        out = np.zeros((sticks.n_rows, len(grid)))
    return normalize_max(out) if settings.normalize else out.astype(np.float32)
