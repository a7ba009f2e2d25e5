"""Metrics and splits of structure → spectrum training."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.learn.spectrum import split_rows


def test_spectrum_metrics_match_their_definitions():
    from sklearn.metrics import r2_score

    from spectool.learn.spectrum import spectrum_metrics

    rng = np.random.default_rng(0)
    Y = rng.random((5, 30))
    P = Y + rng.normal(0, 0.1, Y.shape)
    m = spectrum_metrics(Y, P)
    assert m["mae"] == pytest.approx(np.abs(Y - P).mean())
    assert m["r2"] == pytest.approx(r2_score(Y.ravel(), P.ravel()))
    np.testing.assert_allclose(m["per_sample"]["r2"], [r2_score(y, p) for y, p in zip(Y, P)])


def test_split_rows_is_seeded_and_keeps_one_of_each():
    train, val = split_rows(10, 0.2, seed=3)
    assert len(val) == 2 and sorted(np.concatenate([train, val]).tolist()) == list(range(10))
    assert np.array_equal(val, split_rows(10, 0.2, seed=3)[1])
    assert len(split_rows(2, 0.01, 0)[1]) == 1 and len(split_rows(2, 0.99, 0)[0]) == 1
