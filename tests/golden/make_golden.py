"""Write tests/golden/<model>.safetensors: a tiny seeded model's weights, an input, its outputs.

Run from the repository root after an intended change to a model's arithmetic:

    python tests/golden/make_golden.py            # every registered network and ensemble
    python tests/golden/make_golden.py vit1d      # just one

Each file holds ``state.<key>`` (the weights, so the test does not depend on torch's RNG or
init), ``input`` (3, L), ``logits`` (3, C) and ``features`` (3, D) from the model in eval mode,
and metadata ``model`` = {"name", "kwargs"} and ``torch`` (the version that wrote it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from spectool.models import create_model, list_models
from spectool.models.registry import tiny_kwargs

HERE = Path(__file__).resolve().parent


def golden_models() -> list[str]:
    return list_models("network") + list_models("ensemble")


def build(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """The tiny configuration and an input, seeded (0); random BN statistics and class means."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model(name, **tiny_kwargs(name))
        for module in model.modules():  # non-trivial BatchNorm statistics
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
        if hasattr(model, "class_means"):
            model.class_means.uniform_()
        x = torch.rand(3, model.input_length)
    return model.eval(), x


def write(name: str) -> Path:
    model, x = build(name)
    with torch.no_grad():
        tensors = {"input": x, "logits": model(x), "features": model.forward_features(x).contiguous()}
    tensors.update({f"state.{k}": v.contiguous() for k, v in model.state_dict().items()})
    meta = {"model": json.dumps({"name": name, "kwargs": model.config}), "torch": torch.__version__}
    path = HERE / f"{name}.safetensors"
    save_file(tensors, str(path), metadata=meta)
    path.chmod(0o644)
    return path


if __name__ == "__main__":
    torch.set_num_threads(1)
    for model_name in sys.argv[1:] or golden_models():
        print(write(model_name))
