"""Powder reflections of a crystal: positions, d spacings, kinematic intensities.

The method is pymatgen's ``XRDCalculator.get_pattern`` (our oracle), step by step, but
vectorised over all reflections at once:

1. Reciprocal lattice points g = h a* + k b* + l c* (crystallographic, |g| = 1/d) with
   g_min ≤ |g| ≤ g_max, where g = 2 sin θ / λ for the ends of the 2θ range. Only one
   Friedel half-space is computed (F(−g) = F(g)* for real f): intensities count twice.
2. Bragg: sin θ = λ |g| / 2.
3. Structure factor F(g) = Σ_j occ_j f_j(s) exp(−B_j s²) exp(2πi g·r_j), s = |g|/2, with
   f from :mod:`spectool.xrd.scattering`.
4. I = 2 |F|² · LP,  LP = (1 + cos² 2θ) / (sin² θ cos θ) (unpolarised beam; with a
   monochromator at 2θ_M the numerator is 1 + cos² 2θ_M cos² 2θ, scaled by 2 / (1 + cos² 2θ_M)
   so the two agree at 2θ_M = 0).
5. Reflections whose 2θ round to the same multiple of ``TWO_THETA_TOL`` are one powder
   peak: intensities add, the multiplicity counts them (Friedel mates included), 2θ and d
   are those of the smallest |g|. Peaks below ``SCALED_INTENSITY_TOL`` % of the strongest are
   numerical zeros (systematic absences) and dropped.

Speed: the phase factors separate, exp(2πi(hx + ky + lz)) = X_h Y_k Z_l, so for each row
(h, k) of the integer box the sum over atoms for all l of that row is one complex matrix
product (rows × atoms) @ (atoms × l). Each row's l range is centred on the middle of its
chord through the sphere (folded into the row factor), so oblique cells waste little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spectool.xrd.crystal import Crystal
from spectool.xrd.scattering import coefficients, form_factors

#: Reflections closer than this in 2θ (degrees) are one peak (pymatgen's value).
TWO_THETA_TOL = 1e-5
#: Peaks weaker than this percentage of the strongest are dropped (pymatgen's value).
SCALED_INTENSITY_TOL = 1e-3


@dataclass(frozen=True)
class Reflections:
    """Powder peaks (sticks), ascending in 2θ.

    Attributes:
        two_theta: (P,) float64 degrees.
        d: (P,) float64 interplanar spacing in Å.
        intensity: (P,) float64, absolute (electrons² × LP) unless rescaled by :meth:`scaled`.
        hkl: (P, 3) int64 representative Miller indices: the lexicographically largest of
            the peak's reflections (pymatgen's family representative when the peak holds
            one family).
        multiplicity: (P,) int64 number of reflections (hkl and −h−k−l counted apart)
            that fall on the peak.
    """

    two_theta: np.ndarray
    d: np.ndarray
    intensity: np.ndarray
    hkl: np.ndarray
    multiplicity: np.ndarray

    def __len__(self) -> int:
        return len(self.two_theta)

    def scaled(self, top: float = 100.0) -> "Reflections":
        """Copy with the strongest intensity set to ``top`` (unchanged if empty)."""
        peak = self.intensity.max() if len(self) else 0.0
        factor = top / peak if peak > 0 else 1.0
        return Reflections(self.two_theta, self.d, self.intensity * factor, self.hkl, self.multiplicity)

    def select(self, mask: np.ndarray) -> "Reflections":
        """Copy with the peaks where ``mask`` (P,) is true."""
        return Reflections(
            self.two_theta[mask], self.d[mask], self.intensity[mask], self.hkl[mask], self.multiplicity[mask]
        )


def g_limits(two_theta_range: tuple[float, float] | None, wavelength: float) -> tuple[float, float]:
    """|g| bounds (1/Å) for a 2θ range in degrees; ``None`` is the whole limiting sphere 2/λ."""
    if two_theta_range is None:
        return 0.0, 2.0 / wavelength
    lo, hi = (min(max(t, 0.0), 180.0) for t in two_theta_range)
    return (2 * math.sin(math.radians(lo / 2)) / wavelength, 2 * math.sin(math.radians(hi / 2)) / wavelength)


def lorentz_polarization(theta: np.ndarray, monochromator_two_theta: float | None = None) -> np.ndarray:
    """LP factor (M,) for Bragg angles θ (M,) in radians; monochromator 2θ_M in degrees."""
    cos2t = np.cos(2 * theta)
    denom = np.sin(theta) ** 2 * np.cos(theta)
    if not monochromator_two_theta:
        return (1 + cos2t**2) / denom
    cm2 = math.cos(math.radians(monochromator_two_theta)) ** 2
    return (1 + cm2 * cos2t**2) / denom * (2 / (1 + cm2))


def row_box(lattice: np.ndarray, g_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Rows (h, k) of the half-space integer box whose l-line meets the sphere |g| ≤ g_max.

    Returns ``(h (R,), k (R,), centre (R,), W)``: the row's points are l = centre + l' for
    l' in [−W, W], which covers every point of the row inside the sphere. The first row is
    (0, 0) with centre 0.
    """
    recip = np.linalg.inv(lattice).T  # rows a*, b*, c* in 1/Å
    return _rows(lattice, recip @ recip.T, g_max)[:4]


def _rows(lattice: np.ndarray, gm: np.ndarray, g_max: float):
    """:func:`row_box` from the reciprocal metric ``gm`` (3, 3), plus each row's
    h, k part of |g|² (R,) and its l coefficient (R,): |g|² = const + l (lin + gm₂₂ l)."""
    hmax = int(math.floor(g_max * math.sqrt(lattice[0] @ lattice[0]) + 1e-9))
    kmax = int(math.floor(g_max * math.sqrt(lattice[1] @ lattice[1]) + 1e-9))
    h, k = np.divmod(np.arange(kmax, (hmax + 1) * (2 * kmax + 1)), 2 * kmax + 1)  # the half-space:
    k -= kmax  # h > 0, or h = 0 and k ≥ 0
    lin = gm[0, 2] * h + gm[1, 2] * k
    const = gm[0, 0] * h * h + 2 * gm[0, 1] * h * k + gm[1, 1] * k * k
    centre_f = -lin / gm[2, 2]
    keep = const - gm[2, 2] * centre_f**2 <= g_max**2 * (1 + 1e-12)
    centre_f, const, lin = centre_f[keep], const[keep], lin[keep]
    half = np.sqrt(np.maximum(g_max**2 - (const - gm[2, 2] * centre_f**2), 0) / gm[2, 2])
    width = int(math.ceil(half.max())) + 1 if half.size else 0
    return h[keep], k[keep], np.rint(centre_f).astype(np.int64), width, const, 2 * lin


def _phase_tables(frac: np.ndarray, h: np.ndarray, k: np.ndarray, centre: np.ndarray, width: int):
    """Row factors A (n, R) = X_h Y_k Z_centre and column factors Z (n, 2W+1), complex128."""
    # one exp over an index range that spans h, k, the centres and ±W: (n, 3, I)
    lo = min(int(k.min()), int(centre.min()), -width, 0)
    hi = max(int(h.max()), int(k.max()), int(centre.max()), width)
    table = np.exp((2j * np.pi) * frac[:, :, None] * np.arange(lo, hi + 1))
    rows = table[:, 0, h - lo] * table[:, 1, k - lo] * table[:, 2, centre - lo]
    cols = table[:, 2, -width - lo : width - lo + 1]
    return rows, cols


def _groups(crystal: Crystal) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Scatterers grouped by (element, B): elements (E,), each group's element index (Q,) and
    B (Q,) Å², and each scatterer's group (n,)."""
    keys = list(zip(crystal.elements, crystal.b_iso.tolist()))
    uniq = sorted(set(keys))
    elements = sorted({e for e, _ in uniq})
    group_of = {key: i for i, key in enumerate(uniq)}
    member = np.array([group_of[key] for key in keys], dtype=np.int64)
    group_element = np.array([elements.index(e) for e, _ in uniq], dtype=np.int64)
    return elements, group_element, np.array([b for _, b in uniq]), member


@dataclass(frozen=True)
class ReciprocalPoints:
    """The reciprocal points of one Friedel half-space in a shell, and the box rows they lie on.

    Attributes:
        hkl: (M, 3) int64 Miller indices.
        g: (M,) float64 |g| = 1/d in 1/Å.
        h, k, centre: (R,) int64 the box rows (h, k) and each row's middle l.
        width: the rows' l range is centre − width … centre + width.
        row, col: (M,) int64 each point's row and l offset (0 … 2·width) in the box.
    """

    hkl: np.ndarray
    g: np.ndarray
    h: np.ndarray
    k: np.ndarray
    centre: np.ndarray
    width: int
    row: np.ndarray
    col: np.ndarray


def reciprocal_points(lattice: np.ndarray, g_min: float, g_max: float) -> ReciprocalPoints:
    """Reciprocal points with g_min ≤ |g| ≤ g_max (1/Å) of a (3, 3) row-vector lattice (Å)."""
    recip = np.linalg.inv(lattice).T
    h, k, centre, width, const, lin = _rows(lattice, recip @ recip.T, g_max)
    if h.size == 0:
        empty = np.zeros(0, np.int64)
        return ReciprocalPoints(np.zeros((0, 3), np.int64), np.zeros(0), h, k, centre, width, empty, empty)
    lp = np.arange(-width, width + 1)
    ll = centre[:, None] + lp  # (R, L) l of each box point
    g2 = const[:, None] + ll * (lin[:, None] + (recip[2] @ recip[2]) * ll)
    mask = (g2 <= g_max**2) & (g2 >= g_min**2)
    mask[0, : width + 1] = False  # row (0, 0): the origin and the other half-space
    ri, li = np.nonzero(mask)
    hkl_m = np.empty((ri.size, 3), dtype=np.int64)
    hkl_m[:, 0], hkl_m[:, 1], hkl_m[:, 2] = h[ri], k[ri], ll[ri, li]
    cart = hkl_m.astype(np.float64) @ recip
    g = np.sqrt((cart * cart).sum(axis=1))
    return ReciprocalPoints(hkl_m, g, h, k, centre, width, ri, li)


def squared_structure_factors(crystal: Crystal, points: ReciprocalPoints) -> np.ndarray:
    """|F|² (M,) electrons² of ``crystal`` at ``points``. Raises ``KeyError`` for an element
    without scattering factors."""
    if points.g.size == 0 or len(crystal.elements) == 0:
        return np.zeros(points.g.size)
    s2 = (points.g / 2) ** 2
    elements, group_element, group_b, member = _groups(crystal)
    z, a, b = coefficients(elements)
    f = form_factors(z, a, b, s2)[group_element] * np.exp(-group_b[:, None] * s2)  # (Q, M)
    rows, cols = _phase_tables(crystal.frac_coords, points.h, points.k, points.centre, points.width)
    rows *= crystal.occupancy[:, None]
    ri, li = points.row, points.col
    if len(group_b) == 1:
        total = f[0] * (rows.T @ cols)[ri, li]
    else:
        order = np.argsort(member, kind="stable")
        ends = np.cumsum(np.bincount(member)).tolist()
        total = sum(f[q] * (rows[idx].T @ cols[idx])[ri, li]
                    for q, idx in enumerate(order[a:b] for a, b in zip([0] + ends[:-1], ends)))
    return total.real**2 + total.imag**2


def structure_factor_intensities(
    crystal: Crystal, g_min: float, g_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|F|² for every reciprocal point of one Friedel half-space with g_min ≤ |g| ≤ g_max.

    Returns ``(hkl (M, 3) int64, g (M,) 1/Å, f2 (M,) electrons²)``. Raises ``KeyError`` for
    an element without scattering factors.
    """
    points = reciprocal_points(crystal.lattice, g_min, g_max)
    if len(crystal.elements) == 0:
        return np.zeros((0, 3), np.int64), np.zeros(0), np.zeros(0)
    return points.hkl, points.g, squared_structure_factors(crystal, points)


def merge_peaks(two_theta: np.ndarray, g: np.ndarray, intensity: np.ndarray, hkl: np.ndarray) -> Reflections:
    """Sum reflections (M,) whose 2θ (degrees) round to the same multiple of ``TWO_THETA_TOL``.

    ``hkl`` (M, 3) are half-space representatives; each stands for itself and its Friedel mate.
    """
    if two_theta.size == 0:
        return _empty()
    order = np.argsort(two_theta, kind="stable")  # = by key, then 2θ: the key rises with 2θ
    keys = np.rint(two_theta[order] / TWO_THETA_TOL).astype(np.int64)
    first_of_key = np.empty(keys.size, dtype=bool)
    first_of_key[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first_of_key[1:])
    starts = np.flatnonzero(first_of_key)
    span = int(max(hkl.max(), -hkl.min())) + 1
    base = 2 * span + 1
    ordered = hkl[order] + span  # (M, 3) ≥ 0: one integer per hkl, ordered as the triples
    code = (ordered[:, 0] * base + ordered[:, 1]) * base + ordered[:, 2]
    best = np.maximum.reduceat(code, starts)
    rep = np.empty((starts.size, 3), np.int64)
    rep[:, 0], rest = np.divmod(best, base * base)
    rep[:, 1], rep[:, 2] = np.divmod(rest, base)
    rep -= span
    counts = np.empty_like(starts)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = keys.size - starts[-1]
    first = order[starts]
    return Reflections(
        two_theta[first], 1.0 / g[first], np.add.reduceat(intensity[order], starts), rep, 2 * counts
    )


def _empty() -> Reflections:
    return Reflections(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 3), np.int64), np.zeros(0, np.int64))


def compute_reflections(
    crystal: Crystal,
    wavelength: float,
    two_theta_range: tuple[float, float] | None = (0.0, 90.0),
    monochromator_two_theta: float | None = None,
    drop_weak: bool = True,
) -> Reflections:
    """Powder peaks of ``crystal`` for one wavelength (Å) within ``two_theta_range`` (degrees).

    Intensities are absolute, as pymatgen's ``get_pattern(scaled=False)``; use
    ``.scaled(100)`` for its default. With ``drop_weak`` peaks below
    ``SCALED_INTENSITY_TOL`` % of the strongest are removed. An empty result means no
    reflection falls in the range. Raises ``KeyError`` for an element without scattering
    factors.
    """
    g_min, g_max = g_limits(two_theta_range, wavelength)
    hkl, g, f2 = structure_factor_intensities(crystal, g_min, g_max)
    theta = np.arcsin(np.minimum(wavelength * g / 2, 1.0))  # g ≥ 0
    intensity = 2 * f2 * lorentz_polarization(theta, monochromator_two_theta)
    peaks = merge_peaks(np.degrees(2 * theta), g, intensity, hkl)
    if drop_weak and len(peaks):
        peaks = peaks.select(peaks.intensity / peaks.intensity.max() * 100 > SCALED_INTENSITY_TOL)
    return peaks
