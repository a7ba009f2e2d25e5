"""Atomic X-ray scattering factors f(s), vectorised over elements × s.

The coefficients are pymatgen's ``atomic_scattering_params.json`` (MIT licence), read from
the installed pymatgen at first use without importing pymatgen itself, so the values are the
oracle's to the last digit and nothing is copied into this repository. The fit is

    f(s) = Z − 41.78214 · s² · Σ_i a_i exp(−b_i s²),   s = sin θ / λ  (1/Å)

with four (a_i, b_i) pairs per element (De Graef & McHenry, *Structure of Materials*).
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

# fmt: off
SYMBOLS: tuple[str, ...] = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
    "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
    "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb",
    "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl",
    "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk",
    "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh",
    "Fl", "Mc", "Lv", "Ts", "Og",
)
# fmt: on
ATOMIC_NUMBER: dict[str, int] = {s: z for z, s in enumerate(SYMBOLS, start=1)}

#: The constant in the fit: 41.78214 = me² c⁴ … folded into Å units (pymatgen's value).
FIT_CONSTANT = 41.78214


def _params_path() -> Path:
    """Location of pymatgen's coefficient file, found without importing pymatgen."""
    spec = importlib.util.find_spec("pymatgen")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pymatgen is needed for the atomic scattering coefficients")
    root = Path(list(spec.submodule_search_locations)[0])
    return root / "analysis" / "diffraction" / "atomic_scattering_params.json"


@lru_cache(maxsize=1)
def scattering_table() -> dict[str, np.ndarray]:
    """Element symbol → coefficients (4, 2) float64 with columns (a_i, b_i) in (Å², Å²)."""
    with open(_params_path(), "rb") as fh:
        raw = json.load(fh)
    return {sym: np.asarray(c, dtype=np.float64) for sym, c in raw.items()}


def element_symbol(species: str) -> str:
    """The element of a species label: ``Fe2+`` → ``Fe``, ``O2-`` → ``O``, ``D`` → ``H``."""
    sym = "".join(ch for ch in species if ch.isalpha())
    sym = sym[:1].upper() + sym[1:].lower()
    if sym not in ATOMIC_NUMBER and sym[:1] + sym[1:2] in ATOMIC_NUMBER:
        sym = sym[:2]
    if sym not in ATOMIC_NUMBER and sym[:1] in ATOMIC_NUMBER:
        sym = sym[:1]
    return {"D": "H", "T": "H"}.get(sym, sym)


def coefficients(elements: list[str] | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit parameters for E elements.

    Returns ``(z (E,) float64, a (E, 4) Å², b (E, 4) Å²)`` (shared: do not modify). Raises
    ``KeyError`` naming the element when it is not a known element or has no coefficients.
    """
    return _coefficients(tuple(elements))


@lru_cache(maxsize=1024)
def _coefficients(elements: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    row, z_all, a_all, b_all = _stacked_table()
    try:
        index = [row[e] for e in elements]
    except KeyError as exc:
        raise KeyError(f"no X-ray scattering factors for element {exc.args[0]!r}") from None
    return z_all[index], a_all[index], b_all[index]


@lru_cache(maxsize=1)
def _stacked_table() -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
    """Every element with coefficients: its row, and z (K,), a (K, 4), b (K, 4) stacked (one
    index per structure instead of one stack of table entries)."""
    table = scattering_table()
    known = [e for e in SYMBOLS if e in table]
    coeff = np.stack([table[e] for e in known])
    z = np.array([ATOMIC_NUMBER[e] for e in known], dtype=np.float64)
    return {e: i for i, e in enumerate(known)}, z, coeff[:, :, 0].copy(), coeff[:, :, 1].copy()


def form_factors(z: np.ndarray, a: np.ndarray, b: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Atomic scattering factors f (E, M) in electrons for E elements at M values of s².

    ``z`` (E,), ``a``/``b`` (E, 4) from :func:`coefficients`; ``s2`` (M,) = (sin θ / λ)² in
    1/Å² (= (g/2)² for a reciprocal vector of length g, crystallographic convention).
    """
    s2 = np.asarray(s2, dtype=np.float64)
    expo = np.exp(-b[:, :, None] * s2[None, None, :])  # (E, 4, M)
    total = np.einsum("ec,ecm->em", a, expo)
    return z[:, None] - FIT_CONSTANT * s2[None, :] * total
