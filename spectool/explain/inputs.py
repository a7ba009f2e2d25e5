"""Comparing and describing axes (for inputs that must share one).

Putting raw scans onto a checkpoint's training axis is :meth:`spectool.learn.inference.Predictor.prepare`'s
job, shared by predict, explain and embed.
"""

from __future__ import annotations

import numpy as np

from spectool.io.model import Axis

AXIS_ATOL = 1e-6


def same_axis(a: Axis, b: Axis) -> bool:
    """Same length and values (within 1e-6 in axis units); quantities equal when both are known."""
    quantities = {a.quantity, b.quantity} - {"index"}
    return (len(a) == len(b) and len(quantities) <= 1
            and np.allclose(a.values, b.values, rtol=0, atol=AXIS_ATOL))


def describe(axis: Axis) -> str:
    if not len(axis):
        return "an empty axis"
    return (f"{len(axis)} points {axis.values[0]:g}–{axis.values[-1]:g} {axis.units}".rstrip()
            + f" ({axis.quantity})")
