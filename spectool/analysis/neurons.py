"""Neuron-response clustering (PAPERS.md D): a layer's activations over samples, each neuron's response
pattern standardised, projected (PCA) and clustered (k-means) into neuron groups; each group is reported
with the samples it responds to (its mean standardised activation in the top quartile) and the structural
descriptor that best separates those samples from the rest (largest |Cohen's d|)."""

from __future__ import annotations

import numpy as np


def neuron_groups(activations: np.ndarray, n_groups: int, seed: int = 0) -> np.ndarray:
    """Group labels (N,) of the N neurons of ``activations`` (S samples, N neurons); silent neurons
    (no variation over the samples) get −1."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    A = np.asarray(activations, np.float64)
    spread = A.std(0)
    live = np.flatnonzero(spread > 1e-9)
    labels = np.full(A.shape[1], -1, dtype=np.int64)
    if len(live) == 0:
        return labels
    responses = ((A[:, live] - A[:, live].mean(0)) / spread[live]).T  # (N', S): one response pattern per neuron
    dims = int(min(10, *responses.shape))
    points = PCA(dims, random_state=seed).fit_transform(responses) if dims > 1 else responses
    k = int(min(n_groups, len(live)))
    labels[live] = KMeans(k, n_init=10, random_state=seed).fit_predict(points)
    return labels


def responders(activations: np.ndarray, labels: np.ndarray, group: int, quantile: float = 0.75) -> np.ndarray:
    """(S,) bool: the samples on which ``group``'s mean standardised activation is in the top quantile."""
    A = np.asarray(activations, np.float64)[:, labels == group]
    z = ((A - A.mean(0)) / np.where(A.std(0) > 0, A.std(0), 1.0)).mean(1)
    return z >= np.quantile(z, quantile)


def separation(values: np.ndarray, mask: np.ndarray) -> float:
    """Cohen's d of ``values`` between the samples in ``mask`` and the rest (0 when either side is empty
    or neither varies)."""
    inside, outside = values[mask], values[~mask]
    if len(inside) < 1 or len(outside) < 1:
        return 0.0
    pooled = np.sqrt((inside.var() * len(inside) + outside.var() * len(outside)) / len(values))
    return float((inside.mean() - outside.mean()) / pooled) if pooled > 1e-12 else 0.0


def group_report(activations: np.ndarray, descriptors: dict[str, np.ndarray], n_groups: int, seed: int = 0
                 ) -> list[dict]:
    """One row per neuron group: its size, how many samples it responds to, and the descriptor that best
    separates them (name, Cohen's d, mean over the responders and over the rest)."""
    labels = neuron_groups(activations, n_groups, seed)
    rows = []
    for g in sorted(set(labels.tolist()) - {-1}):
        mask = responders(activations, labels, g)
        scores = {name: separation(np.asarray(v, np.float64), mask) for name, v in descriptors.items()}
        best = max(scores, key=lambda n: abs(scores[n]))
        values = np.asarray(descriptors[best], np.float64)
        rows.append({"group": g, "neurons": int((labels == g).sum()), "samples": int(mask.sum()),
                     "descriptor": best, "d": scores[best], "responders": float(values[mask].mean()),
                     "others": float(values[~mask].mean())})
    return rows
