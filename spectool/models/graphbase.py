"""What the structure → spectrum models share: radial basis functions with a smooth cutoff, the
per-element feature table, pooling graphs into samples, and the face ``train --task spectrum``,
``predict`` and ``embed`` use (:class:`SpectrumFromGraph`).

Input: a dict of tensors made by :func:`spectool.learn.graphdata.to_batch` from the graph builders of
:mod:`spectool.graph` (which builder: the class's ``graph_type``). Output: (S, output_length) spectra,
one per sample (structure); a structure with several absorbing sites gets their mean.
"""

from __future__ import annotations


import torch
from torch import nn

from spectool.graph.features import feature_table


def smooth_cutoff(d: torch.Tensor, cutoff: float) -> torch.Tensor:
    """1 − 10x³ + 15x⁴ − 6x⁵ with x = d / cutoff, 0 beyond: 1 at 0, 0 with zero slope and curvature at the
    cutoff, so a neighbour entering or leaving the sphere changes nothing abruptly."""
    x = (d / cutoff).clamp(0.0, 1.0)
    return 1 - 10 * x**3 + 15 * x**4 - 6 * x**5


class GaussianRBF(nn.Module):
    """Distances (…,) Å → (…, n) Gaussians exp(−((d − μ_i)/σ)²), μ_i evenly from 0 to the cutoff, σ their
    spacing, times :func:`smooth_cutoff`."""

    def __init__(self, n: int, cutoff: float):
        super().__init__()
        self.cutoff = float(cutoff)
        self.register_buffer("centres", torch.linspace(0.0, self.cutoff, n), persistent=False)
        self.width = self.cutoff / max(n - 1, 1)

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        g = torch.exp(-(((d[..., None] - self.centres) / self.width) ** 2))
        return g * smooth_cutoff(d, self.cutoff)[..., None]


class ElementFeatures(nn.Module):
    """Atomic numbers (…) → (…, hidden): the electron-configuration features, then a linear layer."""

    def __init__(self, hidden: int):
        super().__init__()
        self.register_buffer("table", torch.from_numpy(feature_table().copy()), persistent=False)
        self.linear = nn.Linear(self.table.shape[1], hidden)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(self.table[z])


def mean_by_sample(values: torch.Tensor, sample: torch.Tensor, n_samples: int) -> torch.Tensor:
    """(G, D) rows → (S, D) means over the rows of each sample (``index_add_``)."""
    total = values.new_zeros((n_samples, values.shape[1])).index_add_(0, sample, values)
    count = values.new_zeros(n_samples).index_add_(0, sample, values.new_ones(len(sample)))
    return total / count.clamp(min=1.0)[:, None]


class SpectrumFromGraph(nn.Module):
    """Base: ``forward = forward_head ∘ forward_features``; ``graph_embeddings`` per graph (G, D),
    ``forward_features`` per sample (S, D), ``forward_head`` (S, D) → (S, output_length)."""

    graph_type = "star"
    output_kind = "spectrum"

    def graph_embeddings(self, batch: dict) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, batch: dict) -> torch.Tensor:
        return mean_by_sample(self.graph_embeddings(batch), batch["sample"], batch["n_samples"])

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(S, D) → (S, L): the training spectra's mean plus their spread times the head's output."""
        return self.spectrum_mean + self.spectrum_scale * self.head(features)

    def init_target(self, length: int) -> None:
        """The buffers :meth:`set_target` fills (saved with the weights): mean spectrum (L,), scale ()."""
        self.register_buffer("spectrum_mean", torch.zeros(length))
        self.register_buffer("spectrum_scale", torch.ones(()))

    @torch.no_grad()
    def set_target(self, Y: torch.Tensor) -> None:
        """Centre the outputs on the training spectra ``Y`` (N, L): their mean, and their standard deviation
        about it (one number), so the head learns differences of order 1 from the start."""
        self.spectrum_mean.copy_(Y.mean(0))
        self.spectrum_scale.fill_(float((Y - Y.mean(0)).std().clamp(min=1e-6)) if len(Y) > 1 else 1.0)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))

    def explain_hooks(self):
        """Where explanations hook (:class:`~spectool.models.base.ExplainHooks`): attention modules, if any."""
        from spectool.models.base import ExplainHooks

        return ExplainHooks(attention=tuple(getattr(self, "attention_modules", ())))

    def graph_settings(self) -> dict:
        """What the graph builder needs, from the config: k, cutoff (and the line graph's)."""
        return {k: self.config[k] for k in ("k", "cutoff") if k in self.config}


def mlp_head(width: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, hidden), nn.SiLU(), nn.Linear(hidden, out))


