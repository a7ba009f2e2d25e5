"""Model tests: one thread (shared CPUs), tiny seeded models from the registry."""

from __future__ import annotations

import pytest
import torch

from spectool.models.registry import create_model, tiny_kwargs

torch.set_num_threads(1)


def tiny_model(name: str, seed: int = 0, **overrides):
    """The registry's tiny configuration of ``name``, initialised from ``seed``, in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(name, **{**tiny_kwargs(name), **overrides})
        if hasattr(model, "class_means"):
            model.class_means.copy_(torch.rand(model.class_means.shape))
    return model.eval()


def tiny_input(model, batch: int = 3, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, model.input_length, generator=gen)


@pytest.fixture
def rng_gen():
    return torch.Generator().manual_seed(123)
