"""Where ``spectool simulate`` spends its time, stage by stage, per structure.

Usage:  python benchmarks/profile_simulate.py [--sample N] [--seed S] [LIST]

Runs the stages of ``simulate_file`` one after the other on each CIF of the seeded random sample
of bench_simulate (or the paths in LIST), CPU time per stage (``time.process_time_ns``), and
prints the mean per structure in µs and the share of the total; then the start-up of a whole
process (``spectool simulate`` of one file, CPU time of the child, median of 5) and the HDF5
output of the rows (``create_set`` + ``append`` as ``_run`` does them). The stages call the same
functions as the command, so the sum is the in-process cost of a pattern.
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def stages(path: str, settings, clock) -> list:
    """One structure through the stages of ``simulate_file``; ``clock(name)`` closes a stage."""
    from spectool.xrd import cif as cifmod
    from spectool.xrd.reflections import (
        g_limits, lorentz_polarization, merge_peaks, reciprocal_points, squared_structure_factors,
    )
    from spectool.xrd.simulate import _in_range, _prepared, _sticks, cell_formula, cell_parameters, line_sticks
    from spectool.xrd.profiles import render
    from spectool.xrd.structures import reduced_formula, symmetry_labels, validate
    import gemmi

    grid, radiation, profile = _prepared(settings)
    clock(None)
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    clock("file read")
    doc = gemmi.cif.read_string(text)
    block = doc[0]
    clock("CIF parse (gemmi)")
    small = gemmi.make_small_structure_from_block(block)
    lattice = cifmod._cell(block)
    rots, trans = cifmod.symmetry_ops(block)
    elements, occ, pos, b, _ = cifmod._atoms(block, small, lattice)
    cifmod._attached_hydrogens(block)
    clock("CIF atoms, cell, operations")
    frac, atom = cifmod.orbits(pos, rots, trans)
    site = cifmod.coincident_sites(frac)
    frac, elements, occ, b, site = cifmod._merge_species(frac, [elements[a] for a in atom], occ[atom], b[atom], site)
    crystal = cifmod.Crystal(lattice, frac, elements, occ, b, site)
    clock("symmetry expansion")
    composition: dict[str, float] = {}
    for el, o in zip(elements, occ.tolist()):
        composition[el] = composition.get(el, 0.0) + o
    formula = reduced_formula(composition)
    clock("formula")
    validate(crystal)
    clock("validate (overlaps)")
    labels = symmetry_labels(crystal, settings.symprec) if settings.symmetry else {}
    clock("symmetry labels (spglib)")
    lam = radiation.wavelength
    margin = profile.margin(grid, lam)
    lo, hi = max(grid[0] - margin, 0.0), min(grid[-1] + margin, 180.0)
    g_min, g_max = g_limits((lo, hi), lam)
    points = reciprocal_points(crystal.lattice, g_min, g_max)
    clock("hkl enumeration")
    f2 = squared_structure_factors(crystal, points)
    clock("structure factors")
    theta = np.arcsin(np.minimum(lam * points.g / 2, 1.0))
    intensity = 2 * f2 * lorentz_polarization(theta, None)
    clock("Bragg angles + LP")
    wide = merge_peaks(np.degrees(2 * theta), points.g, intensity, points.hkl)
    sticks = _in_range(wide, grid[0], grid[-1])
    clock("merge into peaks")
    tt, inten = line_sticks(wide, radiation, None)
    y = render(grid, tt, inten, profile.widths(tt, lam), profile.shape, profile.eta, profile.window)
    y = (y / y.max()).astype(np.float32)
    clock("profile rendering")
    row = (y, _sticks(sticks), cell_parameters(crystal.lattice), cell_formula(crystal), formula, labels)
    clock("row (sticks, cell, formulas)")
    return row


def main() -> None:
    from bench_simulate import MP, random_files
    from spectool.xrd.simulate import SimulationSettings, simulate_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("listing", nargs="?", help="file with CIF paths, one a line (default: the random sample)")
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    paths = (open(args.listing).read().split() if args.listing else [str(p) for p in random_files(args.sample, args.seed)])
    settings = SimulationSettings()
    totals: dict[str, int] = defaultdict(int)
    last = [0]

    def clock(name: str | None) -> None:
        now = time.process_time_ns()
        if name is not None:
            totals[name] += now - last[0]
        last[0] = now

    stages(paths[0], settings, lambda name: None)  # imports and tables outside the timing
    for path in paths:
        last[0] = time.process_time_ns()
        stages(path, settings, clock)
    rows = [r for p in paths for r in simulate_file(p, settings)]
    totals["HDF5 output"] = int(hdf5_cost(rows, settings) * 1e9 * len(paths))
    n = len(paths)
    total = sum(totals.values())
    print(f"{n} structures ({MP.name if not args.listing else args.listing}); CPU time per structure, load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"   {'stage':32s} {'µs':>8s} {'share':>6s}")
    for name, ns in totals.items():
        print(f"   {name:32s} {ns / n / 1e3:8.0f} {ns / total:6.1%}")
    print(f"   {'total in-process':32s} {total / n / 1e3:8.0f}")
    start = startup()
    print(f"   start-up of a process (one file, CPU): {start * 1e3:.0f} ms "
          f"= {start / n * 1e6:.0f} µs a structure over {n}")


def hdf5_cost(rows, settings) -> float:
    """CPU seconds per row to write ``rows`` as ``_run`` does (chunks of ROWS_PER_WRITE)."""
    from spectool.cli.simulate import ROWS_PER_WRITE
    from spectool.env import Env
    from spectool.io.sets import create_set
    from spectool.spectra import Axis, SetMeta
    from spectool.xrd.simulate import label_of, rows_to_chunk

    meta = SetMeta(axis=Axis(settings.grid(), "two_theta", "deg"), kind="xrd", wavelength=1.5406, radiation="CuKa")
    env = Env(quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        with create_set(str(Path(tmp) / "out.h5"), meta, env, {"command": "profile"}, None) as out:
            for lo in range(0, len(rows), ROWS_PER_WRITE):
                part = rows[lo: lo + ROWS_PER_WRITE]
                out.append(rows_to_chunk(part), [label_of(r, "stem") for r in part])
        return (time.process_time() - start) / max(len(rows), 1)


def startup() -> float:
    """Median CPU seconds (user + sys of the child) of ``spectool simulate --no-symmetry`` of one
    small CIF, bytecode cached as an installed package has it."""
    import resource
    import subprocess

    cif = ROOT / "tests" / "data" / "cifs"
    one = cif / "quartz_P3221.cif"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "spectool", "simulate", str(one), "-q", "--no-symmetry", "-o",
               str(Path(tmp) / "o.h5")]
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        for _ in range(5):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return float(np.median(times))


if __name__ == "__main__":
    main()
