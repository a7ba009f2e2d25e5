"""The confidence of a verified answer: features, the logistic fit, and its storage."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from spectool.fit.confidence import FEATURES, Confidence, answer_features, fit_confidence


def _verdict(scores, explained=0.9, rwp=0.2, probability=0.6, converged=True):
    fit = SimpleNamespace(explained=explained, rwp=rwp, converged=converged)
    return SimpleNamespace(candidates=[SimpleNamespace(score=s, probability=probability, fit=fit) for s in scores])


def test_the_features_are_the_lead_the_probability_and_the_explained_share():
    assert answer_features(_verdict([0.7, 0.5])) == pytest.approx([0.2, 0.6, 0.9])
    assert answer_features(_verdict([0.7]))[0] == pytest.approx(0.7)  # no runner-up: the lead over nothing


def test_a_runner_up_ranked_second_by_parsimony_leaves_no_negative_lead():
    assert answer_features(_verdict([0.6, 0.62]))[0] == 0.0


def test_no_converged_fit_has_no_features():
    assert answer_features(_verdict([0.7, 0.5], converged=False)) is None
    assert answer_features(SimpleNamespace(candidates=[])) is None


def test_the_fitted_model_rises_with_the_lead_and_is_calibrated_where_it_was_fitted():
    rng = np.random.default_rng(0)
    n = 2000
    F = np.column_stack([rng.uniform(0, 0.3, n), rng.uniform(0, 1, n), rng.uniform(0.5, 1, n)])
    truth = 1 / (1 + np.exp(-(12 * F[:, 0] - 1.5)))  # only the lead matters
    right = rng.uniform(size=n) < truth
    model = fit_confidence(F, right)
    assert model.n == n and model.accuracy == pytest.approx(right.mean())
    low, high = F.copy(), F.copy()
    low[:, 0], high[:, 0] = 0.0, 0.3
    assert model.probability(high).mean() > model.probability(low).mean() + 0.4
    p = model.probability(F)
    for lo, hi in [(0.2, 0.4), (0.4, 0.6), (0.6, 0.8)]:  # calibrated: in each band, the share right ≈ the band
        band = (p >= lo) & (p < hi)
        assert right[band].mean() == pytest.approx(p[band].mean(), abs=0.08)


def test_nothing_to_tell_apart_is_an_error():
    with pytest.raises(ValueError, match="right"):
        fit_confidence(np.full((5, len(FEATURES)), 0.5), np.ones(5, bool))


def test_a_stored_model_reads_back_and_one_of_other_features_reads_as_none():
    model = Confidence((10.0, 0.5, 1.5), -2.0, n=300, accuracy=0.58)
    again = Confidence.from_json(model.to_json())
    assert again == model
    assert again.of(_verdict([0.7, 0.5])) == pytest.approx(model.probability(answer_features(_verdict([0.7, 0.5]))))
    assert Confidence.from_json({**model.to_json(), "features": ["quality", "lead", "explained"]}) is None
    assert Confidence.from_json(None) is None
    with pytest.raises(ValueError):
        Confidence((1.0,), 0.0)
