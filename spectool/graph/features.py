"""Node features from the electron configuration (the XANES model of PAPERS.md D uses the same idea).

Each element's ground-state configuration by the Madelung (aufbau) rule — the handful of exceptions
(Cr, Cu, …) are not special-cased — as the occupancy of each of the 19 subshells 1s … 7p divided by its
capacity, plus the number of valence electrons / 10 and Z / 100: :data:`N_FEATURES` values per element.
Row 0 of :func:`feature_table` is the virtual atom (all zeros).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SUBSHELLS = ("1s", "2s", "2p", "3s", "3p", "4s", "3d", "4p", "5s", "4d", "5p", "6s", "4f", "5d", "6p", "7s",
             "5f", "6d", "7p")  # Madelung order
CAPACITY = {"s": 2, "p": 6, "d": 10, "f": 14}
N_FEATURES = len(SUBSHELLS) + 2
MAX_Z = 118


def configuration(z: int) -> np.ndarray:
    """Electrons (19,) in each subshell of :data:`SUBSHELLS` for atomic number ``z``."""
    left, out = int(z), np.zeros(len(SUBSHELLS))
    for i, shell in enumerate(SUBSHELLS):
        out[i] = min(left, CAPACITY[shell[1]])
        left -= int(out[i])
    return out


def valence(occ: np.ndarray) -> float:
    """Valence electrons of a configuration (19,): those of the outermost shell, plus the last-filled
    subshell when it is an inner d or f one (Fe: 4s² + 3d⁶ = 8)."""
    filled = np.flatnonzero(occ)
    period = max(int(SUBSHELLS[i][0]) for i in filled)
    outer = sum(occ[i] for i in filled if int(SUBSHELLS[i][0]) == period)
    last = int(filled[-1])
    return float(outer + (occ[last] if int(SUBSHELLS[last][0]) < period else 0.0))


@lru_cache(maxsize=1)
def feature_table() -> np.ndarray:
    """(MAX_Z + 1, N_FEATURES) float32: row z is element z's features, row 0 the virtual atom."""
    table = np.zeros((MAX_Z + 1, N_FEATURES), dtype=np.float32)
    capacity = np.array([CAPACITY[s[1]] for s in SUBSHELLS], dtype=np.float64)
    for z in range(1, MAX_Z + 1):
        occ = configuration(z)
        table[z, :len(SUBSHELLS)] = occ / capacity
        table[z, -2:] = valence(occ) / 10.0, z / 100.0
    return table
