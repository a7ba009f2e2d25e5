"""Classification metrics, the one home of top-k and the confusion matrix: top-k hits of logits (training)
or of ranked class indices (evaluation), running epoch averages, confusion matrix.

Counts are kept as sums (not means) so that ranks of a distributed run can add them up
before dividing (see :func:`spectool.learn.distributed.all_sum`).
"""

from __future__ import annotations

import numpy as np

TOPK = (1, 3, 5)


def topk_hits(logits, target, ks: tuple[int, ...] = TOPK):
    """Rows whose target is among the k highest scores, per k: a (len(ks),) float64 tensor.

    ``logits`` (B, C) tensor, ``target`` (B,) long tensor. k larger than C counts every row.
    Stays on the logits' device (no host sync).
    """
    import torch

    kmax = min(max(ks), logits.shape[1])
    return ranked_hits(torch.topk(logits.detach(), kmax, dim=1).indices, target, ks)


def ranked_hits(top, target, ks: tuple[int, ...] = TOPK):
    """Rows whose target is among the first k of ``top`` (B, K) class indices, best first (distinct per row), per k:
    a (len(ks),) float64 tensor; k larger than K counts as K. ``target`` (B,) long tensor."""
    import torch

    at = (top == target[:, None]).sum(dim=0).cumsum(dim=0)  # at[j]: rows whose target is within the top j + 1
    # plain integer picks, not at[list]: a Python list index is copied to the device (a host sync on CUDA)
    return torch.stack([at[min(k, top.shape[1]) - 1] for k in ks]).to(torch.float64)


def topk_accuracy(true_index: np.ndarray, ranked: np.ndarray, ks=TOPK) -> dict[int, float]:
    """k → fraction of rows whose true index (−1 = unknown) is among the first k of ``ranked`` (N, K);
    a k beyond K is left out, except k = 1."""
    import torch

    ranked = np.asarray(ranked)
    ks = tuple(k for k in ks if k <= ranked.shape[1] or k == 1)
    hits = ranked_hits(torch.as_tensor(ranked), torch.as_tensor(np.asarray(true_index, np.int64)), ks).tolist()
    return {k: h / len(ranked) if len(ranked) else float("nan") for k, h in zip(ks, hits)}


class Running:
    """Epoch sums, [loss × rows, hits@k…] on the device and the row count on the host; ``add`` per batch,
    ``summary`` once. ``add`` never waits for the device (no tensor made from host values, no reads)."""

    def __init__(self, ks: tuple[int, ...] = TOPK):
        self.ks = tuple(ks)
        self.total = None
        self.rows = 0

    def add(self, loss, logits, target) -> None:
        """``loss``: the batch mean (0-d tensor); ``logits`` (B, C); ``target`` (B,) long."""
        import torch

        n = target.shape[0]
        row = torch.cat([(loss.detach().to(torch.float64) * n).reshape(1), topk_hits(logits, target, self.ks)])
        self.total = row if self.total is None else self.total + row
        self.rows += n

    def as_vector(self) -> list[float]:
        """[loss_sum, count, hits@k…] as floats: what ranks add up."""
        if self.total is None:
            return [0.0] * (2 + len(self.ks))
        loss_sum, *hits = self.total.tolist()
        return [loss_sum, float(self.rows), *hits]

    def summary(self, prefix: str, vector: list[float] | None = None) -> dict[str, float]:
        """``{prefix_loss, prefix_top1, prefix_top3, …}`` (NaN when no rows)."""
        loss_sum, n, *hits = self.as_vector() if vector is None else vector
        out = {f"{prefix}_loss": loss_sum / n if n else float("nan")}
        out.update({f"{prefix}_top{k}": h / n if n else float("nan") for k, h in zip(self.ks, hits)})
        return out


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int,
                     num_true: int | None = None) -> np.ndarray:
    """(T, C) int64 counts, T = ``num_true`` (default C): row = true class, column = predicted class;
    labels outside [0, T) and [0, C) ignored."""
    rows = num_classes if num_true is None else num_true
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    ok = (y_true >= 0) & (y_true < rows) & (y_pred >= 0) & (y_pred < num_classes)
    flat = y_true[ok] * num_classes + y_pred[ok]
    return np.bincount(flat, minlength=rows * num_classes).reshape(rows, num_classes)


def topk_accuracy_np(scores: np.ndarray, y: np.ndarray, ks: tuple[int, ...] = TOPK) -> dict[str, float]:
    """Top-k accuracies from (N, C) scores (numpy); for the classical baselines."""
    import torch

    hits = topk_hits(torch.as_tensor(scores), torch.as_tensor(np.asarray(y, np.int64)), ks).tolist()
    return {f"top{k}": h / max(len(y), 1) for k, h in zip(ks, hits)}
