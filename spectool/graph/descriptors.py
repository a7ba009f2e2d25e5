"""Structural descriptors of absorbing sites, for reading what a model's neurons respond to: the first
shell (neighbours within 1.25 × the nearest distance), its size, mean distance, and its count of each
element; the mean distance of all real neighbours."""

from __future__ import annotations

import numpy as np

from spectool.graph.star import StarGraphs
from spectool.xrd.scattering import SYMBOLS

SHELL = 1.25  # × the nearest distance: the first coordination shell


def site_descriptors(graphs: StarGraphs) -> dict[str, np.ndarray]:
    """Per sample (the mean over its absorbing sites): ``coordination``, ``shell_distance`` (Å),
    ``nearest`` (Å), ``mean_distance`` (Å) and ``shell_<El>`` counts for every element seen in a shell."""
    real = graphs.numbers > 0
    nearest = np.where(real[:, 0], graphs.distances[:, 0], np.nan)
    shell = real & (graphs.distances <= SHELL * nearest[:, None])
    per_site = {"coordination": shell.sum(1).astype(float),
                "shell_distance": _mean(graphs.distances, shell), "nearest": nearest,
                "mean_distance": _mean(graphs.distances, real)}
    for z in np.unique(graphs.numbers[shell]):
        per_site[f"shell_{SYMBOLS[int(z) - 1]}"] = (shell & (graphs.numbers == z)).sum(1).astype(float)
    return {name: _by_sample(v, graphs.sample, graphs.n_samples) for name, v in per_site.items()}


def _mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    count = mask.sum(1)
    return np.where(count > 0, (values * mask).sum(1) / np.maximum(count, 1), np.nan)


def _by_sample(values: np.ndarray, sample: np.ndarray, n: int) -> np.ndarray:
    total, count = np.zeros(n), np.zeros(n)
    ok = np.isfinite(values)
    np.add.at(total, sample[ok], values[ok])
    np.add.at(count, sample[ok], 1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)
