"""``alignn``: an ALIGNN-style model for whole-structure spectra (optical absorption, dielectric function;
PAPERS.md C): edge-gated graph convolutions on the line graph (bonds as nodes, bond angles as edges) then on
the atom graph (atoms as nodes, bonds as edges), mean over all atoms, a two-layer head → the spectrum.
Message passing with ``index_add_`` (no graph library)."""

from __future__ import annotations

import torch
from torch import nn

from spectool.models.graphbase import ElementFeatures, GaussianRBF, SpectrumFromGraph, mean_by_sample, mlp_head
from spectool.models.registry import register_model


class EdgeGatedConv(nn.Module):
    """Node states x (V, H), edge states y (E, H) on edges s → d: y += SiLU(LN(A x_s + B x_d + C y));
    x_d += SiLU(LN(U x_d + Σ_s σ(ŷ) ⊙ V x_s / Σ_s σ(ŷ))) (Dwivedi & Bresson; as ALIGNN). ``edges=False``
    (the last layer, whose edge states nobody reads): y is returned unchanged."""

    def __init__(self, hidden: int, edges: bool = True):
        super().__init__()
        self.edges = edges
        self.src, self.dst, self.edge = (nn.Linear(hidden, hidden) for _ in range(3))
        self.self_, self.msg = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.norm_x = nn.LayerNorm(hidden)
        self.norm_y = nn.LayerNorm(hidden) if edges else None

    def forward(self, x, y, s, d):
        pre = self.src(x)[s] + self.dst(x)[d] + self.edge(y)
        gate = torch.sigmoid(pre)
        total = torch.zeros_like(x).index_add_(0, d, gate * self.msg(x)[s])
        norm = torch.zeros_like(x).index_add_(0, d, gate) + 1e-6
        x = x + nn.functional.silu(self.norm_x(self.self_(x) + total / norm))
        return x, (y + nn.functional.silu(self.norm_y(pre))) if self.edges else y


@register_model("alignn", kind="graph", tiny={"output_length": 11, "k": 4, "cutoff": 4.0, "n_rbf": 8, "hidden": 8,
                                                "layers": 1})
class ALIGNN(SpectrumFromGraph):
    """Line-graph network over all atoms: line graphs → (S, output_length) spectra."""

    graph_type = "line"

    def __init__(self, *, output_length: int, k: int = 12, cutoff: float = 5.0, n_rbf: int = 64, hidden: int = 64,
                 layers: int = 2):
        super().__init__()
        self.output_length, self.num_features = int(output_length), hidden
        self.elements = ElementFeatures(hidden)
        self.rbf = GaussianRBF(n_rbf, cutoff)
        self.register_buffer("angle_centres", torch.linspace(-1, 1, n_rbf), persistent=False)
        self.bond = nn.Sequential(nn.Linear(n_rbf, hidden), nn.SiLU())
        self.angle = nn.Sequential(nn.Linear(n_rbf, hidden), nn.SiLU())
        self.line_convs = nn.ModuleList(EdgeGatedConv(hidden, i < layers - 1) for i in range(layers))
        self.atom_convs = nn.ModuleList(EdgeGatedConv(hidden, i < layers - 1) for i in range(layers))
        self.head = mlp_head(hidden, 2 * hidden, self.output_length)
        self.init_target(self.output_length)

    def graph_embeddings(self, batch: dict) -> torch.Tensor:
        """(A, hidden) atom states: pooled over each sample's atoms by :meth:`forward_features`."""
        x = self.elements(batch["numbers"])
        y = self.bond(self.rbf(batch["distances"]))
        width = 2.0 / max(len(self.angle_centres) - 1, 1)
        t = self.angle(torch.exp(-(((batch["cosines"][:, None] - self.angle_centres) / width) ** 2)))
        for line, atom in zip(self.line_convs, self.atom_convs):
            y, t = line(y, t, batch["bond_a"], batch["bond_b"])
            x, y = atom(x, y, batch["src"], batch["dst"])
        return x

    def forward_features(self, batch: dict) -> torch.Tensor:
        return mean_by_sample(self.graph_embeddings(batch), batch["sample"], batch["n_samples"])
