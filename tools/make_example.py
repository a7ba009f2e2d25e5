"""Write the example scan that ships with spectool: spectool/data/examples/example.xy.

A simulated rutile TiO2 pattern (Cu Kα1+Kα2, pseudo-Voigt, 25 nm crystallites) on a
smooth background with Poisson counting noise, written the way a diffractometer export
looks (header comments, two columns). Deterministic: seed 2026.

    python tools/make_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "spectool" / "data" / "examples" / "example.xy"


def rutile():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.5937, 2.9587), ["Ti", "O"],
                                     [[0, 0, 0], [0.30478, 0.30478, 0]])


def main() -> None:
    from spectool.xrd.profiles import make_grid
    from spectool.xrd.radiation import parse_radiation
    from spectool.xrd.simulate import ProfileOptions, simulate_pattern
    from spectool.xrd.structures import crystal_from_structure

    grid = make_grid(10.0, 80.0, 0.02)
    profile = ProfileOptions(shape="pseudo-voigt", eta=0.4, uvw=(0.004, -0.002, 0.003), crystallite_size=25.0)
    pattern, _ = simulate_pattern(crystal_from_structure(rutile()), grid, parse_radiation("CuKa12"), profile)
    rng = np.random.default_rng(2026)
    background = 120 + 900 * np.exp(-grid / 9.0) + 40 * np.sin(grid / 14.0) ** 2
    counts = rng.poisson(background + 4000 * pattern.astype(np.float64))
    header = ("# spectool example scan: rutile TiO2 (simulated, not measured)\n"
              "# radiation: Cu Ka1/Ka2, wavelength 1.54056 A\n# 2theta(deg)  counts\n")
    body = "".join(f"{x:.3f} {int(c)}\n" for x, c in zip(grid, counts))
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(header + body)


if __name__ == "__main__":
    main()
