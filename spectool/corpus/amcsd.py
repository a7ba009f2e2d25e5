"""AMCSD rows (larixite's SQLite schema) → CIF text that keeps the journal reference.

The American Mineralogist Crystal Structure Database (Downs & Hall-Wallace 2003) is free for
scientific use with attribution to the article each structure comes from: the CIF written here
carries that article (authors, journal, volume, year, pages, title) and the AMCSD code. Coordinates
and occupancies are stored as base64 int32 × 4·10⁶, with 2 and 3 standing for ``?`` and ``.``.
"""

from __future__ import annotations

import json
from base64 import b64decode

import numpy as np

from spectool.errors import FormatError

SCALE = 4.0e6
_UNKNOWN = (2.0, 3.0)  # the database's codes for '?' and '.'


def decode(text: str | None) -> np.ndarray | None:
    """A stored number array → float64 (n,), NaN for unknown entries; None when absent (``"0"``)."""
    if text in (None, "0", 0, ""):
        return None
    values = np.frombuffer(b64decode(text), dtype=np.int32) / SCALE
    values[np.isin(np.round(values, 5), _UNKNOWN)] = np.nan
    return values


def shared_site_occupancies(positions: np.ndarray, occupancy: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Occupancies (n,) with every group of atoms on one position (n, 3) summing to at most 1:
    the database lists some mixed sites without occupancies (each then 1) and rounds others to
    1.001, which CIF readers refuse."""
    out = occupancy.astype(float).copy()
    delta = positions[:, None, :] - positions[None, :, :]
    same = np.all(np.abs(delta - np.round(delta)) < tol, axis=2)
    for i in range(len(out)):
        total = occupancy[same[i]].sum()
        if total > 1.0 + 1e-9:
            out[i] = occupancy[i] / total
    return out


def _quote(text: object) -> str:
    """A CIF text field: ``'…'`` unless it holds a quote, then a ``;`` block."""
    text = " ".join(str(text or "").split())
    return f"'{text}'" if "'" not in text else f"\n;\n{text}\n;"


def reference(row: dict) -> str:
    """``Authors (year) Journal volume, first-last`` of an AMCSD row."""
    pages = "-".join(p for p in (row.get("page_first"), row.get("page_last")) if p)
    authors = row.get("authors") or "unknown authors"
    return f"{authors} ({row.get('year')}) {row.get('journal')} {row.get('volume')}, {pages}".strip()


def cif_text(row: dict) -> str:
    """The CIF of one AMCSD row (P1 atoms expanded by its symmetry operations when read).

    Raises :class:`FormatError` for a row without atoms or with unknown coordinates.
    """
    sites = json.loads(row["sites"]) if row.get("sites") not in (None, "<missing>", '"<missing>"') else None
    xyz = [decode(row.get(k)) for k in "xyz"]
    if not sites or any(v is None or len(v) != len(sites) or np.isnan(v).any() for v in xyz):
        raise FormatError(f"AMCSD {row['id']}: no usable atom positions")
    occupancy = decode(row.get("occupancy"))
    if occupancy is None or len(occupancy) != len(sites):
        occupancy = np.ones(len(sites))
    occupancy = shared_site_occupancies(np.stack(xyz, axis=1), np.nan_to_num(occupancy, nan=1.0))
    lines = ["data_amcsd_%07d" % int(row["id"]), f"_database_code_amcsd {int(row['id']):07d}",
             f"_chemical_name_mineral {_quote(row.get('mineral') or '?')}",
             f"_chemical_formula_sum {_quote(row.get('formula') or '?')}",
             f"_journal_name_full {_quote(row.get('journal'))}", f"_journal_volume {_quote(row.get('volume'))}",
             f"_journal_year {row.get('year')}", f"_journal_page_first {_quote(row.get('page_first'))}",
             f"_journal_page_last {_quote(row.get('page_last'))}", f"_publ_section_title {_quote(row.get('title'))}",
             "loop_", "_publ_author_name", *[_quote(a) for a in (row.get("authors") or "?").split("; ")]]
    for key, tag in zip(("a", "b", "c", "alpha", "beta", "gamma"), ("length_a", "length_b", "length_c",
                                                                    "angle_alpha", "angle_beta", "angle_gamma")):
        lines.append(f"_cell_{tag} {row[key]}")
    lines += [f"_symmetry_space_group_name_H-M {_quote(row.get('hm'))}", "loop_",
              "_space_group_symop_operation_xyz", *[f"'{op}'" for op in json.loads(row["symops"])],
              "loop_", "_atom_site_label", "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z",
              "_atom_site_occupancy"]
    for i, label in enumerate(sites):
        values = [xyz[0][i], xyz[1][i], xyz[2][i], occupancy[i]]
        lines.append(f"{label} " + " ".join(f"{v:.6f}" for v in values))
    return "\n".join(lines) + "\n"
