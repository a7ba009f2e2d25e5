"""Dropout and max-pooling that are fast on CPU in training, shared by the models.

torch's CPU dropout draws one Bernoulli variate per element from the Mersenne Twister: on this
project's 2-core machine that was 35 % of a ViT-1D training step and 22 % of the CNN's. Here each
element's keep/drop decision takes 16 bits of a 64-bit draw (four elements per draw) compared with
a threshold, so the drop probability is ``p`` rounded to a multiple of 2⁻¹⁶ (error ≤ 7.6·10⁻⁶) and
kept values are scaled by the exact 1 / P(keep): E[output] = input, as with torch's dropout.
Forward + backward is about 5× faster than ``F.dropout``. Draws come from torch's default
generator, so ``torch.manual_seed`` makes them repeatable. Off the CPU, torch's own fused dropout
is used. :class:`Dropout` is an ``nn.Dropout``: same name, repr and (empty) state in checkpoints.

Max-pooling by 2 in training: where the input needs a gradient, torch computes the pool with the
argmax indices, ~20× slower on CPU than without them (69 ms against 3.4 ms for a (128, 16, 4251) map,
one thread): 45 % of a CNN training step under bf16 autocast. :class:`MaxPool1d` pools without indices
and finds the winner of each pair again in the backward pass (the first of two equal values, as
torch's kernel): the same outputs and gradients, bit for bit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16


def keep_mask(shape: tuple[int, ...], p: float, like: torch.Tensor) -> torch.Tensor:
    """A ``shape`` mask in ``like``'s dtype and device: 0 with probability ≈ ``p``, else 1 / P(keep)."""
    dropped = round(p * _LEVELS)
    if dropped >= _LEVELS:
        return like.new_zeros(shape)
    if like.device.type != "cpu":
        return like.new_empty(shape).bernoulli_(1.0 - p).div_(1.0 - p)
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(1 << 63), None)
    bits = words.view(torch.int16)[:n].view(shape)  # uniform on [-2¹⁵, 2¹⁵)
    return (bits >= dropped - _LEVELS // 2).to(like.dtype).mul_(_LEVELS / (_LEVELS - dropped))


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout of ``x`` (any shape); the identity when not training or ``p == 0``."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    return x * keep_mask(x.shape, p, x)


class Dropout(nn.Dropout):
    """``nn.Dropout`` with :func:`dropout` (fast on CPU); ``inplace`` is accepted and ignored."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


class _PairMax(torch.autograd.Function):
    """Max over disjoint pairs along the last axis (B, C, L) → (B, C, L // 2); the gradient goes to the
    first of the pair where the two are equal (torch's max-pool), the unpaired last point gets none."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)  # not the output: the ReLU after the pool overwrites it
        n = x.shape[-1] // 2
        pair = x[..., : 2 * n].unflatten(-1, (n, 2))
        return torch.maximum(pair[..., 0], pair[..., 1])  # a new tensor (max_pool1d may return a view)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        x, = ctx.saved_tensors
        n = grad.shape[-1]
        pair = x[..., : 2 * n].unflatten(-1, (n, 2))
        first = pair[..., 0] >= pair[..., 1]  # (B, C, n)
        out = grad.new_empty(x.shape)
        out[..., 2 * n:].zero_()  # the unpaired last point (zero_: no scalar tensor made); the pairs are written below
        into = out[..., : 2 * n].unflatten(-1, (n, 2))  # strided writes: no (B, C, n, 2) temporary
        into[..., 0] = grad.masked_fill(~first, 0)
        into[..., 1] = grad.masked_fill(first, 0)
        return out


class MaxPool1d(nn.MaxPool1d):
    """``nn.MaxPool1d``; pooling by 2 (kernel = stride = 2, no padding) takes :class:`_PairMax` on the CPU
    in training, the same values and gradients without the slow argmax indices."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._pairs() and x.device.type == "cpu" and x.requires_grad and torch.is_grad_enabled():
            return _PairMax.apply(x)
        return super().forward(x)

    def _pairs(self) -> bool:
        return (self.kernel_size in (2, (2,)) and self.stride in (2, (2,)) and self.padding in (0, (0,))
                and self.dilation in (1, (1,)) and not self.ceil_mode and not self.return_indices)
