"""Augment throughput and memory: batched paths vs a straightforward per-pattern numpy loop.

    python benchmarks/bench_augment.py [--n 2000] [--copies 50] [--chunk 32] [--naive 10]
        [--out aug.h5] [--preprocess ../shared/data/xrd]

Builds N simulated patterns (5–90° 2θ, step 0.02 → 4,251 points) from stick lists of random
cubic/tetragonal/orthorhombic cells, then makes ``copies`` variants of each with the
pattern-level (ViT) and the physics-level (CrySTINet / XRD-AutoAnalyzer) default ops,
streaming chunk by chunk into a throwaway sink (or an HDF5 set with ``--out``). The naive
loop does the same operations pattern by pattern (scipy ``find_peaks`` and a Python loop
per peak; per pattern, numpy over its sticks with a full-grid profile per stick) on the
first ``--naive`` inputs × ``copies``, and its rate is extrapolated: the output says so.
Both run in this one process. Peak RSS is ``ru_maxrss`` of this process.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks  # imported here, not inside the timed naive loop

from spectool.spectra import Axis, Ragged
from spectool.signal.augment import augment_chunk, default_ops
from spectool.signal.physics import d_spacing
from spectool.signal.render import RenderSettings, normalize_max, render_rows

CU = 1.54056
HKL = np.array([h for h in itertools.product(range(-4, 5), repeat=3) if any(h)])
SETTINGS = RenderSettings(uvw=(0.01, -0.005, 0.005), wavelengths=(CU,))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_patterns(n: int, grid: np.ndarray, seed: int = 0):
    """(X (n, L) float32, peaks Ragged, cells (n, 6)) from random cells' reflections."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(3.5, 10, n)
    kind = rng.integers(0, 3, n)
    b = np.where(kind < 2, a, rng.uniform(3.5, 10, n))
    c = np.where(kind == 0, a, rng.uniform(3.5, 14, n))
    cells = np.column_stack([a, b, c, np.full((n, 3), 90.0)])
    rows = []
    for cell in cells:
        d = d_spacing(HKL, np.repeat(cell[None], len(HKL), 0))
        d, idx = np.unique(np.round(d, 5), return_index=True)  # one stick per distinct d
        s = CU / (2 * d)
        ok = s < 1
        tt = 2 * np.degrees(np.arcsin(s[ok]))
        keep = (tt >= grid[0]) & (tt <= grid[-1])
        hkl = HKL[idx][ok][keep]
        rows.append({"two_theta": tt[keep], "d": d[ok][keep], "intensity": rng.uniform(1, 100, keep.sum()),
                     "hkl": hkl, "multiplicity": np.ones(keep.sum(), np.int64)})
    peaks = Ragged.from_rows(rows)
    row = np.repeat(np.arange(n), np.diff(peaks.offsets))
    tt = peaks.fields["two_theta"]
    X = normalize_max(render_rows(grid, row, tt, peaks.fields["intensity"],
                                  SETTINGS.stick_widths(tt, None), n, SETTINGS.shape, 0.5, SETTINGS.reach))
    return X, peaks, cells


def run_batched(X, axis, peaks, cells, ops, copies, chunk, sink):
    t = time.perf_counter()
    for lo in range(0, len(X), chunk):
        hi = min(lo + chunk, len(X))
        kw = {"peaks": peaks.take(lo, hi), "cell": cells[lo:hi], "settings": SETTINGS} if peaks else {}
        Y, src = augment_chunk(X[lo:hi], axis, ops, 1234, copies, start=lo, **kw)
        sink(Y, src + lo)
    return time.perf_counter() - t


# ---------------------------------------------------------------- the naive peer
def naive_pattern(y, x, rng):
    """Per pattern: find peaks, loop over them to scale / drop, np.interp shift, crop."""
    y = y.astype(np.float64).copy()
    idx, props = find_peaks(y, height=0.01 * y.max())
    bases = find_peaks(-y)[0]
    q = rng.uniform(0, 1)
    for k, p in enumerate(idx):
        lo = bases[bases < p].max() if np.any(bases < p) else 0
        hi = bases[bases > p].min() if np.any(bases > p) else len(y)
        if rng.uniform() < q:
            y[lo:hi] *= rng.uniform(0.5, 1.5)
    if rng.uniform() < 0.7:
        q = rng.uniform(0, 0.5)
        for p in idx:
            lo = bases[bases < p].max() if np.any(bases < p) else 0
            hi = bases[bases > p].min() if np.any(bases > p) else len(y)
            if rng.uniform() < q:
                y[lo:hi] = np.minimum(y[lo:hi], y[lo])
    y = np.interp(x - rng.uniform(-0.5, 0.5), x, y, left=0, right=0)
    w = rng.uniform(0.6, 1.0)
    a = x[0] + rng.uniform(0, 1 - w) * (x[-1] - x[0])
    y[(x < a) | (x > a + w * (x[-1] - x[0]))] = 0
    return y.astype(np.float32)


def naive_physics(sticks, cell, x, rng):
    """Per pattern: strain the cell, then d, 2θ, texture and widths for all its sticks at
    once, one full-grid Gaussian per stick added, impurities, noise and a background."""
    cell = cell.copy()
    cell[:3] *= 1 + rng.uniform(-0.03, 0.03, 3)
    gstar = np.linalg.inv(_metric(cell))
    size = rng.uniform(5, 30)
    r, p = rng.uniform(0.5, 1.5), np.array([0, 0, 1.0])
    h = np.asarray(sticks["hkl"], float)
    hh = np.einsum("pi,ij,pj->p", h, gstar, h)
    s = CU * np.sqrt(hh) / 2  # λ / 2d
    ok = s < 1
    h, hh, s = h[ok], hh[ok], s[ok]
    tt = 2 * np.degrees(np.arcsin(s))
    cos2 = (h @ gstar @ p) ** 2 / (hh * (p @ gstar @ p))
    inten = np.asarray(sticks["intensity"])[ok] * (r * r * cos2 + (1 - cos2) / r) ** -1.5
    w = SETTINGS.stick_widths(tt, np.full(len(tt), size))
    y = np.zeros_like(x)
    for c, a, wi in zip(tt, inten * 2 * np.sqrt(np.log(2) / np.pi) / w, w):  # faster than one (P, L) array
        y += a * np.exp(-4 * np.log(2) * ((x - c) / wi) ** 2)
    for _ in range(rng.integers(0, 4)):
        tt, w = rng.uniform(x[0], x[-1]), 0.2
        y += rng.uniform(0.01, 0.1) * y.max() * np.exp(-4 * np.log(2) * ((x - tt) / w) ** 2)
    y /= max(y.max(), 1e-30)
    y += rng.normal(0, rng.uniform(0, 0.02), len(x))
    t = np.linspace(-1, 1, len(x))
    bg = np.polynomial.chebyshev.chebval(t, rng.uniform(-1, 1, 5))
    bg -= bg.min()
    return (y + rng.uniform(0, 0.1) * bg / max(bg.max(), 1e-30)).astype(np.float32)


def _metric(c):
    a, b, cc = c[:3]
    al, be, ga = np.radians(c[3:])
    return np.array([[a * a, a * b * np.cos(ga), a * cc * np.cos(be)],
                     [a * b * np.cos(ga), b * b, b * cc * np.cos(al)],
                     [a * cc * np.cos(be), b * cc * np.cos(al), cc * cc]])


def run_naive(X, x, peaks, cells, copies, n, physics):
    t = time.perf_counter()
    for i in range(n):
        for c in range(copies):
            rng = np.random.default_rng([1234, i, c])
            if physics:
                naive_physics(peaks.row(i), cells[i], x, rng)
            else:
                naive_pattern(X[i], x, rng)
    return time.perf_counter() - t


# ---------------------------------------------------------------- preprocess
def bench_preprocess(folder: Path) -> None:
    from spectool.io.readers import read_scans
    from spectool.signal.ops import Context
    from spectool.signal.recipe import Recipe
    from spectool.spectra import Axis

    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() not in (".csv", ".md")
                   and p.name != "LICENSE")
    scans, t0 = [], time.perf_counter()
    for path in files:
        try:
            scans += read_scans(path.read_bytes(), path.name)
        except Exception:  # noqa: BLE001 - a benchmark: count what reads
            continue
    t_read = time.perf_counter() - t0
    recipe = Recipe.parse(["savgol:window=21,order=3", "baseline:method=arpls",
                           "resample:start=5,stop=90,step=0.02", "clip", "normalize:method=max"])
    t0 = time.perf_counter()
    points = 0
    for scan in scans:
        y, _ = recipe.apply(scan.y[None], Axis(scan.x, scan.quantity, scan.units),
                            Context(scan.wavelength, scan.meta.get("laser_nm"), scan.kind))
        points += len(scan.x)
    dt = time.perf_counter() - t0
    print(f"preprocess: {len(scans)} measured scans from {len(files)} files ({points:,} points) "
          f"read in {t_read:.2f} s; savgol+arPLS+resample+clip+normalize: {dt:.2f} s = "
          f"{len(scans) / dt:,.0f} scans/s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--chunk", type=int, default=32, help="input patterns per chunk")
    ap.add_argument("--naive", type=int, default=10, help="inputs the naive loop runs on")
    ap.add_argument("--levels", default="pattern,physics")
    ap.add_argument("--preprocess", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/xrd")
    args = ap.parse_args(argv)
    grid = 5.0 + 0.02 * np.arange(4251)
    axis = Axis(grid)
    t = time.perf_counter()
    X, peaks, cells = make_patterns(args.n, grid)
    print(f"built {args.n} patterns × {len(grid)} points ({np.diff(peaks.offsets).mean():.0f} sticks each) "
          f"in {time.perf_counter() - t:.1f} s; RSS {rss_mb():.0f} MB")
    total = args.n * args.copies
    for level in args.levels.split(","):
        ops = default_ops(level)
        sums = []
        dt = run_batched(X, axis, peaks if level == "physics" else None, cells, ops, args.copies,
                         args.chunk, lambda Y, src: sums.append(float(Y.sum())))
        nt = run_naive(X, grid, peaks, cells, args.copies, args.naive, level == "physics")
        naive_rate = args.naive * args.copies / nt
        print(f"{level:8s} batched: {total:,} patterns ({total * len(grid) * 4 / 1e9:.2f} GB out) in "
              f"{dt:.1f} s = {total / dt:,.0f} patterns/s | naive loop: {naive_rate:,.0f} patterns/s "
              f"(timed on {args.naive} × {args.copies}, extrapolated: {total / naive_rate:.0f} s) | "
              f"ratio {total / dt / naive_rate:.1f}× | peak RSS so far {rss_mb():.0f} MB")
    print(f"peak RSS {rss_mb():.0f} MB (limit 1,536 MB): {'OK' if rss_mb() < 1536 else 'OVER'}")
    if args.preprocess.is_dir():
        bench_preprocess(args.preprocess)
    return 0


if __name__ == "__main__":
    sys.exit(main())
