"""Golden outputs (timm style): stored weights + input → the stored logits and features.

Regenerate with ``python tests/golden/make_golden.py [NAME]`` only when a change to a model's
arithmetic is intended, and say so in the commit message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from spectool.models import create_model, list_models

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
NAMES = list_models("network") + list_models("ensemble")


@pytest.mark.parametrize("name", NAMES)
def test_golden_outputs(name):
    path = GOLDEN / f"{name}.safetensors"
    assert path.exists(), f"no golden file for {name}: run python tests/golden/make_golden.py {name}"
    with safe_open(str(path), "pt") as f:
        spec = json.loads(f.metadata()["model"])
    tensors = load_file(str(path))
    model = create_model(spec["name"], **spec["kwargs"])
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("state.")})
    model.eval()
    with torch.no_grad():
        x = tensors["input"]
        torch.testing.assert_close(model(x), tensors["logits"], rtol=1e-3, atol=1e-4)
        torch.testing.assert_close(model.forward_features(x), tensors["features"], rtol=1e-3, atol=1e-4)


def test_golden_files_are_for_registered_models():
    assert {p.stem for p in GOLDEN.glob("*.safetensors")} <= set(list_models())
