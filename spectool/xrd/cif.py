"""CIF input through gemmi: the structures pymatgen's ``CifParser`` builds, or ``None`` for pymatgen.

gemmi (MPL-2.0, C++) parses the file and the atom-site table (cell, sites, occupancies, ADPs,
charges); what is left here is pymatgen's reading of it, so both paths give the same scatterers
(``CifParser(...).parse_structures(primitive=False, check_occu=True)``, pymatgen 2024–2026):

1. Cell from a, b, c, α, β, γ in pymatgen's orientation (:func:`~spectool.xrd.crystal.lattice_matrix`).
2. Symmetry operations from the first of ``_symmetry_equiv_pos_as_xyz(_)`` and
   ``_space_group_symop_operation_xyz(_)`` that is listed, each parsed by ``gemmi.Op``.
3. Atoms in table order; element from ``_atom_site_type_symbol`` (else the label) by pymatgen's
   rule (two letters title-cased, else one: ``Fe2+`` → Fe, ``CA1`` → Ca, ``D`` → H); occupancy
   ``?`` → 1, atoms with occupancy ≤ 0 left out. Coordinates within 1e-4 (relative) of 1/3 or
   2/3 become exactly that.
4. B (Å²) = 8π² U_iso (gemmi reads ``_atom_site_B_iso_or_equiv`` as B / 8π²); an atom with only
   anisotropic U's gets B = 8π² U_eq (pymatgen's path leaves it 0).
5. Each atom's orbit under the operations, wrapped into [0, 1), an image dropped when within
   ``SITE_TOL`` (fractional, per axis, periodically) of an earlier one; coincident positions of
   several atoms are one (disordered) site.

Everything outside that path returns ``None`` and the caller uses pymatgen, which also gives
pymatgen's errors and warnings: syntax gemmi refuses, repeated block names, no operations listed
(space group symbol only), operations with decimals that are not 24ths, magnetic CIFs, hydroxyl,
water or Pauling-file symbols, unknown elements, non-numeric values where numbers are needed,
sites whose occupancies sum to more than 1, symmetry images exactly one tolerance apart.
"""

from __future__ import annotations

import math
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from spectool.xrd.crystal import Crystal, close_pairs, lattice_matrix
from spectool.xrd.scattering import ATOMIC_NUMBER

#: Positions closer than this (fractional, every axis, periodic) are one site (pymatgen's
#: ``site_tolerance``).
SITE_TOL = 1e-4
#: Relative distance to 1/3 or 2/3 below which a coordinate is snapped (``frac_tolerance``).
FRAC_TOL = 1e-4
#: B = 8π² U (Å²).
B_PER_U = 8 * math.pi**2

_OP_TAGS = (
    "_symmetry_equiv_pos_as_xyz", "_symmetry_equiv_pos_as_xyz_",
    "_space_group_symop_operation_xyz", "_space_group_symop_operation_xyz_",
)  # fmt: skip
_CELL_TAGS = tuple(f"_cell_{k}" for k in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta",
                                           "angle_gamma"))  # fmt: skip
_SPECIAL_SYMBOL = re.compile("Hw|Ow|Wat|wat|OH|OH2|NO3")
_MAGNETIC = re.compile("_space_group_magn|_atom_site_moment|_space_group_symop_magn|_parent_space_group", re.I)
_IMPLICIT_H = ("Structure has implicit hydrogens defined, parsed structure unlikely to be suitable for use in "
               "calculations unless hydrogens added.")
_DECIMAL = re.compile(r"\d*\.\d*")


class Declined(Exception):
    """Raised inside the reader for anything it leaves to pymatgen."""


@dataclass
class CifStructure:
    """One CIF block read by :func:`read_cif`.

    ``composition`` is element symbol → amount in the cell (pymatgen's ``structure.composition``),
    ``messages`` what pymatgen would have warned.
    """

    name: str
    crystal: Crystal
    composition: dict[str, float]
    messages: list[str] = field(default_factory=list)


def read_cif(text: str) -> list[CifStructure] | None:
    """Every structure of a CIF text, in block order, or ``None`` for pymatgen to read it.

    Blocks without fractional atom sites (a publication block, a powder pattern) are skipped,
    as pymatgen skips them.
    """
    if _MAGNETIC.search(text):
        return None
    try:
        with interrupts_deferred():  # the import too: gemmi's module set-up is C++ that calls Python
            import gemmi

            doc = gemmi.cif.read_string(text)
            names = [block.name for block in doc]
            if len(set(names)) != len(names):
                return None
            out = [structure_of(block) for block in doc if len(block.find_values("_atom_site_fract_x"))]
    except (Declined, ValueError, RuntimeError, IndexError):
        return None
    return out or None


@contextmanager
def interrupts_deferred():
    """Ctrl-C (SIGINT) held back while gemmi runs: a KeyboardInterrupt raised inside its C++ bindings
    ends the process through std::terminate ("nanobind::python_error") instead of spectool's clean
    exit 130. Meanwhile a handler only notes the signal (Python runs handlers in the main thread, also
    inside the bindings' calls back into Python); the handler it replaced gets it when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)  # Python's default handler: KeyboardInterrupt, here
        elif caught and previous == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)


def structure_of(block) -> CifStructure:
    """The structure of one ``gemmi.cif.Block`` (raises ``Declined`` for pymatgen's cases)."""
    import gemmi

    small = gemmi.make_small_structure_from_block(block)
    lattice = _cell(block)
    rots, trans = symmetry_ops(block)
    elements, occ, pos, b, messages = _atoms(block, small, lattice)
    if _attached_hydrogens(block):
        messages.append(_IMPLICIT_H)
    frac, atom = orbits(pos, rots, trans)
    site = coincident_sites(frac)
    frac, elements, occ, b, site = _merge_species(frac, [elements[a] for a in atom], occ[atom], b[atom], site)
    composition: dict[str, float] = {}
    for el, o in zip(elements, occ.tolist()):
        composition[el] = composition.get(el, 0.0) + o
    return CifStructure(block.name, Crystal(lattice, frac, elements, occ, b, site), composition, messages)


def _attached_hydrogens(block) -> bool:
    """Whether ``_atom_site_attached_hydrogens`` gives any site hydrogens (pymatgen only warns)."""
    import gemmi

    values = [gemmi.cif.as_number(v) for v in block.find_values("_atom_site_attached_hydrogens")]
    if any(math.isnan(v) for v in values):
        raise Declined("non-numeric attached hydrogens")
    return any(v != 0 for v in values)


def _cell(block) -> np.ndarray:
    """Cell vectors (3, 3) Å from the six parameters (``Declined`` when one is missing)."""
    import gemmi

    values = []
    for tag in _CELL_TAGS:
        text = block.find_value(tag)
        value = gemmi.cif.as_number(text) if text is not None else math.nan
        if not math.isfinite(value):
            raise Declined(f"{tag} missing")
        values.append(value)
    if min(cell_thickness(*values)) < 0.01:
        raise Declined("degenerate cell")
    return lattice_matrix(*values)


def cell_thickness(a: float, b: float, c: float, alpha: float, beta: float, gamma: float) -> tuple[float, ...]:
    """d100, d010, d001 (Å) of a cell (Å, degrees): V / (b c sin α), …; 0 for a degenerate cell."""
    ca, cb, cg = (math.cos(math.radians(x)) for x in (alpha, beta, gamma))
    v2 = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    if not v2 > 0:
        return (0.0, 0.0, 0.0)
    volume = a * b * c * math.sqrt(v2)
    sa, sb, sg = (math.sin(math.radians(x)) for x in (alpha, beta, gamma))
    return volume / (b * c * sa), volume / (a * c * sb), volume / (a * b * sg)


def symmetry_ops(block) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (O, 3, 3) and translations (O, 3) of the block's listed operations."""
    import gemmi

    for tag in _OP_TAGS:
        column = block.find_values(tag)
        ops = [gemmi.cif.as_string(v) for v in column]
        if ops and any(op.strip() for op in ops):
            parsed = [parse_op(op) for op in ops]
            return np.array([r for r, _ in parsed]), np.array([t for _, t in parsed])
    raise Declined("no symmetry operations listed")


@lru_cache(maxsize=4096)
def parse_op(text: str) -> tuple[tuple[tuple[float, ...], ...], tuple[float, float, float]]:
    """``'-y+1/2, x, z'`` → (rotation (3, 3), translation (3,)) through ``gemmi.Op``.

    gemmi keeps operations in 24ths; a decimal that is not one (``x+0.3333``) is pymatgen's.
    """
    import gemmi

    for number in _DECIMAL.findall(text):
        if number != "." and abs(float(number) * 24 - round(float(number) * 24)) > 1e-9:
            raise Declined(f"symmetry operation {text!r}")
    try:
        op = gemmi.Op(text)
    except (RuntimeError, ValueError):
        raise Declined(f"symmetry operation {text!r}") from None
    den = float(op.DEN)
    rot = tuple(tuple(v / den for v in row) for row in op.rot)
    tran = tuple(v / den for v in op.tran)
    return rot, (tran[0], tran[1], tran[2])


def _atoms(block, small, lattice: np.ndarray):
    """Asymmetric-unit atoms kept: elements, occupancies (n,), positions (n, 3), B (n,) Å², messages."""
    sites = small.sites
    if len(block.find_values("_atom_site_label")) != len(sites) or not len(sites):
        raise Declined("atom-site labels do not match the sites")
    parsed = [parse_symbol(site.type_symbol) for site in sites]
    messages = [note for _, note in parsed if note for _ in (0, 1)]  # pymatgen warns twice
    elements = [element for element, _ in parsed]
    values = np.array([(f.x, f.y, f.z, site.occ, site.u_iso) for site in sites for f in (site.fract,)])
    pos_a, occ_a, u_a = values[:, :3], values[:, 3], values[:, 4]
    if len(block.find_values("_atom_site_aniso_label")):  # U_eq where only anisotropic U's are given
        b_a = np.array([site_b(u, site.aniso, lattice) for u, site in zip(u_a.tolist(), sites)])
    else:
        b_a = B_PER_U * u_a
    if not math.isfinite(pos_a.sum() + occ_a.sum() + b_a.sum()):
        raise Declined("non-numeric value")
    pos_a, snapped = snap_fractions(pos_a)
    if snapped:
        messages.append(
            f"{snapped} fractional coordinates rounded to ideal values to avoid issues with finite precision."
        )
    keep = np.flatnonzero(occ_a > 0)
    return [elements[i] for i in keep], np.maximum(occ_a[keep], 1e-8), pos_a[keep], b_a[keep], messages


@lru_cache(maxsize=4096)
def parse_symbol(text: str) -> tuple[str, str | None]:
    """Element of an atom-site symbol or label, and pymatgen's warning if it would give one."""
    if not text or _SPECIAL_SYMBOL.match(text) or text[:3] in ("Wat", "wat", "O-H") or " + " in text:
        raise Declined(f"special symbol {text!r}")
    sym = text[:2].title()
    if not _is_element(sym):
        sym = text[0].upper()
        if not _is_element(sym):
            raise Declined(f"unknown element in {text!r}")
    note = None if re.match(rf"{sym}\d*", text) else f"{text} parsed as {sym}"
    return {"D": "H", "T": "H"}.get(sym, sym), note


def _is_element(sym: str) -> bool:
    return sym in ATOMIC_NUMBER or sym in ("D", "T")


def site_b(u_iso: float, aniso, lattice: np.ndarray) -> float:
    """B (Å²) of a site: 8π² U_iso, else 8π² U_eq of its anisotropic U's (CIF convention), else 0.

    U_eq = ⅓ Σ_ij U^ij a*_i a*_j (a_i · a_j) (Fischer & Tillmanns 1988).
    """
    if u_iso or not aniso.nonzero():
        return B_PER_U * u_iso
    return B_PER_U * u_equivalent((aniso.u11, aniso.u22, aniso.u33, aniso.u12, aniso.u13, aniso.u23), lattice)


def u_equivalent(u: tuple[float, ...], lattice: np.ndarray) -> float:
    """U_eq (Å²) of anisotropic U's (U11, U22, U33, U12, U13, U23) in the CIF convention, for
    cell vectors ``lattice`` (3, 3) Å as rows: ⅓ Σ_ij U^ij a*_i a*_j (a_i · a_j)."""
    u11, u22, u33, u12, u13, u23 = u
    tensor = np.array([[u11, u12, u13], [u12, u22, u23], [u13, u23, u33]])
    norms = np.linalg.norm(np.linalg.inv(lattice), axis=0)  # |a*|, |b*|, |c*| (1/Å)
    return float(np.sum(tensor * np.outer(norms, norms) * (lattice @ lattice.T)) / 3)


def snap_fractions(pos: np.ndarray) -> tuple[np.ndarray, int]:
    """pymatgen's ``_sanitize_data`` on positions (n, 3): within 1e-4 relative of 1/3 or 2/3 →
    exactly that; the snapped copy and the number of hits (exact ones count too)."""
    if not np.any(np.abs(np.abs(pos - 0.5) - 1 / 6) < 1e-3):  # nothing near 1/3 or 2/3
        return pos, 0
    pos = pos.copy()
    total = 0
    for ideal in (1 / 3, 2 / 3):
        hit = np.abs(pos / ideal - 1) <= FRAC_TOL
        pos[hit] = ideal
        total += int(hit.sum())
    return pos, total


def orbits(pos: np.ndarray, rots: np.ndarray, trans: np.ndarray, tol: float = SITE_TOL):
    """Distinct symmetry images of each atom: positions (m, 3) in [0, 1) and their atom (m,).

    ``pos`` (n, 3) fractional, ``rots`` (O, 3, 3), ``trans`` (O, 3). Images are taken in
    operation order and kept unless within ``tol`` of one kept before (pymatgen's
    ``_unique_coords``). Raises ``Declined`` when two images lie within 1e-9 of ``tol`` apart:
    there the rounding of pymatgen's own arithmetic decides (CIFs with 4-digit coordinates on
    special positions, such as some IZA zeolites).
    """
    if len(rots) == 1 and not trans.any() and np.array_equal(rots[0], np.eye(3)):  # P1: x, y, z
        return pos - np.floor(pos), np.arange(len(pos))
    imgs = np.einsum("oij,nj->noi", rots, pos) + trans[None, :, :]
    imgs -= np.floor(imgs)
    n, n_ops = imgs.shape[:2]
    keep = np.ones((n, n_ops), bool)
    if n_ops > 1:
        earlier = np.tril(np.ones((n_ops, n_ops), bool), -1)
        per_chunk = max(1, (1 << 21) // (n_ops * n_ops))
        for lo in range(0, n, per_chunk):
            d = imgs[lo : lo + per_chunk, :, None, :] - imgs[lo : lo + per_chunk, None, :, :]
            d -= np.rint(d)
            worst = np.abs(d).max(axis=-1)
            if np.any(np.abs(worst - tol) < 1e-9):
                raise Declined("symmetry images on the edge of the site tolerance")
            keep[lo : lo + per_chunk] = _greedy_unique(worst < tol, earlier)
    atom = np.repeat(np.arange(n), keep.sum(axis=1))
    return imgs[keep], atom


def _greedy_unique(close: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Images kept (k, O) from their closeness (k, O, O): in order, each unless close to one kept
    before. Where every dropped image is close to an earlier image that has no earlier close
    one, that is one array step; chains of close images go one by one."""
    close_before = close & earlier
    keep = ~close_before.any(axis=-1)
    covered = (close_before & keep[:, None, :]).any(axis=-1)
    for a in np.flatnonzero(~(keep | covered).all(axis=-1)):
        kept: list[int] = []
        for o in range(close.shape[1]):
            if not close[a, o, kept].any():
                kept.append(o)
        keep[a] = False
        keep[a, kept] = True
    return keep


def coincident_sites(frac: np.ndarray, tol: float = SITE_TOL) -> np.ndarray:
    """Site index (m,) of positions (m, 3): positions within ``tol`` of each other share one."""
    site = np.arange(len(frac))
    if len(frac) <= 48:  # a dense check is fewer array operations than the sort
        d = frac[:, None, :] - frac[None, :, :]
        d -= np.rint(d)
        close = np.all(np.abs(d) < tol, axis=-1)
        if np.count_nonzero(close) == len(frac):  # each position close to itself only
            return site
        i, j = np.nonzero(np.triu(close, 1))
    else:
        i, j = close_pairs(frac, tol)
    if i.size == 0:
        return site
    for _ in range(len(frac)):  # propagate the smallest index through chains of close pairs
        low = np.minimum(site[i], site[j])
        if np.array_equal(site[i], low) and np.array_equal(site[j], low):
            break
        np.minimum.at(site, i, low)
        np.minimum.at(site, j, low)
    return np.unique(site, return_inverse=True)[1]


def _merge_species(frac, elements, occ, b, site):
    """One scatterer per (site, element), occupancies summed (the last atom's B), as pymatgen's
    sites; ``Declined`` when a site's occupancies sum to more than 1 (pymatgen's error)."""
    if np.any(np.bincount(site, weights=occ) > 1 + 1e-9):
        raise Declined("occupancies sum to more than 1")
    if site.size == 0 or site.max() + 1 == len(site):  # sites are 0..K-1: each scatterer its own
        return frac, elements, occ, b, site
    index = {e: k for k, e in enumerate(sorted(set(elements)))}
    key = site * len(index) + np.array([index[e] for e in elements])
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    last = np.zeros(len(uniq), np.int64)
    last[inverse] = np.arange(len(key))
    return (frac[first], [elements[k] for k in first], np.bincount(inverse, weights=occ), b[last], site[first])
