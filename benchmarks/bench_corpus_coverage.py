"""Coverage of the measured RockJock references by the structure-type library, before and after.

    spectool corpus library --aflow --amcsd --cifs ../shared/data/cifs/openchemistry-crystals \
        --cifs ../shared/data/cifs/mp-prototypes --labels benchmarks/data/iza_framework_minerals.csv \
        -o build/library -j 2
    python benchmarks/bench_corpus_coverage.py --library build/library

The label table names the zeolite frameworks of openchemistry-crystals (IZA codes) after the
mineral of each framework type; the frameworks are idealised SiO2, without Al or cations.

A crystalline reference is covered when its mineral names a structure type of the library:
the library's names.csv (every mineral or prototype name its sources gave, and the type each
structure fell in) holds one of the names accepted for it below. "Before" is the default model's
278 AFLOW part-1 types: the references bench_default_model.py maps to them, plus any whose names
pymatgen's AFLOW library lists as a mineral. Non-crystalline references (backgrounds, glasses,
tephra, opal, organic matter) are left out. Target (issue #15): coverage >= 90 %.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()), ROOT.parent / "shared")
LABELS = SHARED / "data" / "xrd" / "rockjock" / "rockjock_refs_labels.csv"

NON_CRYSTALLINE = {"Background", "Opal", "Obsidian", "Glass", "Tephra", "Peat", "Charcoal", "Diatoms", "Kerogen",
                   "Fulvic", "Humic", "Organic matter"}

# Reference id → mineral names accepted for it (lower case). Where a reference is a variety or a
# series member of a mineral the sources name, the end member(s) of its structure type are listed;
# the default is the reference's own name.
ACCEPTED = {
    "ORDERED_MICROCLINE": ["microcline"], "INTERMEDIATE_MICROCLINE": ["microcline"], "SANIDINE": ["sanidine"],
    "ALBITE_CLEAVELANDITE": ["albite"], "OLIGOCLASE_NC": ["oligoclase", "albite"],
    "OLIGOCLASE_NORWAY": ["oligoclase", "albite"], "ANDESINE": ["andesine", "albite"],
    "LABRADORITE": ["labradorite", "anorthite"], "BYTOWNITE": ["bytownite", "anorthite"],
    "MG_CALCITE": ["calcite"], "FE_DOLOMITE": ["dolomite", "ankerite"], "ANKERITE": ["ankerite", "dolomite"],
    "DISORDERED_KAOLINITE": ["kaolinite"], "ORD_KAOLINITE": ["kaolinite"], "KAOLINITE_DRY_BRANCH": ["kaolinite"],
    "NA_MONTMORILLONITE": ["montmorillonite"], "CA_MONTMORILLONITE": ["montmorillonite"],
    "MONTMORILLONITE_WYO": ["montmorillonite"], "SMECTITE_AND_AMORPH_BETTASO": ["montmorillonite"],
    "FERRUGINOUS_SMECTITE": ["nontronite"], "SAPONITE": ["saponite"], "HECTORITE": ["hectorite"],
    "TOBELITE": ["tobelite", "illite"], "GLAUCONITE": ["glauconite", "celadonite"],
    "BIOTITE_1M": ["biotite", "annite", "phlogopite"], "BIOTITE_2M1_WEB_PASS": ["biotite", "annite", "phlogopite"],
    "PHLOGOPITE_2M1": ["phlogopite"], "PYROPHYLLITE": ["pyrophyllite"],
    "CHLORITE_CCA_1": ["clinochlore", "chamosite", "chlorite"], "CHLORITE_CCA_2": ["clinochlore", "chamosite", "chlorite"],
    "CHLORITE_CMM": ["clinochlore", "chamosite", "chlorite"], "CHLORITE_CO": ["clinochlore", "chamosite", "chlorite"],
    "FE_CHLORITE_TUSC": ["chamosite", "clinochlore"], "MG_CHLORITE_LUZENAC": ["clinochlore"],
    "MG_CHLORITE_CLINOCHLORE_WEB_PASS": ["clinochlore"], "SERPENTINE": ["lizardite", "chrysotile", "antigorite"],
    "BERTHIERINE": ["berthierine"], "AMPHIBOLE": ["tremolite", "actinolite", "hornblende", "pargasite", "edenite"],
    "TREMOLITE": ["tremolite"], "ACTINOLITE_TREMOLITE": ["actinolite", "tremolite"],
    "HORNBLENDE": ["hornblende", "pargasite", "edenite", "magnesiohornblende", "magnesio-hornblende"],
    "PYROXENE_DIOPSIDE": ["diopside"], "AUGITE": ["augite"], "ENSTATITE": ["enstatite"],
    "HYPERSTHENE": ["hypersthene", "enstatite", "ferrosilite"], "HEDENBERGITE": ["hedenbergite"],
    "FLUORAPATITE": ["fluorapatite", "apatite"], "FOSTERITE": ["forsterite"], "GROSSULAR_GARNET": ["grossular"],
    "ALMANDINE_GARNET": ["almandine"], "CLINOPTILOLITE_HECTOR": ["clinoptilolite", "heulandite"],
    "ANDALUCITE": ["andalusite"], "BOEHMITE_CALC": ["boehmite", "bohmite"],  # AMCSD spells it Bohmite
    "HEMATITE_FINE": ["hematite"], "HALLOYSITE": ["halloysite", "halloysite-7a", "halloysite-10a"],  # either hydration state
    "SULFUR": ["sulfur", "sulphur"], "TRIDYMITE_POOR": ["tridymite"], "PSILOMELANE": ["romanechite", "psilomelane"],
    "BUDDINGTONITE": ["buddingtonite"], "TOURMALINE": ["schorl", "dravite", "elbaite", "tourmaline"],
    "FERRIHYDRITE_HUMBUG_CREEK": ["ferrihydrite"], "CHERT_8_4_NMA2": ["quartz"], "CHERT_13_1_A5": ["quartz"],
    "CHERT_15_1_NM_A10": ["quartz"], "RECTORITE_LOG_CREEK": ["rectorite"], "RECTORITE_ROGUE_MINE": ["rectorite"],
    "IRON": ["iron", "alpha-iron"], "SILVER": ["silver"], "GRAPHITE": ["graphite"],
}


# Names of other minerals of the same structure type (isotypes), counted only in the second figure:
# maximum microcline and low albite are both ordered C-1 feldspars; sanidine, orthoclase and
# buddingtonite (the NH4 feldspar) are C2/m feldspars; clinoptilolite has heulandite's framework.
ISOTYPES = {
    "ORDERED_MICROCLINE": ["albite"], "INTERMEDIATE_MICROCLINE": ["albite"], "SANIDINE": ["orthoclase"],
    "BUDDINGTONITE": ["sanidine", "orthoclase"],
}


def references() -> list[tuple[str, str]]:
    """(id, name) of the crystalline references."""
    with open(LABELS, newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["phase_id"], r["phase_name"]) for r in rows if r["phase_name"] not in NON_CRYSTALLINE]


def accepted(phase_id: str, name: str, isotypes: bool = False) -> list[str]:
    return ACCEPTED.get(phase_id, [name.casefold()]) + (ISOTYPES.get(phase_id, []) if isotypes else [])


def library_names(folder: Path) -> dict[str, str]:
    """Lower-case name → type label, from a library's names.csv (most structures first)."""
    out: dict[str, str] = {}
    with open(folder / "names.csv", newline="") as f:
        for row in csv.DictReader(f):
            for part in _parts(row["name"]):
                out.setdefault(part, row["label"])
    return out


def library_label_sets(folder: Path) -> dict[str, set[str]]:
    """Lower-case name → every type label whose structures carry it (a mineral can name two types:
    α-quartz in P3₁21 and in P3₂21, enantiomorphs with one powder pattern, are two keys)."""
    out: dict[str, set[str]] = {}
    with open(folder / "names.csv", newline="") as f:
        for row in csv.DictReader(f):
            for part in _parts(row["name"]):
                out.setdefault(part, set()).add(row["label"])
    return out


def _parts(name: str) -> list[str]:
    """A name and its leading word: ``Quartz low`` → [``quartz low``, ``quartz``]; ``alpha-Quartz (low
    Quartz)`` → also ``quartz``."""
    import re

    text = name.casefold().strip()
    words = re.findall(r"[a-z][a-z-]+", text)
    bare = [w.split("-", 1)[1] if w.startswith(("alpha-", "beta-", "gamma-", "low-", "high-")) else w for w in words]
    return [text] + bare[:1]


def before_names() -> dict[str, str]:
    """Names covered by the default model's types: bench_default_model's mapping, and pymatgen's minerals."""
    from benchmarks.bench_default_model import MEASURED
    from spectool.corpus.library import load_library

    out = {phase_id.casefold(): label for phase_id, label in MEASURED.items()}
    for kind in load_library():
        for mineral in kind.mineral.split(","):
            for part in _parts(mineral):
                out.setdefault(part, kind.label)
    return out


def coverage(refs: list[tuple[str, str]], names: dict[str, str], isotypes: bool = False):
    """(covered (id, label) pairs, uncovered 'ID (name)' strings)."""
    covered, missing = [], []
    for phase_id, name in refs:
        hit = names.get(phase_id.casefold()) or next(
            (names[n] for n in accepted(phase_id, name, isotypes) if n in names), None)
        (covered.append((phase_id, hit)) if hit else missing.append(f"{phase_id} ({name})"))
    return covered, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, required=True, help="a folder made by spectool corpus library")
    args = parser.parse_args()
    refs = references()
    old = before_names()
    before, _ = coverage(refs, old)
    names = library_names(args.library)
    after, missing = coverage(refs, names)
    with_isotypes, missing_isotypes = coverage(refs, names, isotypes=True)
    n = len(refs)
    print(f"crystalline RockJock references: {n} (of 168; non-crystalline left out: {', '.join(sorted(NON_CRYSTALLINE))})")
    print(f"before (default model, 278 AFLOW part-1 types): {len(before)}/{n} = {100 * len(before) / n:.1f} %")
    print(f"after  ({args.library}): {len(after)}/{n} = {100 * len(after) / n:.1f} %   target >= 90 %: "
          f"{'met' if len(after) >= 0.9 * n else 'NOT met'}")
    print(f"after, counting isotypes ({', '.join(ISOTYPES)}): {len(with_isotypes)}/{n} = "
          f"{100 * len(with_isotypes) / n:.1f} %")
    print(f"uncovered after ({len(missing)}): {', '.join(missing) or 'none'}")
    types = sorted({label for _, label in after})
    print(f"library types naming the covered references: {len(types)}")


if __name__ == "__main__":
    main()
