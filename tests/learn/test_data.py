"""Splits and batch streams: every training row once per epoch, whichever path reads them."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.io.model import Chunk
from spectool.io.sets import create_set, open_set
from spectool.learn.data import BatchSource, read_labels, stratified_split
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
