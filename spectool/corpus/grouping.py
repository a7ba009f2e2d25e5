"""Analysed entries → structure types: grouped by type key, named, capped, split by whole compound.

A type is every entry of one structure: entries whose type keys (:mod:`spectool.corpus.typekey`)
differ only in how species share out the same Wyckoff orbits (one decoration key: sanidine and
orthoclase, whose Al and Si order differently over the same tetrahedra; diopside and kushiroite) and
whose atoms sit on the same positions (:func:`same_structure`) are one type, keyed by its first
entry's key. It is named by the mineral
names its entries carry (the commonest; AMCSD and CIF folders), else the AFLOW Strukturbericht
symbol, else the AFLOW title. Entries without any name (e.g. Materials Project structures) only
add compounds to types that a named entry defines. A compound is the reduced formula of the
ordered, H-free structure; a type keeps at most ``per_type`` entries, one per compound first
(AFLOW's prototype leading), and puts round(``holdout`` × compounds) whole compounds in test,
never the first. Deterministic for ``seed``; the order of the entries does not matter.
"""

from __future__ import annotations

import re
import warnings
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from spectool.corpus.library import safe
from spectool.corpus.sources import SOURCE_ORDER, Analysed
from spectool.corpus.typekey import ENANTIOMORPHS, decoration_key

MAX_NAMES = 5  # mineral / compound names listed per type
#: Two structures of one decoration key are one type where pymatgen's StructureMatcher matches them as
#: frameworks (species ignored, volumes scaled to each other) within these tolerances (fractional
#: length, site distance in units of (V/N)^(1/3), degrees): calcite (c/a 3.4) and LaAlO3 (2.4) do not.
MATCH_TOLERANCES = {"ltol": 0.2, "stol": 0.3, "angle_tol": 5.0}  # pymatgen's defaults


@dataclass
class LibraryType:
    """One structure type of the library and the entries chosen for it, each with its split."""

    key: str
    label: str
    names: list[str]
    strukturbericht: str
    title: str
    entries: list[Analysed]
    splits: list[str] = field(default_factory=list)
    known: Counter = field(default_factory=Counter)  # every name of the type's structures → how many

    def name_rows(self) -> list[dict[str, object]]:
        """names.csv rows: each mineral or prototype name of the type's structures, chosen or not."""
        return [{"name": name, "label": self.label, "structures": n}
                for name, n in sorted(self.known.items(), key=lambda item: (-item[1], item[0]))]

    def row(self) -> dict[str, object]:
        """The types.csv row."""
        from spectool.xrd.structures import crystal_system

        spacegroup = int(self.key.split("_")[2])
        compounds = {e.compound for e in self.entries}
        return {"label": self.label, "key": self.key, "mineral": ", ".join(self.names),
                "strukturbericht": self.strukturbericht, "aflow_title": self.title,
                "spacegroup": spacegroup, "crystal_system": crystal_system(spacegroup),
                "sites": self.entries[0].sites, "examples": ", ".join(sorted(compounds)[:MAX_NAMES]),
                "compounds": len(compounds), "structures": len(self.entries),
                "train": self.splits.count("train"), "test": self.splits.count("test"),
                "sources": " ".join(sorted({e.source for e in self.entries}, key=SOURCE_ORDER.index))}


def stable_key(text: str) -> int:
    """A 32-bit key of a string, the same in every process."""
    return zlib.crc32(text.encode())


def mineral_name(name: str) -> str:
    """A source's mineral name as a type name: ``quartz`` → ``Quartz``; ``<missing>`` → ``""``."""
    name = " ".join(name.replace("<missing>", "").split())
    return name[:1].upper() + name[1:] if name else ""


@lru_cache(maxsize=1)
def _matcher():
    from pymatgen.analysis.structure_matcher import FrameworkComparator, StructureMatcher

    return StructureMatcher(**MATCH_TOLERANCES, primitive_cell=False, scale=True, attempt_supercell=False,
                            comparator=FrameworkComparator())


def _structure(entry: Analysed):
    """The entry's primitive cell as a pymatgen ``Structure``, or None without one."""
    if entry.cell is None:
        return None
    from pymatgen.core import Structure

    lattice, frac, numbers = entry.cell
    return Structure(lattice, numbers, frac)


def same_structure(a, b, same_key: bool = True) -> bool:
    """Whether two structures of one decoration key (pymatgen ``Structure`` from :func:`_structure`) are one
    structure (:data:`MATCH_TOLERANCES`). A missing one, or two the matcher cannot compare, count as one
    where their type keys are the same (``same_key``: a failure never splits a type), else as two (nor
    does it join two decorations)."""
    if a is None or b is None:
        return same_key
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(_matcher().fit(a, b))
    except Exception:  # pymatgen's matcher raises on degenerate lattices
        return same_key


def structural_groups(bucket: list[Analysed]) -> list[list[Analysed]]:
    """The entries of one decoration key in groups of one structure, each entry with the first group whose
    first entry it matches (as pymatgen's ``group_structures`` does), groups in order of their first entry."""
    groups: list[tuple[object, list[Analysed]]] = []  # (first entry's structure, entries)
    for entry in bucket:
        structure = _structure(entry)
        home = next((members for first, members in groups
                     if same_structure(first, structure, members[0].key == entry.key)), None)
        if home is None:
            groups.append((structure, [entry]))
        else:
            home.append(entry)
    return [members for _, members in groups]


def group(entries: list[Analysed]) -> dict[str, list[Analysed]]:
    """Entries by decoration key (:func:`~spectool.corpus.typekey.decoration_key`), each list in a fixed
    order (source, then id)."""
    buckets: dict[str, list[Analysed]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: (SOURCE_ORDER.index(e.source), e.id)):
        buckets[decoration_key(entry.key)].append(entry)
    return dict(buckets)


def name_type(entries: list[Analysed]) -> tuple[list[str], str, str]:
    """(mineral names, Strukturbericht symbol, AFLOW title) of a type's entries. The names go by
    frequency, except that the mineral an AFLOW prototype of the type is named after, or whose
    compound it is, comes first when the sources name it: the type of rutile, cassiterite and
    tapiolite is "Rutile"; rock salt's (prototype NaCl) is "Halite", not the commoner "Periclase"."""
    minerals = Counter(mineral_name(e.name) for e in entries if e.source != "aflow" and mineral_name(e.name))
    aflow = [e for e in entries if e.source == "aflow"]
    strukturbericht = next((e.strukturbericht for e in aflow if e.strukturbericht), "")
    prototypes = {_short(e.name).casefold() for e in aflow}
    compounds = {e.compound for e in aflow}
    prototypes |= {mineral_name(e.name).casefold() for e in entries if e.source != "aflow" and e.compound in compounds}
    names = [n for n, _ in sorted(minerals.items(), key=lambda item: (item[0].casefold() not in prototypes,
                                                                      -item[1], item[0]))]
    return names[:MAX_NAMES], strukturbericht, type_title([e.name for e in aflow], names[0] if names else "")


def type_title(titles: list[str], mineral: str) -> str:
    """The AFLOW title a type shows: the first of its prototypes' ``titles`` that names its ``mineral``
    (``Rock Salt/Halite (NaCl, B1)`` for Halite, not ``Low Temperature KBD4``), else the first; '' for none.
    The label never depends on it where the type has a mineral name (:func:`base_label`)."""
    word = re.compile(rf"\b{re.escape(mineral)}\b", re.IGNORECASE) if mineral else None
    return next((t for t in titles if word and word.search(_short(t))), titles[0] if titles else "")


def _shape(label: str) -> tuple:
    """(sorted formula counts, Pearson symbol, space group) of an AFLOW label or a type key."""
    formula, pearson, spacegroup = label.split("-")[0].split("_")[:3]
    counts = sorted(int(n or 1) for n in re.findall(r"[A-Z](\d*)", formula))
    number = int(spacegroup)
    return counts, pearson, ENANTIOMORPHS.get(number, number)


def priority(entry: Analysed, key: str, name: str) -> int:
    """0: the type's own AFLOW prototype (its label has the key's formula, Pearson symbol and space
    group: the Halite type's NaCl, not low-temperature KBD4 that is rock salt once H is left out);
    1: a structure named like the type (``name``, its first mineral name); 2: another named mineral;
    3: the rest."""
    try:
        own = entry.source == "aflow" and _shape(entry.origin) == _shape(key)
    except ValueError:
        own = False
    if own:
        return 0
    names = {mineral_name(entry.name).casefold(), _short(entry.name).casefold()} - {""}
    if name and name.casefold() in names:
        return 1
    return 2 if names and entry.source != "aflow" else 3


def choose(entries: list[Analysed], per_type: int, seed: int, key: str,
           tiers: list[int] | None = None) -> list[Analysed]:
    """At most ``per_type`` entries, round-robin over compounds so that many compounds come in;
    compounds by their best :func:`priority` (``tiers``, one per entry; default: entries in order),
    then in a seeded order."""
    tiers = tiers if tiers is not None else [0] + [3] * (len(entries) - 1)
    by_compound: dict[str, list[Analysed]] = defaultdict(list)
    rank: dict[str, int] = {}
    for tier, entry in sorted(zip(tiers, entries), key=lambda item: item[0]):
        by_compound[entry.compound].append(entry)
        rank[entry.compound] = min(rank.get(entry.compound, tier), tier)
    compounds = list(by_compound)
    seeded = np.random.default_rng([seed, stable_key(key), 2]).permutation(len(compounds))
    order = [compounds[i] for i in sorted(range(len(compounds)), key=lambda i: (rank[compounds[i]], seeded[i]))]
    chosen: list[Analysed] = []
    depth = 0
    while len(chosen) < min(per_type, len(entries)):
        chosen += [by_compound[c][depth] for c in order if depth < len(by_compound[c])]
        depth += 1
    return chosen[:per_type]


def split(entries: list[Analysed], holdout: float, seed: int, key: str,
          protected: set[str] | None = None) -> list[str]:
    """``train``/``test`` per entry: round(``holdout`` × compounds) whole compounds in test, never a
    ``protected`` one (default: the first entry's), chosen by a generator seeded with ``(seed, type key, 1)``."""
    compounds = list(dict.fromkeys(e.compound for e in entries))
    protected = protected if protected is not None else set(compounds[:1])
    others = [c for c in compounds if c not in protected]
    n_test = min(len(others), int(round(holdout * len(compounds))))
    order = np.random.default_rng([seed, stable_key(key), 1]).permutation(len(others))
    test = {others[i] for i in order[:n_test]}
    return ["test" if e.compound in test else "train" for e in entries]


def build_types(entries: list[Analysed], per_type: int, holdout: float, seed: int,
                mapper=map) -> tuple[list[LibraryType], int]:
    """The library's types in label order, and how many entries were left out for having no name
    in their type. ``mapper`` maps :func:`structural_groups` over the decoration keys' buckets (a pool's map)."""
    types, unnamed = [], 0
    buckets = group(entries)
    for parts in mapper(structural_groups, list(buckets.values())):
        seen: Counter = Counter()
        for bucket in parts:  # a type is keyed by its first entry's key, ``#n`` for the n-th of one key
            key = bucket[0].key
            seen[key] += 1
            kind = _library_type(key if seen[key] == 1 else f"{key}#{seen[key]}", bucket, per_type, holdout, seed)
            if kind is None:
                unnamed += len(bucket)
            else:
                types.append(kind)
    for kind, label in zip(types, unique_labels(types)):
        kind.label = label
    return sorted(types, key=lambda t: t.label.casefold()), unnamed


def _library_type(key: str, bucket: list[Analysed], per_type: int, holdout: float, seed: int) -> LibraryType | None:
    """One type from the entries of one structure, or None where no entry names it."""
    names, strukturbericht, title = name_type(bucket)
    if not (names or strukturbericht or title):
        return None
    tiers = [priority(e, key, names[0] if names else _short(title)) for e in bucket]
    chosen = choose(bucket, per_type, seed, key, tiers)
    tier = {id(e): t for e, t in zip(bucket, tiers)}
    protected = {e.compound for e in chosen if tier[id(e)] <= 1} or {chosen[0].compound}
    known = Counter(mineral_name(e.name) for e in bucket if mineral_name(e.name))
    return LibraryType(key, "", names, strukturbericht, title, chosen,
                       split(chosen, holdout, seed, key, protected), known)


def base_label(kind: LibraryType) -> str:
    """A type's label before de-duplication: mineral name, Strukturbericht symbol, title, key."""
    for text in (kind.names[0] if kind.names else "", kind.strukturbericht, _short(kind.title), kind.key):
        if safe(text):
            return safe(text)
    return kind.key


def _short(title: str) -> str:
    """An AFLOW title without bracketed formulas: ``Bixbyite (Mn2O3, D5_3)`` → ``Bixbyite``."""
    return re.sub(r"\s*[\[(].*", "", title).strip()[:60]


def unique_labels(types: list[LibraryType]) -> list[str]:
    """File-system-safe unique labels: the base label, ``-SPACEGROUP`` where two types share it
    (most structures keep the bare name), then ``-KEY``."""
    bases = [base_label(t) for t in types]
    owners: dict[str, int] = {}
    for i, (base, kind) in enumerate(zip(bases, types)):
        if base not in owners or len(kind.entries) > len(types[owners[base]].entries):
            owners[base] = i
    labels = []
    for i, (base, kind) in enumerate(zip(bases, types)):
        labels.append(base if owners[base] == i else f"{base}-{kind.key.split('_')[2]}")
    counts = Counter(labels)
    return [label if counts[label] == 1 else f"{label}-{safe(kind.key)}" for label, kind in zip(labels, types)]
