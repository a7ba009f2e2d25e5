"""The face every network shares (timm): features, head, head swap, backbone for ``--freeze``, and the
hook points ``explain`` may use (:class:`ExplainHooks`; explainability never edits the model).

Input convention: ``x`` is (B, L) float32 with L == ``input_length``; models add the channel
dimension themselves. Outputs of ``forward`` are logits (B, num_classes) unless the class says
otherwise in ``output_kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from spectool.errors import UsageError


@dataclass(frozen=True)
class ExplainHooks:
    """Where ``explain`` may hook into a model, as the model declares it (timm's feature-info).

    ``cam_layer``: the module whose output (B, K, L') CAM and Grad-CAM weight; ``cam_exact``: the head
    is GAP → linear (``classifier``), so CAM is exact; ``attention``: the modules whose outputs are
    attention weights (B, heads, T, T), in depth order.
    """

    cam_layer: nn.Module | None = None
    cam_exact: bool = False
    attention: tuple[nn.Module, ...] = ()


class SpectrumModel(nn.Module):
    """Base of the networks: ``forward = forward_head ∘ forward_features``.

    Subclasses set ``num_classes``, ``input_length``, ``num_features`` and name their head
    submodules in ``head_names`` (whatever depends on the classes; everything else is backbone).
    """

    head_names: tuple[str, ...] = ("head",)
    output_kind = "logits"
    # train autocasts this family to bfloat16 on a CPU with native bfloat16 arithmetic (learn/train.amp_dtype):
    # only where bench_train and bench_accuracy measured it faster at equal accuracy
    cpu_bf16 = False

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, L) -> (B, D)
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, C)
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) → logits (B, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a freshly initialised one for ``num_classes`` classes."""
        self.num_classes = int(num_classes)
        self.config["num_classes"] = self.num_classes
        self._build_head()

    def _build_head(self) -> None:
        raise NotImplementedError

    def is_head_key(self, key: str) -> bool:
        """Whether a state-dict key or parameter name belongs to the head."""
        return key.split(".", 1)[0] in self.head_names

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return (p for n, p in self.named_parameters() if self.is_head_key(n))

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter not in the head (what ``--freeze`` freezes)."""
        return (p for n, p in self.named_parameters() if not self.is_head_key(n))

    def check_input(self, x: torch.Tensor) -> None:
        """(B, L) with L == input_length, else :class:`UsageError`."""
        if x.ndim != 2 or x.shape[1] != self.input_length:
            raise UsageError(f"{self.model_name} expects input (B, {self.input_length}), "
                             f"got {tuple(x.shape)}; resample to the training axis first")

    def adapt_weight(self, name: str, tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
        """A checkpoint tensor reshaped for this model (transfer learning), or None if it cannot be."""
        return None

    def explain_hooks(self) -> ExplainHooks:
        """The hook points of this model for ``explain``: none unless the family declares them."""
        return ExplainHooks()

    def stages(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(stem, blocks): parameter-name prefixes of the input layers and of each block, input to output,
        for ``--freeze-blocks N`` (the stem and the first N blocks). None declared: nothing to freeze."""
        raise UsageError(f"{self.model_name} declares no blocks: --freeze-blocks does not apply")
