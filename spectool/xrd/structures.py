"""Loading crystal structures from files, validating them, and labelling them.

The edge between files / pymatgen and the pure physics: everything here returns
:class:`~spectool.xrd.crystal.Crystal` records. pymatgen and spglib are imported inside the
functions, so importing this module stays cheap. pymatgen's warnings are caught and
returned as messages the caller may show.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from spectool.errors import FormatError, SpectoolError
from spectool.xrd.crystal import Crystal, close_pairs
from spectool.xrd.scattering import ATOMIC_NUMBER, scattering_table

#: Distinct, fully occupied sites closer than this (Å) are overlapping atoms.
MIN_DISTANCE = 0.5
#: Up to this many sites, overlap candidates come from all pairs at once, beyond from a sort.
DENSE_SITES = 96
CIF_SUFFIXES = (".cif", ".mcif")
CRYSTAL_SYSTEMS = (
    (2, "triclinic"), (15, "monoclinic"), (74, "orthorhombic"), (142, "tetragonal"),
    (167, "trigonal"), (194, "hexagonal"), (230, "cubic"),
)  # fmt: skip
_B_PER_U = 8 * math.pi**2
_SHIFTS = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)  # the 27 cell images


@dataclass
class LoadedStructure:
    """One structure from a file: ``name`` is the CIF data block (or the file stem)."""

    path: str
    name: str
    crystal: Crystal
    formula: str
    messages: list[str] = field(default_factory=list)


def crystal_from_structure(structure, b_iso: dict[str, float] | None = None) -> Crystal:
    """Crystal from a pymatgen ``Structure``: one scatterer per (site, element).

    B (Å²) per site from the site property ``b_iso`` when present, else from ``b_iso``
    per element symbol, else 0.
    """
    site_b = structure.site_properties.get("b_iso")
    frac, elements, occ, b, site = [], [], [], [], []
    for i, st in enumerate(structure):
        for sp, o in st.species.items():
            sym = sp.symbol
            frac.append(st.frac_coords)
            elements.append(sym)
            occ.append(o)
            own = site_b[i] if site_b is not None and site_b[i] is not None else None
            b.append(own if own is not None else (b_iso or {}).get(sym, 0.0))
            site.append(i)
    return Crystal(structure.lattice.matrix, np.reshape(frac, (-1, 3)), elements, occ, b, site)


def validate(crystal: Crystal, min_distance: float = MIN_DISTANCE) -> None:
    """Raise ``FormatError`` (no path) for no atoms, an unknown element, or overlapping atoms.

    Sites closer than ``min_distance`` Å overlap unless their occupancies sum to ≤ 1
    (split positions of a disordered site).
    """
    if len(crystal.elements) == 0:
        raise FormatError("structure has no atoms")
    table = scattering_table()
    for e in set(crystal.elements):
        if e not in ATOMIC_NUMBER or e not in table:
            raise FormatError(f"unknown element {e!r} (no X-ray scattering factors)")
    if not np.all(np.isfinite(crystal.frac_coords)) or crystal.volume < 1e-3:
        raise FormatError("degenerate cell or non-finite coordinates")
    pair = closest_pair(crystal, min_distance)
    if pair is not None:
        i, j, dist = pair
        raise FormatError(f"overlapping atoms: sites {i} and {j} are {dist:.3f} Å apart (< {min_distance} Å)")


def closest_pair(crystal: Crystal, cutoff: float) -> tuple[int, int, float] | None:
    """First pair of distinct sites (i < j, distance Å) closer than ``cutoff`` Å whose
    occupancies sum to more than 1, with periodic images; ``None`` if there is none.

    Candidates first: two sites within ``cutoff`` differ in fractional coordinate k by at
    most cutoff · |k-th reciprocal vector| (periodically), so a sort on x finds them in
    O(n log n) (:func:`spectool.xrd.crystal.close_pairs`); each candidate's distance is then
    the minimum over the 27 neighbouring cell images of its wrapped difference.
    """
    if _one_scatterer_a_site(crystal):
        sites, occ, frac = crystal.site, crystal.occupancy, crystal.frac_coords
    else:
        sites, first = np.unique(crystal.site, return_index=True)
        occ = np.bincount(np.searchsorted(sites, crystal.site), weights=crystal.occupancy)
        frac = crystal.frac_coords[first]
    if len(sites) < 2:
        return None
    inverse = np.linalg.inv(crystal.lattice)
    tol = cutoff * np.sqrt((inverse * inverse).sum(axis=0)) * (1 + 1e-9) + 1e-12
    if tol.max() >= 0.25:
        i, j = np.triu_indices(len(sites), 1)
    elif len(sites) <= DENSE_SITES:  # every pair's wrapped difference at once
        d = frac[:, None, :] - frac[None, :, :]
        d -= np.round(d)
        np.abs(d, out=d)
        i, j = np.nonzero(((d[..., 0] < tol[0]) & (d[..., 1] < tol[1]) & (d[..., 2] < tol[2])))
        i, j = i[i < j], j[i < j]
    else:
        i, j = close_pairs(frac, tol)
    keep = occ[i] + occ[j] > 1 + 1e-6
    i, j = i[keep], j[keep]
    if i.size == 0:
        return None
    d = frac[i] - frac[j]
    d -= np.round(d)
    cart = (d[:, None, :] + _SHIFTS[None, :, :]) @ crystal.lattice  # (k, 27, 3)
    dist = np.sqrt((cart**2).sum(-1)).min(axis=1)
    bad = np.flatnonzero(dist < cutoff)
    if bad.size == 0:
        return None
    k = bad[np.lexsort((j[bad], i[bad]))[0]]
    return int(sites[i[k]]), int(sites[j[k]]), float(dist[k])


def _one_scatterer_a_site(crystal: Crystal) -> bool:
    """Whether scatterer k is site k for every k (an ordered structure as the readers build it)."""
    site = crystal.site
    return site.size == 0 or (site[0] == 0 and site[-1] == site.size - 1 and bool(np.all(site[1:] > site[:-1])))


def symmetry_labels(crystal: Crystal, symprec: float = 0.01) -> dict[str, object]:
    """Space group number and symbol and crystal system from spglib (``symprec`` Å).

    Costs ~1.8 ms CPU a structure on average over the mp-prototypes (median ~0.7 ms, cubic
    cells up to ~35 ms), nearly all inside spglib's C search: its ``get_symmetry`` builds the
    same dataset, and the other routes to a label answer differently on some structures
    (``benchmarks/check_symmetry_labels.py``). Disordered sites are typed by their set of
    species and occupancies. Empty values when spglib finds nothing.
    """
    import spglib

    species = list(zip(crystal.elements, (round(o, 4) for o in crystal.occupancy.tolist())))
    if _one_scatterer_a_site(crystal):  # ordered: one species a site
        first, keys = slice(None), [(pair,) for pair in species]
    else:
        sites, first, of_site = np.unique(crystal.site, return_index=True, return_inverse=True)
        members: list[list] = [[] for _ in sites]
        for pair, s in zip(species, of_site.tolist()):
            members[s].append(pair)
        keys = [tuple(sorted(m)) for m in members]
    kinds = {k: i for i, k in enumerate(sorted(set(keys)))}
    cell = (crystal.lattice, crystal.frac_coords[first], [kinds[k] for k in keys])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if dataset is None:
        return {"spacegroup_number": 0, "spacegroup_symbol": "", "crystal_system": ""}
    number = int(dataset.number)
    system = next(name for top, name in CRYSTAL_SYSTEMS if number <= top)
    return {"spacegroup_number": number, "spacegroup_symbol": str(dataset.international), "crystal_system": system}


def load_structures(path: str | Path, primitive: bool = False, fast: bool = True) -> list[LoadedStructure]:
    """All structures in one file: each data block of a CIF, or one structure of any file
    pymatgen reads (POSCAR, JSON, …). B factors come from the CIF's
    ``_atom_site_B_iso_or_equiv`` (or ``U_iso`` × 8π²) where present; through gemmi, a site
    with anisotropic U's only gets 8π² U_eq.

    CIFs go through gemmi (:mod:`spectool.xrd.cif`: the same structures as pymatgen's
    ``CifParser``) unless ``fast`` is false, ``primitive`` is asked for, or the file has
    something that reader leaves to pymatgen. Raises ``FormatError`` with the path when
    nothing can be read. A CIF block that fails is skipped with a message, unless it is the only one.
    """
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if path.suffix.lower() in CIF_SUFFIXES:
                loaded = _load_cif(path, primitive, fast)
            else:
                loaded = [_load_other(path, primitive)]
        except SpectoolError as exc:
            raise exc.where(path) from None
        except Exception as exc:  # pymatgen raises anything from ValueError to IndexError
            raise FormatError(f"cannot read a structure: {_short(exc)}", path) from None
    messages = [_short(w.message) for w in caught]
    if loaded:
        loaded[0].messages.extend(messages)
    return loaded


def _short(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) < 300 else text[:297] + "..."


def _load_other(path: Path, primitive: bool) -> LoadedStructure:
    from pymatgen.core import Structure

    structure = Structure.from_file(str(path), primitive=primitive)
    return _loaded(path, path.stem, structure)


def _loaded(path: Path, name: str, structure, messages: list[str] | None = None) -> LoadedStructure:
    crystal = crystal_from_structure(structure)
    return LoadedStructure(str(path), name, crystal, structure.composition.reduced_formula, messages or [])


def _load_cif(path: Path, primitive: bool, fast: bool = True) -> list[LoadedStructure]:
    """Every block of a CIF: gemmi (:mod:`spectool.xrd.cif`) when it can read the file (the same
    structures as pymatgen's ``CifParser``, ~10x faster), else pymatgen."""
    if fast and not primitive:
        loaded = _load_cif_fast(path)
        if loaded is not None:
            return loaded
    return _load_cif_pymatgen(path, primitive)


def _load_cif_fast(path: Path) -> list[LoadedStructure] | None:
    from spectool.xrd.cif import read_cif

    blocks = read_cif(path.read_bytes().decode("utf-8", errors="replace"))
    if blocks is None:
        return None
    out = [LoadedStructure(str(path), b.name, b.crystal, reduced_formula(b.composition)) for b in blocks]
    out[0].messages.extend(m for b in blocks for m in b.messages)
    return out


def reduced_formula(composition: dict[str, float]) -> str:
    """pymatgen's ``Composition.reduced_formula`` of element → amount (``Na4Cl4`` → NaCl).

    Whole amounts follow pymatgen's ``reduce_formula`` here (elements by Pauling
    electronegativity, a polyanion of the last two in brackets, ``O`` → ``O2``, …), without
    importing pymatgen (~0.2 s); fractional amounts (disordered sites) go to pymatgen.
    """
    if not all(abs(v - round(v)) < _AMOUNT_TOL for v in composition.values()):
        from pymatgen.core.composition import Composition

        return Composition(composition).reduced_formula
    formula, _ = _reduce_formula({e: round(v) for e, v in composition.items()})
    return _SPECIAL_FORMULAS.get(formula, formula)


_AMOUNT_TOL = 1e-8
_SPECIAL_FORMULAS = {"LiO": "Li2O2", "NaO": "Na2O2", "KO": "K2O2", "HO": "H2O2", "CsO": "Cs2O2",
                     "RbO": "Rb2O2", "O": "O2", "N": "N2", "F": "F2", "Cl": "Cl2", "H": "H2"}


def _reduce_formula(amounts: dict[str, float]) -> tuple[str, int]:
    """pymatgen's ``reduce_formula``: (formula, factor) of element → amount."""
    x = electronegativity()
    syms = sorted(amounts, key=lambda e: (math.inf if math.isnan(x.get(e, math.nan)) else x[e], e))
    syms = [e for e in syms if abs(amounts[e]) > _AMOUNT_TOL]
    factor = 1
    if all(int(v) == v for v in amounts.values()):
        factor = abs(math.gcd(*(int(v) for v in amounts.values())))
    poly = ""
    if len(syms) >= 3 and x.get(syms[-1], math.nan) - x.get(syms[-2], math.nan) < 1.65:
        inner, inner_factor = _reduce_formula({e: amounts[e] / factor for e in syms[-2:]})
        if inner_factor != 1:
            poly, syms = f"({inner}){inner_factor}", syms[:-2]
    return "".join(f"{e}{_amount_text(amounts[e] / factor)}" for e in syms) + poly, factor


def _amount_text(amount: float) -> str:
    """pymatgen's ``formula_double_format``: "" for 1, an integer when within 1e-8, else 8 decimals."""
    if math.isclose(amount, 1, abs_tol=1e-8):
        return ""
    if math.isclose(amount, round(amount), abs_tol=1e-8, rel_tol=0):
        return str(round(amount))
    return str(round(amount, 8))


@lru_cache(maxsize=1)
def electronegativity() -> dict[str, float]:
    """Element → Pauling electronegativity from the installed pymatgen's periodic table (read
    without importing pymatgen); elements without one are left out."""
    spec = importlib.util.find_spec("pymatgen")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pymatgen is needed for the periodic table")
    path = Path(list(spec.submodule_search_locations)[0]) / "core" / "periodic_table.json.gz"
    table = json.loads(gzip.decompress(path.read_bytes()))
    return {e: float(v["X"]) for e, v in table.items() if isinstance(v, dict) and v.get("X")}


def _load_cif_pymatgen(path: Path, primitive: bool) -> list[LoadedStructure]:
    from pymatgen.io.cif import CifParser

    parser = CifParser(str(path))
    blocks = list(parser._cif.data.items())
    if not blocks:
        raise FormatError("no data block in the CIF")
    out, errors = [], []
    for name, block in blocks:
        try:
            structure = parser._get_structure(block, primitive, False, check_occu=True)
        except Exception as exc:  # noqa: BLE001 - pymatgen's errors are unstructured
            errors.append(f"data_{name}: {_short(exc)}")
            continue
        if structure is None:
            continue
        structure = _with_cif_b(structure, block.data)
        out.append(_loaded(path, name, structure))
    if not out:
        raise FormatError("; ".join(errors) or "no structure in the CIF")
    if errors:
        out[0].messages.extend(f"skipped {e}" for e in errors)
    out[0].messages.extend(_short(w) for w in getattr(parser, "warnings", []))
    return out


def _with_cif_b(structure, data: dict) -> object:
    """Attach site property ``b_iso`` (Å²) from the CIF's atom-site loop, matched by label; a
    label without an isotropic value (or with 0) takes 8π² U_eq of its anisotropic U's, as the
    gemmi path does."""
    labels = data.get("_atom_site_label")
    table: dict[str, float] = {}
    for tag, factor in (("_atom_site_B_iso_or_equiv", 1.0), ("_atom_site_U_iso_or_equiv", _B_PER_U)):
        values = data.get(tag)
        if labels is None or values is None or len(values) != len(labels):
            continue
        table = {lab: _cif_number(v) for lab, v in zip(labels, values)}
        table = {lab: v * factor for lab, v in table.items() if v is not None}
        break
    for lab, b in _aniso_b(data, structure.lattice.matrix).items():
        if not table.get(lab):
            table[lab] = b
    if table:
        structure.add_site_property("b_iso", [table.get(getattr(site, "label", None)) for site in structure])
    return structure


def _aniso_b(data: dict, lattice: np.ndarray) -> dict[str, float]:
    """Label → 8π² U_eq (Å²) from the CIF's ``_atom_site_aniso_U_ij`` loop (empty when incomplete)."""
    from spectool.xrd.cif import u_equivalent

    labels = data.get("_atom_site_aniso_label")
    columns = [data.get(f"_atom_site_aniso_U_{ij}") for ij in ("11", "22", "33", "12", "13", "23")]
    if not isinstance(labels, list) or any(not isinstance(c, list) or len(c) != len(labels) for c in columns):
        return {}
    out = {}
    for k, lab in enumerate(labels):
        u = [_cif_number(c[k]) for c in columns]
        if None not in u:
            out[lab] = _B_PER_U * u_equivalent(tuple(u), lattice)
    return out


def _cif_number(text: str) -> float | None:
    """A CIF number without its uncertainty ``1.23(4)``; None for ``?`` / ``.``."""
    text = text.split("(")[0].strip()
    try:
        return float(text)
    except ValueError:
        return None


def crystal_system(number: int) -> str:
    """Crystal system of space group ``number`` (1..230)."""
    return next(name for top, name in CRYSTAL_SYSTEMS if number <= top)


def iter_loaded(paths: Iterable[str | Path], primitive: bool = False) -> Iterator[LoadedStructure | FormatError]:
    """Structures of many files, in order; a file that fails yields its ``FormatError``."""
    for path in paths:
        try:
            yield from load_structures(path, primitive)
        except SpectoolError as exc:
            yield exc.where(path)
