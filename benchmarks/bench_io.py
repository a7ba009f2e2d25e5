"""Set I/O throughput and memory: spectool's chunked writer/reader vs plain np.save/np.load.

    python benchmarks/bench_io.py [--n 200000] [--length 4251] [--dir /tmp]

Each path runs in its own process so its peak RSS is its own. The data are synthetic
XRD-like patterns (Gaussian peaks on a background, with noise), made from a pool so
generation costs little; the same rows go through every path.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 1024
POOL = 512


def pool(length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.linspace(5, 90, length)
    out = np.empty((POOL, length), np.float32)
    for i in range(POOL):
        centres, heights = rng.uniform(5, 90, 30), rng.random(30) ** 3
        y = (heights[:, None] * np.exp(-0.5 * ((x - centres[:, None]) / 0.08) ** 2)).sum(0)
        out[i] = y / y.max() + 0.02 * np.exp(-x / 30) + rng.normal(0, 0.005, length)
    return out


def rows(n: int, length: int):
    base = pool(length)
    for lo in range(0, n, CHUNK):
        k = min(CHUNK, n - lo)
        yield np.roll(base[np.arange(lo, lo + k) % POOL], lo // POOL, axis=1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_spectool_write(path: str, n: int, length: int, compression: str | None) -> dict:
    from spectool.env import Env
    from spectool.spectra import Axis, Chunk, SetMeta
    from spectool.io.sets import create_set

    meta = SetMeta(axis=Axis(np.linspace(5, 90, length)))
    gen = rows(n, length)
    start = time.perf_counter()
    with create_set(path, meta, Env(), compression=compression) as out:
        for X in gen:
            out.append(Chunk(X))
    return {"seconds": time.perf_counter() - start}


def part_spectool_read(path: str) -> dict:
    from spectool.env import Env
    from spectool.io.sets import open_set

    start, total = time.perf_counter(), 0.0
    with open_set(path, Env()) as reader:
        for chunk in reader.iter_chunks(rows=CHUNK, peaks=False):
            total += float(chunk.X[:, 0].sum())
    return {"seconds": time.perf_counter() - start}


def part_numpy_write(path: str, n: int, length: int) -> dict:
    X = np.concatenate(list(rows(n, length)))
    start = time.perf_counter()
    np.save(path, X)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
    return {"seconds": time.perf_counter() - start}


def part_numpy_read(path: str) -> dict:
    start = time.perf_counter()
    X = np.load(path)
    total = float(X[:, 0].sum())
    return {"seconds": time.perf_counter() - start, "check": total}


def child(args) -> None:
    parts = {"spectool-write": lambda: part_spectool_write(args.path, args.n, args.length, args.compression),
             "spectool-read": lambda: part_spectool_read(args.path),
             "numpy-write": lambda: part_numpy_write(args.path, args.n, args.length),
             "numpy-read": lambda: part_numpy_read(args.path)}
    result = parts[args.part]()
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_part(part: str, path: Path, args, compression: str = "gzip") -> dict:
    cmd = [sys.executable, __file__, "--part", part, "--path", str(path), "--n", str(args.n),
           "--length", str(args.length), "--compression", compression]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--length", type=int, default=4251)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--part")
    parser.add_argument("--path")
    parser.add_argument("--compression", default="gzip")
    args = parser.parse_args()
    if args.part:
        args.compression = None if args.compression == "none" else args.compression
        return child(args)
    megabytes = args.n * args.length * 4 / 1e6
    print(f"{args.n} x {args.length} float32 = {megabytes:.0f} MB, chunks of {CHUNK} rows")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = {}
        for label, compression in (("spectool h5 gzip4+shuffle", "gzip"), ("spectool h5 uncompressed", "none")):
            path = Path(tmp) / f"set-{compression}.h5"
            results[label] = (run_part("spectool-write", path, args, compression),
                              run_part("spectool-read", path, args), path.stat().st_size)
            path.unlink()
        path = Path(tmp) / "plain.npy"
        results["np.save / np.load"] = (run_part("numpy-write", path, args), run_part("numpy-read", path, args),
                                        path.stat().st_size)
    print(f"{'path':28} {'write MB/s':>10} {'read MB/s':>10} {'file MB':>8} {'write RSS MB':>12} {'read RSS MB':>11}")
    for label, (w, r, size) in results.items():
        print(f"{label:28} {megabytes / w['seconds']:10.0f} {megabytes / r['seconds']:10.0f} {size / 1e6:8.0f} "
              f"{w['peak_rss_mb']:12.0f} {r['peak_rss_mb']:11.0f}")
    base_w, base_r, _ = results["np.save / np.load"]
    for label in list(results)[:2]:
        w, r, _ = results[label]
        print(f"{label}: write {base_w['seconds'] / w['seconds']:.2f}x np.save, read {base_r['seconds'] / r['seconds']:.2f}x "
              f"np.load; peak RSS {max(w['peak_rss_mb'], r['peak_rss_mb']):.0f} MB "
              f"({'under' if max(w['peak_rss_mb'], r['peak_rss_mb']) < 1024 else 'OVER'} the 1 GB target)")


if __name__ == "__main__":
    main()
