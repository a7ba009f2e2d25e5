"""One entry point for ``explain``: the methods a model supports, run on a batch, as numpy maps.

Methods: ``arm`` and ``rollout`` (ViT attention), ``cam`` (GAP → linear heads), ``gradcam`` (any
model that declares a CAM layer in its ``explain_hooks()``), ``occlusion`` (any model). Every map comes back on the input's L
points; ``attention`` (B, depth, heads, N) holds the [CLS] → patch rows of every layer and head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("arm", "rollout", "cam", "gradcam", "occlusion")


@dataclass(frozen=True)
class OcclusionSettings:
    """Window and stride in input points; ``baseline`` is the value masked points take."""

    window: int = 64
    stride: int | None = None
    baseline: float = 0.0
    score: str = "probability"
    batch_size: int = 256


def supported(model) -> list[str]:
    """The methods ``model`` supports, in :data:`METHODS` order."""
    hooks, out = model.explain_hooks(), []
    if hooks.attention:
        out += ["arm", "rollout"]
    if hooks.cam_layer is not None:
        out += (["cam"] if hooks.cam_exact else []) + ["gradcam"]
    return out + ["occlusion"]


def default_methods(model) -> list[str]:
    """The paper's maps: ARM and rollout for a ViT; CAM (if exact) and Grad-CAM for a CNN; else occlusion."""
    own = [m for m in supported(model) if m != "occlusion"]
    return own or ["occlusion"]


def check_methods(model, methods: list[str]) -> list[str]:
    """``methods`` in canonical order, or ValueError naming what ``model`` cannot do."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; known: {', '.join(METHODS)}")
    missing = [m for m in methods if m not in supported(model)]
    if missing:
        raise ValueError(f"{getattr(model, 'model_name', type(model).__name__)} does not support "
                         f"{', '.join(missing)} (it supports {', '.join(supported(model))})")
    return [m for m in METHODS if m in methods]


def explain_batch(model, X: np.ndarray, methods: list[str], target: int | None = None,
                  occlusion: OcclusionSettings = OcclusionSettings(), device: str = "cpu") -> dict[str, np.ndarray]:
    """Maps for rows X (B, L) float32.

    Returns ``target`` (B,) int64 (the explained class), ``score`` (B,) its softmax probability,
    ``predicted`` (B,), one (B, L) float32 map per method, and ``attention`` for arm/rollout.
    """
    import torch

    from spectool.explain import attention, cam

    x = torch.as_tensor(np.ascontiguousarray(X, np.float32), device=device)
    att = attention.attention_maps(model, x) if {"arm", "rollout"} & set(methods) else None
    with torch.no_grad():
        output = att["logits"] if att is not None else model(x)  # one forward pass fewer for a ViT
    tgt = cam.predicted(output, target)
    out: dict[str, torch.Tensor] = {"predicted": output.argmax(dim=-1), "target": tgt,
                                    "score": cam.class_score(model, output, tgt)}
    if att is not None:
        out.update({k: att[k] for k in ("arm", "rollout", "attention") if k in methods or k == "attention"})
    for name, fn in (("cam", cam.cam), ("gradcam", cam.grad_cam)):
        if name in methods:
            out[name] = cam.to_input_points(fn(model, x, tgt)["map"], x.shape[1])
    if "occlusion" in methods:
        o = occlusion
        out["occlusion"] = cam.occlusion(model, x, tgt, o.window, o.stride, o.baseline, o.score, o.batch_size)["map"]
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def main_map(maps: dict[str, np.ndarray]) -> str:
    """The map a picture shows: the first present of arm, cam, gradcam, occlusion, rollout."""
    for name in ("arm", "cam", "gradcam", "occlusion", "rollout"):
        if name in maps:
            return name
    raise KeyError("no map")
