"""Explanation pictures are figures (no pyplot state, no files); their names are the ones explain --png writes."""

from __future__ import annotations

import numpy as np

from spectool.explain.plots import attention_figure, map_figure, sample_figures
from spectool.spectra import Axis


def _no_pyplot_figures() -> bool:
    from matplotlib._pylab_helpers import Gcf

    return Gcf.get_num_fig_managers() == 0


def test_a_map_is_a_figure_on_its_own_agg_canvas():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    x = np.linspace(10, 80, 50)
    fig = map_figure(x, np.sin(x), np.arange(50.0), "title", "2θ (°)", "cam")
    assert isinstance(fig.canvas, FigureCanvasAgg) and _no_pyplot_figures()
    assert fig.axes[0].get_title() == "title" and fig.axes[1].get_ylabel() == "cam (scaled)"  # + colour bar


def test_the_attention_grid_has_a_panel_per_layer_and_head():
    x = np.linspace(10, 80, 40)
    fig = attention_figure(x, np.cos(x), np.random.default_rng(0).random((2, 3, 4)),
                           np.array([[0, 10], [10, 20], [20, 30], [30, 40]]), "t")
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "head 1" and _no_pyplot_figures()


def test_sample_figures_names_each_row_and_its_heads():
    x = np.linspace(10, 80, 40)
    maps = {"target": np.array([1, 0]), "score": np.array([0.9, 0.6]), "cam": np.ones((2, 40)),
            "attention": np.ones((2, 1, 2, 2))}
    out = list(sample_figures(7, ["scan.xy", "b/c"], np.ones((2, 40)), Axis(x, "two_theta", "deg"), maps,
                              ["A", "B"], ["B", ""], np.array([[0, 20], [20, 40]])))
    assert [name for name, _ in out] == ["00007_scan.png", "00007_scan.xy_heads.png", "00008_c.png",
                                         "00008_c_heads.png"]
    assert out[0][1].axes[0].get_title() == "scan.xy: cam for B (p = 0.90); labelled B"


def test_a_map_hatches_where_the_scan_has_no_data_and_scales_over_the_measured_part():
    x = np.linspace(5, 90, 100)
    y = np.where((x > 10) & (x < 80), 1 + np.sin(x), 0.0)  # a 10-80° scan on a 5-90° axis
    heat = np.where(y > 0, np.linspace(0, 1, 100), 50.0)  # the padding hot, as a CNN's Grad-CAM can be
    ax = map_figure(x, y, heat, "t", "2θ (°)", "gradcam").axes[0]
    hatched = [p for p in ax.patches if p.get_label() == "no data"]
    spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in hatched)
    assert len(spans) == 2 and spans[0][0] == 5 and 9.5 < spans[0][1] < 11 and 79 < spans[1][0] < 81 and spans[1][1] == 90
    band = ax.images[0].get_array()[0]
    measured = y > 0
    assert band[measured].min() == 0 and band[measured].max() == 1  # the scale spans the measured part
    full = map_figure(x, 1 + np.sin(x), heat, "t").axes[0]  # a scan over the whole axis: nothing hatched
    assert not [p for p in full.patches if p.get_label() == "no data"]
