"""check_cif: spectool's gemmi CIF reader against its pymatgen path on every CIF given.

Usage:  python benchmarks/check_cif.py [DIR_OR_FILES ...] [--every N]

For each file: ``load_structures(path)`` (gemmi, pymatgen when it declines) against
``load_structures(path, fast=False)`` (pymatgen's ``CifParser``). Compares the lattice, the
sites after symmetry expansion and merging (element, position, occupancy, B), the reduced
formula, and the CuKa sticks 5–90°: every peak above 0.5 % of the strongest within 0.001° and
0.5 % intensity (the simulate issue's tolerance). Prints counts, fallbacks, files pymatgen reads
and spectool does not (lost), the largest deviations and every mismatch. Default input:
../shared/data/cifs/mp-prototypes and ../shared/data/cifs/openchemistry-crystals.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from spectool.errors import SpectoolError
from spectool.xrd.cif import read_cif
from spectool.xrd.reflections import compute_reflections
from spectool.xrd.structures import load_structures

ROOT = Path(__file__).resolve().parent.parent
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
CIFS = SHARED / "data" / "cifs"
DEFAULT = [CIFS / "mp-prototypes", CIFS / "openchemistry-crystals"]
POS_TOL, INT_TOL, REPORTED = 1e-3, 0.5, 0.5


def site_table(crystal) -> np.ndarray:
    """Rows (Z-ish key, x, y, z, occ, B) sorted, positions wrapped into [0, 1)."""
    frac = crystal.frac_coords - np.floor(crystal.frac_coords)
    frac[frac > 1 - 1e-6] -= 1.0
    key = np.array([sum(map(ord, e)) * 1000 + len(e) for e in crystal.elements], float)
    rows = np.column_stack([key, np.round(frac, 6), crystal.occupancy, crystal.b_iso])
    return rows[np.lexsort(rows.T[::-1])]


def peak_deviation(a, b) -> tuple[float, float]:
    """Max |Δ2θ| (deg) and |ΔI| (% of strongest) from peaks of ``a`` above REPORTED % to ``b``'s."""
    ra = compute_reflections(a, 1.54184, (5, 90)).scaled(100)
    rb = compute_reflections(b, 1.54184, (5, 90)).scaled(100)
    dpos = dint = 0.0
    for x, y in ((ra, rb), (rb, ra)):
        strong = x.intensity > REPORTED
        if not strong.any():
            continue
        if len(y) == 0:
            return np.inf, np.inf
        near = np.abs(y.two_theta[None, :] - x.two_theta[strong, None]).argmin(axis=1)
        dpos = max(dpos, float(np.abs(y.two_theta[near] - x.two_theta[strong]).max()))
        dint = max(dint, float(np.abs(y.intensity[near] - x.intensity[strong]).max()))
    return dpos, dint


def check(path: Path) -> dict:
    """One file: fell back?, both errors, and the deviations per block."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    out = {"fallback": read_cif(text) is None, "problems": [], "dpos": 0.0, "dint": 0.0, "dlat": 0.0,
           "lost": False, "gained": False}
    try:
        fast = load_structures(path)
    except SpectoolError as exc:
        fast = exc
    try:
        slow = load_structures(path, fast=False)
    except SpectoolError as exc:
        slow = exc
    if isinstance(fast, Exception) or isinstance(slow, Exception):
        out["lost"] = isinstance(fast, Exception) and not isinstance(slow, Exception)
        out["gained"] = isinstance(slow, Exception) and not isinstance(fast, Exception)
        if type(fast) is not type(slow):
            out["problems"].append(f"one failed: fast {fast!s:.120} | pymatgen {slow!s:.120}")
        return out
    if [s.name for s in fast] != [s.name for s in slow]:
        out["problems"].append(f"blocks {[s.name for s in fast]} vs {[s.name for s in slow]}")
        return out
    for f, s in zip(fast, slow):
        out["dlat"] = max(out["dlat"], float(np.abs(f.crystal.lattice - s.crystal.lattice).max()))
        if f.formula != s.formula:
            out["problems"].append(f"{f.name}: formula {f.formula} vs {s.formula}")
        ta, tb = site_table(f.crystal), site_table(s.crystal)
        if ta.shape != tb.shape or not np.allclose(ta[:, :-1], tb[:, :-1], atol=2e-6):
            out["problems"].append(f"{f.name}: sites differ ({len(ta)} vs {len(tb)} scatterers)")
        elif not np.allclose(ta, tb, atol=2e-6):
            differ = ~np.isclose(ta[:, -1], tb[:, -1], atol=2e-6)
            if np.all(tb[differ, -1] == 0):  # anisotropic U's only: pymatgen's path reads no B
                out["problems"].append(f"{f.name}: B from anisotropic U_eq on {differ.sum()} scatterers")
            else:  # pymatgen's path gives every species of a merged site the B of its last label
                out["problems"].append(f"{f.name}: B differs (each atom's own B on a shared site)")
        dpos, dint = peak_deviation(f.crystal, s.crystal)
        out["dpos"], out["dint"] = max(out["dpos"], dpos), max(out["dint"], dint)
        if dpos > POS_TOL or dint > INT_TOL:
            out["problems"].append(f"{f.name}: peaks differ by {dpos:.2e} deg, {dint:.2e} %")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--every", type=int, default=1, help="check every N-th file only")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    files = sorted(p for i in args.inputs for p in ([i] if i.is_file() else i.rglob("*.cif")))[:: args.every]
    t0 = time.perf_counter()
    fallbacks, bad, lost, gained, worst = [], [], [], [], {"dpos": 0.0, "dint": 0.0, "dlat": 0.0}
    for path in files:
        res = check(path)
        if res["fallback"]:
            fallbacks.append(path)
        if res["lost"]:
            lost.append(path)
        if res["gained"]:
            gained.append(path)
        if res["problems"]:
            bad.append((path, res["problems"]))
        for k in worst:
            worst[k] = max(worst[k], res[k])
    print(f"files: {len(files)} in {time.perf_counter() - t0:.0f} s")
    print(f"fell back to pymatgen: {len(fallbacks)}")
    for p in fallbacks[:20]:
        print(f"   {p}")
    print(f"read by pymatgen, lost by spectool: {len(lost)}; read by spectool only: {len(gained)}")
    for p in lost + gained:
        print(f"   {p}")
    print(f"max |Δlattice| {worst['dlat']:.2e} Å; peaks > {REPORTED} %: max |Δ2θ| {worst['dpos']:.2e}°, "
          f"max |ΔI| {worst['dint']:.2e} % of strongest")  # fmt: skip
    print(f"mismatches: {len(bad)}")
    for p, problems in bad[:80]:
        print(f"   {p}: {'; '.join(problems)}")


if __name__ == "__main__":
    main()
