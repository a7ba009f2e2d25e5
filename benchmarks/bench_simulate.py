"""simulate: spectool's XRD physics against pymatgen's XRDCalculator, one process, one core.

Usage:  python benchmarks/bench_simulate.py [--repeat N] [--mp N]

Two comparisons over the same set (13 classic structures built here, 2..576 sites, plus
prototypes from ../shared/data/cifs/mp-prototypes spanning their sizes):
  1. from parsed structures: pymatgen ``get_pattern`` + a Gaussian profile on the grid,
     against spectool ``crystal_from_structure`` + ``simulate_pattern``;
  2. end to end from CIF files: pymatgen ``CifParser`` + the above, against spectool
     ``load_structures`` (spectool.xrd.fastcif, pymatgen where it declines) + ``simulate_pattern``.
Both render with the same function on the same grid (5–90°, 0.02°, CuKa, FWHM 0.1°), so the
profile cost is shared. Prints patterns/s, the ratios, the zeolite time and the accuracy.
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from spectool.xrd.profiles import make_grid, render  # noqa: E402
from spectool.xrd.radiation import parse_radiation  # noqa: E402
from spectool.xrd.simulate import ProfileOptions, simulate_pattern  # noqa: E402
from spectool.xrd.structures import crystal_from_structure, load_structures  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MP = ROOT.parent / "shared" / "data" / "cifs" / "mp-prototypes"
GRID = make_grid(5, 90, 0.02)
RADIATION = parse_radiation("CuKa")
PROFILE = ProfileOptions(fwhm=0.1)


def classic_structures() -> dict:
    """The classic set, built from space groups and Wyckoff positions."""
    from pymatgen.core import Lattice, Structure

    sg, cubic, hexa = Structure.from_spacegroup, Lattice.cubic, Lattice.hexagonal
    return {
        "NaCl": sg("Fm-3m", cubic(5.6402), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]),
        "Si": sg("Fd-3m", cubic(5.431), ["Si"], [[0, 0, 0]]),
        "CsCl": sg("Pm-3m", cubic(4.123), ["Cs", "Cl"], [[0, 0, 0], [0.5] * 3]),
        "rutile": sg("P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.3053, 0.3053, 0]]),
        "SrTiO3": sg("Pm-3m", cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]),
        "spinel": sg("Fd-3m", cubic(8.083), ["Mg", "Al", "O"], [[0.125] * 3, [0.5] * 3, [0.2624] * 3]),
        "ZnO": sg("P6_3mc", hexa(3.2498, 5.2066), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.3819]]),
        "corundum": sg("R-3c", hexa(4.759, 12.991), ["Al", "O"], [[0, 0, 0.35216], [0.30624, 0, 0.25]]),
        "calcite": sg("R-3c", hexa(4.988, 17.061), ["Ca", "C", "O"], [[0, 0, 0], [0, 0, 0.25], [0.2578, 0, 0.25]]),
        "forsterite": sg(
            "Pnma", Lattice.orthorhombic(10.19, 5.978, 4.753), ["Mg", "Mg", "Si", "O", "O", "O"],
            [[0, 0, 0], [0.2774, 0.25, 0.9915], [0.0940, 0.25, 0.4262],
             [0.0917, 0.25, 0.7660], [0.4474, 0.25, 0.2203], [0.1628, 0.0331, 0.2774]],
        ),  # fmt: skip
        "quartz": sg("P3_121", hexa(4.913, 5.405), ["Si", "O"], [[0.4697, 0, 0], [0.4135, 0.2669, 0.1191]]),
        "garnet": sg(
            "Ia-3d", cubic(12.00), ["Y", "Al", "Al", "O"],
            [[0.125, 0, 0.25], [0, 0, 0], [0.375, 0, 0.25], [-0.0306, 0.0512, 0.1500]],
        ),  # fmt: skip
        # faujasite (IZA FAU, SiO2), Fd-3m origin choice 1 as pymatgen sets it: 192 Si + 384 O
        "zeolite_FAU": sg(
            "Fd-3m", cubic(24.345), ["Si", "O", "O", "O", "O"],
            (np.array([[-0.05381, 0.12543, 0.03589], [0, -0.10673, 0.10673], [-0.00354, -0.00354, 0.14159],
                       [0.07403, 0.07403, -0.03183], [0.07160, 0.07160, 0.32062]]) + 0.125).tolist(),
        ),  # fmt: skip
    }


def mp_files(count: int) -> list[Path]:
    """``count`` prototype CIFs evenly spread over the sorted site counts."""
    rows = sorted(csv.DictReader(open(MP / "labels.csv")), key=lambda r: (int(r["nsites"]), r["file"]))
    picks = np.linspace(0, len(rows) - 1, count).round().astype(int)
    return [MP / rows[i]["file"] for i in picks]


def pymatgen_pattern(calc, structure) -> np.ndarray:
    """The peer: pymatgen's sticks with the same Gaussian profile on the same grid."""
    p = calc.get_pattern(structure, scaled=False, two_theta_range=(5, 90))
    x, y = np.asarray(p.x), np.asarray(p.y)
    out = render(GRID, x, y, np.full(x.size, 0.1), "gaussian")
    return (out / out.max()).astype(np.float32)


def spectool_pattern(structure) -> np.ndarray:
    return simulate_pattern(crystal_from_structure(structure), GRID, RADIATION, PROFILE)[0]


def time_each(fn, items, repeat: int) -> np.ndarray:
    """Best-of-``repeat`` seconds per item."""
    best = np.full(len(items), np.inf)
    for _ in range(repeat):
        for i, item in enumerate(items):
            t = time.perf_counter()
            fn(item)
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def accuracy(calc, structures) -> tuple[float, float, float]:
    """Max |Δ2θ| (deg), max |ΔI| (% of strongest) over peaks > 0.5 %, max |Δpattern|."""
    from spectool.xrd.reflections import compute_reflections

    dpos = dint = dpat = 0.0
    for s in structures:
        ref = calc.get_pattern(s, two_theta_range=(5, 90))
        ours = compute_reflections(crystal_from_structure(s), RADIATION.wavelength, (5, 90)).scaled(100)
        x, y = np.asarray(ref.x), np.asarray(ref.y)
        near = np.abs(ours.two_theta[None, :] - x[y > 0.5, None]).argmin(axis=1)
        dpos = max(dpos, np.abs(ours.two_theta[near] - x[y > 0.5]).max())
        dint = max(dint, np.abs(ours.intensity[near] - y[y > 0.5]).max())
        dpat = max(dpat, np.abs(pymatgen_pattern(calc, s) - spectool_pattern(s)).max())
    return dpos, dint, dpat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mp", type=int, default=17, help="prototype CIFs to add to the classic set")
    ap.add_argument("--skip-all", action="store_true", help="skip the all-prototypes CLI run")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    warnings.simplefilter("ignore")
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from pymatgen.io.cif import CifParser, CifWriter

    calc = XRDCalculator("CuKa")
    classic = classic_structures()
    files = mp_files(args.mp) if MP.exists() else []
    structures = list(classic.values()) + [CifParser(f).parse_structures(primitive=False)[0] for f in files]
    names = list(classic) + [f.stem for f in files]
    sizes = [len(s) for s in structures]
    print(f"set: {len(structures)} structures, {min(sizes)}..{max(sizes)} sites; grid 5-90° step 0.02°, CuKa, FWHM 0.1°")

    dpos, dint, dpat = accuracy(calc, structures)
    print(f"accuracy vs pymatgen: max |Δ2θ| {dpos:.2e}°, max |ΔI| {dint:.2e} % of strongest, max |Δpattern| {dpat:.2e}")

    t_pm = time_each(lambda s: pymatgen_pattern(calc, s), structures, max(1, args.repeat - 2))
    t_st = time_each(spectool_pattern, structures, args.repeat)
    z = names.index("zeolite_FAU")
    print("\n1. from parsed structures (patterns/s = structures / total time)")
    print(f"   pymatgen get_pattern + profile: {len(structures) / t_pm.sum():8.1f} patterns/s")
    print(f"   spectool simulate_pattern:      {len(structures) / t_st.sum():8.1f} patterns/s")
    print(f"   ratio: {t_pm.sum() / t_st.sum():.1f}x   (per-structure median ratio {np.median(t_pm / t_st):.1f}x)")
    print(f"   zeolite FAU ({sizes[z]} sites): pymatgen {t_pm[z]:.3f} s, spectool {t_st[z] * 1e3:.1f} ms, {t_pm[z] / t_st[z]:.0f}x")
    nacl = names.index("NaCl")
    print(f"   NaCl: pymatgen {t_pm[nacl] * 1e3:.2f} ms, spectool {t_st[nacl] * 1e3:.2f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        cifs = []
        for name, s in classic.items():
            path = Path(tmp) / f"{name}.cif"
            CifWriter(s).write_file(path)
            cifs.append(path)
        cifs += files

        def pm_file(path):
            return pymatgen_pattern(calc, CifParser(path).parse_structures(primitive=False)[0])

        def st_file(path):
            return simulate_pattern(load_structures(path)[0].crystal, GRID, RADIATION, PROFILE)[0]

        t_pmf = time_each(pm_file, cifs, max(1, args.repeat - 2))
        t_stf = time_each(st_file, cifs, args.repeat)
        t_parse = time_each(lambda p: CifParser(p).parse_structures(primitive=False), cifs, args.repeat)
    print("\n2. end to end from CIF files")
    print(f"   pymatgen CifParser + get_pattern + profile: {len(cifs) / t_pmf.sum():8.1f} patterns/s")
    print(f"   spectool load_structures + simulate_pattern: {len(cifs) / t_stf.sum():8.1f} patterns/s")
    print(f"   ratio: {t_pmf.sum() / t_stf.sum():.1f}x;  pymatgen CifParser alone: {t_parse.mean() * 1e3:.2f} ms/file")
    if MP.exists() and not args.skip_all:
        all_prototypes()


def all_prototypes() -> None:
    """`spectool simulate` over every mp-prototype CIF with --workers 2: patterns/s and peak RSS."""
    import resource
    import subprocess

    cifs = MP / "sorted-structures"
    n = sum(1 for _ in cifs.rglob("*.cif"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "all.h5"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "spectool", "simulate", str(cifs), "-o", str(out), "--workers", "2", "-q",
               "--label", "parent"]
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1))) if hasattr(os, "sched_setaffinity") else None
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        failed = proc.stderr.count("spectool: error:") - (1 if proc.returncode == 1 else 0)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = out.stat().st_size / 1e6 if out.exists() else 0
    print(f"\n3. all {n} mp-prototype CIFs, `spectool simulate --workers 2` (2 cores, process start included)")
    print(f"   {n / seconds:.1f} patterns/s ({seconds:.1f} s), exit {proc.returncode}, {failed} structures failed, "
          f"largest process peak RSS {rss:.0f} MB, output {size:.0f} MB")


if __name__ == "__main__":
    main()
