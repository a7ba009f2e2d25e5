"""Peak finding of the evidence lists against scipy.signal.find_peaks (the oracle) and its import cost."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from spectool.fit.peaks import local_maxima, prominences


@pytest.mark.parametrize("seed", range(4))
def test_maxima_and_prominences_are_scipys(seed):
    """Random walks and integer signals full of plateaus: the same peaks and prominences as scipy."""
    from scipy.signal import find_peaks

    rng = np.random.default_rng(seed)
    for trial in range(40):
        n = int(rng.integers(3, 300))
        y = rng.integers(0, 5, n).astype(float) if trial % 2 else rng.normal(0, 1, n).cumsum()
        idx, props = find_peaks(y, prominence=0)
        np.testing.assert_array_equal(local_maxima(y), idx)
        np.testing.assert_allclose(prominences(y, idx), props["prominences"])


def test_peak_finding_does_not_import_scipy_signal():
    """scipy.signal's import is ~1 s of every predict --refine start-up."""
    code = ("import sys, numpy as np\n"
            "from spectool.fit.peaks import measured_peaks\n"
            "x = np.linspace(10, 60, 500)\n"
            "pos, _ = measured_peaks(x, np.exp(-((x - 30) / 0.2) ** 2), 0.001)\n"
            "print(pos.round(1).tolist(), 'scipy.signal' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[30.0]", "False"]
