"""Entries of the structure-type library: one structure from one source, analysed on its own.

An :class:`Entry` is what a source gives (an AFLOW encyclopedia record, an AMCSD row as CIF text,
a CIF file); :func:`analyse` turns it into a :class:`Analysed` row: the structure as CIF text
to write, its reduced formula, its compound (the reduced formula of the ordered, H-free structure)
and its type key (:func:`type_key`). Pure functions of their arguments, so a process pool can run
them in any order.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

from spectool.corpus.typekey import primitive_sites, type_key
from spectool.errors import FormatError, SpectoolError

SOURCE_ORDER = ("aflow", "amcsd", "cifs")
LICENCES = {
    "aflow": "AFLOW Encyclopedia of Crystallographic Prototypes (Mehl 2017; Hicks 2019, 2021), via kim-tools "
             "(CDDL-1.0)",
    "amcsd": "AMCSD: free for scientific use with attribution to the article cited",
}
CITATIONS = {
    "aflow": ["M. J. Mehl et al., The AFLOW Library of Crystallographic Prototypes: Part 1, Comput. Mater. Sci. 136, "
              "S1-S828 (2017)",
              "D. Hicks et al., The AFLOW Library of Crystallographic Prototypes: Part 2, Comput. Mater. Sci. 161, "
              "S1-S1011 (2019)",
              "D. Hicks et al., The AFLOW Library of Crystallographic Prototypes: Part 3, Comput. Mater. Sci. 199, "
              "110450 (2021)"],
    "amcsd": ["R. T. Downs and M. Hall-Wallace, The American Mineralogist Crystal Structure Database, Am. Mineral. "
              "88, 247-250 (2003); and the article each structure cites (manifest.csv, reference)"],
}
#: Sites whose total occupancy is below this are left out of the type key (split or partial positions).
MIN_OCCUPANCY = 0.5


@dataclass
class Entry:
    """One structure from a source. ``payload`` is an AFLOW record (dict) or CIF text."""

    id: str
    source: str  # aflow | amcsd | cifs
    payload: object
    name: str = ""  # mineral or structure-type name, "" if the source gives none
    strukturbericht: str = ""
    reference: str = ""
    licence: str = ""
    origin: str = ""  # path or database code


@dataclass
class Analysed:
    """An entry with its structure read: the row that grouping and the manifest need."""

    id: str
    source: str
    name: str
    strukturbericht: str
    reference: str
    licence: str
    origin: str
    formula: str
    compound: str
    key: str
    spacegroup: int
    sites: int  # sites in the ordered primitive cell
    text: str = field(repr=False)
    #: The ordered, H-free primitive cell: (lattice (3, 3) Å, fractional coordinates (N, 3), atomic
    #: numbers (N,)), for matching structures of one key (:func:`spectool.corpus.grouping.same_structure`).
    cell: tuple | None = field(default=None, repr=False, compare=False)


#: Occupancies summing up to this on one position are rescaled to 1 (the CIF is then rewritten,
#: so that readers with the usual tolerance take it).
OCCUPANCY_TOLERANCE = 2.0


def structure_from_cif(text: str, occupancy_tolerance: float = 1.0):
    """The first structure of a CIF text (pymatgen, conventional cell), an atom listed twice read
    once (:func:`without_repeats`); :class:`FormatError` if none."""
    return without_repeats(_parsed(text, occupancy_tolerance))


def _parsed(text: str, occupancy_tolerance: float = 1.0):
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structures = CifParser.from_str(text, occupancy_tolerance=occupancy_tolerance).parse_structures(
                primitive=False)
        except Exception as error:  # pymatgen raises many kinds on a bad CIF; each is a bad input here
            raise FormatError(f"unreadable CIF: {str(error).splitlines()[0][:120] if str(error) else error!r}")
    if not structures or len(structures[0]) == 0:
        raise FormatError("no structure in the CIF")
    return structures[0]


REPEAT_TOLERANCE = 0.01  # Å: one atom listed twice (e.g. 0.3333 and 1/3 expanded by symmetry)


def without_repeats(structure):
    """The structure without the sites that repeat an earlier site of the same species within
    :data:`REPEAT_TOLERANCE` (CIFs of the IZA frameworks list some atoms twice, rounded differently);
    different species on one position (a shared site) are kept."""
    import numpy as np

    if len(structure) < 2:
        return structure
    close = np.argwhere(np.triu(structure.distance_matrix < REPEAT_TOLERANCE, k=1))
    repeats = sorted({int(j) for i, j in close if structure[int(i)].species == structure[int(j)].species})
    if repeats:
        structure = structure.copy()
        structure.remove_sites(repeats)
    return structure


def ordered(structure):
    """The structure as the type key sees it: each site its majority species, sites with total
    occupancy below :data:`MIN_OCCUPANCY` and hydrogen left out (X-rays barely see H, and
    sources differ in whether they locate it). Raises :class:`FormatError` if nothing is left."""
    from pymatgen.core import Structure

    species, coords = [], []
    for site in structure:
        amounts = site.species.get_el_amt_dict()
        if sum(amounts.values()) < MIN_OCCUPANCY - 1e-6:
            continue
        element = max(sorted(amounts), key=lambda e: amounts[e])
        if element not in ("H", "D"):
            species.append(element)
            coords.append(site.frac_coords)
    if not species:
        raise FormatError("no ordered non-hydrogen sites")
    return Structure(structure.lattice, species, coords)


def cif_of_structure(structure, block: str, comment: str = "") -> str:
    """A structure as CIF text (pymatgen's ``CifWriter``, symmetrised), data block ``block``."""
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            text = str(CifWriter(structure, symprec=0.01))
        except Exception:  # symmetry finding can fail on a good structure: fall back to P1
            text = str(CifWriter(structure))
    lines = [f"data_{block}" if line.startswith("data_") else line for line in text.splitlines()]
    header = [f"# {line}" for line in comment.splitlines()]
    return "\n".join(header + lines) + "\n"


def analyse(entry: Entry) -> Analysed:
    """Read and key one entry. Raises :class:`SpectoolError` (with the reason) for an entry that
    cannot be built, read or keyed."""
    from spectool.corpus import aflow

    if entry.source == "aflow":
        structure = aflow.build(entry.payload)
        text = cif_of_structure(structure, entry.id.replace(":", "_"),
                                f"{entry.name} ({entry.payload['label']})\nsource: {LICENCES['aflow']}")
    else:
        text = str(entry.payload)
        try:
            structure, change = _parsed(text), "atoms listed twice read once"
        except FormatError:  # e.g. occupancies summing past 1: read leniently, write the CIF anew
            structure, change = _parsed(text, OCCUPANCY_TOLERANCE), "occupancies rescaled to 1"
            text = ""
        single = without_repeats(structure)
        if not text or len(single) < len(structure):  # written anew, so that every reader sees this structure
            text = cif_of_structure(single, entry.id, f"{entry.name} ({entry.origin}, {change})"
                                                      f"\nreference: {entry.reference}")
        structure = single
    simulable(structure)
    simple = ordered(structure)
    key = type_key(simple)
    return Analysed(id=entry.id, source=entry.source, name=entry.name, strukturbericht=entry.strukturbericht,
                    reference=entry.reference, licence=entry.licence, origin=entry.origin,
                    formula=structure.composition.reduced_formula, compound=simple.composition.reduced_formula,
                    key=key, spacegroup=int(key.split("_")[2]), sites=primitive_sites(key),
                    text=text, cell=primitive_cell(simple))


def primitive_cell(structure) -> tuple:
    """spglib's standardised primitive cell of an ordered structure (lattice, fractional coordinates,
    atomic numbers), or the structure's own cell where spglib finds no symmetry."""
    import numpy as np
    import spglib

    from spectool.corpus.typekey import SYMPREC

    cell = (structure.lattice.matrix, structure.frac_coords, [site.specie.Z for site in structure])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = spglib.standardize_cell(cell, to_primitive=True, symprec=SYMPREC)
    lattice, frac, numbers = found if found is not None else cell
    return np.asarray(lattice, float), np.asarray(frac, float), np.asarray(numbers, int)


def simulable(structure) -> None:
    """Raise :class:`FormatError` for a structure ``spectool simulate`` would refuse (overlapping
    atoms that are not split positions of one site, elements without scattering factors)."""
    from spectool.xrd.structures import crystal_from_structure, validate

    validate(crystal_from_structure(structure))


def try_analyse(entry: Entry) -> Analysed | str:
    """:func:`analyse`, or the reason it failed as a string (for a process pool's map)."""
    try:
        return analyse(entry)
    except SpectoolError as error:
        return error.message


def aflow_entry(record: dict, origin: str = "") -> Entry:
    """The entry of one AFLOW encyclopedia record (``info.json``)."""
    from spectool.corpus.aflow import names

    label = str(record.get("label", ""))
    named = names(record)
    return Entry(id=f"aflow-{label}", source="aflow", payload=record, name=named["name"],
                 strukturbericht=named["strukturbericht"], licence=LICENCES["aflow"], origin=origin or label,
                 reference=f"AFLOW Encyclopedia of Crystallographic Prototypes, {label}"
                           + (f"; ICSD {record['icsd']}" if record.get("icsd") else ""))


def amcsd_entry(row: dict) -> Entry:
    """The entry of one AMCSD row; :class:`FormatError` if it holds no usable atoms."""
    from spectool.corpus.amcsd import cif_text, reference

    code = f"{int(row['id']):07d}"
    return Entry(id=f"amcsd-{code}", source="amcsd", payload=cif_text(row), name=row.get("mineral") or "",
                 reference=reference(row), licence=LICENCES["amcsd"], origin=f"AMCSD {code}")


NAME_TAGS = ("_chemical_name_structure_type", "_chemical_name_mineral", "_chemical_name_common")


def cif_name(text: str) -> str:
    """The structure type or mineral a CIF names (first of :data:`NAME_TAGS` with a value), or ``""``."""
    for tag in NAME_TAGS:
        match = re.search(rf"^\s*{tag}\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))", text, re.MULTILINE | re.IGNORECASE)
        if match:
            value = next(g for g in match.groups() if g is not None).strip()
            if value and value not in ("?", "."):
                return value
    return ""


def name_from_file(stem: str) -> str:
    """The name in a ``FORMULA-Name`` file stem (``Al2Si2O9H4-Kaolinite`` → ``Kaolinite``), else ``""``."""
    formula, sep, name = stem.partition("-")
    if sep and name and re.fullmatch(r"(?:[A-Z][a-z]?|[\d.()])+", formula) and re.match(r"[A-Za-z]", name):
        return name.replace("_", " ")
    if not sep and re.fullmatch(r"[A-Z][a-z]{3,}", stem):  # a word such as Lepidolite, not a formula
        return stem
    return ""


def cif_entry(path: str, text: str, table_name: str = "", licence: str = "") -> Entry:
    """The entry of a CIF file: named by the label table, else the CIF's own tags, else the file name."""
    from pathlib import PurePath

    name = table_name or cif_name(text) or name_from_file(PurePath(path).stem)
    return Entry(id=f"cif-{safe_id(PurePath(path).stem)}", source="cifs", payload=text, name=name,
                 reference=cif_reference(text), licence=licence, origin=path)


def safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "cif"


def cif_reference(text: str) -> str:
    """``Authors (year) journal volume, page`` from a CIF's citation tags, or ``""``."""
    def tag(name: str) -> str:
        match = re.search(rf"^\s*{name}\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))", text, re.MULTILINE | re.IGNORECASE)
        return next((g for g in match.groups() if g is not None), "").strip() if match else ""

    journal = tag("_journal_name_full") or tag("_citation_journal_full")
    year = tag("_journal_year") or tag("_citation_year")
    if not (journal or year):
        return ""
    return f"({year}) {journal} {tag('_journal_volume')}, {tag('_journal_page_first')}".strip(" ,")
