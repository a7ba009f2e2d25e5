"""Preprocess numerics: smoothing = scipy, baselines remove a known background, resampling
keeps positions and area, axis conversions, and a recipe replays exactly on a raw scan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectool.spectra import Axis
from spectool.io.readers.base import Scan
from spectool.signal.axes import convert_two_theta
from spectool.signal.ops import AxisConversionError, Context, make_op
from spectool.signal.recipe import Recipe

X_AXIS = np.arange(5, 90.0001, 0.02)


def gauss(x, c, w, h=1.0):
    return h * np.exp(-4 * np.log(2) * ((x - c) / w) ** 2)


def peaks(x=X_AXIS):
    return sum(gauss(x, c, 0.15, h) for c, h in ((18.2, 1.0), (27.5, 0.6), (41.0, 0.8),
                                                  (55.3, 0.4), (63.0, 0.7), (77.7, 0.5)))


def test_savgol_matches_scipy():
    from scipy.signal import savgol_filter

    X = np.random.default_rng(0).random((3, 500)).astype(np.float32)
    got, _ = make_op("savgol").apply(X, Axis(np.arange(500.0)))
    # ours calls scipy in float64 and stores float32 (the set's dtype): float32 rounding of values in [0, 1]
    np.testing.assert_allclose(got, savgol_filter(X.astype(float), 21, 3, axis=1), rtol=1e-5, atol=1e-6)


BACKGROUND = 0.3 + 0.25 * np.exp(-(X_AXIS - 5) / 25) + 0.1 * np.sin(X_AXIS / 30)
# method → (params, tolerance on the RMS error of the peaks left, relative to the tallest)
TOLERANCES = {"arpls": ({"lam": 1e6}, 0.015), "airpls": ({"lam": 1e6}, 0.005),
              "asls": ({"lam": 1e6, "p": 0.001}, 0.005), "snip": ({"half_window": 60}, 0.005),
              "rolling_ball": ({"half_window": 60}, 0.005), "window_min": ({"half_window": 30}, 0.005)}


@pytest.mark.parametrize("method", sorted(TOLERANCES))
def test_baseline_removes_a_known_background(method):
    params, tol = TOLERANCES[method]
    truth = peaks()
    X = (truth + BACKGROUND)[None].astype(np.float32)
    got, _ = make_op("baseline", method=method, **params).apply(X, Axis(X_AXIS))
    rms = np.sqrt(np.mean((got[0] - truth) ** 2))
    assert rms < tol * truth.max(), f"{method}: rms {rms:.4f}"


def centroid(y, x, lo, hi):
    m = (x >= lo) & (x <= hi)
    return np.sum(y[m] * x[m]) / np.sum(y[m])


@pytest.mark.parametrize("grid", [(5.0, 90.0, 0.01), (5.0, 90.0, 0.05), (10.0, 80.0, 0.013)])
@pytest.mark.parametrize("method", ["auto", "linear", "area"])
def test_resampling_keeps_peak_positions_and_area(grid, method):
    y = peaks()[None].astype(np.float32)
    op = make_op("resample", start=grid[0], stop=grid[1], step=grid[2], method=method)
    got, axis = op.apply(y, Axis(X_AXIS))
    x = axis.values
    assert x[0] == grid[0] and abs(x[-1] - grid[1]) < grid[2]
    for c in (18.2, 27.5, 41.0, 55.3, 63.0, 77.7):
        assert centroid(got[0], x, c - 1, c + 1) == pytest.approx(centroid(y[0], X_AXIS, c - 1, c + 1), abs=2e-3)
    inside = (X_AXIS >= x[0]) & (X_AXIS <= x[-1])
    tol = 5e-3 if method == "linear" and grid[2] > 0.02 else 1e-3
    assert np.trapezoid(got[0], x) == pytest.approx(np.trapezoid(y[0][inside], X_AXIS[inside]), rel=tol)


def test_area_resampling_keeps_a_narrow_peak_that_linear_would_skip():
    x = np.arange(0, 10, 0.001)
    y = gauss(x, 5.0123, 0.004)[None]
    op = make_op("resample", start=0.0, stop=9.9, step=0.1, method="area")
    got, axis = op.apply(y, Axis(x))
    assert np.trapezoid(got[0], axis.values) == pytest.approx(np.trapezoid(y[0], x), rel=1e-3)


def test_bragg_moves_mo_onto_cu_and_drops_what_falls_outside():
    mo, cu = 0.7093, 1.54056
    x = np.arange(5, 60, 0.01)
    d = 3.1355  # Si 111
    tt_mo = 2 * np.degrees(np.arcsin(mo / (2 * d)))
    X = gauss(x, tt_mo, 0.05)[None].astype(np.float32)
    got, axis = make_op("bragg", to_wavelength=cu).apply(X, Axis(x), Context(wavelength=mo))
    assert axis.values[np.argmax(got[0])] == pytest.approx(2 * np.degrees(np.arcsin(cu / (2 * d))), abs=0.02)
    assert len(axis) < len(x) and axis.values[-1] < 180
    np.testing.assert_allclose(convert_two_theta(convert_two_theta(x, mo, cu), cu, mo)[: len(axis)],
                               x[: len(axis)], rtol=1e-9)


def test_bragg_without_a_wavelength_is_a_conversion_error():
    with pytest.raises(AxisConversionError, match="wavelength is unknown"):
        make_op("bragg").apply(np.ones((1, 5), np.float32), Axis(np.arange(5.0) + 10), Context())


def test_wavelength_and_raman_conversions():
    X = np.arange(4, dtype=np.float32)[None]
    got, axis = make_op("wavenumber").apply(X, Axis(np.array([2.5, 5.0, 10.0, 20.0]), "wavelength", "um"))
    np.testing.assert_allclose(axis.values, [500, 1000, 2000, 4000])
    assert axis.units == "1/cm" and got[0].tolist() == [3, 2, 1, 0]
    got, axis = make_op("raman_shift", laser_nm=500.0).apply(X, Axis(np.array([18000.0, 19000, 19500, 19900])))
    np.testing.assert_allclose(axis.values, [100, 500, 1000, 2000])
    assert axis.quantity == "raman_shift" and got[0].tolist() == [3, 2, 1, 0]


def test_normalisations_and_absorbance():
    x = Axis(np.linspace(0, 1, 5))
    X = np.array([[1, 2, 3, 4, 0], [0, 0, 0, 0, 0]], np.float32)
    out = {m: make_op("normalize", method=m).apply(X, x)[0] for m in ("max", "minmax", "area", "vector", "zscore")}
    assert out["max"][0].max() == 1 and out["minmax"][0].min() == 0
    assert np.trapezoid(out["area"][0], x.values) == pytest.approx(1)
    assert np.linalg.norm(out["vector"][0]) == pytest.approx(1)
    assert out["zscore"][0].mean() == pytest.approx(0, abs=1e-6) and out["zscore"][0].std() == pytest.approx(1)
    assert all(np.all(v[1] == 0) for v in out.values())
    T = np.array([[100, 10, 1], [1, 0.1, 0.01]], np.float32)
    A, _ = make_op("absorbance").apply(T, Axis(np.arange(3.0)))
    np.testing.assert_allclose(A, [[0, 1, 2], [0, 1, 2]], atol=1e-6)


def test_a_recipe_replays_exactly_on_a_raw_scan():
    rng = np.random.default_rng(5)
    x = np.arange(3, 70, 0.0167)
    y = 200 * peaks(x) + 50 + 20 * np.exp(-x / 20) + rng.normal(0, 2, len(x))
    scan = Scan(x, y, wavelength=0.7093, meta={})
    recipe = Recipe.parse(["crop:start=4,stop=65", "savgol:window=21,order=3", "baseline:method=arpls",
                           "bragg:to_wavelength=1.54056", "resample:start=10,stop=90,step=0.02",
                           "clip", "normalize:method=max"])
    ctx = Context(scan.wavelength)
    (first,), axis = recipe.apply(scan.y[None], Axis(scan.x), ctx)
    stored = json.loads(json.dumps({"preprocess": recipe.to_json()}))
    (again,), axis2 = Recipe.from_json(stored["preprocess"]).apply(scan.y[None], Axis(scan.x), ctx)
    assert np.array_equal(first, again) and np.array_equal(axis.values, axis2.values)
    assert first.dtype == np.float32 and len(first) == 4001 and first.max() == 1
    batch, _ = recipe.apply(np.stack([y, y]), Axis(x), Context(wavelength=0.7093))
    assert np.array_equal(batch[0], first)
    assert recipe.output_axis() is not None and Recipe.from_json(recipe.dumps()) == recipe


def test_resample_like_an_axis_round_trips():
    grid = Axis(np.arange(5, 90.0001, 0.02))
    op = make_op("resample", start=5.0, stop=90.0, step=0.02)
    from spectool.signal.preprocess import Resample

    assert np.allclose(Resample.like(grid).grid(), op.grid())
    odd = Axis(np.array([1.0, 2.0, 4.0]))
    assert Resample.like(odd).values == (1.0, 2.0, 4.0)


@pytest.mark.parametrize("block", [16, 2])
def test_numpy_snip_equals_pybaselines(block, monkeypatch):
    """Our vectorised SNIP against pybaselines' (the oracle), rows at once and in blocks of rows."""
    from pybaselines import Baseline as Fitter

    from spectool.signal import baseline
    from spectool.signal.baseline import snip_baseline

    monkeypatch.setattr(baseline, "SNIP_BLOCK_ROWS", block)
    rng = np.random.default_rng(3)
    x = np.linspace(5, 90, 2001)
    rows = np.stack([50 + 30 * np.exp(-x / 15) + sum(500 * np.exp(-0.5 * ((x - c) / 0.1) ** 2)
                                                    for c in rng.uniform(8, 88, 20)) + rng.normal(0, 1, x.size)
                     for _ in range(3)])
    for hw in (5, 60):
        expected = np.stack([Fitter(x_data=x).snip(row, max_half_window=hw)[0] for row in rows])
        # the same clipping in float64, vectorised over rows: identical but for rounding (counts ~50-600)
        np.testing.assert_allclose(snip_baseline(rows, hw), expected, rtol=0, atol=1e-9)
