"""Whole-pattern fitting: candidate phases checked against a scan, mixtures, weight fractions.

- :mod:`spectool.fit.cell`: cell parameters within a crystal system, the reciprocal metric.
- :mod:`spectool.fit.reference`: what the fit needs of a phase (cell, hkl, |F|² factors, mass).
- :mod:`spectool.fit.engine`: batched fit of phase hypotheses to one scan (torch, autograd).

Pure functions over arrays: no files, no printing.
"""
