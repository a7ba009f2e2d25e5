"""Counter-based row streams (spectool.signal.streams): a row's numbers depend only on
(seed, sample, copy, slot, call, index): not on the batch, chunking or how many are drawn;
uniform (KS), integers in range, rows and slots independent. And the sparse kernels the
streams feed, against dense oracles: peak windows, shift."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare, kstest

from spectool.signal.augment import peak_pieces, peak_windows, shift_rows
from spectool.signal.streams import RowStreams, row_keys, row_streams

SAMPLES, COPIES = np.repeat(np.arange(40), 25), np.tile(np.arange(25), 40)


def test_same_rows_same_numbers_in_any_batch():
    whole = row_streams(5, SAMPLES, COPIES).uniform(0, 1, 7)
    parts = [row_streams(5, SAMPLES[i:j], COPIES[i:j]).uniform(0, 1, 7) for i, j in ((0, 1), (1, 333), (333, 1000))]
    assert np.array_equal(whole, np.concatenate(parts))
    perm = np.random.default_rng(0).permutation(len(SAMPLES))
    assert np.array_equal(row_streams(5, SAMPLES[perm], COPIES[perm]).uniform(0, 1, 7), whole[perm])
    assert np.array_equal(row_streams(5, SAMPLES, COPIES).uniform(0, 1, 7), whole)  # deterministic


def test_drawing_more_values_keeps_the_first_ones():
    s = row_streams(1, SAMPLES, COPIES)
    a = s.uniform_at(np.arange(len(s))[:, None], np.arange(3, dtype=np.uint64)[None])
    s = row_streams(1, SAMPLES, COPIES)
    b = s.uniform_at(np.arange(len(s))[:, None], np.arange(50, dtype=np.uint64)[None])
    assert np.array_equal(a, b[:, :3])


def test_calls_slots_and_seeds_give_different_numbers():
    s = row_streams(1, SAMPLES, COPIES)
    draws = [s.uniform(), s.uniform(), s.child(1).uniform(), row_streams(2, SAMPLES, COPIES).uniform()]
    for i in range(len(draws)):
        for j in range(i):
            assert abs(np.corrcoef(draws[i], draws[j])[0, 1]) < 0.1
    assert len(np.unique(row_keys(0, SAMPLES, COPIES))) == len(SAMPLES)


def test_uniforms_are_uniform_and_independent():
    u = row_streams(3, SAMPLES, COPIES).uniform(0, 1, 50)
    assert kstest(u.ravel(), "uniform").pvalue > 1e-3
    assert kstest(u[:, 0], "uniform").pvalue > 1e-3  # across rows: consecutive copies, samples
    assert abs(np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]) < 0.02  # neighbouring rows
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < 0.02  # neighbouring indices
    lo_hi = row_streams(3, SAMPLES, COPIES).uniform(-2, 5)
    assert lo_hi.min() >= -2 and lo_hi.max() < 5


def test_integers_cover_the_range_evenly():
    n = np.concatenate([row_streams(s, SAMPLES, COPIES).integers(2, 9) for s in range(10)])
    assert n.min() == 2 and n.max() == 8
    assert chisquare(np.bincount(n - 2)).pvalue > 1e-3


def test_per_row_generators_follow_the_row():
    a = row_streams(4, SAMPLES, COPIES).generators()
    b = RowStreams(row_keys(4, SAMPLES[10:20], COPIES[10:20])).generators()
    assert [g.random() for g in a[10:20]] == [g.random() for g in b]


# ---------------------------------------------------------------- dense oracles
def dense_peak_windows(X, threshold):
    """The former all-dense implementation (running sums and extrema over (B, L))."""
    B, L = X.shape
    left, right = X[:, 1:-1] - X[:, :-2], X[:, 2:] - X[:, 1:-1]
    pad = np.zeros((B, 1), bool)
    top = X.max(axis=1, keepdims=True)
    is_max = np.concatenate([pad, (left > 0) & (right <= 0), pad], 1) & (X > threshold * top)
    is_min = np.concatenate([pad, (left < 0) & (right >= 0), pad], 1)
    idx = np.arange(L)
    cum = np.cumsum(is_max, axis=1)
    since = cum > np.maximum.accumulate(np.where(is_min, cum, 0), axis=1)
    next_max = np.minimum.accumulate(np.where(is_max, idx, L)[:, ::-1], axis=1)[:, ::-1]
    next_min = np.minimum.accumulate(np.where(is_min, idx, L)[:, ::-1], axis=1)[:, ::-1]
    next_min = np.concatenate([next_min[:, 1:], np.full((B, 1), L)], 1)
    rank = np.where(since, cum - 1, np.where(next_max < next_min, cum, -1))
    return rank, np.maximum.accumulate(np.where(is_min, idx, 0), axis=1)


@pytest.mark.parametrize("seed", range(4))
def test_peak_pieces_match_the_dense_oracle(seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 6, (30, 80)).astype(np.float32)  # plateaus, twin maxima, flat rows
    X[0] = 0
    X[1] = np.arange(80)
    for threshold in (0.0, 0.5):
        rank, start = peak_windows(X, threshold)
        want_rank, want_start = dense_peak_windows(X, threshold)
        assert np.array_equal(rank, want_rank) and np.array_equal(start, want_start)
    p = peak_pieces(X, 0.0)
    assert p.length.sum() == X.size and np.all(p.length > 0)


def test_shift_matches_interpolation_with_zero_outside():
    rng = np.random.default_rng(1)
    X = rng.random((50, 40)).astype(np.float32)
    s = np.concatenate([rng.uniform(-45, 45, 46), [0, 1, -1, 39.5]]).astype(np.float32)
    t = np.arange(40)[None, :] - s[:, None]
    i0 = np.floor(t).astype(int)
    w = (t - i0).astype(np.float32)
    take = lambda i: np.take_along_axis(X, np.clip(i, 0, 39), 1)  # noqa: E731
    want = np.where((t >= 0) & (t <= 39), take(i0) * (1 - w) + take(i0 + 1) * w, 0)
    np.testing.assert_array_equal(shift_rows(X, s), want.astype(np.float32))
