"""Tensor-backed baselines: predict_proba equals scikit-learn's, stored without pickle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier

from spectool.errors import UsageError
from spectool.models import create_model
from spectool.models.classical import from_sklearn

ESTIMATORS = {
    "gnb": lambda: GaussianNB(),
    "logreg": lambda: LogisticRegression(max_iter=300),
    "knn": lambda: KNeighborsClassifier(5),
    "knn-distance-l1": lambda: KNeighborsClassifier(4, weights="distance", p=1),
    "knn-chebyshev": lambda: KNeighborsClassifier(3, metric="chebyshev"),
}


def data(seed=0, n=80, f=30, classes=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    X = rng.random((n, f)) + 0.3 * y[:, None] * (np.arange(f) % classes == 0)
    return X.astype(dtype), y, rng.random((25, f)).astype(dtype)


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_predict_proba_equals_sklearn(kind):
    X, y, Xq = data()
    est = ESTIMATORS[kind]().fit(X, y)
    model = from_sklearn(est)
    # same fitted parameters, float64 sums in another order (BLAS): rounding only; no query is a training point
    np.testing.assert_allclose(model.predict_proba(Xq), est.predict_proba(Xq), rtol=1e-9, atol=1e-12)
    log_p = model(torch.as_tensor(Xq, dtype=torch.float32))
    np.testing.assert_allclose(torch.softmax(log_p, 1).numpy(), est.predict_proba(Xq), atol=1e-6)


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_float32_training_data(kind):
    X, y, Xq = data(dtype=np.float32)
    est = ESTIMATORS[kind]().fit(X, y)
    np.testing.assert_allclose(from_sklearn(est).predict_proba(Xq), est.predict_proba(Xq), atol=1e-5)


def test_binary_logistic_regression():
    X, y, Xq = data(classes=2)
    est = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(from_sklearn(est).predict_proba(Xq), est.predict_proba(Xq), atol=1e-12)


# scikit-learn's brute-force Euclidean distance expands |x|² - 2x·y + |y|² through BLAS: whether a training
# point's distance to itself comes out 0 or ~1e-8 depends on the BLAS kernel (OPENBLAS_CORETYPE=Haswell gives
# 3.2e-8), so its 1/d votes leave up to ~1e-7 for the other classes. Ours are exact; theirs get that slack.
SKLEARN_SELF_DISTANCE_ATOL = 1e-6


def test_knn_exact_match_votes_only_for_it():
    X, y, _ = data()
    est = KNeighborsClassifier(5, weights="distance").fit(X, y)
    proba = from_sklearn(est).predict_proba(X[:7])
    np.testing.assert_array_equal(proba, np.eye(4)[y[:7]])
    np.testing.assert_allclose(proba, est.predict_proba(X[:7]), rtol=0, atol=SKLEARN_SELF_DISTANCE_ATOL)


def test_unseen_classes_get_probability_zero():
    X, y, Xq = data()
    y = np.where(y == 1, 3, y)  # classes 0, 2, 3 of 5
    est = GaussianNB().fit(X, y)
    proba = from_sklearn(est, num_classes=5).predict_proba(Xq)
    assert proba.shape == (25, 5) and not proba[:, [1, 4]].any()
    np.testing.assert_allclose(proba[:, [0, 2, 3]], est.predict_proba(Xq), atol=1e-12)


def test_rebuilt_from_config_and_state():
    X, y, Xq = data()
    model = from_sklearn(KNeighborsClassifier(3).fit(X, y))
    twin = create_model("knn", **model.config)
    twin.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(twin.predict_proba(Xq), model.predict_proba(Xq))


def test_unsupported_estimators_are_refused():
    X, y, _ = data()
    with pytest.raises(UsageError, match="cannot store"):
        from_sklearn(object())
    with pytest.raises(UsageError, match="integer class"):
        from_sklearn(GaussianNB().fit(X, np.array(["a", "b"])[y % 2]))
    with pytest.raises(UsageError, match="metric"):
        from_sklearn(KNeighborsClassifier(metric="cosine").fit(X, y))
