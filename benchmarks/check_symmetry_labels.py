"""Space-group labels: today's spglib dataset against the cheaper ways to the same label.

Usage:  python benchmarks/check_symmetry_labels.py [--limit N] [--symprec S] [FOLDER ...]

Every structure (CIF data block) of every CIF under the folders (default: ../shared/data/cifs, i.e. the
5,557 mp-prototypes and the 524 openchemistry CIFs) is loaded as ``spectool simulate`` loads it. The
reference is the label ``spectool simulate`` wrote before this script existed: spglib's
``get_symmetry_dataset`` on the cell typed as :func:`reference_labels` types it. Each candidate's
answer (space group number and symbol) is compared with it, and its CPU time per structure printed:

- ``symmetry_labels``: what ``spectool simulate`` calls now;
- ``spglib get_symmetry + type``: spglib's symmetry operations, then
  ``get_spacegroup_type_from_symmetry`` (no standardisation asked for);
- ``spglib C dataset``: the compiled ``_spglib.dataset`` without the Python wrapper;
- ``declared operations (gemmi)``: ``gemmi.find_spacegroup_by_ops`` of the CIF's own operations,
  for the files that declare more than the identity (all mp-prototypes declare P1), its number
  written in spglib's notation (gemmi writes ``P63/mmc`` for ``P6_3/mmc``, ``H-3m`` for ``R-3m``);
- ``moyopy`` (when installed): the Rust rewrite of spglib by spglib's authors.

Prints the number of disagreements per candidate and lists them (path, block, sites, reference,
candidate). The machine's load average is printed beside the timings.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from spectool.errors import SpectoolError  # noqa: E402
from spectool.xrd.structures import crystal_system, load_structures, symmetry_labels  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
EMPTY = (0, "")


def typed_cell(crystal) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """spglib's cell as ``symmetry_labels`` built it before: one type per set of (element, occupancy)."""
    species = list(zip(crystal.elements, (round(o, 4) for o in crystal.occupancy.tolist())))
    sites, first, of_site = np.unique(crystal.site, return_index=True, return_inverse=True)
    if len(sites) == len(species):
        keys = [(pair,) for pair in species]
    else:
        members: list[list] = [[] for _ in sites]
        for pair, s in zip(species, of_site.tolist()):
            members[s].append(pair)
        keys = [tuple(sorted(m)) for m in members]
    kinds = {k: i for i, k in enumerate(sorted(set(keys)))}
    return crystal.lattice, crystal.frac_coords[first], [kinds[k] for k in keys]


def reference_labels(crystal, symprec: float) -> tuple[int, str]:
    """(number, symbol) as ``spectool simulate`` wrote them before: ``spglib.get_symmetry_dataset``."""
    import spglib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = spglib.get_symmetry_dataset(typed_cell(crystal), symprec=symprec)
    return EMPTY if dataset is None else (int(dataset.number), str(dataset.international))


def current(crystal, symprec: float, _block) -> tuple[int, str]:
    labels = symmetry_labels(crystal, symprec)
    return int(labels["spacegroup_number"]), str(labels["spacegroup_symbol"])


def spglib_operations_then_type(crystal, symprec: float, _block) -> tuple[int, str]:
    import spglib

    cell = typed_cell(crystal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ops = spglib.get_symmetry(cell, symprec=symprec)
        if ops is None:
            return EMPTY
        kind = spglib.get_spacegroup_type_from_symmetry(ops["rotations"], ops["translations"], cell[0], symprec)
    return EMPTY if kind is None else (int(kind.number), str(kind.international_short))


def spglib_c_dataset(crystal, symprec: float, _block) -> tuple[int, str]:
    from spglib import _spglib

    lattice, positions, types = typed_cell(crystal)
    try:
        d = _spglib.dataset(np.ascontiguousarray(lattice.T), np.ascontiguousarray(positions),
                            np.asarray(types, dtype="intc"), 0, float(symprec), -1.0)
    except Exception:  # noqa: BLE001 - spglib raises its own error for "no symmetry found"
        return EMPTY
    return (int(d["number"]), str(d["international"])) if d else EMPTY


def declared_operations(crystal, symprec: float, block) -> tuple[int, str] | None:
    """The space group of the CIF's listed operations, ``None`` where the file lists only x, y, z."""
    import gemmi

    from spectool.xrd.cif import _OP_TAGS

    if block is None:
        return None
    for tag in _OP_TAGS:
        ops = [gemmi.cif.as_string(v) for v in block.find_values(tag)]
        if ops:
            break
    if len(ops) <= 1:
        return None
    try:
        group = gemmi.find_spacegroup_by_ops(gemmi.GroupOps([gemmi.Op(op) for op in ops]))
    except (RuntimeError, ValueError):
        return EMPTY
    return EMPTY if group is None else (int(group.number), _symbol(int(group.number)))  # spglib's notation


def moyo(crystal, symprec: float, _block) -> tuple[int, str]:
    import moyopy

    lattice, positions, types = typed_cell(crystal)
    try:
        number = moyopy.MoyoDataset(moyopy.Cell(lattice.tolist(), positions.tolist(), types), symprec=symprec).number
    except Exception:  # noqa: BLE001
        return EMPTY
    return number, _symbol(number)


def _symbol(number: int) -> str:
    """spglib's short international symbol of a space-group number (its first Hall setting)."""
    return _symbols().get(number, "")


@lru_cache(maxsize=1)
def _symbols() -> dict[int, str]:
    import spglib

    out: dict[int, str] = {}
    for hall in range(530, 0, -1):  # the first setting of a number last, so it stays
        kind = spglib.get_spacegroup_type(hall)
        out[int(kind.number)] = str(kind.international_short)
    return out


def structures(folders: list[Path], limit: int | None):
    """(path, block name, crystal, gemmi block or None) of every structure that loads."""
    import gemmi

    paths = sorted(p for folder in folders for p in folder.rglob("*.cif"))[:limit]
    for path in paths:
        try:
            loaded = load_structures(path)
        except SpectoolError:
            continue
        try:
            doc = gemmi.cif.read(str(path))
            blocks = {b.name: b for b in doc}
        except (RuntimeError, ValueError):
            blocks = {}
        for item in loaded:
            yield path, item.name, item.crystal, blocks.get(item.name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--limit", type=int, help="only the first N files (sorted paths)")
    ap.add_argument("--symprec", type=float, default=0.01)
    args = ap.parse_args()
    folders = args.folders or [SHARED / "data" / "cifs"]
    candidates: dict[str, Callable] = {
        "symmetry_labels (spectool now)": current,
        "spglib get_symmetry + type": spglib_operations_then_type,
        "spglib C dataset": spglib_c_dataset,
        "declared operations (gemmi)": declared_operations,
    }
    try:
        import moyopy  # noqa: F401

        candidates["moyopy"] = moyo
    except ImportError:
        pass
    items = list(structures(folders, args.limit))
    load = os.getloadavg()[0]
    ref_time, reference = 0.0, []
    for _, _, crystal, _ in items:
        start = time.process_time()
        reference.append(reference_labels(crystal, args.symprec))
        ref_time += time.process_time() - start
    print(f"{len(items)} structures from {', '.join(map(str, folders))}; symprec {args.symprec} Å; load {load:.1f}")
    print(f"   {'reference: spglib get_symmetry_dataset':42s} {ref_time / len(items) * 1e3:7.3f} ms CPU a structure")
    for name, fn in candidates.items():
        seconds, compared, wrong = 0.0, 0, []
        for (path, block_name, crystal, block), ref in zip(items, reference):
            start = time.process_time()
            answer = fn(crystal, args.symprec, block)
            if answer is None:
                continue
            seconds += time.process_time() - start
            compared += 1
            if answer[0] != ref[0] or (answer[0] and answer[1] != ref[1]):
                wrong.append((path, block_name, len(np.unique(crystal.site)), ref, answer))
        print(f"   {name:42s} {seconds / max(compared, 1) * 1e3:7.3f} ms CPU a structure over {compared}; "
              f"{len(wrong)} disagreement(s)")
        for path, block_name, sites, ref, answer in wrong:
            where = path.relative_to(path.parents[2]) if len(path.parents) > 2 else path
            print(f"      {where} [{block_name}] {sites} sites: reference {ref[0]} {ref[1]!r} "
                  f"({crystal_system(ref[0]) if ref[0] else '-'}), candidate {answer[0]} {answer[1]!r}")


if __name__ == "__main__":
    main()
