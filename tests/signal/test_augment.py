"""Augment behaviour: each op does what it says, whole pipelines are chunk-independent,
``balance``, and the torch path draws from the numpy path's distribution."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.errors import UsageError
from spectool.signal.augment import (Background, Hump, Noise, PeakDrop, PeakScale, Shift, Window,
                                     augment_chunk, balance_copies, check_ops, default_ops,
                                     peak_windows)
from spectool.signal.ops import make_op
from spectool.spectra import Axis

from .synth import SETTINGS, dataset

X0, AXIS, PEAKS, CELLS = dataset(n=8)


def test_peak_windows_split_at_minima():
    x = np.arange(100.0)
    y = (np.exp(-((x - 30) / 3) ** 2) + 0.5 * np.exp(-((x - 60) / 3) ** 2))[None].astype(np.float32)
    rank, start = peak_windows(y, 0.1)
    assert rank[0, 30] == 0 and rank[0, 60] == 1 and start[0, 60] > 30


def test_peak_scale_and_drop_act_on_whole_peaks():
    Y, src = augment_chunk(X0, AXIS, [PeakScale(factor=(2, 2), fraction=(1, 1), threshold=0.0)], 0, 1)
    np.testing.assert_allclose(Y, 2 * X0, rtol=1e-6, atol=1e-9)
    Y, _ = augment_chunk(X0, AXIS, [PeakDrop(p=1.0, fraction=(1, 1), threshold=0.0)], 0, 1)
    assert np.all(Y <= X0 + 1e-7) and Y.sum() < 0.2 * X0.sum()  # overlaps leave their valleys
    Y, _ = augment_chunk(X0, AXIS, [PeakDrop(p=0.0)], 0, 1)
    assert np.array_equal(Y, X0)


def test_peak_drop_probability():
    Y, src = augment_chunk(X0, AXIS, [PeakDrop(p=0.7, fraction=(1, 1))], 0, 50)
    dropped = np.any(Y != X0[src], axis=1).mean()
    assert 0.6 < dropped < 0.8


def test_shift_moves_peaks_by_delta():
    Y, _ = augment_chunk(X0, AXIS, [Shift(delta=(0.3, 0.3))], 0, 1)
    step = AXIS.values[1] - AXIS.values[0]
    assert np.all(np.argmax(Y, 1) - np.argmax(X0, 1) == round(0.3 / step))


def test_window_crop_and_erase():
    Y, _ = augment_chunk(X0 + 1, AXIS, [Window(mode="crop", width=(0.5, 0.5))], 0, 4)
    kept = (Y > 0).mean(axis=1)
    np.testing.assert_allclose(kept, 0.5, atol=0.01)
    Y, _ = augment_chunk(X0 + 1, AXIS, [Window(mode="erase", width=(0.2, 0.2))], 0, 4)
    np.testing.assert_allclose((Y == 0).mean(axis=1), 0.2, atol=0.01)


@pytest.mark.parametrize("level", ["pattern", "physics"])
def test_pipelines_do_not_depend_on_chunking(level):
    ops = default_ops(level)
    kw = {"peaks": PEAKS, "cell": CELLS, "settings": SETTINGS} if level == "physics" else {}
    whole, src = augment_chunk(X0, AXIS, ops, 42, 3, **kw)
    parts = []
    for i, j in ((0, 3), (3, 5), (5, 8)):
        if kw:
            kw = kw | {"peaks": PEAKS.take(i, j), "cell": CELLS[i:j]}
        parts.append(augment_chunk(X0[i:j], AXIS, ops, 42, 3, start=i, **kw)[0])
    np.testing.assert_allclose(whole, np.concatenate(parts), rtol=1e-5, atol=1e-6)
    assert src.tolist() == np.repeat(np.arange(8), 3).tolist()


def test_balance_gives_rare_labels_more_copies():
    y = np.array([0, 0, 0, 0, 1, 2, 2, -1])
    c = balance_copies(y, 5, cap=3)
    assert c.tolist() == [5, 5, 5, 5, 15, 10, 10, 5]
    Y, src = augment_chunk(X0, AXIS, [Shift()], 0, c)
    assert np.bincount(src).tolist() == c.tolist()


def test_bad_combinations_are_usage_errors():
    with pytest.raises(UsageError, match="savgol is a preprocess step"):
        check_ops([make_op("savgol")], True)
    with pytest.raises(UsageError, match="texture needs stick lists"):
        check_ops([make_op("texture")], False)


def test_hump_is_a_gaussian_of_the_drawn_centre_width_and_height():
    grid = np.linspace(5, 90, 4251)
    X = np.zeros((3, grid.size), np.float32)
    X[:, 100] = 2.0  # the row maximum the height is relative to
    op = Hump(centre=(20, 30), fwhm=(6, 6), height=(0.2, 0.2), p=1.0)
    out, _ = augment_chunk(X, Axis(grid), [op], 5, 1)
    hump = out - X
    for row in hump:
        c = grid[np.argmax(row)]
        assert 20 - 0.05 <= c <= 30 + 0.05 and row.max() == pytest.approx(0.4, rel=1e-3)
        above = grid[row >= row.max() / 2]
        assert above[-1] - above[0] == pytest.approx(6.0, abs=0.05)  # FWHM
    off, _ = augment_chunk(X, Axis(grid), [Hump(p=0.0)], 5, 1)
    np.testing.assert_array_equal(off, X)


torch = pytest.importorskip("torch")


def test_torch_gives_the_numpy_output_for_deterministic_transforms():
    ops = default_ops("pattern") + [Background(), Hump(p=1.0)]
    a, _ = augment_chunk(X0, AXIS, ops, 9, 4)
    b, _ = augment_chunk(X0, AXIS, ops, 9, 4, device="cpu")
    np.testing.assert_allclose(a, b, atol=2e-4)


@pytest.mark.parametrize("noise", [Noise(sigma=(0.05, 0.05)),
                                   Noise(kind="poisson", counts=(2000, 2000))])
def test_torch_noise_has_the_numpy_distribution(noise):
    from scipy.stats import ks_2samp

    X = np.full((40, 500), 0.5, np.float32)
    X[:, 0] = 1.0  # row maximum 1
    a, _ = augment_chunk(X, AXIS, [noise], 1, 5)
    b, _ = augment_chunk(X, AXIS, [noise], 1, 5, device="cpu")
    ra, rb = (a - 0.5)[:, 1:].ravel(), (b - 0.5)[:, 1:].ravel()
    expected = 0.05 if noise.kind == "gaussian" else np.sqrt(0.5 / 2000)
    assert ra.std() == pytest.approx(expected, rel=0.02) and rb.std() == pytest.approx(expected, rel=0.02)
    assert abs(ra.mean()) < 0.003 * expected * 10 and abs(rb.mean()) < 0.003 * expected * 10
    assert ks_2samp(ra[::7], rb[::7]).pvalue > 1e-3
    again, _ = augment_chunk(X[:20], AXIS, [noise], 1, 5, device="cpu")
    np.testing.assert_allclose(again, b[:100], rtol=1e-5)  # chunk-independent on torch too (to rounding)
