"""Explain tests: one thread, tiny seeded models, a constructed CNN that sees exactly one peak."""

from __future__ import annotations

import numpy as np
import torch

from spectool.models.registry import create_model

torch.set_num_threads(1)

LENGTH = 64
STRONG, WEAK = 20, 45  # positions of the peak the model responds to, and of one below its threshold


def one_peak_cnn():
    """A CNN1D (one conv block, GAP head) whose class 0 logit is mean ReLU(x − 0.5), class 1 its negative.

    Only points above 0.5 excite it: a tall peak does, a low broad one does not.
    """
    model = create_model("cnn1d", num_classes=2, input_length=LENGTH, channels=[1], kernel_size=3, pool=1,
                         dropout=0.0, batch_norm=False, head="gap")
    with torch.no_grad():
        conv = model.features[0][0]
        conv.weight.copy_(torch.tensor([[[0.0, 1.0, 0.0]]]))
        conv.bias.fill_(-0.5)
        model.classifier.weight.copy_(torch.tensor([[4.0], [-4.0]]))
        model.classifier.bias.zero_()
    return model.eval()


def two_peaks(batch: int = 2) -> torch.Tensor:
    """(batch, LENGTH): a tall narrow peak at STRONG (height 1) and a low broad one at WEAK (height 0.4)."""
    x = np.arange(LENGTH)
    row = np.exp(-0.5 * ((x - STRONG) / 1.0) ** 2) + 0.4 * np.exp(-0.5 * ((x - WEAK) / 3.0) ** 2)
    return torch.tensor(np.tile(row, (batch, 1)), dtype=torch.float32)
