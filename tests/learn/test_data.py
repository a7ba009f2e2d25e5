"""Splits and batch streams: every training row once per epoch, whichever path reads them."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.spectra import Chunk
from spectool.io.sets import create_set, open_set
from spectool.learn.data import BatchSource, grouped_split, read_labels, stratified_split
from tests.conftest import make_meta


@pytest.fixture
def set_path(tmp_path, env):
    path = tmp_path / "set.h5"
    rng = np.random.default_rng(0)
    X = rng.random((1000, 50), dtype=np.float32)
    X[:, 0] = np.arange(1000)  # row id in column 0
    labels = [f"c{i % 7}" for i in range(1000)]
    with create_set(str(path), make_meta(), env) as out:
        out.append(Chunk(X), labels=labels)
    return str(path)


def test_stratified_split_keeps_class_proportions():
    y = np.repeat(np.arange(5), [100, 50, 10, 2, 1])
    split = stratified_split(y, 0.2, seed=1)
    assert len(np.intersect1d(split.train, split.val)) == 0
    assert sorted(np.concatenate([split.train, split.val]).tolist()) == list(range(len(y)))
    counts = np.bincount(y[split.val], minlength=5)
    assert counts.tolist() == [20, 10, 2, 1, 0]


@pytest.mark.parametrize("in_memory", [True, False])
def test_each_row_once_per_epoch(set_path, env, in_memory):
    with open_set(set_path, env) as reader:
        y = read_labels(reader)
        split = stratified_split(y, 0.2)
        source = BatchSource(reader, split.train, batch_size=64, block_rows=100, pool_blocks=3,
                             in_memory=in_memory, seed=3)
        seen = []
        for X, yb, rows in source.epoch(0):
            assert X.shape[1] == 50 and len(yb) == len(rows) <= 64
            np.testing.assert_array_equal(X[:, 0], rows)  # the right rows came back
            np.testing.assert_array_equal(yb, y[rows])
            seen.extend(rows.tolist())
        assert sorted(seen) == split.train.tolist()
        first = next(source.epoch(0))[2]
        assert np.array_equal(first, next(source.epoch(0))[2])  # same seed and epoch: same order
        assert not np.array_equal(first, next(source.epoch(1))[2])


def test_ranks_partition_the_rows(set_path, env):
    with open_set(set_path, env) as reader:
        rows = np.arange(1000)
        parts = [np.concatenate([b[2] for b in BatchSource(reader, rows, 50, block_rows=64, in_memory=False,
                                                             rank=r, world=2).epoch(0)]) for r in range(2)]
    assert len(np.intersect1d(*parts)) == 0 and len(parts[0]) + len(parts[1]) == 1000


def test_grouped_split_never_puts_one_parent_on_both_sides():
    rng = np.random.default_rng(0)
    parent = np.repeat(np.arange(60), 25)  # 60 structures, 25 augmented copies each
    y = np.repeat(rng.integers(0, 4, 60), 25)  # class of each structure
    y[:25] = -1  # one unlabelled structure: in neither part
    split = grouped_split(y, parent, 0.2, seed=3)
    assert not set(parent[split.train]) & set(parent[split.val])
    assert sorted(np.concatenate([split.train, split.val]).tolist()) == list(range(25, len(y)))
    for c in range(4):  # stratified: each class holds out ~20 % of its structures
        n = len(np.unique(parent[y == c]))
        assert len(np.unique(parent[split.val][y[split.val] == c])) == max(1, round(0.2 * n))
    assert np.array_equal(grouped_split(y, parent, 0.2, seed=3).val, split.val)


def test_grouped_split_keeps_a_single_parent_class_in_training():
    parent = np.array([0, 0, 0, 1, 1, 2, 2])
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    split = grouped_split(y, parent, 0.5, seed=0)
    assert set(split.train) >= {0, 1, 2} and len(np.unique(parent[split.val])) == 1
