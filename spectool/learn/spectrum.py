"""Training and evaluating structure → spectrum models (``train --task spectrum``).

L1 loss, AdamW, outputs centred on the training spectra (the model's ``set_target``), the whole validation set scored after every epoch, early stopping on its MAE (the
weights of the best epoch are the ones returned), seeded by an explicit ``torch.Generator`` and numpy
``Generator``. The loop reports through a callback and never prints.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from spectool.learn.graphdata import batches


@dataclass(frozen=True)
class FitConfig:
    """``epochs`` most; ``patience`` epochs without a lower validation MAE end the run (0: never);
    ``batch_size`` samples per step; AdamW ``lr`` and ``weight_decay``; ``seed`` for weights and order."""

    epochs: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 40
    seed: int = 0


@dataclass
class FitResult:
    """The model with the best epoch's weights, that epoch (1-based), its validation metrics, per-epoch
    records and the training time in seconds."""

    model: torch.nn.Module
    best_epoch: int
    val: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) of ``n`` samples: a seeded permutation, at least one of each."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def fit_spectra(model, graphs, Y: np.ndarray, train_rows, val_rows, config: FitConfig,
                device: torch.device | str = "cpu", report: Callable[[dict], None] | None = None) -> FitResult:
    """Train ``model`` on samples ``train_rows`` of ``graphs`` → ``Y`` (N, L) float32, validating on
    ``val_rows`` after each epoch; returns :class:`FitResult` with the best epoch's weights loaded."""
    torch.manual_seed(config.seed)
    model = model.to(device)
    target = torch.as_tensor(np.asarray(Y, np.float32), device=device)
    model.set_target(target[torch.as_tensor(np.asarray(train_rows), device=target.device)])
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.epochs, eta_min=config.lr / 20)
    rng, start = np.random.default_rng(config.seed), time.perf_counter()
    best, best_state, history, since = (np.inf, 0, {}), None, [], 0
    for epoch in range(1, config.epochs + 1):
        loss = _epoch(model, graphs, target, train_rows, config.batch_size, rng, optimiser, device)
        schedule.step()
        val = spectrum_metrics(Y[val_rows], predict_spectra(model, graphs.of_samples(val_rows), device))
        record = {"epoch": epoch, "train_loss": loss, "val_mae": val["mae"], "val_r2": val["r2"]}
        history.append(record)
        if report is not None:
            report(record)
        if val["mae"] < best[0]:
            best, best_state, since = (val["mae"], epoch, val), copy.deepcopy(model.state_dict()), 0
        else:
            since += 1
            if config.patience and since >= config.patience:
                break
    model.load_state_dict(best_state)
    return FitResult(model.eval(), best[1], best[2], history, time.perf_counter() - start)


def _epoch(model, graphs, target, rows, batch_size, rng, optimiser, device) -> float:
    model.train()
    total, count = 0.0, 0
    for part, batch in batches(graphs, rows, batch_size, rng, device):
        loss = torch.nn.functional.l1_loss(model(batch), target[torch.as_tensor(part, device=target.device)])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        total, count = total + loss.item() * len(part), count + len(part)
    return total / max(count, 1)


@torch.no_grad()
def predict_spectra(model, graphs, device: torch.device | str = "cpu", batch_size: int = 256) -> np.ndarray:
    """(S, L) float32 spectra of every sample of ``graphs``, in sample order."""
    model.eval()
    rows = np.arange(graphs.n_samples)
    out = [model(batch).float().cpu().numpy() for _, batch in batches(graphs, rows, batch_size, device=device)]
    return np.concatenate(out) if out else np.zeros((0, model.output_length), np.float32)


@torch.no_grad()
def embed_graphs(model, graphs, device: torch.device | str = "cpu", batch_size: int = 256) -> np.ndarray:
    """(S, D) float32 per-sample embeddings (``forward_features``), in sample order."""
    model.eval()
    rows = np.arange(graphs.n_samples)
    out = [model.forward_features(b).float().cpu().numpy() for _, b in batches(graphs, rows, batch_size, device=device)]
    return np.concatenate(out) if out else np.zeros((0, model.num_features), np.float32)


def spectrum_metrics(Y: np.ndarray, P: np.ndarray) -> dict:
    """Per sample (over its points) and overall: ``mae``; ``r2`` = 1 − Σ(y − p)² / Σ(y − ȳ)², ȳ the
    sample's mean for a sample, the mean of every value overall. Y, P: (N, L). Returns
    {"mae", "r2", "per_sample": {"mae": (N,), "r2": (N,)}}."""
    Y, P = np.asarray(Y, np.float64), np.asarray(P, np.float64)
    res = ((Y - P) ** 2).sum(1)
    tot = ((Y - Y.mean(1, keepdims=True)) ** 2).sum(1)
    per_r2 = 1 - res / np.where(tot > 0, tot, np.nan)
    overall = 1 - res.sum() / max(((Y - Y.mean()) ** 2).sum(), 1e-300)
    return {"mae": float(np.abs(Y - P).mean()) if Y.size else float("nan"), "r2": float(overall),
            "per_sample": {"mae": np.abs(Y - P).mean(1), "r2": per_r2}}
