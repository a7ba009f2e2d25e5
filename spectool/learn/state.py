"""Resumable training state in one ``.safetensors`` file (no pickle, no ``torch.load``).

Tensors: ``model.<key>`` (weights at the end of the last finished epoch), ``best.<key>`` (the best
epoch's weights), ``opt.<param index>.<name>`` (AdamW's ``step``, ``exp_avg``, ``exp_avg_sq``).
``__metadata__`` (JSON strings): ``spectool.format`` = ``spectool-train-state/1``, ``state``
(:class:`~spectool.learn.train.TrainState` without tensors: epoch, history, schedule, early
stopping, loss scaler), ``optimizer`` (param groups), ``job`` (model name + kwargs, labels,
training settings, data description: what the command line decided, replayed by ``--resume``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from spectool.errors import FormatError

STATE_FORMAT = "spectool-train-state/1"


@dataclass
class SavedState:
    """A loaded state file: the job description, the loop state and the tensors by group."""

    job: dict
    state: dict
    optimizer: dict
    model: dict
    best: dict
    opt_tensors: dict


def save_state(path: str | os.PathLike, trainer, job: dict) -> None:
    """Write the trainer's model, best weights, optimizer and loop state to ``path`` atomically."""
    from safetensors.torch import save

    from spectool.io.checkpoint import _write_atomic

    state = trainer.sync_state()
    tensors = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in (state.best or {}).items()})
    opt = trainer.optimizer.state_dict()
    for pid, values in opt["state"].items():
        tensors.update({f"opt.{pid}.{k}": _tensor(v) for k, v in values.items()})
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"spectool.format": STATE_FORMAT, "format": "pt", "job": json.dumps(job),
            "state": json.dumps(state.to_json()), "optimizer": json.dumps({"param_groups": opt["param_groups"]})}
    _write_atomic(Path(path), save(tensors, metadata=meta))


def _tensor(value):
    import torch

    return value if isinstance(value, torch.Tensor) else torch.tensor(value)


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


def restore(trainer, saved: SavedState) -> None:
    """Load weights, optimizer state and loop state into a trainer built from ``saved.job``."""
    from spectool.learn.train import TrainState

    trainer.model.load_state_dict(saved.model)
    trainer.optimizer.load_state_dict(_optimizer_dict(saved))
    state = TrainState(**{k: v for k, v in saved.state.items() if k != "best"})
    state.best = dict(saved.best) if saved.best else None
    trainer.restore(state)


def _optimizer_dict(saved: SavedState) -> dict:
    state: dict[int, dict] = {}
    for key, value in saved.opt_tensors.items():
        pid, _, name = key.partition(".")
        state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": saved.optimizer["param_groups"]}


def default_state_path(output: str) -> str:
    """``model.safetensors`` → ``model.state.safetensors`` (beside the output)."""
    if output == "-":
        return "spectool-train.state.safetensors"
    p = Path(output)
    stem = p.name[: -len(".safetensors")] if p.name.endswith(".safetensors") else p.name
    return str(p.with_name(stem + ".state.safetensors"))
