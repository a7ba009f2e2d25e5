"""One contract for every registered operation (STYLE.md): shape and dtype, input untouched,
deterministic for a seed, batch = row by row (and any chunking), finite in ⇒ finite out,
parameters round-trip through JSON, bad parameters ⇒ UsageError."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest

from spectool.errors import UsageError
from spectool.spectra import Axis
from spectool.signal.augment import augment_chunk
from spectool.signal.ops import OPS, Context, load_all, make_op, op_from_json

from .synth import SETTINGS, dataset

load_all()
NAMES = sorted(OPS)
X0, AXIS, PEAKS, CELLS = dataset()

#: per op: parameters to build it with, and the axis and context it runs on
SETUP = {
    "resample": ({"start": 10.0, "stop": 60.0, "step": 0.25}, None, None),
    "crop": ({"start": 10.0, "stop": 50.0}, None, None),
    "bragg": ({"to_wavelength": 1.54056}, None, Context(wavelength=0.7093)),
    "wavenumber": ({}, Axis(np.linspace(2500, 20000, X0.shape[1]), "wavelength", "nm"), None),
    "edge": ({"onset": 7100.0}, Axis(np.linspace(7000, 7300, X0.shape[1]), "energy", "eV"), None),
    "raman_shift": ({"laser_nm": 532.0}, Axis(np.linspace(15000, 18700, X0.shape[1]), "wavenumber", "1/cm"), None),
}
#: per op: parameter sets that must be refused
BAD = {
    "crop": [{"start": 5, "stop": 5}], "resample": [{"start": 1, "stop": 0, "step": 1}, {"start": 1}],
    "savgol": [{"window": 20}, {"window": 5, "order": 5}], "baseline": [{"method": "magic"}, {"lam": -1}],
    "normalize": [{"method": "l3"}], "clip": [{"lo": 1, "hi": 0}], "absorbance": [{"percent": "maybe"}, {"source": "reflectance"}],
    "wavenumber": [{"units": "furlong"}], "raman_shift": [{"laser_nm": -532}],
    "despike": [{"threshold": 0}, {"window": 0}],
    "bragg": [{"to_wavelength": 0}], "edge": [{"onset": "Xx"}, {"width": 1, "step": 2}, {"level": 1.5}],
    "peak_scale": [{"factor": [2, 1]}, {"fraction": [0, 1.5]}],
    "peak_drop": [{"p": 1.5}, {"fraction": [-0.1, 0.2]}], "shift": [{"delta": [1, -1]}],
    "window": [{"width": [0.9, 0.5]}, {"mode": "blur"}, {"width": [0, 0]}],
    "noise": [{"sigma": [-1, 0]}, {"kind": "pink"}], "background": [{"order": -1}, {"amplitude": [0.2, 0.1]}],
    "strain": [{"max": -0.01}, {"per_axis": "yes"}], "size": [{"nm": [-5, 30]}, {"nm": [30, 5]}],
    "texture": [{"strength": 2}], "impurity": [{"count": [3, 1]}, {"intensity": [0, 2]}],
    "displacement": [{"mm": [0.2, -0.2]}, {"radius": 0}], "hump": [{"fwhm": [0, 1]}, {"p": 2}],
}


def setup(name):
    params, axis, ctx = SETUP.get(name, ({}, None, None))
    return make_op(name, **params), axis or AXIS, ctx or Context(wavelength=1.54056)


def run(op, X, axis, ctx, seed=7, start=0, copies=2, peaks=None, cells=None):
    if op.stage == "preprocess":
        return op.apply(X, axis, ctx)[0]
    if op.stage == "sticks":
        return augment_chunk(X, axis, [op], seed, copies, start, peaks, cells, SETTINGS, ctx)[0]
    return augment_chunk(X, axis, [op], seed, copies, start, ctx=ctx)[0]


def rows(i, j):
    return PEAKS.take(i, j), CELLS[i:j]


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_and_axis(name):
    op, axis, ctx = setup(name)
    if op.stage == "preprocess":
        Y, new_axis = op.apply(X0, axis, ctx)
        assert Y.dtype == np.float32 and Y.shape == (len(X0), len(new_axis))
        assert np.all(np.diff(new_axis.values) > 0)
        if not op.changes_axis:
            assert new_axis is axis
    else:
        Y = run(op, X0, axis, ctx, copies=3, peaks=PEAKS, cells=CELLS)
        assert Y.dtype == np.float32 and Y.shape == (3 * len(X0), X0.shape[1])


@pytest.mark.parametrize("name", NAMES)
def test_input_not_mutated(name):
    op, axis, ctx = setup(name)
    X, values = X0.copy(), axis.values.copy()
    offsets, tt = PEAKS.offsets.copy(), PEAKS.fields["two_theta"].copy()
    run(op, X, axis, ctx, peaks=PEAKS, cells=CELLS)
    assert np.array_equal(X, X0) and np.array_equal(axis.values, values)
    assert np.array_equal(PEAKS.offsets, offsets) and np.array_equal(PEAKS.fields["two_theta"], tt)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed(name):
    op, axis, ctx = setup(name)
    a = run(op, X0, axis, ctx, seed=3, peaks=PEAKS, cells=CELLS)
    b = run(op, X0, axis, ctx, seed=3, peaks=PEAKS, cells=CELLS)
    assert np.array_equal(a, b)
    if op.stage != "preprocess" and name not in ("peak_drop", "window", "impurity"):
        assert not np.array_equal(a, run(op, X0, axis, ctx, seed=4, peaks=PEAKS, cells=CELLS))


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_row_by_row(name):
    op, axis, ctx = setup(name)
    whole = run(op, X0, axis, ctx, peaks=PEAKS, cells=CELLS)
    parts = [run(op, X0[i:i + 1], axis, ctx, start=i, peaks=rows(i, i + 1)[0], cells=CELLS[i:i + 1])
             for i in range(len(X0))]
    np.testing.assert_allclose(whole, np.concatenate(parts), rtol=1e-5, atol=1e-6)
    halves = [run(op, X0[i:j], axis, ctx, start=i, peaks=rows(i, j)[0], cells=CELLS[i:j])
              for i, j in ((0, 4), (4, len(X0)))]
    np.testing.assert_allclose(whole, np.concatenate(halves), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_finite_in_finite_out(name):
    op, axis, ctx = setup(name)
    rng = np.random.default_rng(1)
    X = (X0 + rng.normal(0, 0.01, X0.shape) - 0.005).astype(np.float32)
    X[0] = 0.0  # an empty row must not make NaN either
    assert np.all(np.isfinite(run(op, X, axis, ctx, peaks=PEAKS, cells=CELLS)))


@pytest.mark.parametrize("name", NAMES)
def test_json_round_trip(name):
    op, _, _ = setup(name)
    again = op_from_json(json.loads(json.dumps(op.to_json())))
    assert again == op and again.to_json() == op.to_json()


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameters_are_usage_errors(name):
    cls = OPS[name]
    for params in BAD[name]:
        with pytest.raises(UsageError, match=name):
            make_op(name, **params)
    with pytest.raises(UsageError, match="unknown parameter"):
        make_op(name, nonsense=1)
    for key in cls.checks:
        with pytest.raises(UsageError, match=key):
            make_op(name, **(SETUP.get(name, ({},))[0] | {key: "bogus"}))
    assert {f.name for f in fields(cls)} >= set(cls.checks)


def test_every_op_has_bad_cases():
    assert set(BAD) == set(NAMES)
