"""The structure-type key: AFLOW-style anonymous formula + Pearson symbol + space group + the
Wyckoff letters each species occupies, e.g. ``AB2_tI6_141_a_e`` (rutile is ``AB2_tP6_136_a_f``).

Two structures of one type get one key whatever their elements or cell, because the key is built
from spglib's analysis of the structure, species are anonymous (ordered by count, ties broken by
the smallest key) and letters are made canonical over the settings that relabel Wyckoff positions
(an origin shift turns NaCl's ``a_b`` into ``b_a``): the smallest-scoring relabelling wins, the
scoring being that of pymatgen's protostructure labels (Parackal et al.), whose relabelling table
``wyckoff-position-relabelings.json.gz`` is read from the installed pymatgen.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import warnings
from collections import Counter
from functools import lru_cache
from itertools import permutations, product
from pathlib import Path

import numpy as np

from spectool.corpus import wyckoff
from spectool.errors import FormatError

SYMPREC = 0.1  # Å
FALLBACK_SYMPREC = 1e-5  # Å, when SYMPREC finds nothing (as pymatgen's protostructure labels do)
FAMILY = [(2, "a"), (15, "m"), (74, "o"), (142, "t"), (194, "h"), (230, "c")]
MAX_PERMUTATIONS = 5040  # species orders tried when several species have the same count
#: Enantiomorphic space-group pairs (International Tables): a structure and its mirror image
#: (left- and right-handed quartz, P3₂21 and P3₁21) give one powder pattern, so one type; the key
#: uses the smaller number. Their Wyckoff letters correspond one to one.
ENANTIOMORPHS = {78: 76, 95: 91, 96: 92, 145: 144, 153: 151, 154: 152, 170: 169, 172: 171, 179: 178,
                 181: 180, 213: 212}


@lru_cache(maxsize=1)
def relabellings() -> dict[str, list[dict[int, str]]]:
    """Space group → the Wyckoff relabellings of its equivalent settings (pymatgen's table)."""
    from importlib.util import find_spec

    root = Path(list(find_spec("pymatgen").submodule_search_locations)[0])
    with gzip.open(root / "analysis" / "prototypes" / "wyckoff-position-relabelings.json.gz", "rt") as f:
        raw = json.load(f)
    return {sg: [{int(k): v for k, v in table.items()} for table in tables] for sg, tables in raw.items()}


def orbits(lattice: np.ndarray, frac: np.ndarray, numbers: list[int], symprec: float = SYMPREC):
    """(space group number, centring letter, [(atomic number, Wyckoff letter)] one per orbit)."""
    import spglib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = spglib.get_symmetry_dataset((lattice, frac, numbers), symprec=symprec)
        if data is None:
            data = spglib.get_symmetry_dataset((lattice, frac, numbers), symprec=FALLBACK_SYMPREC)
    if data is None:
        raise FormatError("spglib finds no space group")
    seen = {}
    for atom, (first, letter) in enumerate(zip(data.equivalent_atoms, data.wyckoffs)):
        seen.setdefault(int(first), (numbers[atom], letter))
    return int(data.number), data.international[0], list(seen.values())


def score(wyckoffs: str) -> tuple[int, str]:
    """pymatgen's ranking of a relabelled ``"2cd_a"``: letters sorted within each species,
    counts written before repeated letters, the sum of letter ranks (``A`` counts 0) first."""
    parts, total = [], 0
    for part in wyckoffs.split("_"):
        letters = Counter(part)
        parts.append("".join(f"{n if n > 1 else ''}{c}" for c, n in sorted(letters.items())))
        total += sum(n * (0 if c == "A" else ord(c) - 96) for c, n in letters.items())
    return total, "_".join(parts)


def canonical(groups: list[tuple[int, str]], spacegroup: int) -> str:
    """The smallest-scoring Wyckoff string over species orders (within equal counts) and relabellings.

    ``groups`` are (count, letters) per species, e.g. [(1, "a"), (2, "e")]; letters one per orbit.
    """
    groups = sorted(groups)
    blocks = [[letters for _, letters in items] for _, items in _by_count(groups)]
    orders = product(*[permutations(b) for b in blocks])
    if math.prod(math.factorial(len(b)) for b in blocks) > MAX_PERMUTATIONS:
        orders = iter([tuple(tuple(b) for b in blocks)])
    tables = relabellings().get(str(spacegroup), [{}])
    best = None
    for order in orders:
        text = "_".join(letters for block in order for letters in block)
        for table in tables:
            candidate = score(text.translate(table))
            best = candidate if best is None or candidate < best else best
    return best[1]


def _by_count(groups: list[tuple[int, str]]):
    out: list[tuple[int, list]] = []
    for count, letters in groups:
        if out and out[-1][0] == count:
            out[-1][1].append((count, letters))
        else:
            out.append((count, [(count, letters)]))
    return out


def key_of(spacegroup: int, centring: str, sites: list[tuple[int, str]]) -> str:
    """The key from a space group, its centring letter and (species, Wyckoff letter) per orbit;
    an enantiomorphic group is keyed as its partner with the smaller number."""
    spacegroup = ENANTIOMORPHS.get(spacegroup, spacegroup)
    letters: dict[int, str] = {}
    for species, letter in sites:
        letters[species] = letters.get(species, "") + letter
    table = wyckoff.table()[str(spacegroup)]
    counts = {s: sum(table[c][0] for c in text) for s, text in letters.items()}
    divisor = math.gcd(*counts.values())
    groups = [(counts[s] // divisor, "".join(sorted(text))) for s, text in letters.items()]
    formula = "".join(f"{chr(65 + i)}{n if n > 1 else ''}" for i, (n, _) in enumerate(sorted(groups)))
    family = next(letter for last, letter in FAMILY if spacegroup <= last)
    centring = {"A": "C", "B": "C"}.get(centring, centring)
    total = sum(counts.values()) // (3 if centring == "R" else 1)
    return f"{formula}_{family}{centring}{total}_{spacegroup}_{canonical(groups, spacegroup)}"


def type_key(structure, symprec: float = SYMPREC) -> str:
    """The key of an ordered pymatgen ``Structure``; :class:`FormatError` if spglib finds no group."""
    numbers = [site.specie.Z for site in structure]
    spacegroup, centring, sites = orbits(structure.lattice.matrix, structure.frac_coords, numbers, symprec)
    return key_of(spacegroup, centring, sites)


def primitive_sites(key: str) -> int:
    """Sites in the primitive cell, from the key's Pearson symbol: ``AB2_tI12_141_a_e`` → 6."""
    pearson = key.split("_")[1]
    centring = {"C": 2, "I": 2, "F": 4}.get(pearson[1], 1)
    return max(1, int(re.sub(r"\D", "", pearson)) // centring)


def decoration_key(key: str) -> str:
    """A key without its species: Pearson symbol, space group and the Wyckoff letters of all orbits,
    e.g. ``mC52_12_g2i5j`` for sanidine (``AB4C8_mC52_12_i_2j_gi3j``) and orthoclase
    (``AB2C2D8_mC52_12_i_j_j_gi3j``), whose Al and Si share out the same tetrahedral orbits
    differently. Structures of one decoration key whose atoms sit on the same positions are one
    structure type with another decoration (:func:`spectool.corpus.grouping.build_types`). The
    letters are the smallest sorted string over the group's relabellings."""
    _, pearson, spacegroup, *parts = key.split("#")[0].split("_")
    letters = "".join(c * int(n or 1) for part in parts for n, c in re.findall(r"(\d*)([a-zA-Z])", part))
    tables = relabellings().get(spacegroup, [{}])
    best = min("".join(sorted(letters.translate(table))) for table in tables)
    return f"{pearson}_{spacegroup}_{_counted(best)}"


def _counted(letters: str) -> str:
    """``"giijjjjj"`` → ``"g2i5j"``."""
    return "".join(f"{n if n > 1 else ''}{c}" for c, n in sorted(Counter(letters).items()))
