"""The fitting engine against scans simulate renders from known structures (the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.fit.engine import FitOptions, fit_hypotheses
from spectool.xrd.radiation import parse_radiation
from tests.fit.conftest import render_scan, strained

CU12 = parse_radiation("CuKa12")
GRID = np.arange(10.0, 80.0001, 0.02)


def _fit(y, hypotheses, **options):
    return fit_hypotheses(GRID, y, hypotheses, CU12.wavelengths, CU12.weights, FitOptions(**options))


def test_render_matches_simulate(zoo_refs):
    """Unstrained, no shift, no background: the fit reproduces simulate's absolute pattern with scale 1."""
    ref, crystal = zoo_refs["calcite"]
    y = render_scan(crystal, GRID)
    (res,) = _fit(y, [[ref]], background_terms=0)
    assert res.rwp < 0.03
    assert res.phases[0].scale == pytest.approx(1.0, abs=0.02)  # the window keeps ~99 % of the pseudo-Voigt area
    np.testing.assert_allclose(res.phases[0].cell, ref.cell, rtol=2e-4, atol=0.01)


@pytest.mark.parametrize("name, stretch", [("rutile", (1.02, 1.02, 0.985)), ("ZnO", (0.98, 0.98, 1.015)),
                                           ("NaCl", (1.03, 1.03, 1.03))])
def test_strained_shifted_noisy_scan_recovers_cell_and_shift(zoo_refs, name, stretch):
    """c/a changed, zero shifted, Kα2, a sloping background and noise: cell within 0.1 %, shift within 0.03°."""
    ref, crystal = zoo_refs[name]
    truth = strained(crystal, *stretch)
    y = render_scan(truth, GRID, fwhm=0.12, eta=0.4, zero=0.12)
    y = y / y.max() + 0.05 + 0.03 * (GRID - 10) / 70
    y = y + np.random.default_rng(0).normal(0, 0.01, y.size)
    (res,) = _fit(y, [[ref]])
    fitted = res.phases[0]
    np.testing.assert_allclose(fitted.cell[:3], ref.cell[:3] * np.array(stretch), rtol=1e-3)
    cos_theta = np.cos(np.radians(np.array([15.0, 35.0])))
    np.testing.assert_allclose(res.zero + res.displacement * cos_theta, 0.12, atol=0.03)
    assert fitted.fwhm == pytest.approx(0.12, abs=0.02)
    assert res.explained > 0.9 and res.converged


def test_wrong_phase_explains_little(zoo_refs):
    """The same scan fitted by another structure leaves most peak area unexplained and a worse Rwp."""
    (rutile, crystal), (nacl, _) = zoo_refs["rutile"], zoo_refs["NaCl"]
    y = render_scan(crystal, GRID)
    y = y / y.max() + np.random.default_rng(1).normal(0, 0.005, y.size)
    right, wrong = _fit(y, [[rutile], [nacl]])
    assert right.explained > 0.9 > 0.5 > wrong.explained
    assert right.rwp < wrong.rwp / 3


def test_two_phase_weight_fractions(zoo_refs):
    """Hill–Howard from a joint fit: a 30/70 wt % mixture of rutile and NaCl comes back within 2 wt %."""
    (rutile, c1), (nacl, c2) = zoo_refs["rutile"], zoo_refs["NaCl"]
    w = np.array([0.3, 0.7])
    s = w / np.array([rutile.mass * rutile.volume, nacl.mass * nacl.volume])  # W ∝ S·ZM·V
    y = s[0] * render_scan(c1, GRID) + s[1] * render_scan(c2, GRID)
    (res,) = _fit(y, [[rutile, nacl]])
    np.testing.assert_allclose([p.weight_fraction for p in res.phases], w, atol=0.02)


def test_non_finite_scan_is_not_a_crash(zoo_refs):
    """A fit that cannot converge comes back marked, it does not raise."""
    ref, crystal = zoo_refs["NaCl"]
    y = render_scan(crystal, GRID)
    y[100:200] = np.nan
    (res,) = _fit(y, [[ref]], steps=3)
    assert not res.converged


def test_short_grid_is_refused(zoo_refs):
    ref, _ = zoo_refs["NaCl"]
    with pytest.raises(ValueError, match="at least 16 points"):
        fit_hypotheses(GRID[:5], np.ones(5), [[ref]])


def test_adam_step_is_torch_adam():
    """Our Adam update moves parameters exactly as torch.optim.Adam does over a few steps."""
    import torch

    from spectool.fit.engine import adam_step

    start = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    ours, theirs = start.clone().requires_grad_(True), start.clone().requires_grad_(True)
    moments = [(torch.zeros_like(ours), torch.zeros_like(ours))]
    opt = torch.optim.Adam([theirs], lr=0.03)
    for t in range(1, 6):
        (g,) = torch.autograd.grad(((ours - 0.3) ** 4).sum(), [ours])
        with torch.no_grad():
            adam_step([ours], [g], moments, t, 0.03)
        opt.zero_grad()
        ((theirs - 0.3) ** 4).sum().backward()
        opt.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-12, atol=1e-12)


def test_a_fit_does_not_import_torch_dynamo():
    """torch.optim's first use imports torch._dynamo, seconds of start-up for every predict --refine."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from spectool.fit.engine import fit_hypotheses\n"
            "from spectool.fit.reference import PhaseReference\n"
            "ref = PhaseReference('X', 'cubic', np.array([4.0, 4, 4, 90, 90, 90]), np.array([[1, 0, 0], [1, 1, 0]]),"
            " np.array([100.0, 50.0]), 10.0, 'X')\n"
            "x = np.arange(10.0, 60.0, 0.02)\n"
            "fit_hypotheses(x, np.exp(-((x - 22.2) / 0.1) ** 2), [[ref]])\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"



def test_one_phase_of_a_mixture_fitted_alone_still_refines_its_peak_width(zoo_refs):
    """NaCl's coarse start already has its cell and the zero; the refinement must still find the width,
    and the joint fit that starts from it then fits the mixture closely. (A cell step as large as the
    other parameters' moved high-angle peaks by most of their width: no step ever beat the start, the
    FWHM stayed at its starting 0.15° and the joint Rwp was 0.09.)"""
    (rutile, c1), (nacl, c2) = zoo_refs["rutile"], zoo_refs["NaCl"]
    s = np.array([0.3, 0.7]) / np.array([rutile.mass * rutile.volume, nacl.mass * nacl.volume])
    y = s[0] * render_scan(c1, GRID, fwhm=0.12) + s[1] * render_scan(c2, GRID, fwhm=0.12)
    y = 1000 * y / y.max() + 50 + np.random.default_rng(0).normal(0, 2, y.size)
    (alone,) = _fit(y, [[nacl]])
    assert alone.phases[0].fwhm == pytest.approx(0.12, abs=0.01)
    (joint,) = fit_hypotheses(GRID, y, [[nacl, rutile]], CU12.wavelengths, CU12.weights, start=[alone])
    assert joint.rwp < 0.05
    np.testing.assert_allclose([p.weight_fraction for p in joint.phases], [0.7, 0.3], atol=0.02)


def test_a_hopeless_hypothesis_stops_after_prune_after_steps_and_the_rest_fit_as_alone(zoo_refs, monkeypatch):
    """Rutile's scan, rutile and NaCl as hypotheses: after ``prune_after`` steps NaCl (Rwp far behind) keeps
    what it reached and only rutile is rendered on, ending where it ends fitted alone."""
    from spectool.fit import engine

    (rutile, crystal), (nacl, _) = zoo_refs["rutile"], zoo_refs["NaCl"]
    y = render_scan(strained(crystal, 1.01, 1.01, 0.99), GRID)
    y = y / y.max() + np.random.default_rng(1).normal(0, 0.005, y.size)
    (alone,) = _fit(y, [[rutile]])
    rendered, render = [], engine.render
    monkeypatch.setattr(engine, "render", lambda grid, batch, *a: rendered.append(batch.shape[0]) or render(grid, batch, *a))
    right, wrong = _fit(y, [[rutile], [nacl]])
    steps = FitOptions().prune_after
    assert 1 in rendered and rendered[rendered.index(1) - 1] == 2  # two rendered until pruning, then one
    assert rendered.count(2) >= steps
    assert right.rwp == pytest.approx(alone.rwp, rel=1e-3) and wrong.converged and np.isfinite(wrong.rwp)
    np.testing.assert_allclose(right.phases[0].cell, alone.phases[0].cell, rtol=1e-4)
