"""Projection and dendrogram pictures are figures (no pyplot state, no files)."""

from __future__ import annotations

import numpy as np

from spectool.analysis.plots import dendrogram_figure, map_figure


def test_the_map_has_a_panel_per_labelling_and_blanks_the_rest():
    from matplotlib._pylab_helpers import Gcf

    rng = np.random.default_rng(0)
    P = rng.normal(size=(30, 2))
    panels = [("labels", rng.integers(0, 3, 30), ["a", "b", "c"]), ("kmeans", rng.integers(-1, 2, 30), None),
              ("ward", rng.integers(0, 2, 30), None), ("dbscan", rng.integers(0, 2, 30), None)]
    fig = map_figure(P, panels, np.array([0, 1]))
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes[:4]] == ["labels", "kmeans", "ward", "dbscan"]
    assert not fig.axes[4].axison and not fig.axes[5].axison
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b", "c"]
    assert "noise" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert Gcf.get_num_fig_managers() == 0


def test_the_dendrogram_names_its_cut():
    from scipy.cluster.hierarchy import linkage

    fig = dendrogram_figure(linkage(np.random.default_rng(1).normal(size=(12, 2)), "ward"), 3)
    assert fig.axes[0].get_title() == "Ward linkage (12 samples, 3 clusters)"
