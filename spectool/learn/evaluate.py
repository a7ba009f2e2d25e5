"""An evaluation of ranked predictions against true labels (the metrics themselves: :mod:`spectool.learn.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.learn.metrics import confusion_matrix, topk_accuracy


@dataclass
class Evaluation:
    """``accuracy`` maps k → top-k accuracy; ``confusion`` (T, P) counts true × predicted (top-1)."""

    accuracy: dict[int, float]
    confusion: np.ndarray
    true_labels: list[str]
    predicted_labels: list[str]
    n: int
    unknown: int  # true labels the model does not know (always counted wrong)
    ood_threshold: float | None = None  # 5th percentile of reliability among correct top-1 (with class means)

    def summary(self) -> str:
        parts = [f"top-{k} {v:.1%}" for k, v in sorted(self.accuracy.items())]
        extra = f", {self.unknown} with labels the model does not know" if self.unknown else ""
        return f"eval: {self.n} spectra: " + ", ".join(parts) + extra


def evaluate_ranked(truth: list[str], ranked: list, labels: list[str]) -> Evaluation:
    """Accuracy and confusion for true label names vs ranked class indices into ``labels``."""
    index = {name: i for i, name in enumerate(labels)}
    true_index = np.array([index.get(t, -1) for t in truth])
    ranked = np.asarray(ranked)
    true_names = sorted(set(truth))
    rows = {name: i for i, name in enumerate(true_names)}
    confusion = confusion_matrix([rows[t] for t in truth], ranked[:, 0], len(labels), len(true_names))
    return Evaluation(topk_accuracy(true_index, ranked), confusion, true_names, list(labels), len(truth),
                      int((true_index < 0).sum()))


def evaluate_model(model, reader, labels: list[str], batch_size: int = 256, device: str = "cpu",
                   means=None) -> Evaluation:
    """Top-1/3/5 and confusion of ``model`` on a labelled set already on its axis (read in chunks);
    with the class ``means`` (C, L) also the calibrated reliability threshold predict uses for OOD."""
    import torch

    from spectool.learn.inference import calibrated_threshold, reliability

    means = None if means is None else np.asarray(means, np.float32)
    names = reader.meta.label_names
    truth: list[str] = []
    ranked, scores = [], []
    model.eval()
    with torch.inference_mode():
        for chunk in reader.iter_chunks(batch_size, peaks=False):
            keep = chunk.y >= 0
            X = np.asarray(chunk.X[keep], np.float32)
            probs = torch.softmax(model(torch.as_tensor(X, device=device)).float(), dim=1).cpu().numpy()
            ranked.append(np.argsort(-probs, axis=1, kind="stable")[:, :5])
            scores.append(reliability(X, probs, means)[0])
            truth += [names[k] for k in chunk.y[keep]]
    result = evaluate_ranked(truth, np.concatenate(ranked), labels)
    correct = np.concatenate(ranked)[:, 0] == np.array([labels.index(t) if t in labels else -1 for t in truth])
    result.ood_threshold = calibrated_threshold(np.concatenate(scores), correct) if means is not None else None
    return result
