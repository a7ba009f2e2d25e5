"""Unit cells within a crystal system: which parameters refine, and 1/d² from the reciprocal metric.

A cell is (a, b, c, α, β, γ) in Å and degrees, in the conventional standard setting of its
space group (spglib's; rhombohedral cells in the hexagonal setting, monoclinic with unique
axis b). Refinement moves only what the system allows, tied as it prescribes:

=============  =======================  ==============================
system         free                     tied
=============  =======================  ==============================
cubic          a                        b = c = a
tetragonal     a, c                     b = a
hexagonal      a, c  (trigonal too)     b = a, γ = 120°
orthorhombic   a, b, c
monoclinic     a, b, c, β
triclinic      a, b, c, α, β, γ
=============  =======================  ==============================

Lengths move by at most ``length_bound`` (relative), angles by ``angle_bound`` degrees, through
a tanh of an unbounded raw parameter, so the optimiser never leaves the box.
"""

from __future__ import annotations

import math

import numpy as np

SYSTEMS = ("cubic", "tetragonal", "hexagonal", "orthorhombic", "monoclinic", "triclinic")
#: Alias: trigonal cells refine as hexagonal (the hexagonal setting of R and P lattices).
ALIASES = {"trigonal": "hexagonal", "rhombohedral": "hexagonal"}
#: For each system, the index (0..5 = a, b, c, α, β, γ) whose raw parameter drives each entry; -1 = fixed.
TIES = {
    "cubic": (0, 0, 0, -1, -1, -1),
    "tetragonal": (0, 0, 2, -1, -1, -1),
    "hexagonal": (0, 0, 2, -1, -1, -1),
    "orthorhombic": (0, 1, 2, -1, -1, -1),
    "monoclinic": (0, 1, 2, -1, 4, -1),
    "triclinic": (0, 1, 2, 3, 4, 5),
}
LENGTH_BOUND = 0.05
ANGLE_BOUND = 2.0  # degrees


def system_name(system: str) -> str:
    """Canonical system name; ``ValueError`` for an unknown one."""
    name = ALIASES.get(system.lower(), system.lower())
    if name not in TIES:
        raise ValueError(f"unknown crystal system {system!r}; one of {', '.join(SYSTEMS)}, trigonal")
    return name


def ties(system: str) -> np.ndarray:
    """(6,) int64 tie indices of ``system`` (see :data:`TIES`)."""
    return np.array(TIES[system_name(system)], dtype=np.int64)


def free_count(system: str) -> int:
    """Number of refinable cell parameters of ``system``."""
    return len({t for t in TIES[system_name(system)] if t >= 0})


def cell_parameters(lattice: np.ndarray) -> np.ndarray:
    """(6,) a, b, c (Å), α, β, γ (degrees) of a lattice (3, 3) whose rows are the cell vectors."""
    lattice = np.asarray(lattice, dtype=np.float64)
    a, b, c = np.linalg.norm(lattice, axis=1)
    angle = lambda u, v: math.degrees(math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))  # noqa: E731
    return np.array([a, b, c, angle(lattice[1], lattice[2]), angle(lattice[0], lattice[2]), angle(lattice[0], lattice[1])])


def reciprocal_metric(cell: np.ndarray) -> np.ndarray:
    """Reciprocal metric tensors G* (..., 3, 3) in 1/Å² of cells (..., 6): 1/d² = hᵀ G* h."""
    return np.linalg.inv(direct_metric(np.asarray(cell, dtype=np.float64)))


def direct_metric(cell):
    """Direct metric tensors G (..., 3, 3) in Å² of cells (..., 6); numpy or torch alike."""
    xp = _namespace(cell)
    a, b, c = cell[..., 0], cell[..., 1], cell[..., 2]
    ca, cb, cg = (xp.cos(cell[..., i] * (math.pi / 180)) for i in (3, 4, 5))
    rows = [[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca], [a * c * cb, b * c * ca, c * c]]
    return xp.stack([xp.stack(r, -1) for r in rows], -2)


def refined_cells(cell0, raw, tie, length_bound: float = LENGTH_BOUND, angle_bound: float = ANGLE_BOUND):
    """Cells (..., 6) from reference cells (..., 6), raw parameters (..., 6) and tie indices (..., 6).

    torch tensors (differentiable in ``raw``). Entry i moves by tanh(raw[tie[i]]) times the
    length bound (relative) or the angle bound (degrees); ``tie[i] = -1`` keeps it.
    """
    import torch

    free = tie >= 0
    t = torch.tanh(torch.gather(raw, -1, tie.clamp(min=0))) * free
    lengths = cell0[..., :3] * (1 + length_bound * t[..., :3])
    angles = cell0[..., 3:] + angle_bound * t[..., 3:]
    return torch.cat([lengths, angles], -1)


def cell_volume(cell) -> np.ndarray:
    """Cell volumes (...,) in Å³ of cells (..., 6)."""
    return np.sqrt(np.linalg.det(direct_metric(np.asarray(cell, dtype=np.float64))))


def _namespace(x):
    if isinstance(x, np.ndarray):
        return np
    import torch

    return torch
