"""Shared fixtures: references of the zoo structures and synthetic scans rendered by simulate."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.fit.reference import conventional, reference_from_crystal


@pytest.fixture(scope="session")
def zoo_refs():
    """name → (PhaseReference, conventional Crystal) for a few zoo structures."""
    from tests.xrd.structures_zoo import zoo

    out = {}
    for name, structure in zoo().items():
        if name in ("NaCl", "rutile", "ZnO", "calcite"):
            crystal, system, mass, formula = conventional(structure)
            out[name] = (reference_from_crystal(crystal, system, name, mass, formula), crystal)
    return out


def render_scan(crystal, grid, radiation="CuKa12", fwhm=0.1, eta=0.3, zero=0.0):
    """Absolute pattern (Σ y·step = Σ I) of ``crystal`` on ``grid``, its peaks moved by ``zero`` degrees."""
    from spectool.xrd.radiation import parse_radiation
    from spectool.xrd.simulate import ProfileOptions, simulate_pattern

    y, _ = simulate_pattern(crystal, np.asarray(grid) - zero, parse_radiation(radiation),
                            ProfileOptions(shape="pseudo-voigt", eta=eta, fwhm=fwhm, normalize=False))
    return y.astype(np.float64)


def strained(crystal, a=1.0, b=1.0, c=1.0):
    """Copy of ``crystal`` with its cell vectors scaled by a, b, c (fractional coordinates kept)."""
    from spectool.xrd.crystal import Crystal

    lattice = crystal.lattice * np.array([[a], [b], [c]])
    return Crystal(lattice, crystal.frac_coords, crystal.elements, crystal.occupancy, crystal.b_iso, crystal.site)
