"""Low-dimensional projections of features (N, D) → (N, dims) for maps and clustering.

- ``pca``: principal components (centred).
- ``tsne``: scikit-learn t-SNE (Chen et al. 2024 use it for raw and learned features); features
  with more than 50 dimensions are first reduced to 50 by PCA, the usual practice; perplexity is
  capped below N/3 so small sets work.
- ``umap``: umap-learn when installed (the optional extra), else :class:`UsageError`.
"""

from __future__ import annotations

import numpy as np

from spectool.errors import UsageError

METHODS = ("pca", "tsne", "umap")


def umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


def project(F: np.ndarray, method: str = "pca", dims: int = 2, seed: int = 0, perplexity: float = 30.0,
            neighbors: int = 15) -> np.ndarray:
    """Features F (N, D) → (N, dims) float64."""
    F = np.asarray(F, np.float64)
    if method not in METHODS:
        raise UsageError(f"projection must be one of {', '.join(METHODS)}, not {method!r}")
    if len(F) < 2:
        raise UsageError("a projection needs at least 2 samples")
    dims = max(1, min(dims, F.shape[1], len(F)))
    if method == "pca":
        return _pca(F, dims, seed)
    if method == "tsne":
        return _tsne(F, dims, seed, perplexity)
    return _umap(F, dims, seed, neighbors)


def _pca(F: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(n_components=dims, random_state=seed).fit_transform(F)


def _tsne(F: np.ndarray, dims: int, seed: int, perplexity: float) -> np.ndarray:
    from sklearn.manifold import TSNE

    if F.shape[1] > 50 and len(F) > 50:
        F = _pca(F, 50, seed)
    perplexity = float(min(perplexity, max(1.0, (len(F) - 1) / 3)))
    init = "pca" if dims <= F.shape[1] else "random"
    return TSNE(n_components=dims, perplexity=perplexity, init=init, random_state=seed,
                learning_rate="auto").fit_transform(F)


def _umap(F: np.ndarray, dims: int, seed: int, neighbors: int) -> np.ndarray:
    if not umap_available():
        raise UsageError("UMAP needs the optional umap-learn package (pip install umap-learn); "
                         "use --project pca or tsne")
    import umap

    reducer = umap.UMAP(n_components=dims, n_neighbors=min(neighbors, len(F) - 1), random_state=seed)
    return np.asarray(reducer.fit_transform(F), np.float64)
