"""Turbostratic layer structures (smectite clays): the powder pattern of randomly stacked layers.

In a turbostratic stack the layers are parallel and equally spaced (d, the basal spacing) but
rotated and translated at random about their normal. Only the 00l reflections survive as Bragg
peaks, broadened by the few layers of a stack; every other (hk) of the layer becomes a continuous
rod |F_layer(h, k, ζ)|² along c* (ζ the continuous l), whose powder average is Warren's (1941)
asymmetric band: a sharp rise at the layer's 2-D spacing d_hk and a long tail to high angle (a
smectite's 02,11 band at 4.5 Å, 13,20 at 2.6 Å, 06,33 at 1.50 Å).

Sampled at ζ = l / s (``samples`` s per unit of l), the rods become ordinary reflections of one
layer in an orthogonal cell a × b × s·d: the cell's integer l is the layer's s·ζ. A rod sample of
weight |F|² Δζ put on the powder sphere as a Bragg point is exactly the Warren band in the limit
s → ∞, so the sticks render, fit and weigh (Lorentz–polarisation, Hill–Howard) like any crystal's:

- (hk) ≠ (00): factor 2 |F_layer(h, k, l/s)|² · s, per cell of s layers' volume and mass (the s² of
  a cell s times larger, over the s samples of each unit of ζ: the band's integrated intensity is
  the ordered crystal's);
- (00): times the interference function of a stack of N layers, sin²(πNζ) / (N sin²(πζ)) (unit area
  per period; averaged over a spread of N), and without its lobe at ζ < ½ (small-angle scattering of
  the stack).

Pure functions: a :class:`~spectool.xrd.crystal.Crystal` in, arrays out.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from spectool.xrd.crystal import Crystal
from spectool.xrd.reflections import Reflections, lorentz_polarization, reciprocal_points, squared_structure_factors

#: Minerals of the smectite group (IMA), turbostratic as they occur in soils, sediments and bentonites.
SMECTITES = frozenset({
    "montmorillonite", "beidellite", "nontronite", "volkonskoite", "swinefordite",  # dioctahedral
    "saponite", "hectorite", "sauconite", "stevensite", "ferrosaponite", "zincsilite", "spadaite",  # trioctahedral
    "smectite", "bentonite",
})
#: Rod samples per unit of l: 1/32 of the basal reciprocal spacing (0.2° 2θ at Cu Kα for d = 15 Å).
ROD_SAMPLES = 32
#: Layers of a stack (coherent scattering domain along c*): smectites' stacks hold 3–10, so N runs over
#: STACK_LAYERS ± STACK_SPREAD.
STACK_LAYERS = 6
STACK_SPREAD = 3
#: Basal spacings (Å) at which a smectite is referenced: its interlayer swells with the cations' water
#: (none, one, two layers: about 10, 12.5 and 15 Å, and mixtures between), so d is not a constant of its
#: structure; each spacing's reference reaches ±5 % around it in the fit.
SWELLING_SPACINGS = (10.0, 11.5, 13.2, 15.0)
#: Bin width in |g| (1/Å) of the rods' samples as stored sticks (:func:`binned`): 0.2° 2θ at 20° with Cu Kα.
BAND_BIN = 0.0025
#: Rod samples per unit of l and bin width in |g| (1/Å) of a simulated pattern's sticks: 0.05° 2θ
#: apart at 20° with Cu Kα, so a narrow profile renders smooth bands.
PATTERN_SAMPLES, PATTERN_BIN = 128, 0.0006
#: Largest |γ − 90°| (degrees) of the layer's in-plane angle that is taken as rectangular.
IN_PLANE_TOLERANCE = 2.0


def is_smectite(name: str) -> bool:
    """Whether ``name`` (a label, a mineral name, a file stem) names a smectite: any of its words is one."""
    return any(word in SMECTITES for word in re.split(r"[^a-z]+", name.casefold()))


def names_smectite(path: str | Path) -> bool:
    """Whether a structure file names a smectite: its stem or its CIF's ``_chemical_name_mineral``."""
    return is_smectite(Path(path).stem) or is_smectite(cif_mineral(path))


def cif_mineral(path: str | Path) -> str:
    """A CIF's ``_chemical_name_mineral`` (first block), or ``""`` (another format, none given, unreadable)."""
    if Path(path).suffix.lower() not in (".cif", ".mcif"):
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    found = re.search(r"^\s*_chemical_name_mineral\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))", text, re.MULTILINE)
    return next((g for g in found.groups() if g), "") if found else ""


def layer_setting(crystal: Crystal, samples: int = ROD_SAMPLES, spacing: float | None = None
                  ) -> tuple[Crystal, float] | None:
    """The cell's content as one layer in an orthogonal cell (a, b, samples·d), and d (Å).

    The layers are the cell's ab planes, as layer silicates are set (c the stacking direction,
    d = V / |a × b|); heights are measured along the planes' normal and in-plane positions projected
    onto a and b. ``spacing``: d (Å) instead of the crystal's, the layer's atoms kept where they are (a
    swollen or collapsed interlayer). None where γ is not within :data:`IN_PLANE_TOLERANCE` of 90° (no
    rectangular layer cell to refine).
    """
    lattice = crystal.lattice
    a, b = lattice[0], lattice[1]
    gamma = np.degrees(np.arccos(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
    if abs(gamma - 90.0) > IN_PLANE_TOLERANCE:
        return None
    normal = np.cross(a, b)
    normal /= np.linalg.norm(normal)
    own = abs(float(np.dot(lattice[2], normal)))  # the crystal's basal spacing
    d = float(spacing) if spacing else own
    cart = crystal.frac_coords @ lattice
    in_plane = cart - np.outer(cart @ normal, normal)
    xy = np.linalg.lstsq(np.stack([a, b]).T, in_plane.T, rcond=None)[0].T  # (n, 2) in units of a, b
    z = contiguous_heights(crystal.frac_coords[:, 2], own) / (samples * d)
    cell = np.diag([np.linalg.norm(a), np.linalg.norm(b), samples * d])
    layer = Crystal(cell, np.c_[xy % 1.0, z], crystal.elements, crystal.occupancy, crystal.b_iso, crystal.site)
    return layer, float(d)


def contiguous_heights(frac_z: np.ndarray, d: float) -> np.ndarray:
    """Heights (n,) Å above the layer's lowest atom of atoms at fractional z (n,) of a cell d Å high,
    with the cut at the widest gap between them (the interlayer): a layer that the cell's origin splits
    (an octahedral sheet at z = 0, half its layer at the top of the cell) is whole again, as its rods
    need it to be."""
    z = np.mod(np.asarray(frac_z, np.float64), 1.0)
    if z.size < 2:
        return np.zeros(z.size)
    ordered = np.sort(z)
    gaps = np.diff(np.r_[ordered, ordered[0] + 1.0])
    cut = ordered[(int(np.argmax(gaps)) + 1) % z.size]  # the lowest atom above the widest gap
    return np.mod(z - cut, 1.0) * d


def rod_reflections(crystal: Crystal, g_max: float, layers: int = STACK_LAYERS, samples: int = ROD_SAMPLES,
                    spacing: float | None = None):
    """Reflections of the turbostratic stack of ``crystal``'s layers (see the module docstring), ``spacing``
    apart (Å; default the crystal's, :func:`layer_setting`).

    Returns ``(hkl (M, 3) int64 in the cell a × b × samples·d, factor (M,) electrons² per such cell,
    cell (6,) a, b, samples·d in Å and 90° angles, d in Å)``, or None without a rectangular layer
    cell (:func:`layer_setting`). One Friedel half-space, |g| ≤ g_max (1/Å).
    """
    setting = layer_setting(crystal, samples, spacing)
    if setting is None:
        return None
    layer, d = setting
    points = reciprocal_points(layer.lattice, 0.0, g_max)
    hkl = points.hkl
    factor = 2.0 * squared_structure_factors(layer, points) * samples
    basal = (hkl[:, 0] == 0) & (hkl[:, 1] == 0)
    factor[basal] *= stack_interference(hkl[basal, 2] / samples, layers, STACK_SPREAD)
    keep = ~(basal & (hkl[:, 2] < samples // 2))
    cell = np.r_[layer.lattice.diagonal(), 90.0, 90.0, 90.0]
    return hkl[keep], factor[keep], cell, d


def stack_interference(zeta: np.ndarray, layers: int, spread: int = 0) -> np.ndarray:
    """sin²(πNζ) / (N sin²(πζ)) of a stack of N equally spaced layers at continuous l = ζ (its mean over a
    period is 1; N at integer ζ), averaged over N = layers − spread … layers + spread (at least 2): real
    stacks differ in size, and one N's side lobes are not seen."""
    zeta = np.asarray(zeta, np.float64)
    s = np.sin(np.pi * zeta)
    on_peak = np.abs(s) < 1e-9
    safe = np.where(on_peak, 1.0, s * s)
    sizes = range(max(2, layers - spread), max(2, layers - spread) + 2 * spread + 1)
    return np.mean([np.where(on_peak, float(n), np.sin(np.pi * n * zeta) ** 2 / safe / n) for n in sizes], axis=0)


def binned(hkl: np.ndarray, factor: np.ndarray, cell: np.ndarray, width: float = BAND_BIN
           ) -> tuple[np.ndarray, np.ndarray]:
    """Reflections (M,) of an orthogonal ``cell`` (6,) gathered on a grid of |g| (1/Å) ``width`` apart, the
    00l and the bands apart (a cell refines them apart): (hkl (B, 3), factor (B,)). Each sample shares its
    factor between the two grid points around it in proportion to its nearness (so a band stays smooth
    however many samples fall between two points), and each point is represented by the sample nearest
    it. A band of thousands of rod samples becomes a few hundred reflections."""
    basal = (hkl[:, 0] == 0) & (hkl[:, 1] == 0)
    parts = [_gathered(hkl[m], factor[m], cell, width) for m in (basal, ~basal)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _gathered(hkl: np.ndarray, factor: np.ndarray, cell: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    if not factor.size:
        return hkl.reshape(0, 3), factor
    u = np.sqrt(((hkl / np.asarray(cell[:3], np.float64)) ** 2).sum(1)) / width  # grid points at integer u
    low = np.floor(u).astype(np.int64)
    point = np.r_[low, low + 1]
    share = np.r_[(low + 1 - u) * factor, (u - low) * factor]
    distance = np.abs(np.r_[u, u] - point)
    member = np.r_[np.arange(u.size), np.arange(u.size)]
    order = np.lexsort((distance, point))  # by grid point, nearest sample first
    point, share, member = point[order], share[order], member[order]
    starts = np.flatnonzero(np.r_[True, point[1:] != point[:-1]])
    return hkl[member[starts]], np.add.reduceat(share, starts)


def turbostratic_reflections(crystal: Crystal, wavelength: float, two_theta_range: tuple[float, float],
                             monochromator_two_theta: float | None = None, layers: int = STACK_LAYERS,
                             spacing: float | None = None) -> Reflections | None:
    """Powder sticks of ``crystal``'s layers stacked at random, as :func:`~spectool.xrd.reflections.compute_reflections`
    gives a crystal's: 2θ (degrees) within ``two_theta_range``, d (Å), intensity per cell of the crystal's
    content (the rods' factor × LP / s²: a band carries the ordered crystal's intensity), hkl in the cell
    a × b × s·d (l = s ζ, s = :data:`PATTERN_SAMPLES`), multiplicity 2; binned (:func:`binned`,
    :data:`PATTERN_BIN`). None without a rectangular layer cell."""
    lo, hi = two_theta_range
    g_max = 2 * np.sin(np.radians(min(hi, 179.9) / 2)) / wavelength
    rods = rod_reflections(crystal, g_max, layers, PATTERN_SAMPLES, spacing)
    if rods is None:
        return None
    hkl, factor, cell, _ = rods
    hkl, factor = binned(hkl, factor, cell, PATTERN_BIN)
    g = np.sqrt(((hkl / cell[:3]) ** 2).sum(1))
    theta = np.arcsin(np.minimum(wavelength * g / 2, 1.0))
    two_theta = np.degrees(2 * theta)
    keep = (two_theta >= lo) & (two_theta <= hi) & (factor > 0)
    order = np.argsort(two_theta[keep], kind="stable")
    intensity = factor * lorentz_polarization(theta, monochromator_two_theta) / PATTERN_SAMPLES**2
    pick = lambda a: a[keep][order]  # noqa: E731
    return Reflections(pick(two_theta), 1.0 / pick(g), pick(intensity), pick(hkl), np.full(int(keep.sum()), 2))
