"""``gat``: absorber-centred graph attention for XANES-like spectra (PAPERS.md D).

Each absorbing site is a star graph: the absorber and its k nearest neighbours (virtual atoms at the
cutoff when fewer; their messages vanish through the smooth cutoff and attention ignores them). Node
features come from the electron configuration, edges are 64 Gaussian RBFs of the distance. ``layers``
rounds of message passing on the star (each neighbour updated from itself, the absorber and its edge;
the absorber from the cutoff-weighted sum of messages), then ``heads``-head attention of the absorber over
its neighbours; the absorber state and the attended neighbours form the graph embedding; a two-layer
head maps it to the spectrum. The attention weights (G, heads, k) are the output of the ``weights``
submodule of ``attention``, where :mod:`spectool.explain.neighbours` hooks them.
"""

from __future__ import annotations

import torch
from torch import nn

from spectool.models.graphbase import ElementFeatures, GaussianRBF, SpectrumFromGraph, mlp_head, smooth_cutoff
from spectool.models.registry import register_model


class StarConv(nn.Module):
    """One round of message passing on a star graph: h_j += φ([h_c, h_j, e_j]); h_c += Σ_j φ·f_c(d_j)/k."""

    def __init__(self, hidden: int):
        super().__init__()
        self.message = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.norm_c, self.norm_n = nn.LayerNorm(hidden), nn.LayerNorm(hidden)

    def forward(self, hc, hn, edge, weight):
        m = self.message(torch.cat([hc[:, None, :].expand_as(hn), hn, edge], -1)) * weight[..., None]
        return self.norm_c(hc + m.sum(1) / hn.shape[1]), self.norm_n(hn + m)


class MaskedSoftmax(nn.Module):
    """Scores (G, H, k) → attention weights over the real neighbours (virtual atoms get 0)."""

    def forward(self, scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        scores = scores.masked_fill(~real[:, None, :], float("-inf"))
        return torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)


class NeighbourAttention(nn.Module):
    """``heads``-head attention of the absorber (query) over its neighbours (keys: state and edge)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads, self.dim = heads, hidden
        self.query = nn.Linear(hidden, heads * hidden)
        self.key = nn.Linear(2 * hidden, heads * hidden)
        self.value = nn.Linear(2 * hidden, heads * hidden)
        self.weights = MaskedSoftmax()
        self.out = nn.Linear(heads * hidden, hidden)

    def forward(self, hc, hn, edge, real):
        g, k = hn.shape[:2]
        q = self.query(hc).view(g, self.heads, 1, self.dim)
        both = torch.cat([hn, edge], -1)
        keys = self.key(both).view(g, k, self.heads, self.dim).transpose(1, 2)
        values = self.value(both).view(g, k, self.heads, self.dim).transpose(1, 2)
        alpha = self.weights((q * keys).sum(-1) / self.dim**0.5, real)  # (G, H, k)
        return self.out((alpha[..., None] * values).sum(2).reshape(g, -1))


@register_model("gat", kind="graph", tiny={"output_length": 11, "k": 6, "cutoff": 5.0, "n_rbf": 8, "hidden": 8,
                                             "layers": 1})
class AbsorberGAT(SpectrumFromGraph):
    """Absorber-centred graph attention: star graphs → (S, output_length) spectra."""

    head_names = ("head",)

    def __init__(self, *, output_length: int, k: int = 20, cutoff: float = 8.0, n_rbf: int = 64,
                 hidden: int = 64, heads: int = 3, layers: int = 3):
        super().__init__()
        self.output_length, self.num_features = int(output_length), 2 * hidden
        self.elements = ElementFeatures(hidden)
        self.rbf = GaussianRBF(n_rbf, cutoff)
        self.edge = nn.Sequential(nn.Linear(n_rbf, hidden), nn.SiLU())
        self.convs = nn.ModuleList(StarConv(hidden) for _ in range(layers))
        self.attention = NeighbourAttention(hidden, heads)
        self.head = mlp_head(2 * hidden, 2 * hidden, self.output_length)
        self.init_target(self.output_length)
        self.attention_modules = (self.attention.weights,)

    def graph_embeddings(self, batch: dict) -> torch.Tensor:
        """(G, 2·hidden): the absorber's final state beside what its attention gathered."""
        d, z = batch["distances"], batch["numbers"]
        weight, real = smooth_cutoff(d, self.rbf.cutoff), z > 0
        hc, hn, edge = self.elements(batch["centre"]), self.elements(z), self.edge(self.rbf(d))
        for conv in self.convs:
            hc, hn = conv(hc, hn, edge, weight)
        return torch.cat([hc, self.attention(hc, hn, edge, real)], -1)

