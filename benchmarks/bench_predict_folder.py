"""predict on a folder of raw text scans: whole-process scans/s of `spectool predict --top 5 DIR`
(default model) at 100 and 1,000 files (linear scaling), against plain ``numpy.loadtxt`` reading of
the same files (the peer: the least any reader must do) and, with --baseline, another checkout's
spectool (e.g. main, the old per-file path) in the same run. Target: ≥ 100 scans/s at 1,000 files.

    python benchmarks/bench_predict_folder.py [--files 1000] [--points 8500] [--baseline /work/main]

Scans are the shipped example (simulated rutile, 2θ 10–80°) put on 8,500 points with counting
noise and a wavelength header, like a lab export: ``# 2theta counts`` then ``x y`` lines.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "spectool" / "data" / "examples" / "example.xy"


def write_scans(folder: Path, n: int, points: int, seed: int = 0) -> list[Path]:
    """``n`` noisy copies of the example scan on ``points`` points (seeded), as .xy text."""
    x0, y0 = np.loadtxt(EXAMPLE, unpack=True)
    x = np.linspace(x0[0], x0[-1], points)
    base = np.interp(x, x0, y0)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        y = rng.poisson(base * rng.uniform(0.5, 2.0))
        path = folder / f"scan{i:04d}.xy"
        body = "\n".join(f"{a:.4f} {b}" for a, b in zip(x, y))
        path.write_text(f"# sample {i}\n# wavelength 1.54056 A\n# 2theta counts\n{body}\n")
        paths.append(path)
    return paths


def timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, int]:
    """(seconds, rows on stdout) of one whole process."""
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=cwd).stdout
    return time.perf_counter() - start, out.count(b"\n")


def loadtxt_rate(paths: list[Path]) -> float:
    start = time.perf_counter()
    for p in paths:
        np.loadtxt(p)
    return len(paths) / (time.perf_counter() - start)


def exe(checkout: Path) -> tuple[list[str], dict]:
    """The command running ``checkout``'s spectool (its venv's, else this Python on its sources) and
    the environment it needs (run it in ``checkout``: ``python -m`` looks in the working folder first)."""
    venv = checkout / ".venv" / "bin" / "spectool"
    if venv.exists():
        return [str(venv)], {}
    return [sys.executable, "-m", "spectool"], {"PYTHONPATH": str(checkout)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--points", type=int, default=8500)
    parser.add_argument("--threads", type=int, default=2, help="OMP/torch threads of the spectool process")
    parser.add_argument("--baseline", type=Path, help="another checkout to time in the same run (e.g. main)")
    args = parser.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    runs = {"this checkout": (*exe(ROOT), ROOT)}
    if args.baseline:
        runs[f"baseline {args.baseline}"] = (*exe(args.baseline.resolve()), args.baseline.resolve())
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp, "all")
        paths = write_scans(big, args.files, args.points)
        small = Path(tmp, "first100")
        small.mkdir()
        for p in paths[:100]:
            os.link(p, small / p.name)
        peer = loadtxt_rate(paths[:200])
        print(f"{args.files} text scans of {args.points} points; {os.cpu_count()} CPUs, {args.threads} threads "
              f"(other work on the machine skews all figures alike)")
        print(f"peer: numpy.loadtxt alone reads {peer:.0f} scans/s")
        rates = {}
        for label, (cmd, extra, checkout) in runs.items():
            seconds = {}
            for folder, n in ((small, 100), (big, args.files)):
                seconds[n], rows = timed(cmd + ["predict", "--top", "5", str(folder)], {**env, **extra}, checkout)
                assert rows == 5 * n + 1, f"{rows} output lines for {n} scans"
                print(f"{label}: predict --top 5 on {n:5d} files: {seconds[n]:6.2f} s = "
                      f"{n / seconds[n]:6.1f} scans/s = {n / seconds[n] / peer:.2f}x loadtxt", flush=True)
            rates[label] = args.files / seconds[args.files]
            marginal = (args.files - 100) / (seconds[args.files] - seconds[100])
            verdict = "meets" if rates[label] >= 100 else "MISSES"
            print(f"{label}: each file past the first 100 costs {1000 / marginal:.1f} ms ({marginal:.0f} scans/s); "
                  f"fixed start-up {seconds[100] - 100 / marginal:.1f} s; {verdict} the >= 100 scans/s target")
        if len(rates) == 2:
            mine, base = rates.values()
            print(f"this checkout / baseline at {args.files} files: {mine / base:.2f}x")


if __name__ == "__main__":
    main()
