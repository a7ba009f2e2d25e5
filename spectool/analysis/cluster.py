"""Clustering of features (N, D), the ViT paper's isolation and density analyses, class groups.

- DBSCAN; without ``eps``, eps is the knee of the sorted k-distance curve (k = ``min_samples``,
  the point itself counted as DBSCAN counts it): the point farthest below the chord from the
  first to the last value, both axes scaled to [0, 1] (Kneedle; Satopää et al. 2011).
- Affinity propagation (negative squared Euclidean similarities, scikit-learn).
- Ward: agglomerative clustering minimising within-cluster variance (scipy ``linkage``); the
  (N − 1, 4) linkage matrix is kept for the dendrogram.
- k-means (k-means++, ``n_init=10``).
- Isolation (Chen et al. 2024): each sample's mean Euclidean distance to its k nearest other
  samples; the largest are the most isolated.
- Densest clusters: DBSCAN clusters ranked by the median k-distance of their members (smaller is
  denser).
- Class groups (CrySTINet): the classes' mean patterns (C, L), affinity propagation on their cosine
  similarities with the preference bisected until there are exactly G groups; if no preference
  gives G, average-linkage agglomerative clustering on cosine distance does.

Labels: int64 (N,), −1 = DBSCAN noise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from spectool.errors import UsageError

METHODS = ("dbscan", "affinity", "ward", "kmeans")
SPACES = ("features", "projection")


@dataclass(frozen=True)
class ClusterSettings:
    """How ``spectool cluster`` projects, clusters and reports (its options), checked when made:
    an unknown method or space is a :class:`UsageError` before any work."""

    methods: tuple[str, ...]
    project: str
    dims: int
    space: str
    clusters: int | None  # for ward and kmeans; None: the number of labels, else 8
    eps: float | None  # DBSCAN radius; None: the k-distance knee
    min_samples: int
    neighbors: int  # k of the kNN isolation distance
    top: int  # isolated rows and dense clusters reported
    seed: int

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise UsageError(f"unknown method {unknown[0]!r}")
        if self.space not in SPACES:
            raise UsageError("--space must be features or projection")


def kdistances(F: np.ndarray, k: int) -> np.ndarray:
    """(N, k) distances to the k nearest neighbours, the point itself first (distance 0)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(F))
    return NearestNeighbors(n_neighbors=k).fit(F).kneighbors(F)[0]


def knee(values: np.ndarray) -> int:
    """Index of the knee of an increasing curve (farthest below the chord, axes scaled to [0, 1])."""
    y = np.sort(np.asarray(values, np.float64))
    if len(y) < 3 or y[-1] == y[0]:
        return len(y) - 1
    x = np.linspace(0.0, 1.0, len(y))
    return int(np.argmax(x - (y - y[0]) / (y[-1] - y[0])))


def dbscan(F: np.ndarray, eps: float | None = None, min_samples: int = 5) -> tuple[np.ndarray, float]:
    """DBSCAN labels (N,) and the eps used (from the k-distance knee when not given)."""
    from sklearn.cluster import DBSCAN

    if eps is None:
        kd = np.sort(kdistances(F, min_samples)[:, -1])
        eps = float(kd[knee(kd)]) or float(kd[kd > 0].min(initial=1.0))
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(F)
    return labels.astype(np.int64), float(eps)


def affinity(F: np.ndarray, seed: int = 0, damping: float = 0.9,
             preference: float | None = None) -> np.ndarray:
    """Affinity propagation labels (N,) (−1 everywhere if it did not converge)."""
    from sklearn.cluster import AffinityPropagation
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AffinityPropagation(damping=damping, preference=preference, random_state=seed, max_iter=500)
        return model.fit_predict(F).astype(np.int64)


def ward(F: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Ward labels (N,) in [0, n_clusters) and the linkage matrix (N − 1, 4) for a dendrogram."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(F) < 2:
        return np.zeros(len(F), np.int64), np.zeros((0, 4))
    Z = linkage(np.asarray(F, np.float64), method="ward")
    return (fcluster(Z, n_clusters, criterion="maxclust") - 1).astype(np.int64), Z


def kmeans(F: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """k-means labels (N,)."""
    from sklearn.cluster import KMeans

    n_clusters = max(1, min(n_clusters, len(F)))
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(F).astype(np.int64)


def isolation(F: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean distance (N,) of each sample to its k nearest other samples."""
    if len(F) < 2:
        return np.zeros(len(F))
    return kdistances(F, k + 1)[:, 1:].mean(axis=1)


def densest_clusters(F: np.ndarray, labels: np.ndarray, k: int = 5) -> list[dict]:
    """DBSCAN clusters, densest first: ``cluster``, ``size``, ``median_kdistance`` (to the k-th neighbour)."""
    if len(F) < 2:
        return []
    kd = kdistances(F, k + 1)[:, -1]
    rows = [{"cluster": int(c), "size": int((labels == c).sum()),
             "median_kdistance": float(np.median(kd[labels == c]))} for c in np.unique(labels) if c >= 0]
    return sorted(rows, key=lambda r: (r["median_kdistance"], -r["size"]))


def class_means(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes present (C,), their mean rows (C, D)); unlabelled rows (y < 0) left out."""
    classes = np.unique(y[y >= 0])
    return classes, np.stack([X[y == c].mean(axis=0) for c in classes]) if len(classes) else np.zeros((0, X.shape[1]))


def group_classes(X: np.ndarray, y: np.ndarray, n_groups: int, seed: int = 0) -> tuple[list[list[int]], str]:
    """Classes (indices into the set's label names) in ``n_groups`` groups, and the method that made them."""
    classes, means = class_means(np.asarray(X, np.float64), y)
    if n_groups < 1 or n_groups > len(classes):
        raise UsageError(f"cannot make {n_groups} groups of {len(classes)} labelled classes")
    if n_groups == len(classes):
        return [[int(c)] for c in classes], "one class per group"
    unit = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    labels = _affinity_with_count(similarity, n_groups, seed)
    method = "affinity propagation (cosine)"
    if labels is None:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(n_clusters=n_groups, metric="cosine", linkage="average").fit_predict(unit)
        method = "average-linkage agglomerative (cosine)"
    groups = [[int(c) for c in classes[labels == g]] for g in np.unique(labels)]
    return sorted(groups, key=lambda g: g[0]), method


def _affinity_with_count(similarity: np.ndarray, n_groups: int, seed: int, steps: int = 40) -> np.ndarray | None:
    """Bisect AP's preference until it gives exactly ``n_groups`` clusters; None if it never does."""
    from sklearn.cluster import AffinityPropagation
    from sklearn.exceptions import ConvergenceWarning

    off = similarity[~np.eye(len(similarity), dtype=bool)]
    lo, hi = float(off.min()) - 2 * float(np.ptp(off) + 1e-6), float(similarity.max())
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ap = AffinityPropagation(affinity="precomputed", preference=mid, damping=0.9, max_iter=1000,
                                     random_state=seed).fit(similarity)
        labels = ap.labels_
        count = len(np.unique(labels[labels >= 0])) if (labels >= 0).all() else -1
        if count == n_groups:
            return labels
        if count < 0:
            return None
        lo, hi = (mid, hi) if count < n_groups else (lo, mid)
    return None


def silhouette(F: np.ndarray, labels: np.ndarray, seed: int = 0, sample_size: int = 5000) -> float | None:
    """Mean silhouette of ``labels`` (rows with label < 0 left out); None when undefined."""
    from sklearn.metrics import silhouette_score

    keep = labels >= 0
    n_labels = len(np.unique(labels[keep]))
    if not 2 <= n_labels <= keep.sum() - 1:
        return None
    size = min(sample_size, int(keep.sum()))
    return float(silhouette_score(F[keep], labels[keep], sample_size=size, random_state=seed))


def adjusted_rand(truth: np.ndarray, labels: np.ndarray) -> float | None:
    """ARI of ``labels`` against ``truth`` on the labelled rows (truth ≥ 0); noise counts as one cluster."""
    from sklearn.metrics import adjusted_rand_score

    keep = truth >= 0
    return float(adjusted_rand_score(truth[keep], labels[keep])) if keep.sum() >= 2 else None


def analyse(X: np.ndarray, y: np.ndarray, s: ClusterSettings) -> dict:
    """What ``spectool cluster`` reports for rows X (N, D) with labels y (N,) (−1 = none): ``labels``
    (method → (N,) int64), ``extra`` (projection, isolation, isolated rows, DBSCAN eps, densest clusters,
    Ward linkage), ``k`` (clusters asked of ward and kmeans) and ``scores`` (one row per labelling)."""
    from spectool.analysis.project import project as run_projection

    P = run_projection(X, s.project, s.dims, s.seed)
    F = P if s.space == "projection" else X
    k = s.clusters or (len(np.unique(y[y >= 0])) if (y >= 0).any() else 8)
    labels, extra = {}, {"projection": P}
    for name in s.methods:
        if name == "dbscan":
            labels[name], extra["dbscan_eps"] = dbscan(F, s.eps, s.min_samples)
        elif name == "affinity":
            labels[name] = affinity(F, s.seed)
        elif name == "ward":
            labels[name], extra["ward_linkage"] = ward(F, k)
        else:
            labels[name] = kmeans(F, k, s.seed)
    iso = isolation(F, s.neighbors)
    extra.update(isolation=iso, isolated=np.argsort(-iso, kind="stable")[:s.top])
    if "dbscan" in labels:
        extra["densest"] = densest_clusters(F, labels["dbscan"], s.neighbors)[:s.top]
    return {"labels": labels, "extra": extra, "k": k, "scores": score_labels(F, y, labels, s.seed)}


def score_labels(F: np.ndarray, y: np.ndarray, labels: dict, seed: int) -> list[dict]:
    """One row per labelling (the set's own labels first, when it has any): clusters, noise, silhouette
    on F (N, D) and the adjusted Rand index against y."""
    rows = []
    if (y >= 0).any():
        rows.append({"method": "labels", "clusters": int(len(set(y[y >= 0].tolist()))), "noise": int((y < 0).sum()),
                     "silhouette": silhouette(F, y, seed), "ari": 1.0})
    for name, lab in labels.items():
        rows.append({"method": name, "clusters": int(len(set(lab[lab >= 0].tolist()))), "noise": int((lab < 0).sum()),
                     "silhouette": silhouette(F, lab, seed),
                     "ari": adjusted_rand(y, lab) if (y >= 0).any() else None})
    return rows
