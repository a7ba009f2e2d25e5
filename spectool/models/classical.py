"""Classical baselines (kNN, logistic regression, Gaussian naive Bayes) stored without pickle.

A fitted scikit-learn estimator is converted by ``from_sklearn``: its fitted parameters become
float64 buffers of an nn.Module, so they go into the same safetensors checkpoint as the networks
(rebuilt from ``config`` through the registry, then ``load_state_dict``). ``predict_proba`` is
re-implemented from those tensors and equals scikit-learn's; ``forward`` returns the log of it, so
``softmax(forward(x)) == predict_proba(x)`` and predict treats every model alike.

Classes: the estimator's ``classes_`` must be integer class indices in [0, num_classes); classes
the estimator never saw get probability 0 (``fitted_classes`` lists those it did, in its order).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from spectool.errors import UsageError
from spectool.models.base import ExplainHooks
from spectool.models.registry import register_model

_METRIC_P = {"euclidean": 2.0, "l2": 2.0, "manhattan": 1.0, "l1": 1.0, "cityblock": 1.0,
             "chebyshev": float("inf")}


class ClassicalModel(nn.Module):
    """Common part: class bookkeeping, ``predict_proba`` / ``forward``, conversion helpers."""

    output_kind = "logits"  # log-probabilities

    def explain_hooks(self) -> ExplainHooks:
        """None: explain falls back on occlusion."""
        return ExplainHooks()

    def _setup(self, num_classes: int, input_length: int, fitted_classes: list | None) -> int:
        self.num_classes, self.input_length = num_classes, input_length
        classes = list(range(num_classes)) if fitted_classes is None else list(fitted_classes)
        if not all(0 <= c < num_classes for c in classes):
            raise ValueError(f"fitted classes must lie in [0, {num_classes})")
        self.register_buffer("classes", torch.tensor(classes, dtype=torch.long), persistent=False)
        return len(classes)

    def _proba(self, X: torch.Tensor) -> torch.Tensor:  # (B, F) float64 -> (B, K)
        raise NotImplementedError

    def full_proba(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) tensor → (B, num_classes) float64 probabilities."""
        if x.ndim != 2 or x.shape[1] != self.input_length:
            raise UsageError(f"{self.model_name} expects input (B, {self.input_length}), "
                             f"got {tuple(x.shape)}")
        p = self._proba(x.to(torch.float64))
        out = p.new_zeros(p.shape[0], self.num_classes)
        return out.index_copy(1, self.classes, p)

    def predict_proba(self, X) -> np.ndarray:
        """(B, F) array or tensor → (B, num_classes) float64 numpy, like scikit-learn's."""
        with torch.no_grad():
            return self.full_proba(torch.as_tensor(np.asarray(X))).cpu().numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) → log-probabilities (B, num_classes) in x's dtype (−inf for probability 0)."""
        return torch.log(self.full_proba(x)).to(x.dtype)

    @staticmethod
    def _classes_of(estimator, num_classes: int | None) -> tuple[list[int], int]:
        classes = np.asarray(estimator.classes_)
        if classes.dtype.kind not in "iu" or (classes < 0).any():
            raise UsageError("the estimator must be fitted on integer class indices 0 … C-1")
        fitted = [int(c) for c in classes]
        return fitted, int(num_classes if num_classes is not None else max(fitted) + 1)

    def _fill(self, **arrays: np.ndarray) -> "ClassicalModel":
        for name, value in arrays.items():
            getattr(self, name).copy_(torch.as_tensor(np.asarray(value)))
        return self


def _buffer(module: nn.Module, name: str, *shape: int, dtype=torch.float64) -> None:
    module.register_buffer(name, torch.zeros(*shape, dtype=dtype))


@register_model("gaussian_nb", kind="classical", tiny=dict(num_classes=3, input_length=6))
class GaussianNB(ClassicalModel):
    """P(c | x) ∝ prior_c · Π_f N(x_f; θ_cf, σ²_cf); buffers theta, var (K, F), class_prior (K,)."""

    def __init__(self, *, num_classes: int, input_length: int, fitted_classes: list | None = None):
        super().__init__()
        k = self._setup(num_classes, input_length, fitted_classes)
        _buffer(self, "theta", k, input_length)
        _buffer(self, "var", k, input_length)
        _buffer(self, "class_prior", k)

    def _proba(self, X: torch.Tensor) -> torch.Tensor:
        jll = torch.stack([self._log_likelihood(X, i) for i in range(self.theta.shape[0])], dim=1)
        return torch.softmax(jll, dim=1)

    def _log_likelihood(self, X: torch.Tensor, i: int) -> torch.Tensor:
        """log prior_i + Σ_f log N(x_f; θ_if, σ²_if), in scikit-learn's order of operations."""
        var = self.var[i]
        norm = -0.5 * torch.log(2.0 * np.pi * var).sum()
        return torch.log(self.class_prior[i]) + norm - 0.5 * ((X - self.theta[i]) ** 2 / var).sum(1)

    @classmethod
    def from_sklearn(cls, est, *, num_classes: int | None = None) -> "GaussianNB":
        fitted, n = cls._classes_of(est, num_classes)
        model = cls(num_classes=n, input_length=est.theta_.shape[1], fitted_classes=fitted)
        return model._fill(theta=est.theta_, var=est.var_, class_prior=est.class_prior_)


@register_model("logreg", kind="classical", tiny=dict(num_classes=3, input_length=6))
class LogisticRegression(ClassicalModel):
    """softmax(x Wᵀ + b) (multinomial), or sigmoid for two classes; buffers coef, intercept."""

    def __init__(self, *, num_classes: int, input_length: int, fitted_classes: list | None = None):
        super().__init__()
        k = self._setup(num_classes, input_length, fitted_classes)
        rows = 1 if k == 2 else k
        _buffer(self, "coef", rows, input_length)
        _buffer(self, "intercept", rows)

    def _proba(self, X: torch.Tensor) -> torch.Tensor:
        scores = X @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:
            p = torch.sigmoid(scores)
            return torch.cat([1 - p, p], dim=1)
        return torch.softmax(scores, dim=1)

    @classmethod
    def from_sklearn(cls, est, *, num_classes: int | None = None) -> "LogisticRegression":
        fitted, n = cls._classes_of(est, num_classes)
        model = cls(num_classes=n, input_length=est.coef_.shape[1], fitted_classes=fitted)
        return model._fill(coef=est.coef_, intercept=est.intercept_)


@register_model("knn", kind="classical", tiny=dict(num_classes=3, input_length=6, n_train=12,
                                                   n_neighbors=3))
class KNN(ClassicalModel):
    """k nearest training patterns (Minkowski p), uniform or 1/distance votes; buffers fit_X, fit_y."""

    def __init__(self, *, num_classes: int, input_length: int, n_train: int, n_neighbors: int = 5,
                 weights: str = "uniform", p: float = 2.0, dtype: str = "float32",
                 fitted_classes: list | None = None):
        super().__init__()
        if weights not in ("uniform", "distance"):
            raise ValueError(f"weights must be 'uniform' or 'distance', not {weights!r}")
        self._setup(num_classes, input_length, fitted_classes)
        self.n_neighbors, self.weights, self.p = n_neighbors, weights, float(p)
        _buffer(self, "fit_X", n_train, input_length, dtype=getattr(torch, dtype))
        _buffer(self, "fit_y", n_train, dtype=torch.long)  # index into fitted classes

    def _proba(self, X: torch.Tensor) -> torch.Tensor:
        rows = max(1, 2**24 // max(1, self.fit_X.shape[0]))
        return torch.cat([self._proba_chunk(X[i:i + rows]) for i in range(0, len(X), rows)])

    def _proba_chunk(self, X: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(X, self.fit_X.to(torch.float64), p=self.p,
                        compute_mode="donot_use_mm_for_euclid_dist")
        dist, idx = torch.topk(d, self.n_neighbors, dim=1, largest=False)
        votes = torch.ones_like(dist) if self.weights == "uniform" else _inverse_distance(dist)
        k = len(self.classes)
        counts = votes.new_zeros(len(X), k).scatter_add_(1, self.fit_y[idx], votes)
        return counts / counts.sum(dim=1, keepdim=True)

    @classmethod
    def from_sklearn(cls, est, *, num_classes: int | None = None) -> "KNN":
        fitted, n = cls._classes_of(est, num_classes)
        if callable(est.weights) or est.weights not in ("uniform", "distance"):
            raise UsageError("only uniform or distance weights can be stored")
        p = _metric_p(est.effective_metric_, est.effective_metric_params_)
        fit_X = np.asarray(est._fit_X)
        model = cls(num_classes=n, input_length=fit_X.shape[1], n_train=fit_X.shape[0],
                    n_neighbors=est.n_neighbors, weights=est.weights, p=p,
                    dtype=str(fit_X.dtype), fitted_classes=fitted)
        return model._fill(fit_X=fit_X, fit_y=est._y)


def _inverse_distance(dist: torch.Tensor) -> torch.Tensor:
    """1/d; a row with a zero distance votes only for its exact matches (as scikit-learn)."""
    zero = dist == 0
    exact = zero.any(dim=1, keepdim=True)
    return torch.where(exact, zero.to(dist.dtype), 1.0 / dist)


def _metric_p(metric: str, params: dict) -> float:
    if metric == "minkowski":
        return float(params.get("p", 2))
    if metric not in _METRIC_P:
        raise UsageError(f"kNN metric {metric!r} cannot be stored (use minkowski/euclidean/manhattan)")
    return _METRIC_P[metric]


def from_sklearn(estimator, *, num_classes: int | None = None) -> ClassicalModel:
    """The tensor-backed twin of a fitted KNeighborsClassifier, LogisticRegression or GaussianNB."""
    kinds = {"KNeighborsClassifier": KNN, "LogisticRegression": LogisticRegression,
             "GaussianNB": GaussianNB}
    name = type(estimator).__name__
    if name not in kinds:
        raise UsageError(f"cannot store a {name}; supported: {', '.join(kinds)}")
    return kinds[name].from_sklearn(estimator, num_classes=num_classes)
