"""Hypothetical compounds of a structure type: substituted, rescaled, strained prototypes.

For each draw ``k`` of a type, a generator seeded with ``(seed, type key, 0, k)`` picks one
substitute per element (:mod:`spectool.corpus.chemistry`), scales the cell by the mean
radius ratio times a log-normal factor (σ = ``volume_sigma`` in ln length), and applies a
random strain the point group allows (:mod:`spectool.corpus.lattice`; σ = ``strain_sigma``).
Wyckoff positions and fractional coordinates are the prototype's. A draw is dropped when it
repeats a composition already made (one compound per element assignment: strained copies
of one compound are augmentation, not new compounds), when atoms come closer than
:data:`spectool.xrd.structures.MIN_DISTANCE`, or when spglib finds another space group than
the prototype's. Compound 0 is the prototype itself, unchanged. Draws go on until ``count``
compounds are made or ``count × DRAWS_PER_COMPOUND`` draws are spent, so the first n
compounds of a type do not depend on ``count``.
"""

from __future__ import annotations

import warnings
import zlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from spectool.corpus.chemistry import Candidate, Plan, draw, linear_scale, make_plan
from spectool.corpus.lattice import deformed, point_group_rotations, random_strain
from spectool.corpus.library import PrototypeType, safe_formula
from spectool.errors import SpectoolError

DRAWS_PER_COMPOUND = 40
SYMPREC = 0.01  # Å, for the space group check


@dataclass
class Compound:
    """One compound of a type: a pymatgen ``Structure`` and where it came from."""

    id: str
    label: str
    aflow: str
    formula: str
    substitution: str  # "Na>K Cl>Br"; "" for the prototype
    scale: float  # linear scale of the cell relative to the prototype
    spacegroup: int
    draw: int  # -1 for the prototype
    structure: object
    split: str = "train"

    def row(self, seed: int, path: str) -> dict[str, object]:
        """The manifest row (``path`` relative to the corpus folder)."""
        return {"id": self.id, "label": self.label, "split": self.split, "path": path, "formula": self.formula,
                "prototype": self.aflow, "substitution": self.substitution, "scale": round(self.scale, 5),
                "spacegroup": self.spacegroup, "seed": seed, "draw": self.draw}


@dataclass
class TypeResult:
    """The compounds of one type and why draws were dropped (reason → count)."""

    kind: PrototypeType
    compounds: list[Compound]
    dropped: Counter = field(default_factory=Counter)


def type_key(kind: PrototypeType) -> int:
    """A stable 32-bit key of a type, so its stream does not depend on which others are chosen."""
    return zlib.crc32(f"{kind.aflow}|{kind.label}".encode())


def spacegroup_number(structure, symprec: float = SYMPREC) -> int:
    """spglib's space group number of a pymatgen ``Structure`` (0 if none is found)."""
    import spglib

    cell = (structure.lattice.matrix, structure.frac_coords, [site.specie.Z for site in structure])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    return 0 if dataset is None else int(dataset.number)


def compounds_for_type(kind: PrototypeType, count: int, seed: int, strain_sigma: float = 0.02,
                       volume_sigma: float = 0.02) -> TypeResult:
    """Up to ``count`` distinct compounds of ``kind`` (the prototype first), deterministic for ``seed``."""
    prototype = kind.structure
    number = spacegroup_number(prototype)
    result = TypeResult(kind, [_compound(kind, 0, prototype, "", 1.0, number, -1)])
    plan = make_plan(prototype)
    rotations = point_group_rotations(prototype.lattice.matrix, prototype.frac_coords,
                                      [s.specie.Z for s in prototype])
    seen = {plan.elements}
    key = type_key(kind)
    for k in range(count * DRAWS_PER_COMPOUND):
        if len(result.compounds) >= count:
            break
        rng = np.random.default_rng([seed, key, 0, k])
        chosen = draw(plan, rng)
        symbols = None if chosen is None else tuple(c.element for c in chosen)
        if symbols is None or symbols in seen:
            result.dropped["repeat" if symbols else "no valid substitution"] += 1
            continue
        seen.add(symbols)
        structure, scale = _variant(prototype, plan, chosen, rotations, rng, strain_sigma, volume_sigma)
        problem = _problem(structure, number)
        if problem:
            result.dropped[problem] += 1
            continue
        substitution = " ".join(f"{a}>{c.element}" for a, c in zip(plan.elements, chosen) if a != c.element)
        result.compounds.append(_compound(kind, len(result.compounds), structure, substitution, scale, number, k))
    return result


def _variant(prototype, plan: Plan, chosen: tuple[Candidate, ...], rotations: np.ndarray,
             rng: np.random.Generator, strain_sigma: float, volume_sigma: float):
    """The substituted structure on a rescaled, strained lattice, and its linear scale."""
    from pymatgen.core import Lattice, Structure

    mapping = {old: c.element for old, c in zip(plan.elements, chosen)}
    scale = linear_scale(plan, chosen) * float(np.exp(rng.normal(0.0, volume_sigma)))
    strain = random_strain(rng, strain_sigma, rotations)
    lattice = Lattice(deformed(prototype.lattice.matrix, scale, strain))
    species = [mapping[site.specie.symbol] for site in prototype]
    return Structure(lattice, species, prototype.frac_coords), scale


def _problem(structure, number: int) -> str:
    """Why a structure is dropped ('' if it is kept): overlapping atoms or a changed space group."""
    from spectool.xrd.structures import crystal_from_structure, validate

    try:
        validate(crystal_from_structure(structure))
    except SpectoolError:
        return "atoms too close"
    return "" if spacegroup_number(structure) == number else "space group changed"


def _compound(kind: PrototypeType, n: int, structure, substitution: str, scale: float, number: int,
              k: int) -> Compound:
    composition = structure.composition
    return Compound(id=f"{kind.label}-{n:03d}-{safe_formula(composition)}", label=kind.label, aflow=kind.aflow,
                    formula=composition.reduced_formula, substitution=substitution, scale=scale,
                    spacegroup=number, draw=k, structure=structure)


def assign_split(result: TypeResult, holdout: float, seed: int) -> None:
    """Put round(``holdout`` × n) whole compounds of the type into ``test`` (never the prototype),
    chosen by a generator seeded with ``(seed, type key, 1)``; the rest stay ``train``."""
    others = result.compounds[1:]
    n_test = min(len(others), int(round(holdout * len(result.compounds))))
    order = np.random.default_rng([seed, type_key(result.kind), 1]).permutation(len(others))
    for i in order[:n_test]:
        others[i].split = "test"


def cif_text(compound: Compound) -> str:
    """The compound as a CIF (P1, pymatgen's ``CifWriter``), data block named by its id."""
    from pymatgen.io.cif import CifWriter

    lines = str(CifWriter(compound.structure)).splitlines(keepends=True)
    return "".join(f"data_{compound.id}\n" if line.startswith("data_") else line for line in lines)


def build_type(label: str, count: int, seed: int, holdout: float, strain_sigma: float = 0.02,
               volume_sigma: float = 0.02) -> tuple[dict, list[dict], list[str], int]:
    """One type of a corpus, ready to write: (types.csv row, manifest rows, CIF texts, draws dropped).

    Takes the type's label (not the type) so that worker processes load the library themselves.
    Manifest paths are ``SPLIT/LABEL/ID.cif``, relative to the corpus folder.
    """
    from spectool.corpus.library import load_library

    kind = next(t for t in load_library() if t.label == label)
    result = compounds_for_type(kind, count, seed, strain_sigma, volume_sigma)
    assign_split(result, holdout, seed)
    rows = [c.row(seed, f"{c.split}/{c.label}/{c.id}.cif") for c in result.compounds]
    n_test = sum(c.split == "test" for c in result.compounds)
    type_row = {**kind.row(), "compounds": len(rows), "train": len(rows) - n_test, "test": n_test}
    return type_row, rows, [cif_text(c) for c in result.compounds], sum(result.dropped.values())
