"""Rows onto a checkpoint's training axis: the recipe replayed on raw scans, then an axis check.

Raw scans always go through the checkpoint's preprocess recipe (what the training data went
through). A set already on the training axis is used as it is (it was preprocessed before);
a set on another axis is treated as raw and goes through the recipe too. Whatever comes out must
lie on the training axis, else :class:`~spectool.errors.UsageError` says how it differs.
"""

from __future__ import annotations

import numpy as np

from spectool.errors import UsageError
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


def onto_model_axis(X: np.ndarray, axis: Axis, recipe, model_axis: Axis, context=None,
                    is_scan: bool = True) -> np.ndarray:
    """Rows X (B, L) on ``axis`` → (B, L_model) float32 on ``model_axis``.

    ``recipe``: a :class:`~spectool.signal.recipe.Recipe`; ``context``: its
    :class:`~spectool.signal.ops.Context` (wavelength, laser line, kind) for the source.
    """
    if not is_scan and same_axis(axis, model_axis):
        return np.ascontiguousarray(X, np.float32)
    X, axis = recipe.apply(X, axis, context)
    if not same_axis(axis, model_axis):
        how = "the recipe ends" if len(recipe) else "the input is (the checkpoint has no recipe)"
        raise UsageError(f"{how} on {describe(axis)}, not the model's training axis "
                         f"{describe(model_axis)}; preprocess onto it (spectool preprocess --like MODEL)")
    return np.ascontiguousarray(X, np.float32)


def checkpoint_recipe(preprocess):
    """The :class:`~spectool.signal.recipe.Recipe` stored in a checkpoint (empty if none)."""
    from spectool.signal.recipe import Recipe

    return Recipe.from_json(preprocess if preprocess is not None else [])
