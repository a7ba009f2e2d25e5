"""The axis of an existing set or checkpoint (``--like``), read without loading the rest."""

from __future__ import annotations

from pathlib import Path

from spectool.env import Env
from spectool.errors import FormatError
from spectool.spectra import Axis


def axis_like(spec: str, env: Env) -> Axis:
    """The training axis of a ``.safetensors`` checkpoint, or the axis of a set."""
    if spec.endswith(".safetensors"):
        return checkpoint_axis(spec)
    from spectool.io.sets import open_set

    with open_set(spec, env) as reader:
        return reader.meta.axis


def checkpoint_axis(path: str) -> Axis:
    """The axis tensor and its quantity/units from a checkpoint, without torch."""
    from safetensors import safe_open

    from spectool.io.checkpoint import AXIS_TENSOR, read_header

    header = read_header(path)
    info = header.meta.get("input", {})
    if AXIS_TENSOR not in header.tensors:
        raise FormatError("checkpoint holds no training axis", path)
    with safe_open(str(Path(path)), framework="np") as f:
        values = f.get_tensor(AXIS_TENSOR)
    return Axis(values, info.get("quantity", "index"), info.get("units", ""))
