"""Known synthetic clusters are recovered; isolation, density, class groups, scores."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.analysis import cluster as C
from spectool.analysis.project import project, umap_available
from spectool.errors import UsageError

K = 4


@pytest.fixture(scope="module")
def blobs():
    """K well-separated Gaussian blobs in 10-D, 30 points each, labels 0..K-1."""
    rng = np.random.default_rng(7)
    centres = rng.normal(0.0, 8.0, (K, 10))
    y = np.repeat(np.arange(K), 30)
    return centres[y] + rng.normal(0.0, 0.6, (len(y), 10)), y


@pytest.mark.parametrize("method", ["dbscan", "affinity", "ward", "kmeans"])
def test_known_clusters_are_recovered(blobs, method):
    F, y = blobs
    labels = {"dbscan": lambda: C.dbscan(F)[0], "affinity": lambda: C.affinity(F, seed=0),
              "ward": lambda: C.ward(F, K)[0], "kmeans": lambda: C.kmeans(F, K, seed=0)}[method]()
    assert labels.shape == y.shape
    assert C.adjusted_rand(y, labels) > 0.9


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_clusters_survive_the_projection(blobs, method):
    F, y = blobs
    P = project(F, method, dims=2, seed=0)
    assert P.shape == (len(F), 2)
    assert C.adjusted_rand(y, C.kmeans(P, K, seed=0)) > 0.9
    np.testing.assert_array_equal(P, project(F, method, dims=2, seed=0))  # seeded


def test_umap_is_optional(blobs):
    if umap_available():
        assert project(blobs[0], "umap").shape == (len(blobs[0]), 2)
    else:
        with pytest.raises(UsageError, match="umap-learn"):
            project(blobs[0], "umap")


def test_knee_of_a_hockey_stick():
    curve = np.concatenate([np.linspace(0, 1, 90), np.linspace(1, 20, 10)])
    assert 85 <= C.knee(curve) <= 91


def test_ward_linkage_has_n_minus_one_merges(blobs):
    labels, Z = C.ward(blobs[0], K)
    assert Z.shape == (len(blobs[0]) - 1, 4) and set(labels) == set(range(K))


def test_the_outlier_is_the_most_isolated(blobs):
    F = np.vstack([blobs[0], np.full((1, 10), 100.0)])
    iso = C.isolation(F, k=5)
    assert int(np.argmax(iso)) == len(F) - 1


def test_densest_cluster_first():
    rng = np.random.default_rng(1)
    tight, loose = rng.normal(0, 0.1, (40, 2)), rng.normal(20, 1.0, (40, 2))
    F = np.vstack([tight, loose])
    labels = np.repeat([0, 1], 40)
    rows = C.densest_clusters(F, labels, k=5)
    assert [r["cluster"] for r in rows] == [0, 1] and rows[0]["size"] == 40
    assert rows[0]["median_kdistance"] < rows[1]["median_kdistance"]


def test_class_groups_put_similar_classes_together():
    """Six classes whose mean patterns are three pairs of near copies → three groups, the pairs together."""
    rng = np.random.default_rng(3)
    L = 60
    bases = [np.exp(-0.5 * ((np.arange(L) - c) / 2.0) ** 2) for c in (10, 30, 50)]
    X, y = [], []
    for cls in range(6):
        rows = bases[cls // 2] + 0.02 * rng.random((8, L))
        X.append(rows)
        y += [cls] * 8
    groups, how = C.group_classes(np.vstack(X), np.array(y), 3, seed=0)
    assert sorted(groups) == [[0, 1], [2, 3], [4, 5]]
    assert how
    assert C.group_classes(np.vstack(X), np.array(y), 6)[0] == [[c] for c in range(6)]
    with pytest.raises(UsageError):
        C.group_classes(np.vstack(X), np.array(y), 7)


def test_scores(blobs):
    F, y = blobs
    assert C.silhouette(F, y) > 0.7
    assert C.silhouette(F, np.zeros_like(y)) is None
    assert C.adjusted_rand(y, y) == 1.0
    noisy = y.copy()
    noisy[:5] = -1
    assert C.silhouette(F, noisy) is not None


def test_analyse_scores_every_labelling_and_settings_are_checked_when_made(blobs):
    F, y = blobs
    settings = C.ClusterSettings(("ward", "kmeans"), "pca", 2, "features", None, None, 5, 5, 3, 0)
    result = C.analyse(F, y, settings)
    assert result["k"] == K and [r["method"] for r in result["scores"]] == ["labels", "ward", "kmeans"]
    assert all(r["ari"] > 0.9 for r in result["scores"]) and len(result["extra"]["isolated"]) == 3
    with pytest.raises(UsageError, match="unknown method 'spectral'"):
        C.ClusterSettings(("spectral",), "pca", 2, "features", None, None, 5, 5, 3, 0)
    with pytest.raises(UsageError, match="--space"):
        C.ClusterSettings(("ward",), "pca", 2, "pixels", None, None, 5, 5, 3, 0)
