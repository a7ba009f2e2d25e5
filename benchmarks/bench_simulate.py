"""simulate: spectool's XRD physics against pymatgen's XRDCalculator, one worker each.

Usage:  python benchmarks/bench_simulate.py [--repeat N] [--mp N] [--sample N] [--seed S] [--pairs P]
                                           [--skip-all] [--skip-random]

Two sets of CIFs:
  size-weighted: 13 classic structures built here (2..576 sites) plus ``--mp`` prototypes from
      ../shared/data/cifs/mp-prototypes spread evenly over their sorted sizes;
  random: a seeded random sample of ``--sample`` (1,000) of the 5,557 prototypes (median ~14 sites).
Comparisons:
  1. from parsed structures (size-weighted set): pymatgen ``get_pattern`` + a Gaussian profile
     on the grid, against spectool ``crystal_from_structure`` + ``simulate_pattern``;
  2. in-process from CIF files, per file back to back (paired, one run each, wall and CPU
     time): pymatgen ``CifParser`` + the above, against spectool ``load_structures`` (gemmi,
     pymatgen where it declines) + ``simulate_pattern``;
  3. whole processes, one worker each, ``--pairs`` paired runs (peer, then spectool, in turn):
     ``benchmarks/peer_pymatgen_simulate.py`` against ``spectool simulate --from-list`` (HDF5
     out, stick lists, labels; with the spglib space group labels and with ``--no-symmetry``);
     wall time and the children's CPU time (user + sys), which load on the machine disturbs less;
  4. (unless --skip-all) every prototype through ``spectool simulate --workers 2``.
Both render with the same function on the same grid (5–90°, 0.02°, CuKa, FWHM 0.1°), so the
profile cost is shared. Prints patterns/s, the ratios, the zeolite time and the accuracy. The
machine's load average is printed with each timing: ratios are paired, absolute times are not.
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
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
MP = SHARED / "data" / "cifs" / "mp-prototypes"
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
        # spinel MgAl2O4: origin-choice-2 coordinates (Mg 1/8, Al 1/2, O u = 0.2624) moved to pymatgen's
        # origin choice 1 (+1/8), as for FAU below; unmoved they made Mg2AlO4 with atoms 0.28 Å apart
        "spinel": sg("Fd-3m", cubic(8.083), ["Mg", "Al", "O"], [[0.25] * 3, [0.625] * 3, [0.3874] * 3]),
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


def random_files(count: int, seed: int) -> list[Path]:
    """A seeded random sample of ``count`` prototype CIFs (sorted by path)."""
    rows = sorted(csv.DictReader(open(MP / "labels.csv")), key=lambda r: r["file"])
    pick = np.sort(np.random.default_rng(seed).choice(len(rows), min(count, len(rows)), replace=False))
    return [MP / rows[i]["file"] for i in pick]


def mp_files(count: int) -> list[Path]:
    """``count`` prototype CIFs evenly spread over the sorted site counts."""
    rows = sorted(csv.DictReader(open(MP / "labels.csv")), key=lambda r: (int(r["nsites"]), r["file"]))
    picks = np.linspace(0, len(rows) - 1, count).round().astype(int)
    return [MP / rows[i]["file"] for i in picks]


def pymatgen_pattern(calc, structure, sticks: bool = False):
    """The peer: pymatgen's sticks with the same Gaussian profile on the same grid (and the sticks)."""
    p = calc.get_pattern(structure, scaled=False, two_theta_range=(5, 90))
    x, y = np.asarray(p.x), np.asarray(p.y)
    out = render(GRID, x, y, np.full(x.size, 0.1), "gaussian")
    out = (out / out.max()).astype(np.float32)
    return (out, x, y) if sticks else out


#: Grid points farther than this (deg) from the ends: spectool adds the tails of peaks just outside
#: the range, which pymatgen's sticks (5–90° only) leave out, so patterns differ near the ends.
EDGE = 1.0


def differences(peer, ours) -> tuple[float, float, float]:
    """Max |Δ2θ| (deg) and |ΔI| (% of strongest) over the peer's peaks > 0.5 %, and max |Δpattern|
    away from the grid's ends, of ``peer`` (pattern, 2θ, I) and ``ours`` (pattern, Reflections)."""
    (theirs, x, y), (mine, sticks) = peer, ours
    y = y / y.max() * 100
    inten = sticks.intensity / sticks.intensity.max() * 100
    strong = y > 0.5
    near = np.abs(sticks.two_theta[None, :] - x[strong, None]).argmin(axis=1)
    inside = (GRID >= GRID[0] + EDGE) & (GRID <= GRID[-1] - EDGE)
    return (float(np.abs(sticks.two_theta[near] - x[strong]).max()), float(np.abs(inten[near] - y[strong]).max()),
            float(np.abs(theirs - mine)[inside].max()))


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
    ap.add_argument("--sample", type=int, default=1000, help="size of the seeded random sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs", type=int, default=3, help="paired whole-process runs")
    ap.add_argument("--skip-all", action="store_true", help="skip the all-prototypes CLI run")
    ap.add_argument("--skip-random", action="store_true", help="skip the random-sample comparisons")
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
        sets = {"size-weighted": cifs + files}
        if MP.exists() and not args.skip_random:
            sets[f"random {args.sample} (seed {args.seed})"] = random_files(args.sample, args.seed)
        t_parse = time_each(lambda p: CifParser(p).parse_structures(primitive=False), cifs, args.repeat)
        print(f"\n2. in-process from CIF files, each file pymatgen then spectool (paired); "
              f"pymatgen CifParser alone: {t_parse.mean() * 1e3:.2f} ms/file")
        for name, paths in sets.items():
            in_process(name, paths, calc, args.repeat)
        print(f"\n3. whole processes, one worker each, {args.pairs} paired runs (peer, spectool, spectool "
              "--no-symmetry in turn)")
        for name, paths in sets.items():
            whole_process(name, paths, Path(tmp), args.pairs)
    if MP.exists() and not args.skip_all:
        all_prototypes()


def in_process(name: str, paths: list[Path], calc, repeat: int) -> None:
    """Per file, back to back, one run each: pymatgen's parse + pattern + profile, then spectool's.
    Wall and CPU (process) time; under load the CPU times are the steadier pair."""
    from pymatgen.io.cif import CifParser

    wall, cpu = np.zeros((2, len(paths))), np.zeros((2, len(paths)))
    runs = (lambda p: pymatgen_pattern(calc, CifParser(p).parse_structures(primitive=False)[0], sticks=True),
            lambda p: simulate_pattern(load_structures(p)[0].crystal, GRID, RADIATION, PROFILE))
    load = os.getloadavg()[0]
    worst = np.zeros(3)
    for i, path in enumerate(paths):
        results = []
        for j, run in enumerate(runs):
            t, c = time.perf_counter(), time.process_time()
            results.append(run(path))
            wall[j, i], cpu[j, i] = time.perf_counter() - t, time.process_time() - c
        worst = np.maximum(worst, differences(*results))
    print(f"   {name}: {len(paths)} files, load {load:.1f}; per pattern pymatgen {wall[0].mean() * 1e3:.2f} ms wall "
          f"({cpu[0].mean() * 1e3:.2f} CPU), spectool {wall[1].mean() * 1e3:.2f} ms wall "
          f"({cpu[1].mean() * 1e3:.2f} CPU); ratio {wall[0].sum() / wall[1].sum():.1f}x wall, "
          f"{cpu[0].sum() / cpu[1].sum():.1f}x CPU")
    print(f"      exactness: max |Δ2θ| {worst[0]:.1e}°, max |ΔI| {worst[1]:.1e} % of strongest (peaks > 0.5 %), "
          f"max |Δpattern| {worst[2]:.1e} (more than {EDGE:g}° from the ends)")


def whole_process(name: str, paths: list[Path], tmp: Path, pairs: int) -> None:
    """``pairs`` rounds of: the pymatgen peer process, ``spectool simulate``, ``spectool simulate
    --no-symmetry``; median seconds and the median of the per-round ratios."""
    import subprocess

    listing = tmp / "list.txt"
    listing.write_text("\n".join(map(str, paths)) + "\n")
    # bytecode cached, as an installed package has it (pymatgen's is): without, every process compiles
    # spectool's modules anew (~0.1 s)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(ROOT)}
    spectool = [sys.executable, "-m", "spectool", "simulate", "--from-list", str(listing), "-q", "--workers", "1"]
    commands = {
        "pymatgen": [sys.executable, str(ROOT / "benchmarks" / "peer_pymatgen_simulate.py"), str(listing),
                     str(tmp / "peer.npy")],
        "spectool": spectool + ["-o", str(tmp / "a.h5")],
        "spectool --no-symmetry": spectool + ["-o", str(tmp / "b.h5"), "--no-symmetry"],
    }
    import resource

    times: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
    loads = []
    for cmd in commands.values():  # warm-up, untimed: bytecode written, files in the page cache
        subprocess.run(cmd, env=env, capture_output=True)
    for _ in range(pairs):
        loads.append(os.getloadavg()[0])
        for key, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            times[key].append((time.perf_counter() - start, cpu))
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{key} failed: {proc.stderr[-500:]}")
    pm = np.array(times["pymatgen"])
    print(f"   {name}: {len(paths)} files, load {min(loads):.1f}..{max(loads):.1f}; "
          f"pymatgen {np.median(pm[:, 0]):.2f} s wall, {np.median(pm[:, 1]):.2f} s CPU; "
          f"max |Δpattern| spectool vs peer {pattern_difference(tmp / 'peer.npy', tmp / 'a.h5', paths)}")
    for key in list(commands)[1:]:
        t = np.array(times[key])
        ratios = pm / t
        print(f"      {key:24s} {np.median(t[:, 0]):6.2f} s wall ({len(paths) / np.median(t[:, 0]):6.1f} patterns/s), "
              f"{np.median(t[:, 1]):6.2f} s CPU; ratio {np.median(ratios[:, 0]):.1f}x wall, "
              f"{np.median(ratios[:, 1]):.1f}x CPU (per pair, wall: {', '.join(f'{r:.1f}' for r in ratios[:, 0])})")


def pattern_difference(peer: Path, ours: Path, paths: list[Path]) -> str:
    """Largest |Δ| between the peer's patterns (one per path) and spectool's set (both normalised to
    1), row by row (matched by source path), away from the grid's ends."""
    import h5py

    theirs = np.load(peer)
    with h5py.File(ours) as f:
        mine = f["entry/data/X"][:]
        sources = [s.decode() for s in f["entry/samples/source"][:]]
    if len(theirs) != len(paths):
        return f"not comparable: the peer read {len(theirs)} of {len(paths)} files"
    row = {str(p): i for i, p in enumerate(paths)}
    theirs = theirs[[row[s] for s in sources]]
    inside = (GRID >= GRID[0] + EDGE) & (GRID <= GRID[-1] - EDGE)
    refused = f"; {len(paths) - len(mine)} file(s) spectool refused" if len(mine) < len(paths) else ""
    return (f"{np.abs(theirs - mine)[:, inside].max():.1e} over {len(mine)} patterns (more than {EDGE:g}° from "
            f"the ends{refused})")


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
    print(f"\n4. all {n} mp-prototype CIFs, `spectool simulate --workers 2` (2 cores, process start included)")
    print(f"   {n / seconds:.1f} patterns/s ({seconds:.1f} s), exit {proc.returncode}, {failed} structures failed, "
          f"largest process peak RSS {rss:.0f} MB, output {size:.0f} MB")


if __name__ == "__main__":
    main()
