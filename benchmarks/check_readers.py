"""Read every real instrument file (and a few RockJock reference .xy) and print what came out.

Usage: python benchmarks/check_readers.py [DATA_ROOT]   (default ../shared/data/xrd)

Prints one row per scan: file, format, scans, points, x range, step, wavelength, signal and
read time; files that are not scans (instrument .prm, GSAS .EXP, CIF, licences) are listed as
skipped; any FormatError is printed as ``ERROR path[:line]: message``. Exit status 1 if a
scan file failed; X-ray files that state no wavelength are listed as notes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers import read_scans

NOT_SCANS = {".prm": "GSAS instrument parameters", ".exp": "GSAS experiment",
             ".cif": "crystal structure", "": "no suffix (licence/commit id)"}
ROCKJOCK_SAMPLE = 4


def files(root: Path) -> list[Path]:
    """Every file under instrument-files/ plus the first few of each rockjock folder."""
    found = sorted(p for p in (root / "instrument-files").rglob("*") if p.is_file())
    for folder in sorted((root / "rockjock").glob("*_refs")):
        found += sorted(folder.glob("*.xy"))[:ROCKJOCK_SAMPLE]
    return found


def row(path: Path, root: Path, scan, n: int, seconds: float) -> str:
    step = float(np.median(np.diff(scan.x)))
    wl = f"{scan.wavelength:.6f}" if scan.wavelength else "-"
    return (f"{str(path.relative_to(root))[:52]:52s} {scan.format:10s} {n:>3d} {len(scan):>7d} "
            f"{scan.x[0]:9.3f}-{scan.x[-1]:<9.3f} {step:8.5f} {wl:>9s} "
            f"{scan.kind + '/' + str(scan.meta.get('probe', scan.radiation or '')):14s} "
            f"{str(scan.meta.get('signal', '-')):7s} {seconds * 1000:7.1f}ms")


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "../shared/data/xrd")
    print(f"{'file':52s} {'format':10s} {'n':>3s} {'points':>7s} {'x range':19s} "
          f"{'step':>8s} {'λ (Å)':>9s} {'kind/probe':14s} {'signal':7s} {'time':>9s}")
    errors, skipped, notes = [], [], []
    for path in files(root):
        if path.suffix.lower() in NOT_SCANS:
            skipped.append(f"{path.relative_to(root)} ({NOT_SCANS[path.suffix.lower()]})")
            continue
        start = time.perf_counter()
        try:
            scans = read_scans(path)
        except FormatError as exc:
            errors.append(f"ERROR {exc}")
            continue
        seconds = time.perf_counter() - start
        for scan in scans:
            print(row(path, root, scan, len(scans), seconds))
            if scan.kind == "xrd" and not scan.wavelength and "rockjock" not in str(path):
                notes.append(f"NOTE no wavelength stated in {path.relative_to(root)} "
                             "(nor a .prm beside it): the caller must give one")
    print(f"\nskipped {len(skipped)} non-scan files: " + "; ".join(skipped))
    for line in notes + errors:
        print(line)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
