"""The replay recipe's one owner: what train records and what predict applies to a raw scan."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.signal.ops import Context
from spectool.signal.recipe import Recipe, history_steps, replay_recipe, replay_steps, training_recipe
from spectool.spectra import Axis

TARGET = Axis(np.round(np.arange(10.0, 60.0, 0.05), 6), "two_theta", "deg")
MO_SCAN = Axis(np.round(np.arange(4.0, 30.0, 0.02), 6), "two_theta", "deg")


def _names(recipe: Recipe) -> list[str]:
    return [op.name for op in recipe.steps]


def test_a_mo_scan_is_converted_smoothed_then_put_on_the_training_axis():
    stored = Recipe.parse(["savgol:window=5,order=2"])
    replay = replay_recipe(stored, MO_SCAN, Context(0.7093), TARGET, 1.5406)
    assert _names(replay) == ["bragg", "savgol", "resample", "normalize"]
    assert replay.steps[0].to_wavelength == 1.5406 and replay.steps[3].method == "max"
    X = np.random.default_rng(0).random((2, len(MO_SCAN)), dtype=np.float32)
    out, axis = replay.apply(X, MO_SCAN, Context(0.7093))
    assert axis.same_as(TARGET) and out.shape == (2, len(TARGET)) and np.allclose(out.max(axis=1), 1)
    assert replay.context_after(Context(0.7093)).wavelength == 1.5406


def test_no_bragg_step_at_the_training_wavelength_or_when_the_recipe_has_its_own():
    stored = Recipe.parse(["bragg:to_wavelength=1.5406"])
    assert _names(replay_steps(stored, MO_SCAN, Context(0.7093), 1.5406)) == ["bragg"]
    plain = Recipe.parse(["clip"])
    assert _names(replay_steps(plain, MO_SCAN, Context(1.54056), 1.5406)) == ["clip"]  # within 1e-4 Å
    assert _names(replay_steps(plain, MO_SCAN, Context(None), 1.5406)) == ["clip"]  # wavelength unknown
    index = Axis(np.arange(100.0), "index", "")
    assert _names(replay_steps(plain, index, Context(0.7093), 1.5406)) == ["clip"]


def test_steps_that_end_on_the_training_axis_are_replayed_verbatim():
    stored = Recipe.parse(["resample:start=10,stop=59.95,step=0.05", "normalize:method=area"])
    replay = replay_recipe(stored, TARGET, Context(1.5406), TARGET, 1.5406)
    assert replay == stored  # no second resample, no max normalisation over the area one


def test_axis_after_is_the_axis_apply_ends_on():
    recipe = Recipe.parse(["crop:start=5,stop=25", "savgol:window=5,order=2", "bragg:to_wavelength=1.5406"])
    X = np.random.default_rng(1).random((1, len(MO_SCAN)), dtype=np.float32)
    _, applied = recipe.apply(X, MO_SCAN, Context(0.7093))
    after = recipe.axis_after(MO_SCAN, Context(0.7093))
    assert np.array_equal(after.values, applied.values) and after.quantity == applied.quantity


def test_train_records_the_sets_history_then_the_scan_steps():
    history = [{"command": "simulate", "params": {}},
               {"command": "preprocess", "params": {"recipe": {"steps": [{"op": "clip"}]}}},
               {"command": "preprocess", "params": {"recipe": {"steps": [{"op": "normalize", "method": "max"}]}}}]
    assert [s["op"] for s in history_steps(history)] == ["clip", "normalize"]
    recipe = training_recipe(history, ["baseline:method=snip"], "s.h5")
    assert _names(recipe) == ["clip", "normalize", "baseline"]
    assert Recipe.from_json(recipe.to_json()) == recipe and Recipe.from_json(None) == Recipe()


def test_a_recorded_step_that_no_longer_parses_names_the_set():
    history = [{"command": "preprocess", "params": {"recipe": {"steps": [{"op": "normalize", "mode": "max"}]}}}]
    with pytest.raises(FormatError, match="could not replay") as err:
        training_recipe(history, None, "s.h5")
    assert "s.h5" in str(err.value)
