"""Wyckoff positions: a letter and its free parameters → the fractional coordinates of its orbit.

The table (``spectool/data/wyckoff.json``, made by ``tools/genwyckoff.py`` from the International
Tables as listed by the Bilbao Crystallographic Server) holds, per space group, each letter's
multiplicity and one representative position such as ``x,2x,1/4``, in the settings of the AFLOW
Encyclopedia of Crystallographic Prototypes: monoclinic unique axis b (cell choice 1), origin
choice 2, hexagonal axes for R groups (and, under key ``"166R"`` etc., the representatives on
rhombohedral axes that AFLOW's hR parameters refer to). The orbit is the representative under
spglib's operations of the same setting (conventional cell, centring included), duplicates removed.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

import numpy as np

from spectool.errors import SpectoolError

#: spglib's setting choice per space group that matches the table (first match wins).
SETTINGS = ("", "b", "b1", "2", "H")
#: Rhombohedral primitive vectors in hexagonal fractional coordinates (obverse), as columns.
RHOMBOHEDRAL_TO_HEXAGONAL = np.array([[2, -1, -1], [1, 1, -2], [1, 1, 1]], dtype=float) / 3.0
_TERM = re.compile(r"([+-]?)(\d+(?:/\d+)?)?([xyz])?")


class WyckoffError(SpectoolError):
    """A letter the space group does not have, or parameters that do not fit it."""


@lru_cache(maxsize=1)
def table() -> dict[str, dict[str, tuple[int, str]]]:
    """Space group key (``"225"``, ``"166R"``) → letter → (multiplicity, representative)."""
    raw = json.loads(resources.files("spectool.data").joinpath("wyckoff.json").read_text())
    return {key: {letter: (mult, rep) for letter, mult, rep in rows} for key, rows in raw.items()}


def affine(expression: str) -> tuple[np.ndarray, np.ndarray]:
    """``"x,2x,-z+1/4"`` → (M (3, 3), t (3,)) with position = M @ (x, y, z) + t."""
    parts = expression.replace(" ", "").split(",")
    if len(parts) != 3:
        raise WyckoffError(f"not a position: {expression!r}")
    matrix, shift = np.zeros((3, 3)), np.zeros(3)
    for row, part in enumerate(parts):
        for sign, number, var in _TERM.findall(part):
            if not number and not var:
                continue
            value = _fraction(number or "1") * (-1.0 if sign == "-" else 1.0)
            if var:
                matrix[row, "xyz".index(var)] += value
            else:
                shift[row] += value
    return matrix, shift


def _fraction(text: str) -> float:
    top, _, bottom = text.partition("/")
    return float(top) / float(bottom or 1)


def free_variables(expression: str) -> str:
    """The free parameters of a representative, in x, y, z order: ``"x,2x,1/4"`` → ``"x"``."""
    return "".join(v for v in "xyz" if v in expression)


@lru_cache(maxsize=None)
def operations(number: int) -> tuple[np.ndarray, np.ndarray]:
    """spglib's operations (rotations (n, 3, 3) int, translations (n, 3)) of the table's setting."""
    import warnings

    import spglib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for hall in range(1, 531):
            kind = spglib.get_spacegroup_type(hall)
            if kind.number == number and kind.choice in SETTINGS:
                ops = spglib.get_symmetry_from_database(hall)
                return ops["rotations"], ops["translations"]
    raise WyckoffError(f"no space group {number}")


def representative(number: int, letter: str, values: dict[str, float], rhombohedral: bool = False) -> np.ndarray:
    """The representative position (3,) of ``letter`` for free parameters ``values`` (``{"x": .1}``).

    With ``rhombohedral`` (R groups only) the parameters are on rhombohedral axes and the
    position is returned on hexagonal axes. Raises :class:`WyckoffError` for an unknown letter
    or a missing parameter.
    """
    key = f"{number}R" if rhombohedral else str(number)
    if key not in table():
        raise WyckoffError(f"space group {number} has no {'rhombohedral ' if rhombohedral else ''}setting here")
    entry = table()[key].get(letter)
    if entry is None:
        raise WyckoffError(f"space group {number} has no Wyckoff position {letter!r}")
    missing = [v for v in free_variables(entry[1]) if v not in values]
    if missing:
        raise WyckoffError(f"{number}{letter} ({entry[1]}) needs {', '.join(missing)}")
    matrix, shift = affine(entry[1])
    point = matrix @ np.array([values.get(v, 0.0) for v in "xyz"]) + shift
    return RHOMBOHEDRAL_TO_HEXAGONAL @ point if rhombohedral else point


def orbit(number: int, point: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """The distinct images (n, 3) in [0, 1) of ``point`` under the group's operations (conventional cell)."""
    rotations, translations = operations(number)
    images = np.mod(np.einsum("nij,j->ni", rotations, point) + translations, 1.0)
    delta = images[:, None, :] - images[None, :, :]
    same = np.all(np.abs(delta - np.round(delta)) < tol, axis=2)
    first = np.argmax(same, axis=1)  # each image's first equal image
    return images[first == np.arange(len(images))]


def multiplicity(number: int, letter: str) -> int:
    """The letter's multiplicity in the conventional cell."""
    return table()[str(number)][letter][0]
