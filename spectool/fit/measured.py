"""Measured-pattern references: full-pattern summation (as powdR does) of a laboratory's own standards.

A :class:`MeasuredReference` is a scan of one phase, prepared as the scans it will explain are (the
model's recipe: baseline removed, strongest point 1), on a uniform 2θ grid, with its reference
intensity ratio (RIR) when known. The model of hypothesis h (phases p) on the scan's grid x (L,)::

    ŷ(2θ) = Σ_p S_p (r_p ∗ G_p)(2θ − δ_p) + Σ_k b_k T_k(x)

- r_p: the reference on the scan's grid (linear interpolation; zero outside its own 2θ range);
- δ_p: its 2θ shift (degrees, |δ| ≤ ``shift_bound``); G_p: a Gaussian of FWHM ω_p (0 ≤ ω ≤
  ``width_bound``), the breadth the scan's peaks have beyond the reference's. Both act in Fourier
  space, R(f) · exp(−2π²σ²f²) · exp(−2πi f δ) with σ = ω / (2√(2 ln 2)), so every reference of every
  hypothesis is one batched FFT with autograd (torch);
- T_k: the Chebyshev background of :mod:`spectool.fit.engine`.

Scales S_p ≥ 0 and the background are solved exactly at every step (variable projection,
:func:`spectool.fit.engine.solve_linear`); δ and ω follow Adam from a start found by correlation
over a grid of shifts.

Weight fractions (Chung's reference intensity ratio, the matrix-flushing method powdR uses)::

    W_p = (S_p / RIR_p) / Σ_q (S_q / RIR_q)

S_p is the scale on reference p normalised to its strongest point 1, RIR_p the ratio of its
strongest line to corundum's (113) in a 1:1 mixture by weight. A reference without an RIR counts
as RIR 1 (its fraction is then an intensity share).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from spectool.fit.engine import FitResult, Grid, PhaseFit, adam_step, peak_shares, solve_linear, track_best

_FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))


@dataclass(frozen=True)
class MeasuredReference:
    """One phase as a measured pattern.

    Attributes:
        name: the reference's name (file stem or row id).
        x: (K,) 2θ in degrees, uniform, increasing (the model's axis after preparation).
        y: (K,) intensity, strongest point 1.
        rir: reference intensity ratio to corundum, or None (unknown: counted as 1).
        formula: chemical formula when known ("" otherwise), for display and chemistry filters.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    rir: float | None = None
    formula: str = ""

    def elements(self) -> set[str]:
        """Element symbols of the formula (empty when unknown)."""
        return set(re.findall(r"[A-Z][a-z]?", self.formula))


def measured_reference(name: str, x: np.ndarray, y: np.ndarray, rir: float | None = None,
                       formula: str = "") -> MeasuredReference:
    """A reference from a prepared pattern y (K,) on x (K,) degrees, scaled to a strongest point of 1.

    ``ValueError`` for a pattern without a positive point, a non-finite one or a non-positive RIR.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.size < 16 or not np.all(np.isfinite(y)) or y.max() <= 0:
        raise ValueError("a measured reference needs at least 16 finite points with a positive maximum")
    if rir is not None and not (math.isfinite(rir) and rir > 0):
        raise ValueError(f"RIR must be a positive number, not {rir!r}")
    return MeasuredReference(name, x, y / y.max(), None if rir is None else float(rir), formula)


def is_measured(library: dict) -> bool:
    """Whether a library (label → [reference]) holds measured patterns rather than structures."""
    return any(isinstance(r, MeasuredReference) for refs in library.values() for r in refs)


@dataclass(frozen=True)
class MeasuredOptions:
    """Bounds and effort of a measured-reference fit.

    Attributes:
        shift_bound: largest 2θ shift of a reference, degrees.
        width_bound: largest extra Gaussian FWHM, degrees.
        background_terms: Chebyshev terms of the background.
        shift_steps: points of the starting grid over the shift.
        steps: Adam steps.
        lr: Adam learning rate on the raw (tanh / logit) parameters.
    """

    shift_bound: float = 0.3
    width_bound: float = 0.3
    background_terms: int = 4
    shift_steps: int = 31
    steps: int = 60
    lr: float = 0.05


def rir_fractions(scales, rirs) -> np.ndarray:
    """Weight fractions (P,) from scales S (P,) and RIRs (P,; None = 1): (S/RIR) / Σ (S/RIR)."""
    r = np.array([1.0 if v is None else float(v) for v in rirs], np.float64)
    w = np.maximum(np.asarray(scales, np.float64), 0) / r
    total = w.sum()
    return w / total if total > 0 else np.zeros_like(w)


class _Slots:
    """H hypotheses × P slots of references, each on the scan's padded grid in Fourier space."""

    def __init__(self, x: np.ndarray, hypotheses: list[list[MeasuredReference]], pad: int, device="cpu"):
        import torch

        self.hypotheses = hypotheses
        H, P = len(hypotheses), max(len(h) for h in hypotheses)
        step = float(x[1] - x[0])
        self.n, self.pad, self.L = x.size + 2 * pad, pad, x.size
        padded = x[0] + (np.arange(self.n) - pad) * step
        unique: dict[int, int] = {}
        rows, index = [], np.zeros((H, P), np.int64)
        for h, hyp in enumerate(hypotheses):
            for p, ref in enumerate(hyp):
                if id(ref) not in unique:
                    unique[id(ref)] = len(rows)
                    rows.append(np.interp(padded, ref.x, ref.y, left=0.0, right=0.0))
                index[h, p] = unique[id(ref)]
        spectra = torch.fft.rfft(torch.as_tensor(np.stack(rows), dtype=torch.float32, device=device), dim=-1)
        self.spectra = spectra[torch.as_tensor(index, device=device)]  # (H, P, F)
        self.freq = torch.as_tensor(np.fft.rfftfreq(self.n, d=step), dtype=torch.float32, device=device)
        self.on = torch.as_tensor([[p < len(h) for p in range(P)] for h in hypotheses], device=device)
        self.shape = (H, P)

    def render(self, shift, width):
        """Each slot's pattern (H, P, L) at unit scale, shifted by ``shift`` and broadened by ``width`` (H, P) degrees."""
        import torch

        sigma = width / _FWHM_PER_SIGMA
        f = self.freq
        damp = torch.exp(-2 * math.pi**2 * sigma[..., None] ** 2 * f**2)
        phase = -2 * math.pi * f * shift[..., None]
        spec = self.spectra * torch.polar(damp, phase)
        out = torch.fft.irfft(spec, n=self.n, dim=-1)[..., self.pad:self.pad + self.L]
        return out * self.on[..., None]


def fit_measured(x: np.ndarray, y: np.ndarray, hypotheses: list[list[MeasuredReference]],
                 options: MeasuredOptions = MeasuredOptions(), device: str = "cpu") -> list[FitResult]:
    """Fit every hypothesis (a list of measured references) to the scan y (L,) on the uniform grid x (L,) degrees.

    Returns one :class:`~spectool.fit.engine.FitResult` per hypothesis: each phase's ``shift`` and
    extra ``fwhm`` (degrees), scale, share of the peak area and RIR weight fraction; ``zero`` is
    the first phase's shift. A fit that goes non-finite comes back with ``converged = False``.
    """
    import torch

    if not hypotheses:
        return []
    x = np.asarray(x, np.float64)
    grid = Grid(x, y, options.background_terms, device)
    pad = int(math.ceil((options.shift_bound + 2 * options.width_bound) / grid.step)) + 8
    slots = _Slots(x, hypotheses, pad, device)
    raw_shift = _start_shifts(grid, slots, options)
    raw_width = torch.full(slots.shape, -2.0, dtype=torch.float32, device=grid.y.device)  # ω ≈ 0.12 × bound
    raw_shift, raw_width, ok = _refine(grid, slots, options, raw_shift, raw_width)
    with torch.no_grad():
        shift, width = options.shift_bound * torch.tanh(raw_shift), options.width_bound * torch.sigmoid(raw_width)
        curves = slots.render(shift, width)
        scales, bcoef, model = solve_linear(grid, slots, curves)
        background = bcoef @ grid.basis if grid.basis.numel() else torch.zeros_like(model)
        phase_curves = (curves * scales[..., None]).cpu().numpy().astype(np.float64)
    y64 = grid.y.cpu().numpy().astype(np.float64)
    out = []
    for h, hyp in enumerate(hypotheses):
        n = len(hyp)
        res = _result(x, y64, hyp, scales[h, :n].cpu().numpy().astype(np.float64), phase_curves[h, :n],
                      background[h].cpu().numpy().astype(np.float64), model[h].cpu().numpy().astype(np.float64),
                      shift[h, :n].cpu().numpy().astype(np.float64), width[h, :n].cpu().numpy().astype(np.float64))
        res.converged = bool(ok[h]) and np.isfinite(res.rwp)
        out.append(res)
    return out


def _start_shifts(grid: Grid, slots: _Slots, options: MeasuredOptions):
    """Raw shifts (H, P): for each slot the grid shift whose pattern correlates best with the scan."""
    import torch

    H, P = slots.shape
    n = max(options.shift_steps, 1)
    trial = torch.linspace(-0.95, 0.95, n, device=grid.y.device) if n > 1 else torch.zeros(1, device=grid.y.device)
    target = grid.y.clamp(min=0) - grid.y.clamp(min=0).mean()
    best = torch.zeros(H, P, device=grid.y.device)
    score = torch.full((H, P), -float("inf"), device=grid.y.device)
    width = torch.full((H, P), options.width_bound * float(torch.sigmoid(torch.tensor(-2.0))), device=grid.y.device)
    with torch.no_grad():
        for t in trial:
            curve = slots.render(torch.full((H, P), float(t) * options.shift_bound, device=grid.y.device), width)
            s = (curve @ target) / curve.norm(dim=-1).clamp(min=1e-12)
            better = s > score
            score, best = torch.where(better, s, score), torch.where(better, t, best)
    return torch.atanh(best)


def _refine(grid: Grid, slots: _Slots, options: MeasuredOptions, raw_shift, raw_width):
    """Adam on the raw shift and width; (raw shift, raw width) of the best step, finite mask (H,)."""
    import torch

    params = [raw_shift.clone().requires_grad_(True), raw_width.clone().requires_grad_(True)]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    best = [p.detach().clone() for p in params]
    best_loss = torch.full((slots.shape[0],), float("inf"), device=grid.y.device)
    for step in range(options.steps + 1):
        shift = options.shift_bound * torch.tanh(params[0])
        width = options.width_bound * torch.sigmoid(params[1])
        model = solve_linear(grid, slots, slots.render(shift, width))[2]
        loss, best_loss = track_best(((grid.y - model) ** 2).sum(1) / grid.norm, best_loss, best, params)
        total = loss[torch.isfinite(loss)].sum()
        if step == options.steps or not total.requires_grad:
            break
        grads = torch.autograd.grad(total, params, allow_unused=True)
        with torch.no_grad():
            adam_step(params, grads, moments, step + 1, options.lr)
            params[0].clamp_(-4.0, 4.0)
            params[1].clamp_(-8.0, 8.0)
    return best[0], best[1], torch.isfinite(best_loss)


def _result(x, y, hyp, scales, curves, background, model, shift, width) -> FitResult:
    """A :class:`FitResult` of one hypothesis; each phase's peaks (for ticks and evidence) are the local
    maxima of its fitted curve."""
    from spectool.fit.peaks import local_maxima

    share, shares = peak_shares(y, curves, background, model)
    fractions = rir_fractions(scales, [r.rir for r in hyp])
    phases = []
    for p, ref in enumerate(hyp):
        curve = curves[p]
        top = local_maxima(curve)
        top = top[curve[top] > 0.02 * max(curve.max(), 1e-30)] if top.size else top
        phases.append(PhaseFit(ref.name, np.zeros(0), float(scales[p]), 0.0, 0.0, float(width[p]), 0.0,
                               float(shares[p]), float(fractions[p]), x[top].astype(np.float64), curve[top],
                               np.zeros((0, 3), np.int16), (float(width[p]) ** 2, 0.0), ref, float(shift[p])))
    rwp = float(np.sqrt(((y - model) ** 2).sum() / max((y**2).sum(), 1e-30)))
    return FitResult(phases, float(shift[0]) if len(hyp) else 0.0, 0.0, rwp, float(share), curves, background, model)


def summation(x: np.ndarray, y: np.ndarray, references: list[MeasuredReference], max_phases: int = 8,
              min_share: float = 0.01, options: MeasuredOptions = MeasuredOptions(), device: str = "cpu"
              ) -> FitResult | None:
    """Full-pattern summation: fit all ``references`` together to y (L,) on x (L,), then drop phases
    until every one left has a positive scale and explains at least ``min_share`` of the peak area,
    and at most ``max_phases`` remain: all phases below ``min_share`` go at once, then, while there are
    too many, those of least share (down to ``max_phases`` + 2 at once, then one at a time), refitted
    each time. None when no reference keeps a positive scale."""
    current = list(references)
    while current:
        (fit,) = fit_measured(x, y, [current], options, device)
        shares = np.array([p.share if p.scale > 0 else -1.0 for p in fit.phases])
        weak = shares < min_share
        if not weak.any() and len(current) <= max_phases:
            return fit
        if weak.all():
            return None
        if not weak.any():
            weak[np.argsort(shares)[:max(len(current) - max_phases - 2, 1)]] = True
        current = [r for r, w in zip(current, weak) if not w]
    return None
