"""``--device``: one function resolves it and every command has the same default."""

from __future__ import annotations

import pytest
import torch
from typer.main import get_command

from spectool.errors import UsageError
from spectool.learn.device import DEFAULT_DEVICE, resolve_device, torch_device


def test_auto_is_cuda_when_present_else_cpu():
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("AUTO") == resolve_device()


def test_cpu_is_cpu_and_a_torch_device_for_training():
    assert resolve_device("cpu") == "cpu"
    assert torch_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["gpu", "mps", "cuda:x", ""])
def test_other_names_are_usage_errors(spec):
    if spec == "":
        assert resolve_device(spec) == resolve_device("auto")  # empty = the default
        return
    with pytest.raises(UsageError, match="--device"):
        resolve_device(spec)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_usage_error():
    with pytest.raises(UsageError, match="no CUDA device"):
        resolve_device("cuda:1")


def test_every_command_with_device_has_the_one_default():
    import spectool.cli.main  # noqa: F401  (registers every command)
    from spectool.cli.app import app

    defaults = {}
    stack = [("", get_command(app))]
    while stack:
        path, cmd = stack.pop()
        stack += [(f"{path} {name}", sub) for name, sub in getattr(cmd, "commands", {}).items()]
        defaults.update({path: p.default for p in getattr(cmd, "params", []) if p.name == "device"})
    assert len(defaults) >= 5, defaults
    assert set(defaults.values()) == {DEFAULT_DEVICE}, defaults
