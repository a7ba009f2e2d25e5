"""ViT-1D: a Vision Transformer over segments of a spectrum (Chen et al., Digital Discovery 2024).

The spectrum (B, L) is zero-padded on the right to a multiple of ``patch`` (the tail is never
dropped), cut into N = ceil(L / patch) segments, each projected by one linear layer to ``dim``;
a [CLS] token is prepended, learned position embeddings added, then ``depth`` pre-norm encoder
blocks (multi-head self-attention + MLP, residuals, stochastic depth); the [CLS] output after the
final LayerNorm is the feature vector (``embed``), and a linear head gives the logits.

Paper's best shape: ``patch=120, dim=120, depth=7, heads=4`` (segment length mattered most).
Our defaults (``patch=120, dim=128, depth=6, heads=4``) are sized for CPU training on thousands of
4,251-point patterns: 36 tokens + [CLS].

``smear`` (points, odd; 0 = off) runs a max filter over the spectrum before it is cut: every peak then
covers ±smear/2 points, so a pattern shifted by less than that (sample displacement, lattice strain) still
lights up the same inputs of the segment embedding. Without it, six structures augmented 40 times each
reached 0.77 validation top-1 after 35 epochs (training 0.97: each shifted copy memorised); with a 25-point
filter on a 0.1° grid, 0.96–0.98 (``spectool train`` sets ~1° 2θ worth of points unless told otherwise).

Attention runs through ``F.scaled_dot_product_attention`` (fused) in training and inference. For
``explain``, each :class:`Attention` has a child ``attend`` (:class:`AttentionWeights`): when a
forward hook is registered on it from outside (see :func:`capture_attention`), that block computes
the explicit softmax(QKᵀ/√d) through ``attend`` instead, so the hook sees the (B, H, N+1, N+1)
weights; the output is the same up to float rounding. The model itself never changes.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from spectool.models.base import ExplainHooks, SpectrumModel
from spectool.models.layers import Dropout, dropout, keep_mask
from spectool.models.registry import register_model


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch per sample with probability ``p`` (training only)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * keep_mask((x.shape[0],) + (1,) * (x.ndim - 1), self.p, x)


class AttentionWeights(nn.Module):
    """Explicit softmax(QKᵀ/√d): q, k (B, H, N, d) → weights (B, H, N, N). The explain hook point."""

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return torch.softmax((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5, dim=-1)

    @property
    def observed(self) -> bool:
        """True while someone holds a forward (pre-)hook on this module."""
        return bool(self._forward_hooks or self._forward_pre_hooks)


class Attention(nn.Module):
    """Multi-head self-attention: (B, N, D) → (B, N, D); fused unless ``attend`` is observed."""

    def __init__(self, dim: int, heads: int, attn_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        self.heads, self.attn_dropout = heads, attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attend = AttentionWeights()
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.attn_dropout if self.training else 0.0
        if self.attend.observed:
            out = dropout(self.attend(q, k), p, self.training) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, d)))


class Block(nn.Module):
    """Pre-norm encoder block: x + DropPath(Attn(LN x)), then x + DropPath(MLP(LN x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, attn_dropout: float,
                 drop_path: float):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, attn_dropout, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), Dropout(dropout),
                                 nn.Linear(hidden, dim), Dropout(dropout))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


@register_model("vit1d", tiny=dict(num_classes=5, input_length=50, patch=8, dim=16, depth=2,
                                   heads=2, mlp_ratio=2.0))
class ViT1D(SpectrumModel):
    """ViT over 1-D spectra: (B, L) → logits (B, num_classes); features (B, dim) = [CLS] after norm."""

    #: train's automatic batch size stops here (the CNN's at 128): the ViT sits near chance for its first
    #: epochs whatever the batch, and learns per optimiser step. 99 random phases × 20 augmented copies
    #: (bench_accuracy --case sample), 20 epochs, seed 0: validation top-1 41.4 % at batch 128, 72.7 % at 32,
    #: 66.1 % at 16; 20 random phases × 40 copies: 78.0 % at 64, 87.0 % at 32. At batch 32 on the 99 phases no
    #: gain from dropout and drop path 0 (68.9 %), weight decay 0 (69.7 %), label smoothing 0.1 (72.7 %), depth 4 ×
    #: dim 96 (69.7 %); behind at equal epochs, stopped early: lr 2e-3, depth 4 × dim 64, sin-cos position init.
    auto_batch_max = 32

    def __init__(self, *, num_classes: int, input_length: int, patch: int = 120, dim: int = 128,
                 depth: int = 6, heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.1,
                 attn_dropout: float = 0.0, drop_path: float = 0.1, smear: int = 0):
        super().__init__()
        if smear < 0 or (smear and smear % 2 == 0):
            raise ValueError(f"smear must be 0 or an odd number of points, not {smear}")
        self.num_classes, self.input_length, self.patch, self.smear = num_classes, input_length, patch, smear
        self.num_patches = math.ceil(input_length / patch)
        self.num_features = dim
        self.patch_embed = nn.Linear(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, dim))
        self.pos_drop = Dropout(dropout)
        rates = torch.linspace(0, drop_path, depth, device="cpu").tolist() if depth else []  # cpu: meta builds too
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout, attn_dropout, r)
                                    for r in rates)
        self.norm = nn.LayerNorm(dim)
        self._build_head()
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def _build_head(self) -> None:
        self.head = nn.Linear(self.num_features, self.num_classes)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) → (B, N, patch): max-filtered over ``smear`` points, the tail zero-padded to a whole segment."""
        self.check_input(x)
        if self.smear:
            x = F.max_pool1d(x[:, None], self.smear, 1, self.smear // 2)[:, 0]
        x = F.pad(x, (0, self.num_patches * self.patch - x.shape[1]))
        return x.view(x.shape[0], self.num_patches, self.patch)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) → all tokens after the final norm, (B, N + 1, dim); token 0 is [CLS]."""
        tokens = self.patch_embed(self.patchify(x))
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1)
        tokens = self.pos_drop(tokens + self.pos_embed)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) → [CLS] output (B, dim)."""
        return self.forward_tokens(x)[:, 0]

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    @property
    def attention_modules(self) -> list[AttentionWeights]:
        """The explain hook points, one per block (their outputs: (B, heads, N + 1, N + 1))."""
        return [block.attn.attend for block in self.blocks]

    def explain_hooks(self) -> ExplainHooks:
        return ExplainHooks(attention=tuple(self.attention_modules))

    def patch_spans(self) -> torch.Tensor:
        """(N, 2) long: token i + 1 covers input points [start, stop) (stop clipped to L)."""
        start = torch.arange(self.num_patches) * self.patch
        return torch.stack([start, (start + self.patch).clamp(max=self.input_length)], dim=1)

    def stages(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Stem: the segment projection and [CLS]; blocks: the encoder blocks. The position embeddings
        belong to neither: they follow the grid, which a transfer across modalities changes."""
        return ("patch_embed", "cls_token"), tuple(f"blocks.{i}" for i in range(len(self.blocks)))

    def adapt_weight(self, name: str, tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
        """Position embeddings for another number of segments: linear interpolation, [CLS] kept."""
        if name != "pos_embed" or tensor.shape[-1] != shape[-1]:
            return None
        grid = F.interpolate(tensor[:, 1:].transpose(1, 2), size=shape[1] - 1, mode="linear",
                             align_corners=True)
        return torch.cat([tensor[:, :1], grid.transpose(1, 2)], dim=1)


@contextmanager
def capture_attention(model: ViT1D) -> Iterator[list[torch.Tensor]]:
    """Collect every block's attention weights (detached) while the block is active; hooks removed after.

    >>> with capture_attention(model) as maps:   # doctest: +SKIP
    ...     model(x)
    >>> maps  # depth tensors of (B, heads, N + 1, N + 1)
    """
    maps: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: maps.append(out.detach()))
               for m in model.explain_hooks().attention]
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()
