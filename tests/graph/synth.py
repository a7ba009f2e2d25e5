"""Synthetic structure → spectrum pairs whose spectrum is a known function of the neighbours.

Each molecule: an Fe absorber at the origin, 3–6 first-shell ligands (O or N, 1.8–2.4 Å) and 6–10 outer
atoms (C or H, 3.0–5.0 Å). The spectrum on 21 points e ∈ [0, 1] is a sum over the first shell only:
a Gaussian per ligand at e = (d − 1.7) · 1.2, height 1.0 for O and 0.5 for N, plus a species-free
edge step. Outer atoms do not enter it: a model that learns it must attend to the first shell.
"""

from __future__ import annotations

import numpy as np

from spectool.graph.atoms import Atoms

GRID = np.linspace(0.0, 1.0, 21)
FIRST_SHELL = 2.6  # Å: every ligand is closer, every outer atom farther
HEIGHT = {8: 1.0, 7: 0.5}


def _directions(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def molecule(rng: np.random.Generator) -> Atoms:
    n_lig, n_out = int(rng.integers(3, 7)), int(rng.integers(6, 11))
    lig = _directions(rng, n_lig) * rng.uniform(1.8, 2.4, (n_lig, 1))
    out = _directions(rng, n_out) * rng.uniform(3.0, 5.0, (n_out, 1))
    numbers = np.concatenate([[26], rng.choice([8, 7], n_lig), rng.choice([6, 1], n_out)])
    return Atoms(numbers.astype(np.int64), np.concatenate([np.zeros((1, 3)), lig, out]))


def spectrum(atoms: Atoms) -> np.ndarray:
    """(21,) float32: the known function of the first shell."""
    d = np.linalg.norm(atoms.positions[1:], axis=1)
    y = 0.3 / (1 + np.exp(-(GRID - 0.2) / 0.05))
    for z, dist in zip(atoms.numbers[1:], d):
        if dist < FIRST_SHELL:
            y = y + HEIGHT[int(z)] * np.exp(-((GRID - (dist - 1.7) * 1.2) / 0.12) ** 2)
    return y.astype(np.float32)


def pairs(n: int, seed: int = 0) -> tuple[list[Atoms], np.ndarray]:
    rng = np.random.default_rng(seed)
    mols = [molecule(rng) for _ in range(n)]
    return mols, np.stack([spectrum(m) for m in mols])
