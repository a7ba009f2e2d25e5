"""A union of RCNets (CrySTINet, Chen et al., JACS 2024): one ResNet-1D per group of classes.

Each member m proposes its best class O_m with confidence C_m (its sigmoid branch). With
S_m = cos(x, μ[O_m]) — the cosine similarity of the input to the stored mean pattern of O_m, on
its raw scale [−1, 1] (not the (1 + cos)/2 of the public code) — the reliability is
``R_m = α·S_m + (1 − α)·C_m`` (α = 0.7). The highest R wins; if R_max < ``threshold`` (0.6) the
input is "not one of the known types" (index −1).

The mean patterns ``class_means`` (C, L) are a buffer, so they travel in the checkpoint. A new
group of classes is added with :meth:`RCNetUnion.add_member` without touching the other members.
``forward`` returns (B, C) reliabilities (``output_kind = "reliability"``): R_m at each member's
proposed class, −inf elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spectool.models.base import ExplainHooks
from spectool.models.registry import register_model
from spectool.models.resnet1d import ResNet1D

_TINY_MEMBER = {"width": 4, "stages": [1, 1], "kernel_size": 3, "stem_kernel": 5}


@dataclass
class Decision:
    """Per sample: ``index`` (B,) long (−1 = unknown) and the winner's R, C, S and member."""

    index: torch.Tensor
    reliability: torch.Tensor
    confidence: torch.Tensor
    similarity: torch.Tensor
    member: torch.Tensor


def class_mean_patterns(X: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean pattern per class: X (N, L), y (N,) long in [0, C) → (C, L) (zeros for absent classes)."""
    sums = torch.zeros(num_classes, X.shape[1], dtype=X.dtype, device=X.device).index_add_(0, y, X)
    counts = torch.bincount(y, minlength=num_classes).clamp_min(1).to(X.dtype)
    return sums / counts[:, None]


@register_model("rcnet_union", kind="ensemble", tiny=dict(
    num_classes=4, input_length=50, members=[{"classes": [0, 1], "kwargs": _TINY_MEMBER},
                                             {"classes": [2, 3], "kwargs": _TINY_MEMBER}]))
class RCNetUnion(nn.Module):
    """Members ``members[i] = {"classes": [global class ids], "kwargs": {ResNet1D kwargs}}``."""

    output_kind = "reliability"

    def explain_hooks(self) -> ExplainHooks:
        """None: explain falls back on occlusion."""
        return ExplainHooks()

    def __init__(self, *, num_classes: int, input_length: int, members: list, alpha: float = 0.7,
                 threshold: float = 0.6):
        super().__init__()
        self.num_classes, self.input_length = num_classes, input_length
        self.alpha, self.threshold = alpha, threshold
        self.groups = [[int(c) for c in m["classes"]] for m in members]
        if any(not 0 <= c < num_classes for g in self.groups for c in g):
            raise ValueError(f"member classes must lie in [0, {num_classes})")
        self.members = nn.ModuleList(
            ResNet1D(num_classes=len(g), input_length=input_length, **m.get("kwargs", {}))
            for g, m in zip(self.groups, members))
        self.register_buffer("class_means", torch.zeros(num_classes, input_length))
        self.num_features = sum(m.num_features for m in self.members)

    @classmethod
    def from_members(cls, members: list[ResNet1D], groups: list[list[int]],
                     class_means: torch.Tensor, *, alpha: float = 0.7,
                     threshold: float = 0.6) -> "RCNetUnion":
        """A union of trained members; ``groups[i]`` are member i's global class ids (in its order)."""
        specs = [{"classes": list(g), "kwargs": _member_kwargs(m)} for m, g in zip(members, groups)]
        union = cls(num_classes=class_means.shape[0], input_length=class_means.shape[1],
                    members=specs, alpha=alpha, threshold=threshold)
        for target, source in zip(union.members, members):
            target.load_state_dict(source.state_dict())
        union.class_means.copy_(class_means)
        return union

    def proposals(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, L) → per member (B, M): ``proposed`` class ids, ``confidence``, ``similarity``,
        ``reliability``, and ``probability`` (the member's softmax at its proposal)."""
        out: dict[str, list[torch.Tensor]] = {k: [] for k in
                                              ("proposed", "confidence", "similarity", "probability")}
        for group, member in zip(self.groups, self.members):
            logits, conf = member.forward_with_confidence(x)
            prob, arg = torch.softmax(logits, dim=-1).max(dim=-1)
            proposed = torch.as_tensor(group, device=x.device)[arg]
            out["proposed"].append(proposed)
            out["confidence"].append(conf)
            out["similarity"].append(F.cosine_similarity(x, self.class_means[proposed], dim=-1))
            out["probability"].append(prob)
        result = {k: torch.stack(v, dim=1) for k, v in out.items()}
        result["reliability"] = (self.alpha * result["similarity"]
                                 + (1 - self.alpha) * result["confidence"])
        return result

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) → (B, C): each member's R at its proposed class (max if two agree), −inf elsewhere."""
        p = self.proposals(x)
        out = torch.full((x.shape[0], self.num_classes), float("-inf"), dtype=x.dtype,
                         device=x.device)
        return out.scatter_reduce(1, p["proposed"], p["reliability"].to(x.dtype), reduce="amax")

    def decide(self, x: torch.Tensor, threshold: float | None = None) -> Decision:
        """The winning proposal per sample; index −1 where R_max < threshold."""
        p = self.proposals(x)
        best, member = p["reliability"].max(dim=1)
        pick = member.unsqueeze(1)
        index = p["proposed"].gather(1, pick).squeeze(1)
        limit = self.threshold if threshold is None else threshold
        index = torch.where(best < limit, torch.full_like(index, -1), index)
        return Decision(index, best, p["confidence"].gather(1, pick).squeeze(1),
                        p["similarity"].gather(1, pick).squeeze(1), member)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) → the members' features side by side (B, Σ D_m)."""
        return torch.cat([m.forward_features(x) for m in self.members], dim=1)

    def add_member(self, member: ResNet1D, class_means: torch.Tensor) -> list[int]:
        """Append a trained RCNet over k new classes with their mean patterns (k, L); returns the
        new global class ids (C … C + k − 1). The other members are untouched."""
        k = member.num_classes
        if member.input_length != self.input_length or tuple(class_means.shape) != (k, self.input_length):
            raise ValueError(f"member must take {self.input_length} points and come with "
                             f"({k}, {self.input_length}) class means")
        ids = list(range(self.num_classes, self.num_classes + k))
        self.members.append(member)
        self.groups.append(ids)
        means = class_means.to(self.class_means)
        self.class_means = torch.cat([self.class_means, means])
        self.num_classes += k
        self.num_features += member.num_features
        self.config["members"].append({"classes": ids, "kwargs": _member_kwargs(member)})
        self.config["num_classes"] = self.num_classes
        return ids


def _member_kwargs(member: ResNet1D) -> dict:
    return {n: v for n, v in member.config.items() if n not in ("num_classes", "input_length")}
