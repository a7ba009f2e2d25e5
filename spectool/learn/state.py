"""Training state as tensors and metadata, and back into a trainer (:mod:`spectool.io.trainstate` stores it).

Tensors: ``model.<key>`` (weights at the end of the last finished epoch), ``best.<key>`` (the best
epoch's weights), ``opt.<param index>.<name>`` (AdamW's ``step``, ``exp_avg``, ``exp_avg_sq``).
``__metadata__`` (JSON strings): ``spectool.format`` = ``spectool-train-state/1``, ``state``
(:class:`~spectool.learn.train.TrainState` without tensors: epoch, history, schedule, early
stopping, loss scaler), ``optimizer`` (param groups), ``job`` (model name + kwargs, labels,
training settings, data description: what the command line decided, replayed by ``--resume``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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


def state_tensors(trainer, job: dict) -> tuple[dict, dict]:
    """(tensors name → CPU tensor, string metadata) of the trainer's model, best weights, optimizer and loop state."""
    state = trainer.sync_state()
    tensors = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in (state.best or {}).items()})
    opt = trainer.optimizer.state_dict()
    for pid, values in opt["state"].items():
        tensors.update({f"opt.{pid}.{k}": _tensor(v) for k, v in values.items()})
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"spectool.format": STATE_FORMAT, "format": "pt", "job": json.dumps(job),
            "state": json.dumps(state.to_json()), "optimizer": json.dumps({"param_groups": opt["param_groups"]})}
    return tensors, meta


def _tensor(value):
    import torch

    return value if isinstance(value, torch.Tensor) else torch.tensor(value)


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


