"""The Rietveld plot of a fit: what it draws (artists) and that it is a PNG."""

from __future__ import annotations


import numpy as np
import pytest

from spectool.fit.engine import fit_hypotheses
from spectool.xrd.radiation import parse_radiation
from tests.fit.conftest import render_scan

CU12 = parse_radiation("CuKa12")
GRID = np.arange(15.0, 70.0001, 0.02)


@pytest.fixture(scope="module")
def two_phase(zoo_refs):
    """(y, joint fit, labels) of a rutile + NaCl scan."""
    (rutile, c1), (nacl, c2) = zoo_refs["rutile"], zoo_refs["NaCl"]
    y = 0.4 * render_scan(c1, GRID) / rutile.mass / rutile.volume + 0.6 * render_scan(c2, GRID) / nacl.mass / nacl.volume
    y = y / y.max() + 0.02 + np.random.default_rng(0).normal(0, 0.004, y.size)
    (fit,) = fit_hypotheses(GRID, y, [[rutile, nacl]], CU12.wavelengths, CU12.weights)
    return y, fit, ["rutile", "NaCl"]


def test_the_figure_draws_each_phase_its_tick_row_and_the_difference_below(two_phase):
    from spectool.fit.plots import rietveld_figure

    y, fit, labels = two_phase
    art = rietveld_figure(GRID, y, fit, labels, "scan", "2θ (°)", "intensity")
    assert len(art.phases) == len(art.ticks) == 2
    legend = [t.get_text() for t in art.figure.axes[0].get_legend().get_texts()]
    assert any(t.startswith("rutile") and t.endswith("wt %") for t in legend)
    assert any(t.startswith("NaCl") and t.endswith("wt %") for t in legend)
    np.testing.assert_allclose(art.total.get_ydata(), fit.model)
    diff_top = art.difference.get_ydata().max()
    assert diff_top < min(y.min(), fit.model.min())  # offset below the pattern
    rows = [seg.get_segments() for seg in art.ticks]
    assert all(len(r) > 0 for r in rows)
    (lo0, hi0), (lo1, hi1) = [(min(s[:, 1].min() for s in r), max(s[:, 1].max() for s in r)) for r in rows]
    assert hi1 < lo0 and hi0 < art.difference.get_ydata().min()  # one row per phase, each below the last
    nacl_ticks = sorted(s[0, 0] for s in rows[1])
    assert min(abs(t - 31.7) for t in nacl_ticks) < 0.2  # NaCl 200 (Cu Kα1) is marked
    ax = art.figure.axes[0]
    assert ax.get_xlabel() == "2θ (°)" and ax.get_ylabel() == "intensity"


def test_the_figure_is_written_as_a_png(two_phase, tmp_path):
    from spectool.fit.plots import rietveld_figure
    from spectool.io.figures import write_png

    y, fit, labels = two_phase
    target = write_png(tmp_path / "fit.png", rietveld_figure(GRID, y, fit, labels).figure)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
