"""The scikit-learn baselines (kNN, logistic regression, Gaussian naive Bayes), fitted and converted.

The fitted estimator becomes a tensor-backed model (:mod:`spectool.models.classical`), stored in
the same safetensors checkpoint as the networks: no pickle. Rows come from a BatchSource; Gaussian
naive Bayes streams them (``partial_fit``) when the set is not in memory, the other two need the
training rows in memory (kNN keeps them anyway).
"""

from __future__ import annotations

import time

import numpy as np

from spectool.errors import UsageError

DEFAULTS = {"knn": {"n_neighbors": 5}, "logreg": {"max_iter": 1000}, "gaussian_nb": {}}


def estimator(name: str, args: dict, seed: int):
    """The unfitted scikit-learn estimator for ``name`` with ``args`` (its own keyword names)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier

    kinds = {"knn": KNeighborsClassifier, "logreg": LogisticRegression, "gaussian_nb": GaussianNB}
    args = {**DEFAULTS[name], **args}
    if name == "logreg":
        args.setdefault("random_state", seed)
    try:
        return kinds[name](**args)
    except TypeError as exc:
        raise UsageError(f"{name}: {exc}") from None


def gather(source, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row of a BatchSource: X (N, L) float32, classes (N,) int64."""
    Xs, ys = [], []
    for X, y, _ in source.epoch(0):
        Xs.append(X)
        ys.append(lut[y])
    return np.concatenate(Xs), np.concatenate(ys)


def fit(name: str, args: dict, train, lut: np.ndarray, num_classes: int, seed: int = 0,
        progress=lambda n: None):
    """Fit ``name`` on a BatchSource's rows; returns (tensor model, seconds)."""
    from spectool.models.classical import from_sklearn

    start = time.perf_counter()
    est = estimator(name, args, seed)
    if name == "gaussian_nb" and getattr(train, "_X", None) is None:
        for X, y, _ in train.epoch(0):
            est.partial_fit(X, lut[y], classes=np.arange(num_classes))
            progress(len(y))
    else:
        X, y = gather(train, lut)
        _fit(est, X, y)
        progress(len(y))
    return from_sklearn(est, num_classes=num_classes), time.perf_counter() - start


def _fit(est, X: np.ndarray, y: np.ndarray) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            est.fit(X, y)
        except ValueError as exc:
            raise UsageError(f"{type(est).__name__}: {exc}") from None


def evaluate(model, source, lut: np.ndarray) -> dict[str, float]:
    """Validation log-loss and top-1/3/5 of a classical model over a BatchSource."""
    import torch

    from spectool.learn.metrics import Running

    running = Running()
    with torch.no_grad():
        for X, y, _ in source.epoch(0):
            p = torch.as_tensor(model.predict_proba(X))
            t = torch.as_tensor(lut[y])
            nll = -torch.log(p.gather(1, t[:, None]).clamp_min(1e-12)).mean()
            running.add(nll, p, t)
    return running.summary("val")
