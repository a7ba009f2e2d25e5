"""Per-neighbour attention of a structure → spectrum model (PAPERS.md D): for each absorbing site, the
weight each attention head gives each of its neighbours, captured by a forward hook on the module the
model declares (``explain_hooks().attention``) — the model itself is not changed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spectool.graph.features import MAX_Z
from spectool.xrd.scattering import SYMBOLS


@dataclass
class NeighbourAttention:
    """``weights`` (G, heads, k) float32 (virtual atoms 0; each head sums to 1 over real neighbours) of the
    graphs, in graph order."""

    weights: np.ndarray


@torch.no_grad()
def neighbour_attention(model, batch: dict) -> NeighbourAttention:
    """Run ``model`` on ``batch`` and return what its declared attention module put out."""
    modules = model.explain_hooks().attention
    if not modules:
        raise ValueError(f"{model.model_name} declares no attention")
    seen: list[torch.Tensor] = []
    handle = modules[-1].register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
    try:
        model.eval()
        model(batch)
    finally:
        handle.remove()
    return NeighbourAttention(seen[-1].float().cpu().numpy())


def attention_rows(ids: list[str], graphs, attention: NeighbourAttention) -> list[dict]:
    """One row per real neighbour of each graph: sample id, absorbing site, rank (nearest first), element,
    distance (Å), attention of each head (``head1`` …) and their mean."""
    rows = []
    for g in range(len(graphs)):
        for j in np.flatnonzero(graphs.numbers[g] > 0):
            heads = attention.weights[g, :, j]
            z = int(graphs.numbers[g, j])
            rows.append({"id": ids[int(graphs.sample[g])], "site": int(graphs.site[g]), "rank": int(j) + 1,
                         "element": SYMBOLS[z - 1] if 0 < z <= MAX_Z else "?",
                         "distance": float(graphs.distances[g, j]),
                         **{f"head{h + 1}": float(w) for h, w in enumerate(heads)}, "mean": float(heads.mean())})
    return rows


def neighbourhood_figure(rows: list[dict], title: str):
    """One absorbing site's neighbours: each head's attention (bars) against the neighbour's distance (Å),
    each bar labelled by the neighbour's element. ``rows``: :func:`attention_rows` of one site."""
    from spectool.explain.plots import _figure

    fig = _figure(figsize=(7, 3.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    heads = sorted(k for k in rows[0] if k.startswith("head")) if rows else []
    width = 0.8 / max(len(heads), 1)
    x = np.arange(len(rows))
    for h, head in enumerate(heads):
        ax.bar(x + (h - (len(heads) - 1) / 2) * width, [r[head] for r in rows], width, label=head)
    ax.set_xticks(x, [f"{r['element']}\n{r['distance']:.2f}" for r in rows], fontsize=7)
    ax.set_xlabel("neighbour (element, distance / Å), nearest first")
    ax.set_ylabel("attention")
    ax.set_title(title, fontsize=9)
    if heads:
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
