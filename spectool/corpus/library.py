"""pymatgen's library of AFLOW prototypes as structure types: labels, metadata, selection.

The library (288 entries: AFLOW id, Strukturbericht and Pearson symbols, mineral or common
name, and a structure) ships with pymatgen and is read from the installed package at run
time (``pymatgen.analysis.prototypes._data.AFLOW_PROTOTYPE_LIBRARY``); nothing of it is
copied into spectool. Loading it costs ~3 s, once per process.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from spectool.errors import UsageError


#: Library entries that describe another entry's structure, left out unless named:
#: AFLOW id → the type it repeats.
DUPLICATES = {"AB2_aP12_1_4a_8a": "C2 (pyrite, here in a P1 setting)"}


@dataclass(frozen=True)
class PrototypeType:
    """One structure type: its label (file-system safe, unique) and the prototype structure.

    ``spacegroup`` is the number in the AFLOW label; ``sites`` the number of sites in the
    library's cell (a primitive cell); ``structure`` a pymatgen ``Structure`` (Å).
    """

    label: str
    aflow: str
    strukturbericht: str
    pearson: str
    mineral: str
    formula: str
    spacegroup: int
    sites: int
    index: int  # position in the library, which keeps the listing order stable
    structure: object

    def row(self) -> dict[str, object]:
        """The metadata columns of types.csv and ``--list``."""
        from spectool.xrd.structures import crystal_system

        return {"label": self.label, "aflow": self.aflow, "strukturbericht": self.strukturbericht,
                "pearson": self.pearson, "mineral": self.mineral, "prototype_formula": self.formula,
                "spacegroup": self.spacegroup, "crystal_system": crystal_system(self.spacegroup),
                "sites": self.sites}


def clean_symbol(text: object) -> str:
    """A Strukturbericht symbol as printed: ``L\\'2`` → ``L'2``, ``"40"`` → ``40``, None → ``""``."""
    text = "" if text is None else str(text).replace("\\", "").replace('"', "").strip()
    return "" if text == "None" else text


def clean_name(text: object) -> str:
    """A mineral / common name without TeX: ``Frank-Kasper $\\mu$ Phase`` → ``Frank-Kasper mu Phase``."""
    text = re.sub(r"\\'\{?(\w)\}?", r"\1", str(text or ""))
    return re.sub(r"[\\${}]", "", text).strip()


def safe(text: str) -> str:
    """File-system-safe: a prime becomes ``prime``, anything else odd ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text.replace("'", "prime")).strip("-.")


def safe_formula(composition) -> str:
    """Reduced formula in electronegativity order without brackets or spaces:
    ``Cr(Fe9Ni4)2`` → ``CrFe18Ni8``, ``NaCl`` → ``NaCl``."""
    tokens = composition.reduced_composition.formula.split()
    return "".join(re.sub(r"(?<=[A-Za-z])1$", "", token) for token in tokens)


def make_labels(entries: list[tuple[str, str, str]]) -> list[str]:
    """Unique labels for (strukturbericht, aflow, formula) entries, in order.

    The Strukturbericht symbol where the library has it once; ``SYMBOL-AFLOW`` where two
    types share it; else the AFLOW id, with ``-FORMULA`` where two types share that id.
    """
    sb_count = Counter(safe(sb) for sb, _, _ in entries if sb)
    aflow_count = Counter(aflow for _, aflow, _ in entries)
    labels, used = [], Counter()
    for sb, aflow, formula in entries:
        if sb and sb_count[safe(sb)] == 1:
            label = safe(sb)
        elif sb:
            label = f"{safe(sb)}-{aflow}"
        else:
            label = aflow if aflow_count[aflow] == 1 else f"{aflow}-{formula}"
        used[label] += 1
        labels.append(label if used[label] == 1 else f"{label}-{used[label]}")
    return labels


@lru_cache(maxsize=1)
def load_library() -> tuple[PrototypeType, ...]:
    """Every structure type of the installed pymatgen's AFLOW library, in library order."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymatgen.analysis.prototypes._data import AFLOW_PROTOTYPE_LIBRARY

        raw = [(entry["tags"], entry["snl"].structure) for entry in AFLOW_PROTOTYPE_LIBRARY]
    entries = [(clean_symbol(t.get("strukturbericht")), str(t["aflow"]), safe_formula(s.composition))
               for t, s in raw]
    out = []
    for index, ((tags, structure), label, (sb, aflow, _)) in enumerate(zip(raw, make_labels(entries), entries)):
        out.append(PrototypeType(label=label, aflow=aflow, strukturbericht=sb, pearson=str(tags.get("pearson", "")),
                                 mineral=clean_name(tags.get("mineral")), formula=structure.composition.reduced_formula,
                                 spacegroup=int(aflow.split("_")[2]), sites=len(structure), index=index,
                                 structure=structure))
    return tuple(out)


def select_types(library: tuple[PrototypeType, ...] | list[PrototypeType], names: list[str] | None = None,
                 max_sites: int | None = None, min_sites: int = 1,
                 exclude_duplicates: bool = True) -> list[PrototypeType]:
    """The types named in ``names`` (labels, AFLOW ids, Strukturbericht symbols or mineral
    names, any case; all types when None) with ``min_sites`` ≤ sites ≤ ``max_sites``.
    :data:`DUPLICATES` are left out unless named by label or AFLOW id.

    Raises :class:`UsageError` for a name that matches no type.
    """
    def allowed(kind: PrototypeType, name: str | None = None) -> bool:
        named = name is not None and name.strip().casefold() in (kind.label.casefold(), kind.aflow.casefold())
        return named or not (exclude_duplicates and kind.aflow in DUPLICATES)

    chosen = [t for t in library if allowed(t)]
    if names:
        wanted: set[int] = set()
        for name in names:
            hits = [t.index for t in library if _matches(t, name) and allowed(t, name)]
            if not hits:
                raise UsageError(f"--types: no structure type {name!r}; see spectool corpus prototypes --list")
            wanted.update(hits)
        chosen = [t for t in library if t.index in wanted]
    return [t for t in chosen if min_sites <= t.sites and (max_sites is None or t.sites <= max_sites)]


def _matches(kind: PrototypeType, name: str) -> bool:
    key = name.strip().casefold()
    minerals = {m.strip().casefold() for m in kind.mineral.split(",")} | {kind.mineral.casefold()}
    return key in {kind.label.casefold(), kind.aflow.casefold(), kind.strukturbericht.casefold()} | minerals
