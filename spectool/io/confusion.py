"""An evaluation's confusion matrix as files: ``PREFIX.csv`` and a heat-map ``PREFIX.png``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spectool.io.stdio import atomic_path
from spectool.learn.evaluate import Evaluation


def write_confusion(prefix: str, result: Evaluation) -> None:
    """``PREFIX.csv`` (rows true, columns predicted) and a heat-map ``PREFIX.png``, atomically."""
    import csv
    import io

    used = np.flatnonzero(result.confusion.sum(axis=0) > 0)
    cols = sorted(set(used) | {result.predicted_labels.index(t) for t in result.true_labels
                               if t in result.predicted_labels})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["true \\ predicted"] + [result.predicted_labels[c] for c in cols])
    for name, row in zip(result.true_labels, result.confusion):
        writer.writerow([name] + [int(row[c]) for c in cols])
    with atomic_path(Path(prefix + ".csv")) as tmp:
        tmp.write_text(buffer.getvalue())
    with atomic_path(Path(prefix + ".png"), ".png") as tmp:
        _plot(result, cols, tmp)


def _plot(result: Evaluation, cols: list[int], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = result.confusion[:, cols]
    size = max(4.0, 0.3 * max(matrix.shape))
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(cols)), [result.predicted_labels[c] for c in cols], rotation=90, fontsize=7)
    ax.set_yticks(range(len(result.true_labels)), result.true_labels, fontsize=7)
    ax.set_xlabel("predicted (top-1)")
    ax.set_ylabel("true")
    ax.set_title(", ".join(f"top-{k} {v:.1%}" for k, v in sorted(result.accuracy.items())))
    fig.colorbar(image, ax=ax, label="spectra")
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
