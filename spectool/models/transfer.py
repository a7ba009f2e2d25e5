"""Transfer learning: copy a trained backbone into a new model, keep (or copy) the head, freeze.

Weights are matched by state-dict name and shape; a model may adapt a mismatched tensor through
``adapt_weight`` (ViT-1D interpolates its position embeddings for another input length), or, with
``adapt=False``, keep its fresh initialisation for it and learn it anew (``train --pos-embed relearn``).
``freeze`` stops the whole backbone; ``freeze_blocks=N`` only the stem and the first N blocks the model
declares (:meth:`~spectool.models.base.SpectrumModel.stages`).

Across modalities (an XRD ViT initialising an FTIR or Raman one, PAPERS.md A) the grid length differs,
so the number of segments does and the position embeddings cannot be copied. ``interpolate`` (the
default) stretches the XRD ones linearly onto the new segment count, [CLS] kept: neighbouring segments
keep similar codes, the prior the XRD model learned. ``relearn`` starts them from the same truncated
normal as a new model. benchmarks/bench_ftir.py measures both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from spectool.errors import UsageError
from spectool.models.registry import create_model


@dataclass
class TransferReport:
    """What :func:`transfer_weights` did (returned, never printed)."""

    loaded: list[str] = field(default_factory=list)  # copied as they were
    adapted: list[str] = field(default_factory=list)  # copied after adapt_weight
    skipped: dict[str, str] = field(default_factory=dict)  # kept as initialised: key → why
    unused: list[str] = field(default_factory=list)  # in the source, not in the model
    frozen: list[str] = field(default_factory=list)  # parameters with requires_grad now False
    head: str = "new"  # "new" or "copied"


def transfer_weights(model: nn.Module, source: dict[str, torch.Tensor], *, copy_head: bool = False,
                     freeze: bool = False, freeze_blocks: int = 0, adapt: bool = True) -> TransferReport:
    """Load every backbone tensor of ``source`` that fits ``model``; the head only if ``copy_head``;
    a tensor of another shape adapted (``adapt``) or left as initialised; then freeze as asked."""
    if not hasattr(model, "backbone_parameters"):
        raise UsageError(f"{type(model).__name__} has no backbone to initialise or freeze")
    report = TransferReport(head="copied" if copy_head else "new")
    chosen = {}
    for key, current in model.state_dict().items():
        value = _pick(model, key, current, source, copy_head, report, adapt)
        if value is not None:
            chosen[key] = value
    model.load_state_dict(chosen, strict=False)
    report.unused = sorted(set(source) - set(model.state_dict()))
    if freeze:
        report.frozen = freeze_backbone(model)
    elif freeze_blocks:
        report.frozen = freeze_first_blocks(model, freeze_blocks)
    return report


def _pick(model: nn.Module, key: str, current: torch.Tensor, source: dict[str, torch.Tensor],
          copy_head: bool, report: TransferReport, adapt: bool = True) -> torch.Tensor | None:
    if model.is_head_key(key) and not copy_head:
        report.skipped[key] = "head (new classes)"
        return None
    if key not in source:
        report.skipped[key] = "not in the checkpoint"
        return None
    value = source[key]
    if value.shape == current.shape:
        report.loaded.append(key)
        return value
    if not adapt:
        report.skipped[key] = f"shape {tuple(value.shape)} ≠ {tuple(current.shape)}: learned anew"
        return None
    adapted = model.adapt_weight(key, value, current.shape)
    if adapted is None or adapted.shape != current.shape:
        report.skipped[key] = f"shape {tuple(value.shape)} does not fit {tuple(current.shape)}"
        return None
    report.adapted.append(key)
    return adapted


def freeze_backbone(model: nn.Module) -> list[str]:
    """requires_grad = False on every backbone parameter; returns their names."""
    names = [n for n, _ in model.named_parameters() if not model.is_head_key(n)]
    for p in model.backbone_parameters():
        p.requires_grad_(False)
    return names


def freeze_first_blocks(model: nn.Module, n: int) -> list[str]:
    """requires_grad = False on the stem and the first ``n`` blocks of ``model.stages()``; their names."""
    stem, blocks = model.stages()
    if not 0 < n <= len(blocks):
        raise UsageError(f"--freeze-blocks {n}: {model.model_name} has {len(blocks)} blocks")
    prefixes = tuple(stem) + tuple(blocks[:n])
    names = []
    for name, p in model.named_parameters():
        if any(name == q or name.startswith(q + ".") for q in prefixes):
            p.requires_grad_(False)
            names.append(name)
    return names


def build_like(checkpoint, **overrides) -> nn.Module:
    """A fresh model of a loaded checkpoint's architecture with some kwargs changed (num_classes…)."""
    spec = checkpoint.meta["model"]
    return create_model(spec["name"], **{**spec["kwargs"], **overrides})


def init_from(model: nn.Module, checkpoint, freeze: bool = False,
              labels: list[str] | None = None, freeze_blocks: int = 0, adapt: bool = True) -> TransferReport:
    """``--init``: copy a loaded checkpoint's backbone into ``model`` (matched by name and shape).

    ``checkpoint``: a :class:`spectool.io.checkpoint.Checkpoint` (``.model``, ``.labels``). The head
    is copied too only when ``labels`` equal the checkpoint's (same classes); otherwise the model's
    new head is kept. ``freeze``: the backbone's parameters stop requiring grad; ``freeze_blocks``: only
    the stem's and the first N blocks'. ``adapt``: reshape what the model can (position embeddings
    interpolated), else learn it anew.
    """
    same = labels is not None and [str(x) for x in labels] == list(checkpoint.labels)
    source = {k: v.detach().cpu() for k, v in checkpoint.model.state_dict().items()}
    return transfer_weights(model, source, copy_head=same, freeze=freeze, freeze_blocks=freeze_blocks,
                            adapt=adapt)

