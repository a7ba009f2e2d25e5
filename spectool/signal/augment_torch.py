"""The torch path of the pattern-level ops: the same draws, the transforms on a device.

Every per-row random number is drawn by the op's ``draw`` from the row's own counter
stream (so parameters equal the numpy path's exactly; per-peak values come as a
(B, MAX_PEAKS) table holding the numpy path's value for each (row, rank)); per-point noise is generated on
the device by a counter-based hash of (row key, point index) and Box–Muller, so it too is
independent of chunking. Peak scaling/elimination, shift, window and background therefore
give the numpy path's output to float32 rounding; noise is drawn from the same distribution
(Poisson by its normal approximation N(λ, λ)). torch is imported only here.
"""

from __future__ import annotations

import math

import numpy as np

from spectool.learn.device import resolve_device

_M32 = 0xFFFFFFFF


def _torch():
    import torch

    return torch


def hash_uniform(key, n: int, salt: int):
    """(B, n) float32 uniforms in (0, 1) from int64 keys (B,): lowbias32 of key, index, salt."""
    torch = _torch()
    idx = torch.arange(n, device=key.device, dtype=torch.int64)
    x = (key[:, None] * 0x9E3779B1 + idx[None, :] * 0x85EBCA77 + salt * 0xC2B2AE3D) & _M32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    x = x ^ (x >> 16)
    return (x.to(torch.float64) + 0.5).mul_(1.0 / 2**32).to(torch.float32)


def hash_normal(key, n: int):
    """(B, n) float32 standard normals (Box–Muller on two hashed uniform streams)."""
    torch = _torch()
    u1, u2 = hash_uniform(key, n, 1), hash_uniform(key, n, 2)
    return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos((2 * math.pi) * u2)


def peak_windows(X, threshold: float):
    """Torch twin of :func:`spectool.signal.augment.peak_windows`."""
    torch = _torch()
    B, L = X.shape
    left, right = X[:, 1:-1] - X[:, :-2], X[:, 2:] - X[:, 1:-1]
    pad = torch.zeros((B, 1), dtype=torch.bool, device=X.device)
    top = X.max(dim=1, keepdim=True).values
    is_max = torch.cat([pad, (left > 0) & (right <= 0), pad], 1) & (X > threshold * top)
    is_min = torch.cat([pad, (left < 0) & (right >= 0), pad], 1)
    seg = torch.cumsum(is_min.to(torch.int64), 1)
    cum = torch.cumsum(is_max.to(torch.int64), 1)
    ends = torch.cat([is_min[:, 1:], torch.ones((B, 1), dtype=torch.bool, device=X.device)], 1)
    cum_end = _last_per_segment(seg, cum, ends, L)
    start = _last_per_segment(seg, torch.arange(L, device=X.device).expand(B, L), is_min, L)
    before = torch.cat([torch.zeros((B, 1), dtype=torch.int64, device=X.device), cum_end[:, :-1]], 1)
    rank_of_seg = torch.where(cum_end > before, cum_end - 1, torch.full_like(cum_end, -1))
    return torch.gather(rank_of_seg, 1, seg), torch.gather(start, 1, seg)


def _last_per_segment(seg, values, mask, L):
    """table[b, seg[b, i]] = values[b, i] at the points where ``mask`` holds (one per segment)."""
    torch = _torch()
    table = torch.zeros(seg.shape, dtype=torch.int64, device=seg.device)
    rows, cols = torch.nonzero(mask, as_tuple=True)
    table[rows, seg[rows, cols]] = values[rows, cols]
    return table


def _per_peak(values, rank, default: float):
    torch = _torch()
    M = values.shape[1]
    ok = (rank >= 0) & (rank < M)
    got = torch.gather(values, 1, rank.clamp(0, M - 1))
    return torch.where(ok, got, torch.full_like(got, default))


def _shift(X, points):
    torch = _torch()
    B, L = X.shape
    t = torch.arange(L, device=X.device, dtype=torch.float32)[None, :] - points[:, None]
    i0 = torch.floor(t).to(torch.int64)
    w = t - i0
    a = torch.gather(X, 1, i0.clamp(0, L - 1))
    b = torch.gather(X, 1, (i0 + 1).clamp(0, L - 1))
    out = a * (1 - w) + b * w
    return torch.where((t >= 0) & (t <= L - 1), out, torch.zeros_like(out))


def transform(op, X, p):
    """Apply one pattern op to a torch batch X (B, L) with its drawn params ``p`` (tensors)."""
    torch = _torch()
    name = op.name
    if name == "peak_scale":
        rank, _ = peak_windows(X, op.threshold)
        return X * _per_peak(p["factors"], rank, 1.0)
    if name == "peak_drop":
        rank, start = peak_windows(X, op.threshold)
        drop = _per_peak(p["drop"], rank, 0.0) > 0
        return torch.where(drop, torch.minimum(X, torch.gather(X, 1, start)), X)
    if name == "shift":
        return _shift(X, p["points"])
    if name == "window":
        return _window(op, X, p)
    if name == "noise":
        return _noise(op, X, p)
    if name == "background":
        return _background(op, X, p)
    if name == "hump":
        return _hump(X, p)
    raise ValueError(f"no torch transform for {name}")


def _window(op, X, p):
    torch = _torch()
    L = X.shape[1]
    t = torch.arange(L, device=X.device, dtype=torch.float64)[None, :] / max(L - 1, 1)
    inside = (t >= p["lo"][:, None]) & (t <= p["hi"][:, None])
    keep = inside if op.mode == "crop" else ~inside
    return torch.where(keep, X, torch.zeros_like(X))


def _noise(op, X, p):
    torch = _torch()
    z = hash_normal(p["key"], X.shape[1])
    top = X.max(dim=1, keepdim=True).values.clamp(min=0)
    if op.kind == "gaussian":
        return X + z * (p["scale"][:, None] * top)
    per_count = top / p["scale"][:, None]  # intensity of one count
    return X + z * torch.sqrt(X.clamp(min=0) * per_count)


def _background(op, X, p):
    torch = _torch()
    from spectool.signal.augment import chebyshev_basis

    basis = torch.as_tensor(chebyshev_basis(X.shape[1], int(op.order)), device=X.device)
    bg = p["coef"].to(torch.float64) @ basis
    bg = bg - bg.min(dim=1, keepdim=True).values
    m = bg.max(dim=1, keepdim=True).values
    bg = bg / torch.where(m > 0, m, torch.ones_like(m))
    top = X.max(dim=1, keepdim=True).values.clamp(min=0)
    return (X + (p["height"][:, None] * top) * bg).to(torch.float32)


def run_pattern_ops(Y: np.ndarray, axis, ops, streams, device: str | None) -> np.ndarray:
    """Pattern ops on ``device``: op i draws from ``streams[i]`` (numpy counter streams,
    :mod:`spectool.signal.streams`), transforms in torch; (R, L) float32."""
    torch = _torch()
    X = torch.from_numpy(np.ascontiguousarray(Y, np.float32)).to(resolve_device(device))
    for op, st in zip(ops, streams):
        params = op.draw(st, None, axis, backend="torch")
        t = {k: torch.as_tensor(v, device=X.device) for k, v in params.items()}
        X = transform(op, X, t).to(torch.float32)
    return X.cpu().numpy()


def _hump(X, p):
    torch = _torch()
    grid = p["grid"].to(X.device, torch.float64)
    sigma = p["fwhm"].to(torch.float64)[:, None] / (2 * math.sqrt(2 * math.log(2)))
    top = X.max(dim=1, keepdim=True).values.clamp(min=0).to(torch.float64)
    g = torch.exp(-0.5 * ((grid[None, :] - p["centre"].to(torch.float64)[:, None]) / sigma) ** 2)
    return (X + p["height"].to(torch.float64)[:, None] * top * g).to(torch.float32)
