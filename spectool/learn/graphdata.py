"""Graphs as tensors for the structure → spectrum models: build the graphs a model asks for
(its ``graph_type`` and ``graph_settings``), slice them into batches of whole samples, move them to a
device."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from spectool.graph.atoms import Atoms
from spectool.graph.star import star_graphs


def build_graphs(model, structures: list[Atoms], absorber: str):
    """The graphs ``model`` reads, for ``structures`` (:class:`FormatError` from the builder for a
    structure without the absorber: callers that want the batch to go on build one structure at a time)."""
    settings = model.graph_settings()
    if model.graph_type == "star":
        return star_graphs(structures, absorber, **settings)
    from spectool.graph.line import line_graphs

    return line_graphs(structures, **settings)


def concat(parts: list):
    """One graph collection from several of the same type (sample numbers offset, in order)."""
    return type(parts[0]).concat(parts)


def to_batch(graphs, device: torch.device | str = "cpu") -> dict:
    """A graph collection → the dict of tensors a model's ``forward`` takes (``n_samples`` an int)."""
    batch = {name: torch.as_tensor(value).to(device) for name, value in graphs.tensors().items()}
    batch["n_samples"] = graphs.n_samples
    return batch


def batches(graphs, rows: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
            device: torch.device | str = "cpu") -> Iterator[tuple[np.ndarray, dict]]:
    """(sample rows, batch) for ``rows`` in chunks of ``batch_size`` samples, shuffled when ``rng``."""
    rows = np.asarray(rows, dtype=np.int64)
    if rng is not None:
        rows = rng.permutation(rows)
    for lo in range(0, len(rows), batch_size):
        part = rows[lo:lo + batch_size]
        yield part, to_batch(graphs.of_samples(part), device)
