"""Preferred orientation (texture) of a powder: the March–Dollase correction and the directions it is tried along.

Plates and needles do not lie at random in a flat specimen: reflections from the planes they lie
on grow, the others shrink. March–Dollase (Dollase 1986) multiplies each reflection's intensity by

    P(α) = ⟨(r² cos²α + sin²α / r)^(−3/2)⟩

with α the angle between the reflection's normal h and the preferred direction d (both in the
reciprocal lattice: cos α = hᵀG*d / √(hᵀG*h · dᵀG*d)), r the March parameter (1: random; < 1:
plates with normals along d, as clays and micas along c*; > 1: needles along d), and ⟨⟩ the mean
over the reflections that a reference merges into one (its symmetry equivalents).

Which directions: along an axis that every symmetry operation of the crystal system keeps (up to
sign), all equivalents of a reflection make the same angle with it, so the representative hkl
alone gives P exactly: c* for tetragonal, hexagonal and trigonal cells; a*, b* and c* for
orthorhombic, monoclinic (unique axis b) and triclinic ones. Cubic cells have no such axis; there
the mean runs over the 48 signed permutations of hkl, for ⟨001⟩ (cube faces: halite's cleavage)
and ⟨111⟩ (octahedra, fcc metal foils). Rietveld programs ask the user for the direction; the
verification tries each of these and keeps the best fit (:func:`spectool.fit.verify.with_texture`).
"""

from __future__ import annotations

from itertools import permutations, product

import numpy as np

from spectool.fit.cell import reciprocal_metric, system_name

#: March parameter bounds: r below 0.4 or above 2.5 is no longer a texture a powder fit should absorb.
MARCH_BOUNDS = (0.4, 2.5)

_AXES = {"a*": (1, 0, 0), "b*": (0, 1, 0), "c*": (0, 0, 1)}
_SIGNED_PERMUTATIONS = np.array([[s[i] * p[i] for i in range(3)] for p in permutations(np.eye(3, dtype=int))
                                 for s in product((1, -1), repeat=3)])  # (48, 3, 3)


def directions(system: str) -> list[tuple[int, int, int]]:
    """The preferred-orientation directions (reciprocal-lattice indices) tried for a cell of ``system``."""
    name = system_name(system)
    if name == "cubic":
        return [(0, 0, 1), (1, 1, 1)]
    if name in ("tetragonal", "hexagonal"):
        return [_AXES["c*"]]
    return [_AXES["c*"], _AXES["a*"], _AXES["b*"]]


def cos2_angles(hkl: np.ndarray, cell: np.ndarray, system: str, direction) -> np.ndarray:
    """cos² of the angle between each reflection's normal and ``direction``: (M, K), K = 48 symmetry
    equivalents for a cubic cell (signed permutations of hkl), else 1 (the representative; see the module)."""
    h = np.asarray(hkl, np.float64).reshape(-1, 3)
    d = np.asarray(direction, np.float64)
    if system_name(system) == "cubic":
        h = np.einsum("kij,mj->mki", _SIGNED_PERMUTATIONS, h)  # (M, 48, 3)
    else:
        h = h[:, None, :]
    g = reciprocal_metric(np.asarray(cell, np.float64))
    dot = np.einsum("mki,ij,j->mk", h, g, d)
    hh = np.einsum("mki,ij,mkj->mk", h, g, h)
    dd = float(d @ g @ d)
    return np.clip(dot**2 / np.maximum(hh * dd, 1e-30), 0.0, 1.0)


def march_dollase(cos2, r):
    """P (M,) of reflections with cos² angles (M, K) to the preferred direction, March parameter r (a number,
    or (M, 1)); numpy arrays or torch tensors alike (the fit's engine passes tensors)."""
    return ((r**2 * cos2 + (1 - cos2) / r) ** -1.5).mean(-1)


def describe(direction, r: float) -> str:
    """'March r = 0.72 along (001)' (the normal of those planes) for tables."""
    return f"March r = {r:.2f} along ({''.join(str(int(i)) for i in direction)})"
