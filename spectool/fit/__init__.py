"""Whole-pattern fitting: candidate phases checked against a scan, mixtures, weight fractions.

- :mod:`spectool.fit.cell`: cell parameters within a crystal system, the reciprocal metric.
- :mod:`spectool.fit.reference`: what the fit needs of a phase (cell, hkl, |F|² factors, mass).
- :mod:`spectool.fit.engine`: batched fit of phase hypotheses to one scan (torch, autograd).
- :mod:`spectool.fit.peaks`: matched, missing and unexplained peaks of a fit.
- :mod:`spectool.fit.verify`: candidates re-ranked by their fits, mixtures, "unknown".

Pure functions over arrays: no files, no printing.
"""
