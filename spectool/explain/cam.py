"""Class activation maps, Grad-CAM and occlusion for spectrum models; maps on the input points.

- CAM (Zhou et al., CVPR 2016), exact for a GAP → linear head (``cam_exact`` of the model's
  ``explain_hooks()``): with the maps A (B, K, L') of its ``cam_layer`` and the weights w (C, K) of ``model.classifier``,
  ``CAM_c(l) = Σ_k w_ck A_k(l)``; its mean over l is the logit minus the bias.
- Grad-CAM (Selvaraju et al., ICCV 2017) for any model that declares a ``cam_layer``:
  α_k = mean_l ∂y_c/∂A_k(l), map = ReLU(Σ_k α_k A_k(l)), y_c the class logit. For a GAP head
  it equals ReLU(CAM_c) / L'.
- Occlusion (the CrySTINet masking test), for any model: windows of ``window`` points, every
  ``stride`` points (the last one flush with the end), are set to ``baseline``; each point's value
  is the mean drop of the class score s(x) − s(x_masked) over the windows covering it.

Maps on the feature grid (B, L') are brought onto the L input points by linear interpolation
with cell centres at (i + ½)·L/L' (``align_corners=False``), as Grad-CAM upsamples images.
Hooks are registered from outside and removed afterwards: the model never changes.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F

SCORES = ("probability", "logit")


def predicted(output: torch.Tensor, target: torch.Tensor | int | None) -> torch.Tensor:
    """Target classes (B,) long: the given class for every row, or the argmax of ``output``."""
    if target is None:
        return output.argmax(dim=-1)
    if isinstance(target, int):
        return torch.full((output.shape[0],), target, dtype=torch.long, device=output.device)
    return target.to(output.device, torch.long)


def class_score(model, output: torch.Tensor, target: torch.Tensor, score: str = "probability") -> torch.Tensor:
    """The score of ``target`` (B,) in ``output`` (B, C): softmax probability or raw logit.

    Models whose output is not logits (a union's reliabilities, −inf for unproposed classes)
    are scored on their raw output with −inf read as 0.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, not {score!r}")
    if getattr(model, "output_kind", "logits") != "logits":
        output = torch.nan_to_num(output, neginf=0.0)
    elif score == "probability":
        output = torch.softmax(output, dim=-1)
    return output.gather(1, target[:, None]).squeeze(1)


def to_input_points(maps: torch.Tensor, length: int) -> torch.Tensor:
    """(B, L') → (B, L): linear interpolation, cell i centred at (i + ½)·L/L'."""
    if maps.shape[-1] == length:
        return maps
    return F.interpolate(maps[:, None], size=length, mode="linear", align_corners=False)[:, 0]


@contextmanager
def _keep_output(module) -> Iterator[list[torch.Tensor]]:
    store: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: store.append(out))
    try:
        yield store
    finally:
        handle.remove()


def _cam_layer(model):
    layer = model.explain_hooks().cam_layer
    if layer is None:
        raise TypeError(f"{type(model).__name__} has no convolutional cam_layer")
    return layer


def cam(model, x: torch.Tensor, target: torch.Tensor | int | None = None) -> dict[str, torch.Tensor]:
    """Exact CAM for x (B, L): ``map`` (B, L') on the feature grid, ``logits``, ``target``.

    Only for models whose head is GAP → linear (``cam_exact``); use :func:`grad_cam` otherwise.
    """
    if not model.explain_hooks().cam_exact:
        raise TypeError(f"CAM is exact only for a GAP → linear head; {type(model).__name__} needs Grad-CAM")
    with torch.no_grad(), _keep_output(_cam_layer(model)) as store:
        logits = model(x)
    target = predicted(logits, target)
    weights = model.classifier.weight[target]  # (B, K)
    return {"map": torch.einsum("bk,bkl->bl", weights, store[0]), "logits": logits, "target": target}


def grad_cam(model, x: torch.Tensor, target: torch.Tensor | int | None = None) -> dict[str, torch.Tensor]:
    """Grad-CAM for x (B, L) on ``cam_layer``: ``map`` (B, L') ≥ 0, ``logits``, ``target``."""
    with torch.enable_grad(), _keep_output(_cam_layer(model)) as store:
        x = x.detach().clone().requires_grad_(True)
        logits = model(x)
        target = predicted(logits, target)
        maps = store[0]
        score = logits.gather(1, target[:, None]).sum()  # rows are independent in eval mode
        (grads,) = torch.autograd.grad(score, maps)
    alpha = grads.mean(dim=-1, keepdim=True)  # (B, K, 1)
    return {"map": F.relu((alpha * maps).sum(dim=1)).detach(), "logits": logits.detach(), "target": target}


def window_starts(length: int, window: int, stride: int) -> torch.Tensor:
    """Start points of occlusion windows covering [0, length): every ``stride``, the last flush with the end."""
    if not 1 <= window <= length or stride < 1:
        raise ValueError(f"window must lie in [1, {length}] and stride be ≥ 1 (got {window}, {stride})")
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return torch.tensor(starts, dtype=torch.long)


def occlusion(model, x: torch.Tensor, target: torch.Tensor | int | None = None, window: int = 64,
              stride: int | None = None, baseline: float = 0.0, score: str = "probability",
              batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Occlusion map for x (B, L): ``map`` (B, L) (mean score drop), ``drops`` (B, W), ``starts`` (W,).

    All B·W masked copies are scored in batches of ``batch_size`` rows.
    """
    b, length = x.shape
    starts = window_starts(length, window, stride or max(1, window // 2)).to(x.device)
    points = torch.arange(length, device=x.device)
    mask = (points >= starts[:, None]) & (points < starts[:, None] + window)  # (W, L)
    with torch.no_grad():
        output = model(x)
        target = predicted(output, target)
        base = class_score(model, output, target, score)
        drops = _masked_scores(model, x, mask, target, baseline, score, batch_size)
    drops = base[:, None] - drops  # (B, W)
    weights = mask.to(drops.dtype)
    return {"map": (drops @ weights) / weights.sum(dim=0), "drops": drops, "starts": starts,
            "logits": output, "target": target}


def _masked_scores(model, x, mask, target, baseline, score, batch_size) -> torch.Tensor:
    """Scores (B, W) of every sample with every window masked."""
    b, w = x.shape[0], mask.shape[0]
    pairs = torch.arange(b * w, device=x.device)
    out = torch.empty(b * w, dtype=x.dtype, device=x.device)
    fill = torch.tensor(baseline, dtype=x.dtype, device=x.device)
    for lo in range(0, b * w, batch_size):
        rows = pairs[lo:lo + batch_size]
        sample, win = rows // w, rows % w
        masked = torch.where(mask[win], fill, x[sample])
        out[lo:lo + len(rows)] = class_score(model, model(masked), target[sample], score)
    return out.view(b, w)
