"""The peer of ``spectool simulate`` as a whole process: pymatgen ``CifParser`` + ``XRDCalculator``.

Usage:  python benchmarks/peer_pymatgen_simulate.py LIST OUT.npy

Reads the CIF paths in LIST (one a line), and for each: ``CifParser(path).parse_structures(
primitive=False)[0]``, ``XRDCalculator("CuKa").get_pattern(scaled=False, two_theta_range=(5, 90))``
and the same Gaussian profile (FWHM 0.1°) on the same grid (5–90°, 0.02°) that spectool renders,
scaled to a maximum of 1; writes the (N, L) float32 patterns. A file pymatgen cannot read is
counted and skipped. bench_simulate.py times this against ``spectool simulate``.
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import warnings  # noqa: E402

import numpy as np  # noqa: E402


def main(listing: str, out: str) -> None:
    warnings.simplefilter("ignore")
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from pymatgen.io.cif import CifParser

    from spectool.xrd.profiles import make_grid, render

    grid = make_grid(5, 90, 0.02)
    calc = XRDCalculator("CuKa")
    rows, failed = [], 0
    for path in open(listing).read().split("\n"):
        if not path:
            continue
        try:
            structure = CifParser(path).parse_structures(primitive=False)[0]
        except Exception:  # noqa: BLE001 - the peer's failures are only counted
            failed += 1
            continue
        p = calc.get_pattern(structure, scaled=False, two_theta_range=(5, 90))
        y = render(grid, np.asarray(p.x), np.asarray(p.y), np.full(len(p.x), 0.1), "gaussian")
        rows.append((y / y.max()).astype(np.float32))
    np.save(out, np.stack(rows))
    sys.stderr.write(f"peer: {len(rows)} patterns, {failed} failed\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
