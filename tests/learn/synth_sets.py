"""Small labelled sets of random peak patterns: C classes, each three Gaussian peaks at its own places."""

from __future__ import annotations

import numpy as np

from spectool.env import Env
from spectool.spectra import Axis, Chunk, SetMeta
from spectool.io.sets import create_set


def peak_patterns(n_classes: int = 4, per_class: int = 40, length: int = 64, seed: int = 0,
                  prefix: str = "c") -> tuple[np.ndarray, list[str]]:
    """X (C·per_class, length) float32 scaled to max 1, labels ``prefix0 …``; class c's peaks jitter by 0.5 points."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng([99, len(prefix)]).uniform(5, length - 5, (n_classes, 3))
    x = np.arange(length)
    pos = centers[:, None, :] + rng.normal(0, 0.5, (n_classes, per_class, 3))
    X = np.exp(-0.5 * ((x - pos[..., None]) / 1.5) ** 2).sum(axis=2).reshape(-1, length)
    X += 0.05 * rng.random(X.shape)
    labels = [f"{prefix}{c}" for c in range(n_classes) for _ in range(per_class)]
    return (X / X.max(axis=1, keepdims=True)).astype(np.float32), labels


def write_set(path, X: np.ndarray, labels: list[str] | None, history: list | None = None,
              samples: dict | None = None) -> str:
    meta = SetMeta(axis=Axis(np.linspace(5, 90, X.shape[1])), kind="xrd", wavelength=1.5406, radiation="CuKa",
                   history=list(history or []))
    with create_set(str(path), meta, Env()) as out:
        out.append(Chunk(X, samples=samples or {}), labels=labels)
    return str(path)


def peak_set(path, **kwargs) -> str:
    X, labels = peak_patterns(**kwargs)
    return write_set(path, X, labels)
