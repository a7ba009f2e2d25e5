"""Resumable training state in one ``.safetensors`` file (no pickle, no ``torch.load``).

The tensors and metadata are :func:`spectool.learn.state.state_tensors`'s; this module writes
them atomically and reads them back, refusing anything that is not a training state.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from spectool.errors import FormatError
from spectool.learn.state import STATE_FORMAT, SavedState


def save_state(path: str | os.PathLike, trainer, job: dict) -> None:
    """Write the trainer's model, best weights, optimizer and loop state to ``path`` atomically (mode 0644)."""
    from safetensors.torch import save

    from spectool.io.stdio import atomic_path
    from spectool.learn.state import state_tensors

    tensors, meta = state_tensors(trainer, job)
    with atomic_path(Path(path), mode=0o644) as tmp:
        tmp.write_bytes(save(tensors, metadata=meta))


def read_state(path: str | os.PathLike) -> SavedState:
    """Load a state file; :class:`FormatError` if it is not one of ours."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = _metadata(path)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise FormatError(f"cannot read the tensors: {exc}", path) from None
    groups: dict[str, dict] = {"model": {}, "best": {}, "opt": {}}
    for key, value in tensors.items():
        group, _, rest = key.partition(".")
        if group in groups:
            groups[group][rest] = value
    return SavedState(meta["job"], meta["state"], meta["optimizer"], groups["model"], groups["best"], groups["opt"])


def _metadata(path) -> dict:
    """The decoded JSON metadata; only the standard library needed (safetensors header)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            raw = f.read(n) if 0 < n < 100 * 2**20 else b""
        header = json.loads(raw)
        meta = header.get("__metadata__") or {}
    except FileNotFoundError:
        raise FormatError("no such file", path) from None
    except (OSError, ValueError, AttributeError):
        raise FormatError("not a spectool training state (not a safetensors file)", path) from None
    if meta.get("spectool.format") != STATE_FORMAT:
        what = "a model checkpoint, not a training state" if "spectool.format" in meta else "not a spectool training state"
        raise FormatError(f"{what} (expected {STATE_FORMAT}; states are written next to -o as *.state.safetensors)", path)
    try:
        return {k: json.loads(meta[k]) for k in ("job", "state", "optimizer")}
    except (KeyError, ValueError):
        raise FormatError("corrupt training state metadata", path) from None


def default_state_path(output: str) -> str:
    """``model.safetensors`` → ``model.state.safetensors`` (beside the output)."""
    if output == "-":
        return "spectool-train.state.safetensors"
    p = Path(output)
    stem = p.name[: -len(".safetensors")] if p.name.endswith(".safetensors") else p.name
    return str(p.with_name(stem + ".state.safetensors"))
