"""The network's lattice search: each class scored at its best cell scale and zero shift."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from spectool.learn.inference import LATTICE_SCALES, ZERO_SHIFTS, Predictor, lattice_variants
from spectool.spectra import Axis

X_AXIS = np.arange(10.0, 60.0001, 0.02)


def _peak(center: float, axis: np.ndarray = X_AXIS) -> np.ndarray:
    return np.exp(-0.5 * ((axis - center) / 0.05) ** 2)


def _moved(y: np.ndarray, f: float, z: float) -> np.ndarray:
    left, right, w = lattice_variants(X_AXIS, (f,), (z,))
    return (y[left] * w[0] + y[right] * w[1])[0]


def test_a_variant_multiplies_every_d_spacing_and_moves_the_zero():
    y = _peak(30.0)
    assert X_AXIS[np.argmax(_moved(y, 1.0, 0.1))] == pytest.approx(30.1, abs=0.011)
    # d × 0.99: sin θ = sin 15° / 0.99
    expected = 2 * np.degrees(np.arcsin(np.sin(np.radians(15.0)) / 0.99))
    assert X_AXIS[np.argmax(_moved(y, 0.99, 0.0))] == pytest.approx(expected, abs=0.011)
    assert _moved(y, 1.0, 0.0) == pytest.approx(y)
    # what would come from beyond the axis reads 0, not the edge's value
    edge = np.ones_like(X_AXIS)
    assert _moved(edge, 1.0, -0.1)[-3:] == pytest.approx(0.0)
    assert _moved(edge, 1.0, -0.1)[:-10] == pytest.approx(1.0)


class _PeaksAt(torch.nn.Module):
    """Logits of three classes: a peak exactly at 30°, a peak exactly at 31°, or neither (a constant)."""

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        at = [int(np.argmin(np.abs(X_AXIS - c))) for c in (30.0, 31.0)]
        return torch.stack([20 * X[:, at[0]], 20 * X[:, at[1]], torch.full_like(X[:, 0], 5.0)], 1)


def _predictor(lattice_search: bool, kind: str = "xrd") -> Predictor:
    ckpt = SimpleNamespace(axis=Axis(X_AXIS), labels=["30", "31", "neither"], input={"kind": kind}, preprocess=None,
                           tensors={}, train={}, model=_PeaksAt())
    return Predictor(ckpt, lattice_search=lattice_search)


def test_each_class_is_scored_at_its_best_cell_and_zero():
    off = _peak(30.0 + 0.09)[None].astype(np.float32)  # a zero error the search covers
    assert _predictor(False).predict(off).scores[0].argmax() == 2
    searched = _predictor(True).predict(off)
    assert searched.scores[0].argmax() == 0 and searched.scores[0].sum() == pytest.approx(1.0, abs=1e-6)
    # the reliability (R = P without class means) takes P from the one pass at the zero that fits, as train
    # calibrated it on plain passes, not from the flatter renormalised profile
    assert searched.reliability[0] == pytest.approx(1.0, abs=1e-4)
    assert searched.reliability[0] > searched.scores[0].max() + 0.1
    strained = _peak(2 * np.degrees(np.arcsin(np.sin(np.radians(15.5)) / 1.01)))[None].astype(np.float32)
    assert _predictor(True).predict(strained).scores[0].argmax() == 1  # 31° with d 1 % shorter
    far = _peak(32.0)[None].astype(np.float32)  # 1° from either: beyond any cell or zero the search allows
    assert _predictor(True).predict(far).scores[0].argmax() == 2
    assert len(LATTICE_SCALES) * len(ZERO_SHIFTS) == 9


def test_only_xrd_on_a_two_theta_axis_is_searched():
    assert _predictor(True).variants is not None
    assert _predictor(True, kind="raman").variants is None
    assert _predictor(False).variants is None
