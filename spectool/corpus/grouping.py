"""Analysed entries → structure types: grouped by type key, named, capped, split by whole compound.

A type is every entry with one key (:mod:`spectool.corpus.typekey`). It is named by the mineral
names its entries carry (the commonest; AMCSD and CIF folders), else the AFLOW Strukturbericht
symbol, else the AFLOW title. Entries without any name (e.g. Materials Project structures) only
add compounds to types that a named entry defines. A compound is the reduced formula of the
ordered, H-free structure; a type keeps at most ``per_type`` entries, one per compound first
(AFLOW's prototype leading), and puts round(``holdout`` × compounds) whole compounds in test,
never the first. Deterministic for ``seed``; the order of the entries does not matter.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from spectool.corpus.library import safe
from spectool.corpus.sources import SOURCE_ORDER, Analysed

MAX_NAMES = 5  # mineral / compound names listed per type


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


def group(entries: list[Analysed]) -> dict[str, list[Analysed]]:
    """Entries by type key, each list in a fixed order (source, then id)."""
    buckets: dict[str, list[Analysed]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: (SOURCE_ORDER.index(e.source), e.id)):
        buckets[entry.key].append(entry)
    return dict(buckets)


def name_type(entries: list[Analysed]) -> tuple[list[str], str, str]:
    """(mineral names, Strukturbericht symbol, AFLOW title) of a type's entries. The names go by
    frequency, except that the mineral an AFLOW prototype of the type is named after, or whose
    compound it is, comes first when the sources name it: the type of rutile, cassiterite and
    tapiolite is "Rutile"; rock salt's (prototype NaCl) is "Halite", not the commoner "Periclase"."""
    minerals = Counter(mineral_name(e.name) for e in entries if e.source != "aflow" and mineral_name(e.name))
    aflow = [e for e in entries if e.source == "aflow"]
    strukturbericht = next((e.strukturbericht for e in aflow if e.strukturbericht), "")
    title = aflow[0].name if aflow else ""
    prototypes = {_short(e.name).casefold() for e in aflow}
    compounds = {e.compound for e in aflow}
    prototypes |= {mineral_name(e.name).casefold() for e in entries if e.source != "aflow" and e.compound in compounds}
    names = [n for n, _ in sorted(minerals.items(), key=lambda item: (item[0].casefold() not in prototypes,
                                                                      -item[1], item[0]))]
    return names[:MAX_NAMES], strukturbericht, title


def choose(entries: list[Analysed], per_type: int, seed: int, key: str) -> list[Analysed]:
    """At most ``per_type`` entries, round-robin over compounds so that many compounds come in;
    compounds in a seeded order, the one of the first entry (AFLOW's prototype, if any) first."""
    by_compound: dict[str, list[Analysed]] = defaultdict(list)
    for entry in entries:
        by_compound[entry.compound].append(entry)
    first, *rest = list(by_compound)
    order = [first] + [rest[i] for i in np.random.default_rng([seed, stable_key(key), 2]).permutation(len(rest))]
    chosen: list[Analysed] = []
    depth = 0
    while len(chosen) < min(per_type, len(entries)):
        chosen += [by_compound[c][depth] for c in order if depth < len(by_compound[c])]
        depth += 1
    return chosen[:per_type]


def split(entries: list[Analysed], holdout: float, seed: int, key: str) -> list[str]:
    """``train``/``test`` per entry: round(``holdout`` × compounds) whole compounds in test, never
    the first entry's, chosen by a generator seeded with ``(seed, type key, 1)``."""
    compounds = list(dict.fromkeys(e.compound for e in entries))
    others = compounds[1:]
    n_test = min(len(others), int(round(holdout * len(compounds))))
    order = np.random.default_rng([seed, stable_key(key), 1]).permutation(len(others))
    test = {others[i] for i in order[:n_test]}
    return ["test" if e.compound in test else "train" for e in entries]


def build_types(entries: list[Analysed], per_type: int, holdout: float, seed: int) -> tuple[list[LibraryType], int]:
    """The library's types in label order, and how many entries were left out for having no name
    in their type."""
    types, unnamed = [], 0
    for key, bucket in group(entries).items():
        names, strukturbericht, title = name_type(bucket)
        if not (names or strukturbericht or title):
            unnamed += len(bucket)
            continue
        chosen = choose(bucket, per_type, seed, key)
        known = Counter(mineral_name(e.name) for e in bucket if mineral_name(e.name))
        kind = LibraryType(key, "", names, strukturbericht, title, chosen, split(chosen, holdout, seed, key), known)
        types.append(kind)
    for kind, label in zip(types, unique_labels(types)):
        kind.label = label
    return sorted(types, key=lambda t: t.label.casefold()), unnamed


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
    return [label if counts[label] == 1 else f"{label}-{kind.key}" for label, kind in zip(labels, types)]
