"""Structures of the AFLOW Encyclopedia of Crystallographic Prototypes from label + parameters.

A record is one ``info.json`` of the encyclopedia (parts 1–5; Mehl et al. 2017, Hicks et al.
2019, 2021): ``label`` such as ``A2B_hP9_152_c_a-001`` (species letters with their counts, Pearson
symbol, space group, then each species' Wyckoff letters), ``prototype`` (the compound, e.g.
``O2Si``) and ``parameter_symbols``/``parameter_values`` (``a`` in Å, ``b/a``, ``c/a``, ``alpha``,
``beta``, ``gamma`` in degrees, then ``x2``, ``y3`` … numbering the sites in order of Wyckoff letter).
In hR groups ``a`` and ``c/a`` are hexagonal but the site parameters are on rhombohedral axes;
they are converted to the hexagonal setting (:mod:`spectool.corpus.wyckoff`). A structure is
kept only if its composition is the prototype's and no two atoms are closer than
:data:`MIN_DISTANCE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from spectool.corpus import wyckoff
from spectool.corpus.library import clean_name, clean_symbol
from spectool.errors import SpectoolError

MIN_DISTANCE = 0.6  # Å
_SPECIES = re.compile(r"([A-Z])(\d*)")
_SITES = re.compile(r"(\d*)([a-zA-Z])")


class BuildError(SpectoolError):
    """A record whose structure cannot be built or fails a check; the message says which."""


@dataclass(frozen=True)
class Label:
    """A parsed AFLOW prototype label: ``counts`` per species letter, ``sites`` per species."""

    text: str
    counts: tuple[int, ...]
    pearson: str
    spacegroup: int
    sites: tuple[tuple[str, ...], ...]  # Wyckoff letters of each species, in label order

    @property
    def rhombohedral(self) -> bool:
        return self.pearson.startswith("hR")


def parse_label(text: str) -> Label:
    """``"A2B_hP9_152_c_a-001"`` → Label(counts=(2, 1), pearson="hP9", spacegroup=152, sites=(("c",), ("a",)))."""
    parts = text.split("-")[0].split("_")
    if len(parts) < 4 or not parts[2].isdigit():
        raise BuildError(f"not an AFLOW prototype label: {text!r}")
    counts = tuple(int(n or 1) for _, n in _SPECIES.findall(parts[0]))
    sites = tuple(tuple(letter for n, letter in _SITES.findall(s) for _ in range(int(n or 1))) for s in parts[3:])
    if len(counts) != len(sites):
        raise BuildError(f"{text}: {len(counts)} species but {len(sites)} Wyckoff groups")
    return Label(text, counts, parts[1], int(parts[2]), sites)


def parse_formula(formula: str) -> dict[str, float]:
    """``"O2Si"`` → ``{"O": 2.0, "Si": 1.0}``; groups such as ``Cl2Cu3(OH)6Zn`` are expanded.
    A formula with variables (``Ag5-xTe3``, ``CxFe``) is a :class:`BuildError`."""
    from pymatgen.core import Composition, Element

    if not re.fullmatch(r"(?:[A-Z][a-z]?|[()\d.])+", formula):
        raise BuildError(f"not a formula of elements: {formula!r}")
    try:
        amounts = Composition(formula).get_el_amt_dict()
    except (ValueError, KeyError):
        raise BuildError(f"not a formula of elements: {formula!r}") from None
    if not amounts or not all(Element.is_valid_symbol(e) for e in amounts):
        raise BuildError(f"not a formula of elements: {formula!r}")
    return {e: float(n) for e, n in amounts.items()}


def parse_units(formula: str) -> dict[str, float]:
    """The formula's units, a bracketed group counting as one: ``"Mg3O5(OH)4Si2"`` →
    ``{"Mg": 3, "O": 5, "OH": 4, "Si": 2}`` (labels such as clinochlore's give a hydroxyl one letter)."""
    out: dict[str, float] = {}
    for group, group_n, element, element_n in re.findall(r"\(([A-Za-z0-9.]+)\)(\d*\.?\d*)|([A-Z][a-z]?)(\d*\.?\d*)",
                                                          formula):
        unit, n = (group, group_n) if group else (element, element_n)
        out[unit] = out.get(unit, 0.0) + float(n or 1)
    return out


def site_element(unit: str) -> str:
    """The atom a unit puts on its sites: the element itself, or a group's one non-hydrogen atom
    (``OH`` → ``O``, ``H2O`` → ``O``; the label does not place the H). :class:`BuildError` otherwise."""
    heavy = [(e, n) for e, n in parse_formula(unit).items() if e not in ("H", "D")]
    if len(heavy) != 1 or heavy[0][1] != 1:
        raise BuildError(f"group {unit} is not one atom with hydrogen")
    return heavy[0][0]


def expected_composition(units: dict[str, float]) -> dict[str, float]:
    """Element amounts the built structure must have: groups by their site element, H dropped."""
    out: dict[str, float] = {}
    for unit, n in units.items():
        element = unit if unit in parse_formula(unit) and len(parse_formula(unit)) == 1 else site_element(unit)
        out[element] = out.get(element, 0.0) + n
    return out


def formula_species(counts: tuple[int, ...], formula: str) -> tuple[list, dict[str, float]]:
    """What the label's species letters put on their sites, and the composition to check the build
    against: the formula's elements; else (when counts or species do not fit) its units with
    bracketed hydrogen-bearing groups as one species; else, where the label has fewer species
    than the formula has elements, pairs of elements sharing sites in the formula's proportion
    (sanidine's Al and Si: ``{"Al": 0.25, "Si": 0.75}``), the pairs closest in atomic number."""
    elements = parse_formula(formula)
    try:
        return species_order(counts, elements), elements
    except BuildError as error:
        units = parse_units(formula)
        if units != elements and any(len(parse_formula(u)) > 1 for u in units):
            order = species_order(counts, units)
            return [u if u in elements and len(parse_formula(u)) == 1 else site_element(u) for u in order], \
                expected_composition(units)
        if len(elements) > len(counts):
            return mixed_species(counts, elements), elements
        raise error


def mixed_species(counts: tuple[int, ...], elements: dict[str, float]) -> list:
    """Species per letter when pairs of elements share sites (see :func:`formula_species`)."""
    from pymatgen.core import Element

    merges = len(elements) - len(counts)
    options = []
    for pairs in _disjoint_pairs(sorted(elements), merges):
        units = {e: elements[e] for e in elements if not any(e in p for p in pairs)}
        units.update({"".join(p): elements[p[0]] + elements[p[1]] for p in pairs})
        try:
            order = species_order(counts, units)
        except BuildError:
            continue
        cost = sum(abs(Element(a).Z - Element(b).Z) for a, b in pairs)
        mix = {"".join(p): {e: elements[e] / units["".join(p)] for e in p} for p in pairs}
        options.append((cost, [mix.get(u, u) for u in order]))
    if not options:
        raise BuildError("no assignment of elements to species matches the formula's counts")
    return min(options, key=lambda option: option[0])[1]


def _disjoint_pairs(items: list[str], n: int):
    """Every set of ``n`` disjoint pairs from ``items`` (sorted pairs, in a fixed order)."""
    if n == 0:
        yield ()
        return
    for i, first in enumerate(items):
        for second in items[i + 1:]:
            rest = [x for x in items[i + 1:] if x != second]
            for more in _disjoint_pairs(rest, n - 1):
                yield ((first, second),) + more


def species_order(counts: tuple[int, ...], formula: dict[str, float]) -> list[str]:
    """Elements for the label's species letters A, B, …: alphabetical where the counts agree,
    else the first permutation whose counts are proportional to the formula's."""
    elements = sorted(formula)
    if len(elements) != len(counts):
        raise BuildError(f"{len(counts)} species in the label, {len(elements)} in the formula")
    for order in permutations(elements):
        amounts = np.array([formula[e] for e in order])
        if np.allclose(amounts / amounts.sum(), np.array(counts) / sum(counts), atol=1e-6):
            return list(order)
    raise BuildError("no assignment of elements to species matches the formula's counts")


def lattice_parameters(spacegroup: int, params: dict[str, float]) -> tuple[float, ...]:
    """(a, b, c in Å, alpha, beta, gamma in degrees) from AFLOW's ``a``, ``b/a``, ``c/a``, angles."""
    a = params["a"]
    b = a * params.get("b/a", 1.0)
    c = a * params.get("c/a", 1.0)
    hexagonal = 143 <= spacegroup <= 194
    gamma = 120.0 if hexagonal else params.get("gamma", 90.0)
    return a, b, c, params.get("alpha", 90.0), params.get("beta", 90.0), gamma


def ordered_sites(label: Label) -> list[tuple[int, str]]:
    """(species index, letter) of every site in the numbering of the parameters: by Wyckoff
    letter (a … z, then A), species order within a letter."""
    letters = list(wyckoff.table()[str(label.spacegroup)])
    sites = [(i, letter) for i, group in enumerate(label.sites) for letter in group]
    unknown = {letter for _, letter in sites} - set(letters)
    if unknown:
        raise BuildError(f"space group {label.spacegroup} has no Wyckoff position {', '.join(sorted(unknown))}")
    return sorted(sites, key=lambda site: letters.index(site[1]))


def build(record: dict):
    """The pymatgen ``Structure`` (conventional cell, Å) of an encyclopedia record.

    In hR groups the site parameters are read on rhombohedral axes; a record whose parameters
    only fit the hexagonal representatives (some later entries give ``z`` for ``(0,0,z)``), or
    whose rhombohedral reading fails the checks or changes the space group, is read on
    hexagonal axes. Raises :class:`BuildError` when the label, parameters or formula disagree,
    when the composition differs from the prototype's or atoms come closer than :data:`MIN_DISTANCE`.
    """
    from pymatgen.core import Composition

    label = parse_label(record["label"])
    elements, formula = formula_species(label.counts, record["prototype"])
    params = dict(zip(record["parameter_symbols"], map(float, record["parameter_values"])))
    if not label.rhombohedral:
        return _checked(_assemble(label, elements, params, False), Composition(formula))
    try:
        structure = _checked(_assemble(label, elements, params, True), Composition(formula))
        if _spacegroup(structure) == label.spacegroup:
            return structure
    except BuildError:
        pass
    return _checked(_assemble(label, elements, params, False), Composition(formula))


def _assemble(label: Label, elements: list[str], params: dict[str, float], rhombohedral: bool):
    from pymatgen.core import Lattice, Structure

    species, coords = [], []
    for number, (kind, letter) in enumerate(ordered_sites(label), start=1):
        values = {v: params[f"{v}{number}"] for v in "xyz" if f"{v}{number}" in params}
        try:
            point = wyckoff.representative(label.spacegroup, letter, values, rhombohedral)
        except wyckoff.WyckoffError as error:
            raise BuildError(f"site {number}: {error.message}") from None
        images = wyckoff.orbit(label.spacegroup, point)
        species += [elements[kind]] * len(images)
        coords.append(images)
    lattice = Lattice.from_parameters(*lattice_parameters(label.spacegroup, params))
    return Structure(lattice, species, np.concatenate(coords))


def _checked(structure, composition):
    check(structure, composition)
    return structure


def _spacegroup(structure) -> int:
    from spectool.corpus.generate import spacegroup_number
    from spectool.corpus.sources import ordered

    return spacegroup_number(ordered(structure) if not structure.is_ordered else structure, symprec=0.01)


def check(structure, composition) -> None:
    """Raise :class:`BuildError` unless ``structure`` has ``composition`` (reduced) and no two
    atoms closer than :data:`MIN_DISTANCE`."""
    if not structure.composition.fractional_composition.almost_equals(composition.fractional_composition,
                                                                      rtol=1e-4, atol=1e-4):
        raise BuildError(f"composition {structure.composition.reduced_formula}, not {composition.reduced_formula}")
    if len(structure) > 1:
        distances = structure.distance_matrix[np.triu_indices(len(structure), 1)]
        if distances.min() < MIN_DISTANCE:
            raise BuildError(f"atoms {distances.min():.2f} Å apart")


def names(record: dict) -> dict[str, str]:
    """Strukturbericht symbol and the title as a name: ``$\\alpha$-Quartz (low Quartz) Structure``
    → ``alpha-Quartz (low Quartz)``."""
    title = re.sub(r"\$?_\{?([^}$]*)\}?\$?", r"\1", record.get("title") or "")  # Ti$_{6}$ → Ti6
    title = re.sub(r"\{?\\em\s+([^}]*)\}?", r"\1", title)
    title = clean_name(title.replace("\\cdot", "·").replace("``", "").replace("''", "").replace('\\"', ""))
    title = re.sub(r"\s*\((?:Obsolete|Original Page)\)|\s*Structure\b", "", title).strip(" '")
    symbol = clean_symbol(record.get("strukturbericht")).replace("``", "").replace("''", "").replace("`", "")
    return {"strukturbericht": symbol, "name": " ".join(title.split())}
