"""IR and Raman preprocessing: the named recipes ``ftir`` and ``raman``, spike removal, and the
conversions they lean on (absorbance only where a row is transmittance; axes already converted pass)."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.errors import UsageError
from spectool.signal.ops import AxisConversionError, Context, make_op
from spectool.signal.recipe import NAMED_RECIPES, named_recipe
from spectool.spectra import Axis

BANDS = ((1020.0, 15.0, 0.8), (1450.0, 10.0, 0.4), (1720.0, 12.0, 1.0), (2915.0, 20.0, 0.6))


def absorbance(nu: np.ndarray) -> np.ndarray:
    """A synthetic IR absorbance spectrum (Lorentzian bands) at wavenumbers ``nu`` (cm⁻¹)."""
    return sum(h / (1 + ((nu - c) / w) ** 2) for c, w, h in BANDS)


def test_ftir_takes_percent_transmittance_in_um_and_absorbance_in_cm1_to_the_same_rows():
    nu = np.linspace(4000, 500, 4000)  # descending, as FTIR exports
    a = absorbance(nu)
    as_cm1 = (a[None, ::-1].astype(np.float32), Axis(nu[::-1].copy(), "wavenumber", "1/cm"))
    um = 1e4 / nu  # ascending in µm
    as_um = ((100 * 10 ** -a)[None].astype(np.float32), Axis(um, "wavelength", "um"))
    recipe = named_recipe("ftir")
    (X1, axis1), (X2, axis2) = (recipe.apply(X, axis, Context(kind="ftir")) for X, axis in (as_cm1, as_um))
    assert axis1.same_as(axis2) and (axis1.quantity, axis1.units) == ("wavenumber", "1/cm")
    assert len(axis1) == 1401 and axis1.values[0] == 700 and axis1.values[-1] == 3500
    assert X1.min() == pytest.approx(0) and X1.max() == pytest.approx(1)
    np.testing.assert_allclose(X1, X2, atol=2e-3)
    assert abs(axis1.values[X1[0].argmax()] - 1720) <= 2


def test_auto_absorbance_converts_only_transmittance_rows():
    x = Axis(np.arange(200.0))
    a = absorbance(np.linspace(900, 3000, 200))[None]
    X = np.concatenate([a, 10 ** -a, 100 * 10 ** -a]).astype(np.float32)
    got, _ = make_op("absorbance", source="auto").apply(X, x)
    np.testing.assert_allclose(got, np.repeat(a, 3, 0), atol=1e-4)
    always, _ = make_op("absorbance").apply(X[:1], x)
    assert not np.allclose(always, a)  # the default still converts every row


def test_raman_from_absolute_wavenumbers_and_the_scans_laser_line():
    shift = np.linspace(50, 1900, 3000)
    y = 100 / (1 + ((shift - 464) / 4) ** 2) + 5 + 0.01 * shift
    absolute = (1e7 / 532.0 - shift)[::-1].copy()  # the scattered light's wavenumbers, ascending
    row = y[::-1][None].astype(np.float32)
    X, axis = named_recipe("raman").apply(row, Axis(absolute, "wavenumber", "1/cm"), Context(kind="raman", laser_nm=532.0))
    assert (axis.quantity, len(axis), axis.values[0], axis.values[-1]) == ("raman_shift", 1701, 100, 1800)
    assert abs(axis.values[X[0].argmax()] - 464) <= 1 and X.max() == pytest.approx(1)
    assert np.median(X) < 0.05  # baseline gone
    with pytest.raises(AxisConversionError, match="laser wavelength is unknown"):
        named_recipe("raman").apply(row, Axis(absolute, "wavenumber", "1/cm"))


def test_axes_already_converted_pass_unchanged():
    X = np.arange(5, dtype=np.float32)[None]
    for name, axis in (("wavenumber", Axis(np.arange(5.0) + 700, "wavenumber", "1/cm")),
                       ("raman_shift", Axis(np.arange(5.0) + 100, "raman_shift", "1/cm"))):
        got, new = make_op(name).apply(X, axis)
        assert new is axis and np.array_equal(got, X)


def test_despike_removes_a_cosmic_ray_and_keeps_narrow_bands():
    rng = np.random.default_rng(3)
    x = np.arange(1000.0)
    band = 200 / (1 + ((x - 300) / 3) ** 2)  # FWHM 6 points: a sharp but real band
    clean = band + 50 + rng.normal(0, 1, len(x))
    spiked = clean.copy()
    spiked[600] += 500  # one-point cosmic ray
    spiked[800:802] += 300  # two-point one
    got, _ = make_op("despike").apply(np.stack([spiked, clean]).astype(np.float32), Axis(x))
    assert np.abs(got[0, [600, 800, 801]] - clean[[600, 800, 801]]).max() < 6
    np.testing.assert_allclose(got[0, 280:320], clean[280:320], atol=1e-3)  # the band untouched
    assert np.abs(got[1] - clean).max() < 5  # noise may lose a point's excess, never more


@pytest.mark.parametrize("name", sorted(NAMED_RECIPES))
def test_named_recipes_round_trip_and_unknown_names_are_usage_errors(name):
    from spectool.signal.recipe import Recipe

    recipe = named_recipe(name)
    assert Recipe.from_json(recipe.to_json()) == recipe
    with pytest.raises(UsageError, match="named recipes: ftir, raman"):
        named_recipe("nmr")
