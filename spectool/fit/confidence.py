"""How likely a verified answer is right: a logistic model over what the fit and the network say of it.

A verdict's top candidate is described by three numbers (:func:`answer_features`), all in 0..1:

- ``lead``: its combined score's lead over the runner-up's (:func:`~spectool.fit.verify.combined_score`;
  its own score without a runner-up, 0 where parsimony ranked it first with a lower score);
- ``probability``: the network's probability of its label;
- ``explained``: the share of the scan's peak area its fit explains.

:class:`Confidence` maps them to P(the top candidate is right) = σ(w·f + b). The weights are fitted
(:func:`fit_confidence`) on held-out compounds of the model's own types, made into laboratory scans and
verified as predict verifies a scan (``tools/calibrate_unknown.py``, run by ``make model``), and travel
in the checkpoint beside the references. The lead carries most of it: a scan that two references fit
alike is a scan whose answer is a guess between them, however good the fit. On 300 held-out compounds of
the shipped model these three had the lowest cross-validated log-loss (0.530) of the sets tried (with the
fit quality or Rwp added: 0.531); the lead alone ranked right from wrong answers slightly worse (AUROC 0.797
against 0.804). The shipped model's weights (lead 13.5, probability −1.03, explained 1.77, intercept −2.00:
given the lead, which holds 0.2 × the probabilities' difference already, a network sure of a candidate that
the fit barely prefers is more often wrong) tell right from wrong verified answers on 123 measured RockJock
references with AUROC 0.806 (with six references per type 0.821, where the combined score alone gave 0.811),
and under-state them there (mean 0.67 against 80.5 % right): held-out compounds are harder than the commoner
minerals (benchmarks/bench_verify.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = ("lead", "probability", "explained")


def answer_features(verdict) -> np.ndarray | None:
    """(3,) :data:`FEATURES` of a :class:`~spectool.fit.verify.Verdict`'s top candidate, or None where it
    has no converged fit (nothing to be confident about)."""
    candidates = verdict.candidates
    if not candidates or candidates[0].fit is None or not candidates[0].fit.converged:
        return None
    top = candidates[0]
    lead = top.score - candidates[1].score if len(candidates) > 1 else top.score
    return np.array([max(lead, 0.0), top.probability, top.fit.explained], np.float64)


@dataclass(frozen=True)
class Confidence:
    """A calibrated logistic model: P(right) = σ(coef · features + intercept).

    ``n``: the scans it was fitted on; ``accuracy``: the share of them whose top candidate was right."""

    coef: tuple[float, ...]
    intercept: float
    features: tuple[str, ...] = FEATURES
    n: int = 0
    accuracy: float | None = None

    def __post_init__(self):
        if len(self.coef) != len(self.features):
            raise ValueError(f"{len(self.coef)} weights for {len(self.features)} features")

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(right) for features (..., F)."""
        z = np.asarray(features, np.float64) @ np.asarray(self.coef, np.float64) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def of(self, verdict) -> float | None:
        """P(the verdict's top candidate is right), or None where it has no converged fit."""
        f = answer_features(verdict)
        return None if f is None else float(self.probability(f))

    def to_json(self) -> dict:
        return {"features": list(self.features), "coef": [float(c) for c in self.coef],
                "intercept": float(self.intercept), "n": int(self.n), "accuracy": self.accuracy}

    @classmethod
    def from_json(cls, data: dict | None) -> Confidence | None:
        """The model stored by :meth:`to_json`, or None when there is none or it names features this
        version does not compute (an older or newer checkpoint: no confidence rather than a wrong one)."""
        if not data or tuple(data.get("features", ())) != FEATURES:
            return None
        return cls(tuple(float(c) for c in data["coef"]), float(data["intercept"]), FEATURES,
                   int(data.get("n", 0)), data.get("accuracy"))


#: Inverse L2 strengths :func:`fit_confidence` chooses from by cross-validated log-loss.
STRENGTHS = (0.1, 1.0, 10.0, 100.0)


def fit_confidence(features: np.ndarray, right: np.ndarray, strengths=STRENGTHS) -> Confidence:
    """The logistic model of ``right`` (N,) bool from ``features`` (N, F), L2-penalised with the inverse
    strength C of ``strengths`` whose 5-fold cross-validated log-loss is lowest (the calibration set
    decides; a penalty too strong for it shrinks the weights and the probabilities with them).
    Raises ValueError when ``right`` is all true or all false (nothing to tell apart)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X, y = np.asarray(features, np.float64), np.asarray(right, bool)
    if X.ndim != 2 or X.shape[1] != len(FEATURES) or len(X) != len(y):
        raise ValueError(f"features must be (N, {len(FEATURES)}) beside N outcomes")
    if y.all() or not y.any():
        raise ValueError("every calibration answer was " + ("right" if y.all() else "wrong"))
    folds = StratifiedKFold(max(2, int(min(5, y.sum(), (~y).sum()))), shuffle=True, random_state=0)

    def cv_loss(c: float) -> float:
        p = cross_val_predict(LogisticRegression(C=c), X, y, cv=folds, method="predict_proba")[:, 1]
        return log_loss(y, p, labels=[False, True])

    model = LogisticRegression(C=min(strengths, key=cv_loss)).fit(X, y)
    return Confidence(tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]), FEATURES,
                      len(y), float(y.mean()))
