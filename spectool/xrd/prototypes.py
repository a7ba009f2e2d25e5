"""Structure types: match a crystal against pymatgen's library of AFLOW prototypes.

The library (about 290 named structure types with Strukturbericht and Pearson symbols)
ships with pymatgen and is read from the installed package; nothing is copied.
"""

from __future__ import annotations

from functools import lru_cache

from spectool.xrd.crystal import Crystal


@lru_cache(maxsize=1)
def _matcher():
    import warnings

    import pandas as pd
    from pymatgen.analysis.prototypes._data import AFLOW_PROTOTYPE_LIBRARY
    from pymatgen.analysis.prototypes.matcher import PrototypeDatabaseMatcher

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PrototypeDatabaseMatcher(pd.DataFrame(AFLOW_PROTOTYPE_LIBRARY))


def to_structure(crystal: Crystal):
    """A pymatgen ``Structure`` with one (possibly mixed) species per site."""
    import numpy as np
    from pymatgen.core import Lattice, Structure

    sites, first = np.unique(crystal.site, return_index=True)
    species = [{el: occ for el, occ, s in zip(crystal.elements, crystal.occupancy, crystal.site) if s == site}
               for site in sites]
    return Structure(Lattice(crystal.lattice), species, crystal.frac_coords[first])


def structure_type(crystal: Crystal) -> str:
    """The AFLOW prototype label (e.g. ``AB_cF8_225_a_b`` for rock salt), or ``""`` if none matches."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matches = _matcher().get_prototypes(to_structure(crystal)) or []
    return str(matches[0]["tags"]["aflow"]) if matches else ""
