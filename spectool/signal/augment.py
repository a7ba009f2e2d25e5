"""Pattern-level augmentation (ViT paper, PAPERS.md A) and the augment pipeline.

Each pattern op splits into ``draw(rngs, X, axis, backend)``, which takes every random
number a row needs from that row's own generator (seeded by ``(seed, sample, copy)``), and
``transform(X, axis, params)``, a vectorised function of the batch: numpy here, torch in
:mod:`spectool.signal.augment_torch`. Peaks on a profile are the local maxima above
``threshold`` × the row's maximum; a peak's window runs from the local minimum before it to
the one after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.errors import UsageError
from spectool.signal.ops import Context, Op, number, one_of, register, row_rngs, span, uniform_rows

MAX_PEAKS = 512  # peaks per row that can be chosen; later ones are left alone


def peak_windows(X: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the rank of its peak window (−1: none) and the window's first index.

    ``X`` (B, L). Windows are cut at local minima; a window's rank is the 0-based order of
    the peak it holds among the row's peaks (local maxima above ``threshold`` × row max).
    Only running sums and running extrema, no gathers. Returns two (B, L) int32 arrays.
    """
    B, L = X.shape
    left, right = X[:, 1:-1] - X[:, :-2], X[:, 2:] - X[:, 1:-1]
    pad = np.zeros((B, 1), bool)
    top = X.max(axis=1, keepdims=True)
    is_max = np.concatenate([pad, (left > 0) & (right <= 0), pad], 1) & (X > threshold * top)
    is_min = np.concatenate([pad, (left < 0) & (right >= 0), pad], 1)
    idx = np.arange(L, dtype=np.int32)
    cum = np.cumsum(is_max, axis=1, dtype=np.int32)  # maxima up to and including each point
    since = cum > np.maximum.accumulate(np.where(is_min, cum, 0), axis=1)  # a max seen in this window
    next_max = np.minimum.accumulate(np.where(is_max, idx, L)[:, ::-1], axis=1)[:, ::-1]
    next_min = np.minimum.accumulate(np.where(is_min, idx, L)[:, ::-1], axis=1)[:, ::-1]
    next_min = np.concatenate([next_min[:, 1:], np.full((B, 1), L, np.int32)], 1)
    rank = np.where(since, cum - 1, np.where(next_max < next_min, cum, -1))
    return rank, np.maximum.accumulate(np.where(is_min, idx, 0), axis=1)


def _rows_take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[b, index[b, i]] for (B, M) values and (B, L) indices (flat take: fast)."""
    flat = index + (np.arange(len(values), dtype=np.int64) * values.shape[1])[:, None]
    return np.take(values.ravel(), flat)


def _per_peak(values: np.ndarray, rank: np.ndarray, default: float) -> np.ndarray:
    """values (B, M) looked up by rank (B, L); ``default`` where rank < 0 or ≥ M."""
    ok = (rank >= 0) & (rank < values.shape[1])
    return np.where(ok, _rows_take(values, np.clip(rank, 0, values.shape[1] - 1)), default)


@register
@dataclass(frozen=True)
class PeakScale(Op):
    """Scale a random subset of peaks (their whole windows) by factors ~ U(factor); each
    peak is chosen with probability q ~ U(fraction) drawn per row (random subset size)."""

    name = "peak_scale"
    stage = "pattern"
    checks = {"factor": span(0, 100), "fraction": span(0, 1), "threshold": number(0, 1)}
    factor: tuple = (0.5, 1.5)
    fraction: tuple = (0.0, 1.0)
    threshold: float = 0.01

    def draw(self, rngs, X, axis, backend="numpy"):
        q = uniform_rows(rngs, *self.fraction)
        u = np.array([g.random((2, MAX_PEAKS)) for g in rngs]).reshape(len(rngs), 2, MAX_PEAKS)
        f = self.factor[0] + (self.factor[1] - self.factor[0]) * u[:, 1]
        return {"factors": np.where(u[:, 0] < q[:, None], f, 1.0).astype(np.float32)}

    def transform(self, X, axis, p):
        rank, _ = peak_windows(X, self.threshold)
        return (X * _per_peak(p["factors"], rank, 1.0)).astype(np.float32)


@register
@dataclass(frozen=True)
class PeakDrop(Op):
    """With probability ``p`` per row, remove a random subset of peaks: each peak goes with
    probability q ~ U(fraction); its window falls to (at most) its left minimum."""

    name = "peak_drop"
    stage = "pattern"
    checks = {"p": number(0, 1), "fraction": span(0, 1), "threshold": number(0, 1)}
    p: float = 0.7
    fraction: tuple = (0.0, 0.5)
    threshold: float = 0.01

    def draw(self, rngs, X, axis, backend="numpy"):
        on = uniform_rows(rngs, 0, 1) < self.p
        q = uniform_rows(rngs, *self.fraction)
        u = np.array([g.random(MAX_PEAKS) for g in rngs]).reshape(len(rngs), MAX_PEAKS)
        return {"drop": ((u < q[:, None]) & on[:, None]).astype(np.float32)}

    def transform(self, X, axis, p):
        rank, start = peak_windows(X, self.threshold)
        drop = _per_peak(p["drop"], rank, 0.0) > 0
        return np.where(drop, np.minimum(X, _rows_take(X, start)), X).astype(np.float32)


def shift_rows(X: np.ndarray, shift_points: np.ndarray) -> np.ndarray:
    """X(i − s) by linear interpolation, s (B,) in points; 0 where it comes from outside."""
    B, L = X.shape
    t = np.arange(L)[None, :] - shift_points[:, None]
    i0 = np.floor(t).astype(np.int64)
    w = (t - i0).astype(np.float32)
    a = _rows_take(X, np.clip(i0, 0, L - 1))
    b = _rows_take(X, np.clip(i0 + 1, 0, L - 1))
    out = a * (1 - w) + b * w
    return np.where((t >= 0) & (t <= L - 1), out, 0.0).astype(np.float32)


def _step(axis) -> float:
    return float(np.median(np.diff(axis.values))) if len(axis) > 1 else 1.0


@register
@dataclass(frozen=True)
class Shift(Op):
    """Shift the whole pattern by δ ~ U(delta) (axis units, e.g. deg 2θ)."""

    name = "shift"
    stage = "pattern"
    checks = {"delta": span(-1e4, 1e4)}
    delta: tuple = (-0.5, 0.5)

    def draw(self, rngs, X, axis, backend="numpy"):
        return {"points": (uniform_rows(rngs, *self.delta) / _step(axis)).astype(np.float32)}

    def transform(self, X, axis, p):
        return shift_rows(np.asarray(X, np.float32), p["points"])


@register
@dataclass(frozen=True)
class Window(Op):
    """Random window, with probability ``p``: ``crop`` keeps a window of a fraction
    w ~ U(width) of the axis (zero outside), ``erase`` zeroes one."""

    name = "window"
    stage = "pattern"
    checks = {"mode": one_of("crop", "erase"), "width": span(0, 1), "p": number(0, 1)}
    mode: str = "crop"
    width: tuple = (0.6, 1.0)
    p: float = 1.0

    def validate(self):
        if self.mode == "crop" and self.width[1] <= 0:
            raise UsageError("window: a crop window of width 0 keeps nothing")

    def draw(self, rngs, X, axis, backend="numpy"):
        on = uniform_rows(rngs, 0, 1) < self.p
        w = uniform_rows(rngs, *self.width)
        lo = uniform_rows(rngs, 0, 1) * (1 - w)
        return {"lo": np.where(on, lo, 0.0), "hi": np.where(on, lo + w, 1.0 if self.mode == "crop" else 0.0)}

    def transform(self, X, axis, p):
        L = X.shape[1]
        t = np.arange(L)[None, :] / max(L - 1, 1)
        inside = (t >= p["lo"][:, None]) & (t <= p["hi"][:, None])
        keep = inside if self.mode == "crop" else ~inside
        return np.where(keep, X, 0.0).astype(np.float32)


@register
@dataclass(frozen=True)
class Noise(Op):
    """``gaussian``: + σ·max·z, σ ~ U(sigma); ``poisson``: counts ~ Poisson(c·y/max), c ~
    logU(counts) at the maximum, rescaled back (torch path: the normal approximation)."""

    name = "noise"
    stage = "pattern"
    checks = {"kind": one_of("gaussian", "poisson"), "sigma": span(0, 10), "counts": span(1, 1e9)}
    kind: str = "gaussian"
    sigma: tuple = (0.0, 0.02)
    counts: tuple = (100.0, 10000.0)

    def draw(self, rngs, X, axis, backend="numpy"):
        if self.kind == "gaussian":
            s = uniform_rows(rngs, *self.sigma)
        else:
            s = np.exp(uniform_rows(rngs, *np.log(self.counts)))
        if backend != "numpy":  # torch: counter-based normals keyed per row
            return {"scale": s.astype(np.float32), "key": _keys(rngs)}
        if self.kind == "gaussian":
            z = np.stack([g.standard_normal(X.shape[1], np.float32) for g in rngs]) if len(rngs) else X
            return {"noise": (z * s[:, None]).astype(np.float32), "relative": True}
        return {"noise": _poisson(rngs, X, s), "relative": False}

    def transform(self, X, axis, p):
        top = np.maximum(X.max(axis=1, keepdims=True), 0) if p["relative"] else 1.0
        return (X + p["noise"] * top).astype(np.float32)


def _keys(rngs) -> np.ndarray:
    return np.array([g.integers(0, 2**31 - 1) for g in rngs], dtype=np.int64)


def _poisson(rngs, X, counts) -> np.ndarray:
    top = np.maximum(X.max(axis=1), 0)
    scale = counts / np.where(top > 0, top, 1.0)
    out = np.empty_like(X, dtype=np.float32)
    for i, g in enumerate(rngs):
        lam = np.maximum(X[i], 0) * scale[i]
        out[i] = g.poisson(lam) / scale[i] - np.maximum(X[i], 0)
    return out


def chebyshev_basis(L: int, order: int) -> np.ndarray:
    """T_0 … T_order on L points of [−1, 1]: (order + 1, L) float64."""
    return np.polynomial.chebyshev.chebvander(np.linspace(-1, 1, L), order).T


@register
@dataclass(frozen=True)
class Background(Op):
    """A smooth random background: Chebyshev series of degree ``order``, coefficients ~
    U(−1, 1), shifted to start at 0 and scaled to a height a ~ U(amplitude) × the row max."""

    name = "background"
    stage = "pattern"
    checks = {"amplitude": span(0, 10), "order": number(0, 12, integer=True)}
    amplitude: tuple = (0.0, 0.1)
    order: int = 4

    def draw(self, rngs, X, axis, backend="numpy"):
        c = uniform_rows(rngs, -1, 1, int(self.order) + 1)
        a = uniform_rows(rngs, *self.amplitude)
        return {"coef": c.astype(np.float32), "height": a.astype(np.float32)}

    def transform(self, X, axis, p):
        bg = p["coef"].astype(np.float64) @ chebyshev_basis(X.shape[1], int(self.order))
        bg -= bg.min(axis=1, keepdims=True)
        bg /= np.where(bg.max(axis=1, keepdims=True) > 0, bg.max(axis=1, keepdims=True), 1.0)
        top = np.maximum(X.max(axis=1, keepdims=True), 0)
        return (X + (p["height"][:, None] * top) * bg).astype(np.float32)


# ---------------------------------------------------------------- the pipeline
def check_ops(ops, has_sticks: bool) -> None:
    """Usage errors before any work: augment ops only, sticks present where needed."""
    for op in ops:
        if op.stage == "preprocess":
            raise UsageError(f"{op.name} is a preprocess step, not an augmentation")
        if op.stage == "sticks" and not has_sticks:
            raise UsageError(f"{op.name} needs stick lists (a set made by simulate); this set has none")


def expand_rows(start: int, copies: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src, sample, copy) per output row for a chunk whose rows have ``copies`` (B,) each."""
    copies = np.asarray(copies, np.int64)
    src = np.repeat(np.arange(len(copies)), copies)
    first = np.repeat(np.cumsum(copies) - copies, copies)
    return src, start + src, np.arange(len(src)) - first


def augment_chunk(X, axis, ops, seed: int, copies, start: int = 0, peaks=None, cell=None,
                  settings=None, ctx: Context | None = None, device: str | None = None):
    """Augmented copies of a chunk: (R, L) float32 and ``src`` (R,) (input row of each).

    ``X`` (B, L) rows ``start … start + B − 1`` of the set; ``copies`` an int or (B,) ints;
    row r is copy ``c`` of sample ``s`` and uses the generator of ``(seed, s, c)`` only, so
    the output does not depend on chunking or workers. Stick ops (``strain``, ``size``,
    ``texture``, ``impurity``) run first on ``peaks`` (a Ragged) and ``cell`` (B, 6), the
    result rendered with ``settings`` (:class:`~spectool.signal.render.RenderSettings`);
    then pattern ops in their order, on ``device`` (torch) if given, else numpy.
    """
    ctx = ctx or Context()
    copies = np.broadcast_to(np.asarray(copies, np.int64), (len(X),))
    src, sample, copy = expand_rows(start, copies)
    rngs = row_rngs(seed, sample, copy)
    stick_ops = [op for op in ops if op.stage == "sticks"]
    check_ops(ops, peaks is not None)
    if stick_ops:
        Y = _physics(stick_ops, peaks, cell, src, rngs, axis, settings, ctx)
    else:
        Y = np.ascontiguousarray(np.asarray(X, np.float32)[src])
    pattern = [op for op in ops if op.stage == "pattern"]
    if device is not None and pattern:
        from spectool.signal.augment_torch import run_pattern_ops

        return run_pattern_ops(Y, axis, pattern, rngs, device), src
    for op in pattern:
        Y = op.transform(Y, axis, op.draw(rngs, Y, axis))
    return Y, src


def _physics(stick_ops, peaks, cell, src, rngs, axis, settings, ctx):
    from spectool.signal.physics import Impurity, Sticks, render_sticks
    from spectool.signal.render import RenderSettings

    settings = settings or RenderSettings(wavelengths=(ctx.wavelength or 1.54056,))
    sticks = Sticks.expand(peaks, src, settings.wavelengths[0], cell)
    for op in stick_ops:
        if isinstance(op, Impurity):
            sticks = op.apply_sticks(sticks, rngs, axis.values)
        else:
            sticks = op.apply_sticks(sticks, rngs)
    return render_sticks(sticks, axis.values, settings)


def balance_copies(y: np.ndarray, copies: int, cap: float = 10.0) -> np.ndarray:
    """Copies per row (N,) so each label gets about as many patterns as the commonest.

    A row of label c gets ⌈copies · n_max / n_c⌉ copies, at most ``cap`` × ``copies``;
    unlabelled rows (−1) get ``copies``.
    """
    y = np.asarray(y)
    out = np.full(len(y), int(copies), np.int64)
    labelled = y >= 0
    if not labelled.any():
        return out
    counts = np.bincount(y[labelled])
    per = np.minimum(np.ceil(copies * counts.max() / np.maximum(counts, 1)), cap * copies)
    out[labelled] = per[y[labelled]].astype(np.int64)
    return out


def default_ops(level: str = "pattern") -> list[Op]:
    """The paper defaults: ``pattern`` (ViT) or ``physics`` (CrySTINet/XRD-AutoAnalyzer)."""
    from spectool.signal.physics import Impurity, Size, Strain, Texture

    if level == "pattern":
        return [PeakScale(), PeakDrop(), Shift(), Window()]
    return [Strain(), Size(), Texture(), Impurity(), Noise(), Background()]
