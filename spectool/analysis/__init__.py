"""Learned features and what they show: embeddings, projections, clusters, class groups.

- :mod:`~spectool.analysis.embed`: features of a model (``forward_features`` or any named layer
  through a forward hook) and PCA features of the raw patterns for comparison.
- :mod:`~spectool.analysis.project`: PCA, t-SNE (scikit-learn), UMAP when installed.
- :mod:`~spectool.analysis.cluster`: DBSCAN (eps from the k-distance knee), affinity propagation,
  Ward with its linkage, k-means; kNN isolation distance; densest clusters; class groups
  (CrySTINet); silhouette and adjusted Rand index.
- :mod:`~spectool.analysis.plots`: pictures (matplotlib, Agg), imported only when asked.
"""
