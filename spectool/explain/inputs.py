"""Describing axes in messages.

Putting raw scans onto a checkpoint's training axis is :meth:`spectool.learn.inference.Predictor.prepare`'s
job, shared by predict, explain and embed.
"""

from __future__ import annotations

from spectool.spectra import Axis


def describe(axis: Axis) -> str:
    if not len(axis):
        return "an empty axis"
    return (f"{len(axis)} points {axis.values[0]:g}–{axis.values[-1]:g} {axis.units}".rstrip()
            + f" ({axis.quantity})")
