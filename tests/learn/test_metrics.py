"""learn/metrics.py is the one home of top-k and the confusion matrix: training and evaluation agree."""

from __future__ import annotations

import numpy as np
import torch

from spectool.learn.evaluate import evaluate_ranked
from spectool.learn.metrics import confusion_matrix, topk_accuracy, topk_hits


def test_ranked_and_logit_topk_agree():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 7))
    target = rng.integers(0, 7, 50)
    ranked = np.argsort(-logits, axis=1, kind="stable")[:, :5]
    from_logits = topk_hits(torch.as_tensor(logits), torch.as_tensor(target)).numpy() / 50
    assert list(topk_accuracy(target, ranked).values()) == from_logits.tolist()


def test_topk_leaves_out_k_beyond_the_ranking_and_counts_unknown_as_wrong():
    ranked = np.array([[0, 1], [1, 0], [1, 0]])
    assert topk_accuracy(np.array([0, 0, -1]), ranked) == {1: 1 / 3}


def test_rectangular_confusion_is_what_evaluate_reports():
    cm = confusion_matrix([0, 0, 1, 2], [3, 3, 0, 9], 4, num_true=3)
    assert cm.shape == (3, 4) and cm[0, 3] == 2 and cm[1, 0] == 1 and cm.sum() == 3
    result = evaluate_ranked(["b", "b", "a"], [[2, 0], [1, 0], [0, 1]], ["a", "b", "c"])
    assert result.true_labels == ["a", "b"]
    assert result.confusion.tolist() == [[1, 0, 0], [0, 1, 1]]
    assert result.accuracy == {1: 2 / 3}
