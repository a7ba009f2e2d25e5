"""Pattern-level augmentation (ViT paper, PAPERS.md A) and the augment pipeline.

Each pattern op splits into ``draw(streams, X, axis, backend)``, which takes every random
number a row needs from that row's own counter stream (keyed by ``(seed, sample, copy)``,
drawn for all rows in one vectorised call: :mod:`spectool.signal.streams`), and
``transform(X, axis, params)``, a vectorised function of the batch: numpy here, torch in
:mod:`spectool.signal.augment_torch`. Peaks on a profile are the local maxima above
``threshold`` × the row's maximum; a peak's window runs from the local minimum before it to
the one after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from spectool.errors import UsageError
from spectool.signal.ops import Context, Op, number, one_of, register, span
from spectool.signal.streams import row_streams

MAX_PEAKS = 512  # peaks per row that can be chosen; later ones are left alone


@dataclass(frozen=True)
class Pieces:
    """Peak windows of a batch (B, L) as pieces tiling its flat view (B·L,), in order.

    Per piece (K,) int64: ``start`` (flat index of its first point), ``length``, ``row``,
    ``rank`` (0-based order among the row's peaks of the peak it belongs to, −1: none) and
    ``window`` (flat index of its window's first point: the last minimum at or before it,
    or the row's start). A window from one minimum to the next holding two maxima is two
    pieces, cut at the second maximum.
    """

    start: np.ndarray
    length: np.ndarray
    row: np.ndarray
    rank: np.ndarray
    window: np.ndarray

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Per-piece values (K,) repeated over their points: (B·L,)."""
        return np.repeat(values, self.length)


def _extrema(F: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the local maxima and minima of the rows of flat ``F`` (B·L,):
    max where the step in is > 0 and the step out ≤ 0, min where in < 0 and out ≥ 0;
    never a row's first or last point. Sorted int64."""
    d = np.diff(F)
    up, down = d > 0, d < 0
    maxima = np.flatnonzero(np.greater(up[:-1], up[1:])) + 1
    minima = np.flatnonzero(np.greater(down[:-1], down[1:])) + 1
    inside = lambda i: i[(i % L != 0) & (i % L != L - 1)]  # noqa: E731
    return inside(maxima), inside(minima)


def peak_pieces(X: np.ndarray, threshold: float) -> Pieces:
    """The peak windows of ``X`` (B, L) float32: windows cut at local minima, peaks the
    local maxima above ``threshold`` × the row's maximum (see :class:`Pieces`).

    Only the extrema are found on the dense batch (a diff and two comparisons); the rest is
    on the few boundaries: a row start or a minimum opens a piece that belongs to the next
    boundary's peak if that is a maximum, else to none; a maximum opens one of its own.
    """
    X = np.ascontiguousarray(X, np.float32)
    B, L = X.shape
    if L == 0:
        return Pieces(*(np.zeros(0, np.int64) for _ in range(5)))
    F = X.ravel()
    maxima, minima = _extrema(F, L)
    top = X.max(axis=1) if L else np.zeros(B, np.float32)
    maxima = maxima[F[maxima] > threshold * top[maxima // L]]
    kind = np.zeros(B * L, np.int8)  # 1 row start, 2 minimum, 3 maximum
    kind[minima], kind[maxima], kind[::L] = 2, 3, 1
    start = np.flatnonzero(kind)
    k = kind[start]
    is_max = k == 3
    seen = np.cumsum(is_max)
    rank_max = seen - 1 - np.maximum.accumulate(np.where(k == 1, seen - is_max, 0))
    nxt = np.append(k[1:], 1) == 3
    rank = np.where(is_max, rank_max, np.where(nxt, np.append(rank_max[1:], -1), -1))
    window = np.maximum.accumulate(np.where(is_max, 0, start))
    length = np.diff(np.append(start, B * L))
    return Pieces(start, length, start // L, rank, window)


def peak_windows(X: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the rank of its peak window (−1: none) and the window's first index
    (column): two (B, L) int arrays, the dense form of :func:`peak_pieces`."""
    B, L = np.shape(X)
    p = peak_pieces(X, threshold)
    return p.expand(p.rank).reshape(B, L), p.expand(p.window - p.row * L).reshape(B, L)


def _peak_slots(streams, X, threshold: float, backend: str):
    """(pieces or None, rows, index): where per-peak values are drawn. numpy: one per piece
    (a peak's pieces share its (row, rank) value); torch: a (B, MAX_PEAKS) table."""
    if backend == "numpy":
        p = peak_pieces(X, threshold)
        return p, p.row, np.clip(p.rank, 0, None).astype(np.uint64)
    return None, np.arange(len(streams))[:, None], np.arange(MAX_PEAKS, dtype=np.uint64)[None, :]


def _chosen(pieces) -> np.ndarray | bool:
    """Pieces whose peak can be chosen (rank in 0 … MAX_PEAKS − 1); True for a table."""
    return True if pieces is None else (pieces.rank >= 0) & (pieces.rank < MAX_PEAKS)


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

    def draw(self, streams, X, axis, backend="numpy"):
        pieces, rows, idx = _peak_slots(streams, X, self.threshold, backend)
        q = streams.uniform(*self.fraction)
        pick = streams.uniform_at(rows, idx) < q[rows]
        f = np.where(pick & _chosen(pieces), streams.uniform_at(rows, idx, *self.factor), 1.0)
        return {"factors": f.astype(np.float32)} | ({"pieces": pieces} if pieces else {})

    def transform(self, X, axis, p):
        X = np.ascontiguousarray(X, np.float32)
        return (X.ravel() * p["pieces"].expand(p["factors"])).reshape(X.shape)


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

    def draw(self, streams, X, axis, backend="numpy"):
        pieces, rows, idx = _peak_slots(streams, X, self.threshold, backend)
        on = streams.uniform() < self.p
        q = streams.uniform(*self.fraction)
        drop = (streams.uniform_at(rows, idx) < q[rows]) & on[rows] & _chosen(pieces)
        return {"drop": drop.astype(np.float32)} | ({"pieces": pieces} if pieces else {})

    def transform(self, X, axis, p):
        X = np.ascontiguousarray(X, np.float32)
        pieces, F = p["pieces"], X.ravel()
        if not p["drop"].any():
            return X.copy()
        cap = np.where(p["drop"] > 0, F[pieces.window], np.float32(np.inf))
        return np.minimum(F, pieces.expand(cap)).reshape(X.shape)


def shift_rows(X: np.ndarray, shift_points: np.ndarray) -> np.ndarray:
    """X(i − s) by linear interpolation, s (B,) in points; 0 where it comes from outside.

    Per row the shift is a whole offset k = ⌊−s⌋ and a weight w = −s − k, so the two
    neighbours are one contiguous slice each of the zero-padded row: one row-wise take of
    (B, L + 1) windows, no per-point index. (B, L) float32.
    """
    X = np.ascontiguousarray(X, np.float32)
    B, L = X.shape
    neg = -np.asarray(shift_points, np.float64)
    k = np.clip(np.floor(neg), -L - 1, L + 1).astype(np.int64)
    w = (neg - np.floor(neg)).astype(np.float32)[:, None]
    pad = int(np.abs(k).max(initial=0)) + 1
    Z = np.zeros((B, L + 2 * pad + 2), np.float32)
    Z[:, pad:pad + L] = X
    G = sliding_window_view(Z, L + 1, axis=1)[np.arange(B), pad + k]
    out = G[:, :-1] * (1 - w) + G[:, 1:] * w
    _zero_edges(out, k, w[:, 0])
    return out


def _zero_edges(out: np.ndarray, k: np.ndarray, w: np.ndarray) -> None:
    """Zero the two points per row whose interpolation reaches one point past the data
    (i + k = −1, and i + k = L − 1 with w > 0): outside like the rest of the padding."""
    L = out.shape[1]
    rows = np.arange(len(out))
    for col, ok in ((-1 - k, True), (L - 1 - k, w > 0)):
        sel = ok & (col >= 0) & (col < L)
        out[rows[sel], col[sel]] = 0.0


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

    def draw(self, streams, X, axis, backend="numpy"):
        return {"points": (streams.uniform(*self.delta) / _step(axis)).astype(np.float32)}

    def transform(self, X, axis, p):
        return shift_rows(X, p["points"])


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

    def draw(self, streams, X, axis, backend="numpy"):
        on = streams.uniform() < self.p
        w = streams.uniform(*self.width)
        lo = streams.uniform() * (1 - w)
        off_lo, off_hi = (0.0, 1.0) if self.mode == "crop" else (-1.0, -1.0)  # off: keep all
        return {"lo": np.where(on, lo, off_lo), "hi": np.where(on, lo + w, off_hi)}

    def transform(self, X, axis, p):
        """Points i with lo ≤ i/(L − 1) ≤ hi are inside: per row one run [a, b) of
        columns (found by search on the axis fractions), expanded flat."""
        X = np.ascontiguousarray(X, np.float32)
        B, L = X.shape
        t = np.arange(L) / max(L - 1, 1)
        a = np.searchsorted(t, p["lo"], "left")
        b = np.maximum(np.searchsorted(t, p["hi"], "right"), a)
        runs = np.stack([a, b - a, L - b], 1).ravel()
        inside = np.repeat(np.tile([False, True, False], B), runs).reshape(B, L)
        return np.where(inside if self.mode == "crop" else ~inside, X, np.float32(0))


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

    def draw(self, streams, X, axis, backend="numpy"):
        if self.kind == "gaussian":
            s = streams.uniform(*self.sigma)
        else:
            s = np.exp(streams.uniform(*np.log(self.counts)))
        if backend != "numpy":  # torch: counter-based normals keyed per row
            return {"scale": s.astype(np.float32), "key": (streams.seeds() >> np.uint64(33)).astype(np.int64)}
        gens = streams.generators()
        if self.kind == "gaussian":
            z = np.empty(X.shape, np.float32)
            for row, g in zip(z, gens):
                g.standard_normal(out=row, dtype=np.float32)
            z *= s[:, None].astype(np.float32)
            return {"noise": z, "relative": True}
        return {"noise": _poisson(gens, X, s), "relative": False}

    def transform(self, X, axis, p):
        X = np.asarray(X, np.float32)
        if not p["relative"]:
            return X + p["noise"]
        return X + p["noise"] * np.maximum(X.max(axis=1, keepdims=True), 0)


def _poisson(gens, X, counts) -> np.ndarray:
    top = np.maximum(X.max(axis=1), 0)
    scale = counts / np.where(top > 0, top, 1.0)
    out = np.empty_like(X, dtype=np.float32)
    for i, g in enumerate(gens):
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

    def draw(self, streams, X, axis, backend="numpy"):
        c = streams.uniform(-1, 1, int(self.order) + 1)
        a = streams.uniform(*self.amplitude)
        return {"coef": c.astype(np.float32), "height": a.astype(np.float32)}

    def transform(self, X, axis, p):
        """float32 throughout: bg = coef @ basis, then X + height·max(X)·(bg − min)/(max − min)."""
        X = np.asarray(X, np.float32)
        bg = p["coef"] @ chebyshev_basis(X.shape[1], int(self.order)).astype(np.float32)
        lo, hi = bg.min(axis=1, keepdims=True), bg.max(axis=1, keepdims=True)
        span_ = hi - lo
        top = np.maximum(X.max(axis=1, keepdims=True), 0)
        scale = p["height"][:, None] * top / np.where(span_ > 0, span_, np.float32(1))
        bg -= lo
        bg *= scale
        bg += X
        return bg



@register
@dataclass(frozen=True)
class Hump(Op):
    """An amorphous hump (glass, organic matter, a sample holder), with probability ``p``: a
    Gaussian of FWHM w ~ U(fwhm) centred at c ~ U(centre) (axis units, e.g. deg 2θ), height
    a ~ U(height) × the row max."""

    name = "hump"
    stage = "pattern"
    checks = {"centre": span(-1e4, 1e4), "fwhm": span(1e-6, 1e4), "height": span(0, 10), "p": number(0, 1)}
    centre: tuple = (15.0, 35.0)
    fwhm: tuple = (4.0, 12.0)
    height: tuple = (0.0, 0.3)
    p: float = 0.5

    def draw(self, streams, X, axis, backend="numpy"):
        on = streams.uniform() < self.p
        p = {"centre": streams.uniform(*self.centre), "fwhm": streams.uniform(*self.fwhm),
             "height": np.where(on, streams.uniform(*self.height), 0.0)}
        return p if backend == "numpy" else p | {"grid": np.asarray(axis.values, np.float64)}

    def transform(self, X, axis, p):
        X = np.asarray(X, np.float32)
        return X + hump_rows(np.asarray(axis.values, np.float64), p["centre"], p["fwhm"], p["height"],
                             np.maximum(X.max(axis=1), 0)).astype(np.float32)


def hump_rows(grid: np.ndarray, centre: np.ndarray, fwhm: np.ndarray, height: np.ndarray,
              top: np.ndarray) -> np.ndarray:
    """Gaussians (B, L) on ``grid`` (L,): per row centre, FWHM, relative height, row maximum."""
    sigma = fwhm[:, None] / (2 * np.sqrt(2 * np.log(2)))
    return (height * top)[:, None] * np.exp(-0.5 * ((grid[None, :] - centre[:, None]) / sigma) ** 2)

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
    row r is copy ``c`` of sample ``s``, and op number i of ``ops`` draws from the counter
    streams of ``(seed, s, c)`` slot i only (:mod:`spectool.signal.streams`), so the output
    does not depend on chunking or workers. Stick ops (``strain``, ``size``, ``texture``,
    ``impurity``) run first on ``peaks`` (a Ragged) and ``cell`` (B, 6), the result
    rendered with ``settings`` (:class:`~spectool.signal.render.RenderSettings`); then
    pattern ops in their order, on ``device`` (torch) if given, else numpy.
    """
    ctx = ctx or Context()
    copies = np.broadcast_to(np.asarray(copies, np.int64), (len(X),))
    src, sample, copy = expand_rows(start, copies)
    streams = row_streams(seed, sample, copy)
    check_ops(ops, peaks is not None)
    slots = list(enumerate(ops))
    stick_ops = [(i, op) for i, op in slots if op.stage == "sticks"]
    if stick_ops:
        Y = _physics(stick_ops, peaks, cell, src, streams, axis, settings, ctx)
    else:
        Y = np.asarray(X, np.float32)[src]
    pattern = [(i, op) for i, op in slots if op.stage == "pattern"]
    if device is not None and pattern:
        from spectool.signal.augment_torch import run_pattern_ops

        return run_pattern_ops(Y, axis, [op for _, op in pattern],
                               [streams.child(i) for i, _ in pattern], device), src
    for i, op in pattern:
        Y = op.transform(Y, axis, op.draw(streams.child(i), Y, axis))
    return Y, src


def _physics(stick_ops, peaks, cell, src, streams, axis, settings, ctx):
    from spectool.signal.physics import Impurity, Sticks, render_sticks
    from spectool.signal.render import RenderSettings
    from spectool.xrd.radiation import CU_KALPHA1

    settings = settings or RenderSettings(wavelengths=(ctx.wavelength or CU_KALPHA1,))
    sticks = Sticks.expand(peaks, src, settings.wavelengths[0], cell)
    for i, op in stick_ops:
        if isinstance(op, Impurity):
            sticks = op.apply_sticks(sticks, streams.child(i), axis.values)
        else:
            sticks = op.apply_sticks(sticks, streams.child(i))
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
