"""The ``edge`` preprocess op: XANES onto an onset-referenced window (55 eV at 0.5 eV → 111 points)."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.signal.ops import AxisConversionError, parse_step
from spectool.spectra import Axis

ENERGY = Axis(np.arange(7090.0, 7200.0, 0.25), "energy", "eV")


def _step(e, e0):
    return (1 / (1 + np.exp(-(e - e0) / 0.8))).astype(np.float32)


def test_a_fixed_onset_gives_111_points_on_absolute_energies():
    X, axis = parse_step("edge:onset=Fe").apply(_step(ENERGY.values, 7120)[None], ENERGY)
    assert X.shape == (1, 111) and axis.values[0] == 7112.0 and axis.values[-1] == 7167.0
    np.testing.assert_allclose(X[0], _step(axis.values, 7120), atol=2e-3)


def test_auto_onsets_align_each_spectrum_on_its_own_edge():
    X = np.stack([_step(ENERGY.values, 7115), _step(ENERGY.values, 7125)])
    Y, axis = parse_step("edge:before=5,width=30,step=0.5").apply(X, ENERGY)
    assert axis.values[0] == -5.0 and axis.values[-1] == 25.0 and len(axis) == 61
    np.testing.assert_allclose(Y[0], Y[1], atol=2e-3)  # both edges now at 0
    np.testing.assert_allclose(Y[:, 10], 0.5, atol=2e-3)


def test_a_spectrum_shorter_than_the_window_is_refused():
    short = Axis(np.arange(7090.0, 7150.0, 0.5), "energy", "eV")
    with pytest.raises(AxisConversionError, match="shorter than the edge window 7112–7167 eV"):
        parse_step("edge:onset=Fe").apply(_step(short.values, 7120)[None], short)

