"""A union of RCNets (CrySTINet): one ResNet-1D per group of classes, or one more member for a union.

Groups come as JSON ``{"group name": ["label", …], …}`` (or a list of label lists), e.g. from
``spectool cluster --group-classes``. Each member trains on the rows of its group's classes only,
with its own early stopping; the union keeps every class's mean training pattern (S of the
reliability R = αS + (1 − α)C).
"""

from __future__ import annotations

import numpy as np

from spectool.errors import UsageError


def order_classes(groups: list[list[str]], present: list[str]) -> tuple[list[list[str]], list[str], list[str]]:
    """(groups restricted to present labels, empty ones dropped; class order = groups concatenated;
    present labels in no group). A label in two groups → UsageError."""
    seen: set[str] = set()
    kept = []
    for g in groups:
        g = [x for x in g if x in present]
        twice = [x for x in g if x in seen]
        if twice:
            raise UsageError(f"--groups: label {twice[0]!r} is in more than one group")
        seen.update(g)
        if g:
            kept.append(g)
    if len(kept) < 1 or any(len(g) < 2 for g in kept):
        raise UsageError("--groups: every group needs at least two labels that occur in the set")
    return kept, [x for g in kept for x in g], [x for x in present if x not in seen]


def member_lut(lut: np.ndarray, group_ids: list[int]) -> np.ndarray:
    """Set label id → index within a member's group (−1 outside it)."""
    local = np.full(int(lut.max()) + 2, -1, np.int64)
    local[np.asarray(group_ids)] = np.arange(len(group_ids))
    return np.where(lut >= 0, local[lut], -1)


def assemble(members: list, groups_ids: list[list[int]], means: np.ndarray, alpha: float = 0.7,
             threshold: float = 0.6):
    """The RCNetUnion of trained members (CPU) and class means (C, L)."""
    import torch

    from spectool.models.ensemble import RCNetUnion

    members = [m.cpu() for m in members]
    return RCNetUnion.from_members(members, groups_ids, torch.as_tensor(means), alpha=alpha, threshold=threshold)


def check_addition(union_ckpt, labels: list[str], input_length: int, where: str) -> None:
    """``--add-to``: a union, the same input length, classes not already in it."""
    if union_ckpt.meta["model"]["name"] != "rcnet_union":
        raise UsageError(f"--add-to needs an rcnet_union checkpoint, not {union_ckpt.meta['model']['name']}", where)
    if union_ckpt.model.input_length != input_length:
        raise UsageError(f"--add-to: the union takes {union_ckpt.model.input_length} points, the set has "
                         f"{input_length}; preprocess it onto the union's axis", where)
    known = [x for x in labels if x in union_ckpt.labels]
    if known:
        raise UsageError(f"--add-to: {known[0]!r} is already a class of the union (a new member adds new classes)",
                         where)


def member_kwargs(union_model, args: dict) -> dict:
    """The new member's ResNet-1D kwargs: the first member's, overridden by ``args``."""
    base = union_model.config["members"][0].get("kwargs", {}) if union_model.config["members"] else {}
    return {**base, **args}
