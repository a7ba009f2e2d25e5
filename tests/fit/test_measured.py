"""Measured-pattern references: full-pattern summation with shift and width per reference, RIR fractions."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.fit.measured import fit_measured, is_measured, measured_reference, rir_fractions, summation
from spectool.fit.verify import VerifyOptions, identify

X = np.arange(5.0, 70.0, 0.02)


@pytest.fixture(autouse=True)
def _one_thread():
    """The fits run on one torch thread, as predict's verifier runs them (FIT_THREADS)."""
    from spectool.learn.device import torch_threads

    with torch_threads(1):
        yield


def _peaks(seed: int, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pos, height = rng.uniform(8, 66, n), rng.uniform(0.1, 1.0, n)
    height[0] = 1.0
    return pos, height


def _render(pos, height, fwhm: float, shift: float = 0.0) -> np.ndarray:
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
    return (height[:, None] * np.exp(-0.5 * ((X[None] - pos[:, None] - shift) / sigma) ** 2)).sum(0)


def _mixture(weights, rirs, shifts, seeds=(1, 2, 3), fwhm=0.15, counts=5000.0, rng_seed=0):
    """A scan of phases mixed by weight: phase p's strongest line ∝ W_p · RIR_p (Chung), peaks broader
    than the references' (FWHM 0.1°) and shifted, on a sloping background, with Poisson noise."""
    y = sum(w * r * _render(*_normalised(s), fwhm, sh) for w, r, sh, s in zip(weights, rirs, shifts, seeds))
    y = y / y.max() + 0.05 + 0.02 * X / X[-1]
    return np.random.default_rng(rng_seed).poisson(y * counts) / counts


def _normalised(seed):
    pos, height = _peaks(seed)
    return pos, height / height.max()


def _references(rirs, seeds=(1, 2, 3)):
    return [measured_reference(f"r{s}", X, _render(*_peaks(s), 0.1), r) for s, r in zip(seeds, rirs)]


def test_rir_fractions_follow_chung():
    # S/RIR = 2, 1, 1 → 50 %, 25 %, 25 %; an unknown RIR counts as 1
    assert rir_fractions([4.0, 1.0, 1.0], [2.0, 1.0, None]) == pytest.approx([0.5, 0.25, 0.25])
    assert rir_fractions([0.0, -1.0], [1.0, 1.0]) == pytest.approx([0.0, 0.0])


def test_three_phase_fractions_shifts_and_widths_are_recovered():
    rirs, weights, shifts = [1.0, 3.5, 0.5], [0.2, 0.5, 0.3], [0.05, -0.08, 0.12]
    (fit,) = fit_measured(X, _mixture(weights, rirs, shifts), [_references(rirs)])
    assert fit.converged and fit.explained > 0.95
    assert [p.weight_fraction for p in fit.phases] == pytest.approx(weights, abs=0.05)
    assert [p.shift for p in fit.phases] == pytest.approx(shifts, abs=0.02)
    extra = np.sqrt(0.15**2 - 0.1**2)  # Gaussians add in quadrature
    assert [p.fwhm for p in fit.phases] == pytest.approx([extra] * 3, abs=0.03)


def test_summation_drops_a_reference_that_is_absent():
    rirs = [1.0, 2.0, 1.5]
    y = _mixture([0.6, 0.4], rirs[:2], [0.0, 0.05], seeds=(1, 2))
    fit = summation(X, y, _references(rirs, seeds=(1, 2, 3)))
    assert [p.name for p in fit.phases] == ["r1", "r2"]
    assert [p.weight_fraction for p in fit.phases] == pytest.approx([0.6, 0.4], abs=0.05)


def test_summation_keeps_at_most_max_phases():
    rirs = [1.0, 1.0, 1.0]
    fit = summation(X, _mixture([0.6, 0.3, 0.1], rirs, [0, 0, 0]), _references(rirs), max_phases=2)
    assert [p.name for p in fit.phases] == ["r1", "r2"]


def test_identify_names_the_phases_of_a_mixture_against_measured_references():
    rirs = [1.0, 3.5, 0.5]
    refs = _references(rirs)
    library = {"alpha": [refs[0]], "beta": [refs[1]], "gamma": [refs[2]],
               "delta": [measured_reference("r4", X, _render(*_peaks(4), 0.1), 1.0)]}
    assert is_measured(library)
    y = _mixture([0.35, 0.65, 0.0], rirs, [0.02, 0.02, 0.0])
    verdict = identify(X, y, lambda r: [("beta", 0.9)], library, ((1.5406,), (1.0,)), VerifyOptions(max_phases=4))
    assert not verdict.unknown and sorted(verdict.labels) == ["alpha", "beta"]
    fractions = {lab: p.weight_fraction for lab, p in zip(verdict.labels, verdict.phases.phases)}
    assert fractions["alpha"] == pytest.approx(0.35, abs=0.05) and fractions["beta"] == pytest.approx(0.65, abs=0.05)
    assert verdict.candidates[0].label == "beta" and verdict.candidates[-1].fit.explained < 0.3
    single = identify(X, y, lambda r: [], library, ((1.5406,), (1.0,)), VerifyOptions(max_phases=1))
    assert single.labels == ["beta"]


def test_a_scan_no_reference_explains_is_unknown():
    refs = _references([1.0, 1.0], seeds=(1, 2))
    y = _mixture([1.0], [1.0], [0.0], seeds=(7,))
    verdict = identify(X, y, lambda r: [], {"a": [refs[0]], "b": [refs[1]]}, ((1.5406,), (1.0,)),
                       VerifyOptions(max_phases=3))
    assert verdict.unknown


def test_a_reference_without_a_peak_is_refused():
    with pytest.raises(ValueError):
        measured_reference("flat", X, np.zeros_like(X))
    with pytest.raises(ValueError):
        measured_reference("bad-rir", X, _render(*_peaks(1), 0.1), rir=-1.0)
