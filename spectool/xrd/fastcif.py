"""A fast CIF reader that builds the same structures as pymatgen's ``CifParser``, or says no.

:func:`read_cif` follows ``CifParser(...).parse_structures(primitive=False, check_occu=True)``
step by step (pymatgen 2024–2026), so the fast path and the pymatgen path give the same sites:

1. Tokens as ``CifBlock._process_string``: comments ``(\\s|^)#…`` removed, non-ASCII dropped,
   ``'…'`` / ``"…"`` quoted values, ``;`` text fields at column 0; blocks split at ``data_``
   (a block whose header names a ``powder_pattern`` is skipped); ``_eof`` ends a block.
2. Fractional coordinates within 1e-4 (relative) of 1/3 or 2/3 become exactly 1/3 or 2/3
   (``_sanitize_data``), with pymatgen's message.
3. Cell from the six parameters, pymatgen's ``Lattice.from_parameters`` orientation.
4. Symmetry operations from the first non-empty of ``_symmetry_equiv_pos_as_xyz(_)`` and
   ``_space_group_symop_operation_xyz(_)``, parsed as ``SymmOp.from_xyz_str``.
5. Atoms in ``_atom_site_label`` order; element from ``_atom_site_type_symbol`` (else the label)
   as ``_parse_symbol`` (two letters title-cased, else one: ``Fe2+`` → Fe, ``CA1`` → Ca,
   ``D`` → H); occupancy ``?`` → 1; atoms with occupancy ≤ 0 are left out. An atom whose
   symmetry image lies within ``SITE_TOL`` (fractional, per axis, periodic) of an earlier
   atom's position joins that site (a disordered site); the site keeps the last label.
6. Each site's orbit: every operation, wrapped into [0, 1), a position kept unless within
   ``SITE_TOL`` of one already kept for a site of the same composition.

Anything outside that common path returns ``None`` and the caller uses pymatgen, which then
also produces pymatgen's errors and warnings: no symmetry operations (space group symbol
only), magnetic CIFs, implicit hydrogens, Pauling-file symbols, water/hydroxyl labels,
sites whose occupancies sum to 1 or more from several atoms, ``.`` or non-numeric values
where numbers are needed, irregular loops, repeated block names, stray tokens, tags that
differ from the standard ones only by case. 0.1–0.4 ms a file against 2–5 ms for pymatgen.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from spectool.xrd.crystal import Crystal
from spectool.xrd.scattering import ATOMIC_NUMBER

#: Positions closer than this (fractional, every axis, periodic) are one site (pymatgen's
#: ``site_tolerance``).
SITE_TOL = 1e-4
#: Relative distance to 1/3 or 2/3 below which a coordinate is snapped (``frac_tolerance``).
FRAC_TOL = 1e-4
#: B = 8π² U (Å²).
B_PER_U = 8 * math.pi**2

_TOKEN = re.compile(r"""([^'"\s][\S]*)|'(.*?)'(?!\S)|"(.*?)"(?!\S)""")
_COMMENT = re.compile(r"(\s|^)#.*$", re.MULTILINE)
_EMPTY = re.compile(r"^\s*\n", re.MULTILINE)
_BLOCK = re.compile(r"^\s*data_", re.MULTILINE | re.DOTALL)
_TEXT_FIELD = re.compile(r"^;", re.MULTILINE)
_NUM = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\(\d*\)?)?")
_PLAIN = re.compile(r"[0-9.eE+\-]*")
_OP_CHARS = re.compile(r"[xyz0-9./+\-]+")
_RE_ROT = re.compile(r"([+-]?)([\d\.]*)/?([\d\.]*)([x-z])")
_RE_TRANS = re.compile(r"([+-]?)([\d\.]+)/?([\d\.]*)(?![x-z])")
_OP_TAGS = (
    "_symmetry_equiv_pos_as_xyz", "_symmetry_equiv_pos_as_xyz_",
    "_space_group_symop_operation_xyz", "_space_group_symop_operation_xyz_",
)  # fmt: skip
_B_TAGS = (("_atom_site_B_iso_or_equiv", 1.0), ("_atom_site_U_iso_or_equiv", B_PER_U))
_SPECIAL_SYMBOL = re.compile("Hw|Ow|Wat|wat|OH|OH2|NO3")
_MAGNETIC = ("_space_group_magn", "_atom_site_moment", "_space_group_symop_magn")
_KNOWN_TAGS = (
    ("_atom_site_label", "_atom_site_type_symbol", "_atom_site_occupancy", "_atom_site_attached_hydrogens",
     "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z", "_atom_type_symbol",
     "_atom_type_oxidation_number")
    + tuple(f"_cell_{k}" for k in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"))
    + _OP_TAGS + tuple(t for t, _ in _B_TAGS)
)  # fmt: skip
_KNOWN_LOWER = {t.lower(): t for t in _KNOWN_TAGS}


class Unsupported(Exception):
    """Raised inside the reader for anything it leaves to pymatgen."""


@dataclass
class FastStructure:
    """One CIF block read by :func:`read_cif`.

    ``composition`` is element symbol → amount in the cell (pymatgen's
    ``structure.composition``), ``messages`` what pymatgen would have warned.
    """

    name: str
    crystal: Crystal
    composition: dict[str, float]
    messages: list[str] = field(default_factory=list)


def read_cif(text: str) -> list[FastStructure] | None:
    """Every structure of a CIF text, in block order, or ``None`` for pymatgen to read it."""
    try:
        out = [structure_of(name, data) for name, data in parse_blocks(text)]
    except (Unsupported, ValueError, ZeroDivisionError, KeyError, IndexError):
        return None
    return out or None


# --- tokens and blocks ------------------------------------------------------------------


def parse_blocks(text: str) -> list[tuple[str, dict[str, str | list[str]]]]:
    """(header, tag → value or loop column) per data block, as ``CifFile.from_str``."""
    out: dict[str, dict[str, str | list[str]]] = {}
    for block in _BLOCK.split(f"x\n{text}")[1:]:
        if "powder_pattern" in block.split("\n", 1)[0]:
            continue
        header, data = _block(tokenize(f"data_{block}"))
        if header in out:
            raise Unsupported("repeated block name")
        out[header] = data
    return list(out.items())


def tokenize(text: str) -> list[tuple[str, str]]:
    """Tokens (unquoted text or "", value) as ``CifBlock._process_string``."""
    text = _EMPTY.sub("", _COMMENT.sub("", text))
    if not text.isascii():
        text = text.encode("ascii", "ignore").decode("ascii")
    if not _TEXT_FIELD.search(text):
        return [(m[0], "".join(m)) for m in _TOKEN.findall(text)]
    out: list[tuple[str, str]] = []
    lines: list[str] | None = None
    for line in text.splitlines():
        if lines is not None:
            if not line.startswith(";"):
                lines.append(line)
                continue
            out.append(("", " ".join(lines)))
            lines, line = None, line[1:].strip()
        if line.startswith(";"):
            lines = [line[1:].strip()]
        else:
            out.extend((m[0], "".join(m)) for m in _TOKEN.findall(line))
    return out


def _block(tokens: list[tuple[str, str]]) -> tuple[str, dict[str, str | list[str]]]:
    """Header and data of one block's tokens, as ``CifBlock.from_str``."""
    header = tokens[0][0][5:][:74]
    data: dict[str, str | list[str]] = {}
    i, n = 1, len(tokens)
    marks = [k for k, (u, _) in enumerate(tokens) if u.startswith(("_", "loop_"))] + [n]
    while i < n:
        key, value = tokens[i]
        i += 1
        if key == "_eof":
            break
        if key.startswith("_"):
            data[key] = tokens[i][1] if i < n else ""
            i += 1
        elif key.startswith("loop_"):
            cols: list[str] = []
            while i < n and tokens[i][0].startswith("_") and not tokens[i][0].startswith("loop_"):
                cols.append(tokens[i][1])
                i += 1
            start = i
            i = marks[bisect.bisect_left(marks, i)]
            items = [v for _, v in tokens[start:i]]
            if not cols or not items or len(items) % len(cols):
                raise Unsupported("irregular loop")
            for j, col in enumerate(cols):
                data[col] = [v.strip() for v in items[j :: len(cols)]]
        elif value.strip():
            raise Unsupported("stray token")  # pymatgen warns "Possible issue"
    return header, data


# --- values -----------------------------------------------------------------------------


def number(text: str) -> float:
    """A CIF number, uncertainty dropped (``5.4309(2)`` → 5.4309); else ``Unsupported``."""
    if not _NUM.fullmatch(text):
        raise Unsupported(f"not a number: {text!r}")
    return float(text.split("(")[0])


def numbers(column: list[str]) -> np.ndarray:
    """CIF numbers (n,) of a loop column; ``Unsupported`` for anything but plain numbers."""
    if _PLAIN.fullmatch("".join(column)):
        try:
            return np.array(column, dtype=np.float64)
        except ValueError:
            raise Unsupported("not a number") from None
    return np.array([number(v) for v in column], dtype=np.float64)


def cif_float(text: str) -> float | None:
    """B or U as spectool's pymatgen path reads it: ``None`` for ``?`` / ``.``."""
    try:
        return float(text.split("(")[0].strip())
    except ValueError:
        return None


def snap_fraction(x: float) -> tuple[float, bool]:
    """pymatgen's ``_sanitize_data``: within 1e-4 relative of 1/3 or 2/3 → exactly that
    (and ``True``, counted in its message even when already exact)."""
    for ideal in (1 / 3, 2 / 3):
        if abs(x / ideal - 1) <= FRAC_TOL:
            return ideal, True
    return x, False


@lru_cache(maxsize=4096)
def parse_symbol(text: str) -> tuple[str, str | None]:
    """Element of an atom-site symbol or label, and pymatgen's warning if it would give one."""
    if _SPECIAL_SYMBOL.match(text) or text[:3] in ("Wat", "wat", "O-H") or not text:
        raise Unsupported(f"special symbol {text!r}")
    sym = text[:2].title()
    if not _is_element(sym):
        sym = text[0].upper()
        if not _is_element(sym):
            raise Unsupported(f"unknown element in {text!r}")
    note = None if re.match(rf"{sym}\d*", text) else f"{text} parsed as {sym}"
    return {"D": "H", "T": "H"}.get(sym, sym), note


def _is_element(sym: str) -> bool:
    return sym in ATOMIC_NUMBER or sym in ("D", "T")


@lru_cache(maxsize=4096)
def parse_op(op: str) -> tuple[tuple[float, ...], tuple[float, float, float]]:
    """``'-y+1/2, x, z'`` → (rotation (9,) row-major, translation (3,)) as ``SymmOp.from_xyz_str``."""
    parts = op.strip().replace(" ", "").lower().split(",")
    if len(parts) != 3 or not all(_OP_CHARS.fullmatch(p) for p in parts):
        raise Unsupported(f"symmetry operation {op!r}")
    rot, trans = [0.0] * 9, [0.0, 0.0, 0.0]
    for r, tok in enumerate(parts):
        for m in _RE_ROT.finditer(tok):
            factor = -1.0 if m[1] == "-" else 1.0
            if m[2] != "":
                factor *= float(m[2]) / float(m[3]) if m[3] != "" else float(m[2])
            rot[3 * r + ord(m[4]) - 120] = factor
        for m in _RE_TRANS.finditer(tok):
            num = float(m[2]) / float(m[3]) if m[3] != "" else float(m[2])
            trans[r] = -num if m[1] == "-" else num
    return tuple(rot), (trans[0], trans[1], trans[2])


def lattice_matrix(a: float, b: float, c: float, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Cell vectors (3, 3) Å as rows, exactly pymatgen's ``Lattice.from_parameters``."""
    angles_r = np.radians([alpha, beta, gamma])
    cos_alpha, cos_beta, cos_gamma = np.cos(angles_r)
    sin_alpha, sin_beta, sin_gamma = np.sin(angles_r)
    val = np.clip((cos_alpha * cos_beta - cos_gamma) / (sin_alpha * sin_beta), -1, 1)
    gamma_star = np.arccos(val)
    return np.array([
        [a * sin_beta, 0.0, a * cos_beta],
        [-b * sin_alpha * np.cos(gamma_star), b * sin_alpha * np.sin(gamma_star), b * cos_alpha],
        [0.0, 0.0, float(c)],
    ])  # fmt: skip


# --- one block → one structure ------------------------------------------------------------


def _column(data: dict, tag: str, n: int | None = None) -> list[str]:
    value = data[tag]
    if not isinstance(value, list) or (n is not None and len(value) != n):
        raise Unsupported(f"{tag} is not a loop column")
    return value


def _check_tags(data: dict) -> None:
    for key in data:
        if any(p in key for p in _MAGNETIC):
            raise Unsupported("magnetic CIF")
        std = _KNOWN_LOWER.get(key.lower())
        if std is not None and std != key:
            raise Unsupported(f"non-standard case {key}")
    if "_atom_site_attached_hydrogens" in data:
        raise Unsupported("implicit hydrogens")


def symmetry_ops(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (O, 3, 3) and translations (O, 3) of the block's listed operations."""
    for tag in _OP_TAGS:
        ops = data.get(tag)
        if ops:
            if not isinstance(ops, list):
                raise Unsupported("one-line symmetry operation")
            parsed = [parse_op(op) for op in ops]
            return np.array([r for r, _ in parsed]).reshape(-1, 3, 3), np.array([t for _, t in parsed])
    raise Unsupported("no symmetry operations listed")


def _cell(data: dict) -> np.ndarray:
    keys = ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma")
    values = []
    for k in keys:
        v = data[f"_cell_{k}"]
        if not isinstance(v, str):
            raise Unsupported("cell parameter in a loop")
        values.append(number(v))
    lattice = lattice_matrix(*values)
    thickness = 1.0 / np.linalg.norm(np.linalg.inv(lattice), axis=0)  # d100, d010, d001
    if not np.all(thickness >= 0.01):
        raise Unsupported("degenerate cell")
    return lattice


def _atoms(data: dict):
    """Asymmetric-unit atoms: labels, elements, occupancies, (n, 3) positions, messages."""
    labels = _column(data, "_atom_site_label")
    n = len(labels)
    symbols = _column(data, "_atom_site_type_symbol", n) if "_atom_site_type_symbol" in data else labels
    if symbols is not labels and any(" + " in s for s in symbols):
        raise Unsupported("Pauling-file symbols")
    occ_s = _column(data, "_atom_site_occupancy", n) if "_atom_site_occupancy" in data else ["1"] * n
    xyz = [_column(data, f"_atom_site_fract_{k}", n) for k in "xyz"]
    occ = np.array([1.0 if v == "?" else number(v) for v in occ_s]) if "?" in occ_s else numbers(occ_s)
    pos = np.stack([numbers(col) for col in xyz], axis=1)
    pos, snapped = snap_fractions(pos)
    parsed = [parse_symbol(s) for s in symbols]
    messages = [m for _, note in parsed if note for m in (note, note)]
    if snapped:
        messages.append(
            f"{snapped} fractional coordinates rounded to ideal values to avoid issues with finite precision."
        )
    keep = np.flatnonzero(occ > 0)
    oxidation = "_atom_type_oxidation_number" in data
    elements = [parsed[i][0] for i in keep]
    species = [symbols[i] for i in keep] if oxidation else elements
    return [labels[i] for i in keep], elements, np.maximum(occ[keep], 1e-8).tolist(), species, pos[keep], messages


def snap_fractions(pos: np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`snap_fraction` over an array (n, 3): snapped copy and the number of hits."""
    pos = pos.copy()
    total = 0
    for ideal in (1 / 3, 2 / 3):
        hit = np.abs(pos / ideal - 1) <= FRAC_TOL
        pos[hit] = ideal
        total += int(hit.sum())
    return pos, total


def close_pairs(points: np.ndarray, tol: float | np.ndarray = SITE_TOL) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of ``points`` (m, 3) fractional that lie within ``tol`` (scalar or
    per axis (3,), below 0.25) of each other on every axis, periodically (pymatgen's
    ``find_in_coord_list_pbc`` test). O(m log m) plus the pairs: sorted on x, only neighbours
    closer than ``tol`` in x are compared."""
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), (3,))
    w = points - np.floor(points)
    order = np.argsort(w[:, 0], kind="stable")
    xs = w[order, 0]
    wrap = int(np.searchsorted(xs, 2 * tol[0]))
    xs_ext = np.concatenate([xs, xs[:wrap] + 1.0])
    idx_ext = np.concatenate([order, order[:wrap]])
    hi = np.searchsorted(xs_ext, xs + 2 * tol[0], side="right")
    counts = hi - np.arange(1, xs.size + 1)
    counts = np.maximum(counts, 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a = np.repeat(np.arange(xs.size), counts)
    b = a + 1 + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    i, j = order[a], idx_ext[b]
    d = points[i] - points[j]
    d -= np.round(d)
    ok = np.all(np.abs(d) < tol, axis=1) & (i != j)
    i, j = np.minimum(i[ok], j[ok]), np.maximum(i[ok], j[ok])
    if i.size > 1:
        code = np.unique(i * len(points) + j)
        i, j = code // len(points), code % len(points)
    return i, j


def images_of(pos: np.ndarray, rots: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Symmetry images (n, O, 3) of positions (n, 3), not wrapped (``SymmOp.operate``)."""
    return np.einsum("oij,nj->noi", rots, pos) + trans[None, :, :]


def merge_sites(pos: np.ndarray, rots: np.ndarray, trans: np.ndarray) -> list[int]:
    """Index of the site each atom (n,) joins: the first earlier key that one of its symmetry
    images falls on (``get_matching_coord``: first operation, then first key), else itself."""
    n, n_ops = len(pos), len(rots)
    imgs = images_of(pos, rots, trans).reshape(-1, 3)
    i, j = close_pairs(np.concatenate([imgs, pos]))
    # pairs (image of atom a under op o, position of atom b) with b < a
    img, at = np.where(i < n * n_ops, i, j), np.where(i < n * n_ops, j, i) - n * n_ops
    keep = (np.minimum(i, j) < n * n_ops) & (np.maximum(i, j) >= n * n_ops)
    img, at = img[keep], at[keep]
    src, op = img // n_ops, img % n_ops
    keep = at < src
    src, op, at = src[keep], op[keep], at[keep]
    owner = list(range(n))
    if src.size == 0:
        return owner
    hits: dict[int, list[tuple[int, int]]] = {}
    for s, o, t in zip(src.tolist(), op.tolist(), at.tolist()):
        hits.setdefault(s, []).append((o, t))
    is_key = [True] * n
    for s in sorted(hits):
        found = sorted((o, t) for o, t in hits[s] if is_key[t])
        if found:
            owner[s] = found[0][1]
            is_key[s] = False
    return owner


def first_of_class(points: np.ndarray) -> np.ndarray | None:
    """Mask (m,) of the points kept by a greedy pass in order that keeps a point unless it is
    within ``SITE_TOL`` of one kept before (``CifParser._unique_coords``); ``None`` when the
    closeness is not an equivalence (clusters wider than the tolerance) and the greedy pass
    must run point by point."""
    i, j = close_pairs(points)
    label = np.arange(len(points))
    if i.size == 0:
        return np.ones(len(points), bool)
    np.minimum.at(label, j, i)
    if np.any(label[label] != label) or np.any(label[i] != label[j]):
        return None
    size = np.bincount(label, minlength=len(points))
    pairs = np.bincount(label[i], minlength=len(points))
    if np.any(pairs != size * (size - 1) // 2):
        return None
    return label == np.arange(len(points))


def greedy_unique(points: np.ndarray) -> np.ndarray:
    """Mask (m,) of the greedy pass of :func:`first_of_class`, point by point (slow, exact)."""
    kept: list[int] = []
    for k, p in enumerate(points):
        d = points[kept] - p
        d -= np.round(d)
        if not np.all(np.abs(d) < SITE_TOL, axis=1).any():
            kept.append(k)
    mask = np.zeros(len(points), bool)
    mask[kept] = True
    return mask


def structure_of(name: str, data: dict) -> FastStructure:
    """The structure of one block (raises ``Unsupported`` for pymatgen's cases)."""
    _check_tags(data)
    lattice = _cell(data)
    rots, trans = symmetry_ops(data)
    labels, elements, occ, species, pos, messages = _atoms(data)
    if not labels:
        raise Unsupported("no atoms")
    owner = merge_sites(pos, rots, trans)
    comps, site_label = _site_compositions(owner, labels, elements, occ, species)
    b_of = _b_table(data)
    groups: dict[tuple, list[int]] = {}
    for k, comp in comps.items():
        groups.setdefault(tuple(sorted(comp.items())), []).append(k)
    frac, els, occs, bs, site_ix = [], [], [], [], []
    composition: dict[str, float] = {}
    n_sites = 0
    for comp_key, keys in groups.items():
        imgs = images_of(pos[keys], rots, trans)
        imgs = (imgs - np.floor(imgs)).reshape(-1, 3)
        mask = first_of_class(imgs)
        mask = greedy_unique(imgs) if mask is None else mask
        count = mask.reshape(len(keys), -1).sum(axis=1)
        kept = imgs[mask]
        b = np.repeat([b_of.get(site_label[k]) or 0.0 for k in keys], count)
        ids = np.arange(n_sites, n_sites + len(kept))
        for el, amount in comp_key:
            composition[el] = composition.get(el, 0.0) + amount * len(kept)
            frac.append(kept)
            els += [el] * len(kept)
            occs.append(np.full(len(kept), amount))
            bs.append(b)
            site_ix.append(ids)
        n_sites += len(kept)
    crystal = Crystal(
        lattice, np.concatenate(frac), els, np.concatenate(occs), np.concatenate(bs), np.concatenate(site_ix)
    )
    return FastStructure(name, crystal, composition, messages)


def _site_compositions(owner, labels, elements, occ, species):
    """Element → occupancy per site key, and each site's label (the last atom's), after
    pymatgen's occupancy check (a sum over 1 is an error there: left to pymatgen)."""
    comps: dict[int, dict[str, float]] = {}
    amounts: dict[int, dict[str, float]] = {}
    site_label: dict[int, str] = {}
    for i, k in enumerate(owner):
        comp = comps.setdefault(k, {})
        comp[elements[i]] = comp.get(elements[i], 0.0) + occ[i]
        sp = amounts.setdefault(k, {})
        sp[species[i]] = sp.get(species[i], 0.0) + occ[i]
        site_label[k] = labels[i]
    for k, sp in amounts.items():
        if sum(sp.values()) > 1.0:
            raise Unsupported("occupancies sum to more than 1")
    return comps, site_label


def _b_table(data: dict) -> dict[str, float]:
    """Label → B (Å²) as spectool's pymatgen path reads it (B tag first, else U × 8π²)."""
    labels = data.get("_atom_site_label")
    for tag, factor in _B_TAGS:
        values = data.get(tag)
        if not isinstance(labels, list) or not isinstance(values, list) or len(values) != len(labels):
            continue
        table = {lab: cif_float(v) for lab, v in zip(labels, values)}
        return {lab: v * factor for lab, v in table.items() if v is not None}
    return {}
