"""Attention of a ViT-1D: every layer and head, the attention rollout map (ARM), full rollout.

Capture goes through the hook points the model declares (``explain_hooks().attention``, via
:func:`spectool.models.vit1d.capture_attention`): forward hooks outside the model, which never
changes. Token 0 is [CLS]; token i + 1 covers the input points ``patch_spans()[i]``.

- ARM (Chen et al., Digital Discovery 2024): the [CLS] row of the *last* layer's attention,
  averaged over heads, over the N patch tokens → (B, N); mapped back onto the axis.
- Rollout (Abnar & Zuidema, ACL 2020): per layer l, Ã_l = ½·mean_h A_l + ½·I (the residual
  connection), rows renormalised to sum to 1; R = Ã_L · … · Ã_1 (B, T, T), T = N + 1. Each row
  of R is a distribution over input tokens; its [CLS] row restricted to the patches is the map.
"""

from __future__ import annotations

import torch


def capture(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on x (B, L) → (logits (B, C), attention (depth, B, H, T, T)), no gradients."""
    from spectool.models.vit1d import capture_attention

    if not model.explain_hooks().attention:
        raise TypeError(f"{type(model).__name__} has no attention hook points")
    with torch.no_grad(), capture_attention(model) as maps:
        logits = model(x)
    return logits, torch.stack(maps)


def attention_rollout_map(attention: torch.Tensor) -> torch.Tensor:
    """The paper's ARM: last layer's [CLS] → patch row, mean over heads. (depth, B, H, T, T) → (B, N)."""
    return attention[-1, :, :, 0, 1:].mean(dim=1)


def cls_rows(attention: torch.Tensor) -> torch.Tensor:
    """[CLS] → patch attention of every layer and head: (depth, B, H, T, T) → (B, depth, H, N)."""
    return attention[:, :, :, 0, 1:].permute(1, 0, 2, 3)


def rollout(attention: torch.Tensor, residual: bool = True, head_fusion: str = "mean") -> torch.Tensor:
    """Full rollout R (B, T, T) from (depth, B, H, T, T); every row of R sums to 1.

    ``head_fusion``: ``mean`` (Abnar & Zuidema), ``max`` or ``min`` over heads. ``residual``
    adds the identity for the skip connection (½·A + ½·I) before renormalising the rows.
    """
    fuse = {"mean": lambda a: a.mean(dim=2), "max": lambda a: a.amax(dim=2),
            "min": lambda a: a.amin(dim=2)}
    if head_fusion not in fuse:
        raise ValueError(f"head_fusion must be one of {sorted(fuse)}, not {head_fusion!r}")
    fused = fuse[head_fusion](attention.double())  # (depth, B, T, T)
    eye = torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)
    if residual:
        fused = 0.5 * fused + 0.5 * eye
    fused = fused / fused.sum(dim=-1, keepdim=True)
    result = eye.expand_as(fused[0]).clone()
    for layer in fused:
        result = layer @ result
    return result.to(attention.dtype)


def rollout_map(attention: torch.Tensor, residual: bool = True, head_fusion: str = "mean") -> torch.Tensor:
    """[CLS] row of the rollout over the patches: (depth, B, H, T, T) → (B, N)."""
    return rollout(attention, residual, head_fusion)[:, 0, 1:]


def tokens_to_axis(values: torch.Tensor, spans: torch.Tensor, length: int) -> torch.Tensor:
    """Token values (..., N) → (..., L): each input point takes the value of the patch covering it.

    ``spans`` (N, 2) long: token i covers points [start, stop); the padded tail beyond ``length``
    is dropped. Piecewise constant, so a patch's mass is spread evenly over its points.
    """
    owner = torch.empty(length, dtype=torch.long, device=values.device)
    for i, (start, stop) in enumerate(spans.tolist()):
        owner[start:min(stop, length)] = i
    return values.index_select(-1, owner)


def attention_maps(model, x: torch.Tensor, residual: bool = True) -> dict[str, torch.Tensor]:
    """Everything ``explain`` stores for a ViT, for x (B, L):

    ``logits`` (B, C); ``arm`` and ``rollout`` (B, L) on the input points (each sums to at most 1
    over the patches); ``attention`` (B, depth, H, N), the [CLS] → patch rows of every layer/head.
    """
    logits, attention = capture(model, x)
    spans, length = model.patch_spans(), x.shape[1]
    return {"logits": logits,
            "arm": tokens_to_axis(attention_rollout_map(attention), spans, length),
            "rollout": tokens_to_axis(rollout_map(attention, residual), spans, length),
            "attention": cls_rows(attention)}
