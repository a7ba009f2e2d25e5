"""predict's verification step: how it runs the fit (threads), independent of what the fit finds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def test_the_fit_runs_on_one_intra_op_thread_and_restores_the_count(monkeypatch):
    """Thousands of small tensor ops per scan: 2 OpenMP threads made the fit 4-20x slower than one."""
    import torch

    from spectool.learn import verification

    seen = []
    monkeypatch.setattr(verification, "identify", lambda *a, **k: seen.append(torch.get_num_threads()))
    x = np.arange(10.0, 60.0, 0.02)
    predictor = SimpleNamespace(axis=SimpleNamespace(values=x), prepared_wavelength=lambda item: 1.5406,
                                wavelength=1.5406)
    item = SimpleNamespace(wavelength=1.5406, radiation=None, name="scan.xy")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        verification.Verifier(predictor, {}, 10).verdicts(item, (1 + np.exp(-(x - 30) ** 2))[None])
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
