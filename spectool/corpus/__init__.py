"""Training corpora of structures: hypothetical compounds of named structure types.

CrySTINet's task (PAPERS.md B) is to name the structure type of a compound no database
holds. The default corpus comes from data that ships with the dependencies: pymatgen's
library of AFLOW prototypes (:mod:`spectool.corpus.library`), each expanded into many
hypothetical compounds by chemically sensible element substitution
(:mod:`spectool.corpus.chemistry`) on a rescaled, symmetry-preserving strained lattice
(:mod:`spectool.corpus.lattice`, :mod:`spectool.corpus.generate`). Pure functions of an
explicit seed; files are written by ``spectool corpus prototypes``.
"""

from __future__ import annotations
