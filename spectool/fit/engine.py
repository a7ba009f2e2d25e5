"""Whole-pattern fitting of phase hypotheses to one scan, all hypotheses at once (torch, autograd).

A *hypothesis* is a list of phases (:class:`~spectool.fit.reference.PhaseReference`) that
together should explain the scan y(2θ) (L,). H hypotheses of up to P phases are fitted in one
batch; they share nothing but the scan. The model of hypothesis h is

    ŷ(2θ) = Σ_p S_p Σ_m Σ_j w_j F_pm LP(θ_pmj) Φ(2θ − 2θ_pmj; Γ_p(θ), η_p) + Σ_k b_k T_k(x)

- 2θ_pmj = 2 asin(λ_j √(hᵀG*h) / 2) + Z + D cos θ: Bragg angle of reflection m of phase p for
  line j (Kα1, Kα2 … with weights w_j) from the refined cell's reciprocal metric G*
  (:mod:`spectool.fit.cell`), zero shift Z (degrees) and sample displacement D (degrees, the
  cos θ term of a specimen off the focusing circle), Z and D shared by the phases of a hypothesis;
- F_pm: the reference's intensity factor Σ 2|F|², LP = (1 + cos² 2θ)/(sin² θ cos θ), as
  :func:`spectool.xrd.simulate.simulate_pattern` renders; for a reference with a ``texture``
  direction, times the March–Dollase factor of its refined parameter r (:mod:`spectool.fit.texture`);
- Φ: area-normalised pseudo-Voigt (:func:`spectool.xrd.profiles.shape_values`), FWHM
  Γ² = W + U tan² θ (Caglioti with V = 0; degrees²), Lorentz fraction η, per phase;
- T_k: Chebyshev polynomials of x = 2θ mapped to [−1, 1] (the background).

Scales S_p ≥ 0 and the background coefficients enter linearly and are solved exactly at every
step (variable projection: normal equations, a negative scale drops its phase); the
non-linear parameters (cell, Z, D, W, U, η, ln r) follow Adam on the squared residual. Starting
values come from a coarse grid over an isotropic cell scale (± the length bound) and, for a
new scan, the zero shift by cross-correlation. Pure: arrays in, :class:`FitResult` out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spectool.fit.cell import ANGLE_BOUND, LENGTH_BOUND, cell_volume, ties
from spectool.fit.reference import PhaseReference, hill_howard
from spectool.fit.texture import MARCH_BOUNDS, cos2_angles, march_dollase

_LN2 = math.log(2.0)
#: Net intensity counts as peak area where it (or the fitted phases) exceeds this many noise σ.
NOISE_SIGMAS = 3.0
#: Reflections per phase (the strongest, factor / |g|² as LP weighs them at low angle) that a fit renders.
FIT_REFLECTIONS = 200
#: Reflections per phase (the strongest) that the starting search renders.
COARSE_REFLECTIONS = 80
#: Grid step (degrees 2θ) of the starting search, which renders broad peaks (FWHM ≥ 0.3°).
COARSE_STEP = 0.06
#: Adam's step on the raw cell parameters, relative to ``lr``: a raw step of lr moves a cell length by
#: lr × length_bound (0.15 % at the defaults, 0.1° 2θ at 80°: most of a sharp peak's width).
CELL_LR = 0.1


@dataclass(frozen=True)
class FitOptions:
    """Bounds, starting values and effort of a fit.

    Attributes:
        length_bound: largest relative change of a cell length (0.05 = ±5 %).
        angle_bound: largest change of a cell angle, degrees.
        zero_bound: largest zero shift searched by cross-correlation, degrees 2θ.
        background_terms: Chebyshev terms of the background (0 = none).
        fwhm: starting FWHM, degrees 2θ.
        window: half-width in degrees 2θ that each peak touches (a pseudo-Voigt cut at ±k FWHM keeps
            1 − η/(π k) of its area; the scales absorb the rest).
        coarse_steps: points of the isotropic cell-scale grid.
        steps: Adam steps of the refinement.
        lr: Adam learning rate (raw parameters are of order 1; Z and D in degrees).
        prune_after: Adam steps after which the hopeless hypotheses of a batch stop (0: never): those
            with Rwp > ``prune_rwp[0]`` × the batch's best Rwp + ``prune_rwp[1]`` keep the parameters
            they reached and the rest go on alone (a candidate that far behind does not catch up, and
            each step costs in proportion to the reflections rendered).
    """

    length_bound: float = LENGTH_BOUND
    angle_bound: float = ANGLE_BOUND
    zero_bound: float = 0.3
    background_terms: int = 4
    fwhm: float = 0.15
    window: float = 0.8
    coarse_steps: int = 41
    steps: int = 60
    lr: float = 0.03
    prune_after: int = 20
    prune_rwp: tuple[float, float] = (1.5, 0.1)


@dataclass
class PhaseFit:
    """One fitted phase of a hypothesis. ``cell``: (6,) Å and degrees; ``fwhm``: at 2θ = 30°, degrees."""

    name: str
    cell: np.ndarray
    scale: float
    volume: float
    mass: float
    fwhm: float
    eta: float
    share: float  # share of the measured net peak area this phase explains
    weight_fraction: float = 0.0
    two_theta: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (M·J,) 2θ of its reflections, every line
    height: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (M·J,) fitted peak heights
    hkl: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int16))
    caglioti: tuple[float, float] = (0.0, 0.0)  # (W, U) in deg²: FWHM² = W + U tan² θ
    reference: PhaseReference | None = None  # or a measured pattern (:mod:`spectool.fit.measured`)
    shift: float | None = None  # a measured reference's own 2θ shift, degrees (structures share the fit's zero)
    texture: tuple | None = None  # (direction (h, k, l), March r) of a refined preferred orientation


@dataclass
class FitResult:
    """One fitted hypothesis: phases, shared instrument terms and figures of merit.

    ``curves``: (P, L) each phase's fitted pattern; ``background``: (L,); ``model``: (L,) the sum.
    ``rwp``: √(Σ (y − ŷ)² / Σ y²) (unit weights); ``explained``: share of the net measured peak area
    that the phases account for, Σ min(net⁺, phases) / Σ net⁺ with net⁺ = max(y − bkg, 0) over the
    points where it or the phases exceed ``NOISE_SIGMAS`` × the noise σ (so noise is no peak area).
    """

    phases: list[PhaseFit]
    zero: float
    displacement: float
    rwp: float
    explained: float
    curves: np.ndarray
    background: np.ndarray
    model: np.ndarray
    converged: bool = True

    @property
    def unexplained(self) -> float:
        return 1.0 - self.explained


class Batch:
    """H hypotheses × P phase slots; the reflections of all slots in one flat (ragged) list.

    Slot (h, p) is number h·P + p; ``owner`` (N,) names each reflection's slot, ``hyp`` (N,) its
    hypothesis. Slots beyond a hypothesis's phases are off.
    """

    def __init__(self, hypotheses: list[list[PhaseReference]], device="cpu", dtype=None, keep=None):
        import torch

        self.hypotheses = [[_within(r, keep) for r in h] for h in hypotheses] if keep else hypotheses
        dtype = dtype or torch.float32
        H, P = len(self.hypotheses), max(len(h) for h in self.hypotheses)
        cell0 = np.tile(np.r_[1.0, 1, 1, 90, 90, 90], (H, P, 1))
        tie, on = np.full((H, P, 6), -1), np.zeros((H, P), bool)
        hkl, factor, owner = [np.zeros((0, 3))], [np.zeros(0)], [np.zeros(0, np.int64)]
        textured, cos2 = np.zeros((H, P)), []
        for i, hyp in enumerate(self.hypotheses):
            for p, ref in enumerate(hyp):
                cell0[i, p], tie[i, p], on[i, p] = ref.cell, ties(ref.system), True
                hkl.append(ref.hkl.astype(np.float64))
                factor.append(ref.factor.astype(np.float64))
                owner.append(np.full(len(ref.factor), i * P + p))
                textured[i, p] = ref.texture is not None
                cos2.append(cos2_angles(ref.hkl, ref.cell, ref.system, ref.texture) if ref.texture is not None
                            else np.zeros((len(ref.factor), 1)))
        as_t = lambda a, dt=dtype: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
        self.cell0, self.tie, self.on = as_t(cell0), as_t(tie, torch.long), as_t(on, torch.bool)
        self.hkl, self.factor = as_t(np.concatenate(hkl)), as_t(np.concatenate(factor))
        self.owner = as_t(np.concatenate(owner), torch.long)
        self.hyp = self.owner // P
        self.shape = (H, P)
        # preferred orientation: which slots refine a March parameter, and cos² of each reflection (N, K)
        self.textured = as_t(textured)
        k = max(c.shape[1] for c in cos2) if cos2 else 1
        self.cos2 = as_t(np.concatenate([np.tile(c, (1, k // c.shape[1])) for c in cos2]) if cos2 and textured.any()
                         else np.zeros((0, 1)))

    def slot_range(self, h: int, p: int) -> slice:
        """The flat reflections of slot (h, p) (they are stored slot by slot)."""
        idx = np.flatnonzero(self.owner.cpu().numpy() == h * self.shape[1] + p)
        return slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0)


def _within(ref: PhaseReference, keep: tuple[float, float, float, float]) -> PhaseReference:
    """``ref`` without the reflections that cannot reach the 2θ range: keep = (λ min, λ max, 2θ lo, 2θ hi)."""
    from dataclasses import replace

    from spectool.fit.cell import reciprocal_metric

    lam_lo, lam_hi, lo, hi = keep
    h = ref.hkl.astype(np.float64)
    g = np.sqrt(np.einsum("mi,ij,mj->m", h, reciprocal_metric(ref.cell), h))
    s_lo, s_hi = lam_lo * g / 2 / 1.06, lam_hi * g / 2 / 0.94
    ok = (s_lo <= math.sin(math.radians(min(hi, 179.0) / 2))) & (s_hi >= math.sin(math.radians(max(lo, 0.0) / 2)))
    if ok.sum() > FIT_REFLECTIONS:  # the weakest add little to the fit and much to its cost
        weight = np.where(ok, ref.factor / np.maximum(g, 1e-6) ** 2, -np.inf)
        ok = np.zeros_like(ok)
        ok[np.argsort(-weight)[:FIT_REFLECTIONS]] = True
    return replace(ref, hkl=ref.hkl[ok], factor=ref.factor[ok])


@dataclass
class Start:
    """Starting values for a batch: raw cell (H, P, 6), Z (H,), D (H,), W, U (H, P) deg², η (H, P),
    ln r (H, P) of the March parameter (None: 0, a random powder)."""

    raw: object
    zero: object
    disp: object
    w: object
    u: object
    eta: object
    po: object = None


def fit_hypotheses(x: np.ndarray, y: np.ndarray, hypotheses: list[list[PhaseReference]],
                   wavelengths=(1.5406,), weights=(1.0,), options: FitOptions = FitOptions(),
                   start: list[FitResult | None] | None = None, device: str = "cpu") -> list[FitResult]:
    """Fit every hypothesis (a list of phases) to the scan y (L,) on the uniform 2θ grid x (L,) degrees.

    ``wavelengths`` (Å) and ``weights``: the lines of the radiation (primary first).
    ``start[h]``: a previous fit whose phases are the first phases of hypothesis h; they start
    where they ended and the zero shift is kept, and only the phases after them get the coarse
    grid. Returns one :class:`FitResult` per hypothesis; a fit that goes non-finite comes back
    with ``converged = False`` and the coarse start's figures.
    """
    import torch

    if not hypotheses:
        return []
    grid = Grid(x, y, options.background_terms, device)
    reach = options.window + 2 * options.zero_bound + 1.0
    keep = (min(wavelengths), max(wavelengths), grid.x0 - reach, float(x[-1]) + reach)
    batch = Batch(hypotheses, device, grid.y.dtype, keep)
    lines = (torch.as_tensor(wavelengths, dtype=grid.y.dtype, device=device),
             torch.as_tensor(weights, dtype=grid.y.dtype, device=device))
    init = coarse_start(grid, batch, lines, options, start or [None] * len(hypotheses))
    final, ok, _ = refine(grid, batch, lines, options, init)
    return summarise(grid, batch, lines, options, final, ok)


def _hypotheses_batch(batch: Batch, keep: list[int]) -> Batch:
    """The hypotheses ``keep`` of a batch (their reflections as the batch holds them), as a batch."""
    import torch

    H, P = batch.shape
    slots = torch.as_tensor(keep, device=batch.owner.device)
    hyp_of = batch.owner // P
    rows = torch.isin(hyp_of, slots).nonzero().flatten()
    new_h = torch.full((H,), -1, dtype=torch.long, device=batch.owner.device)
    new_h[slots] = torch.arange(len(keep), device=batch.owner.device)
    sub = Batch.__new__(Batch)
    sub.hypotheses = [batch.hypotheses[h] for h in keep]
    sub.cell0, sub.tie, sub.on = batch.cell0[slots], batch.tie[slots], batch.on[slots]
    sub.hkl, sub.factor = batch.hkl[rows], batch.factor[rows]
    sub.owner = new_h[hyp_of[rows]] * P + batch.owner[rows] % P
    sub.hyp = sub.owner // P
    sub.shape = (len(keep), P)
    sub.textured, sub.cos2 = batch.textured[slots], batch.cos2[rows] if batch.cos2.numel() else batch.cos2
    return sub


class Grid:
    """The scan on its grid: x (L,), y (L,) as tensors, the step, the background basis (B, L)."""

    def __init__(self, x, y, terms: int, device="cpu"):
        import torch

        x = np.asarray(x, np.float64)
        if x.size < 16 or not np.all(np.diff(x) > 0):
            raise ValueError("the scan needs at least 16 points on an increasing 2θ grid")
        self.x = torch.as_tensor(x, dtype=torch.float32, device=device)
        self.y = torch.as_tensor(np.asarray(y, np.float64), dtype=torch.float32, device=device)
        self.x0, self.step = float(x[0]), float((x[-1] - x[0]) / (x.size - 1))
        t = (2 * (x - x[0]) / (x[-1] - x[0]) - 1)
        basis = np.polynomial.chebyshev.chebvander(t, max(terms - 1, 0)).T[:terms] if terms else np.zeros((0, x.size))
        self.basis = torch.as_tensor(basis, dtype=torch.float32, device=device)
        self.norm = float((self.y**2).sum().clamp(min=1e-30))

    def coarsened(self, k: int) -> "Grid":
        """The scan averaged over blocks of k points (a coarse grid for the starting search)."""
        n = (self.x.numel() // k) * k
        mean = lambda t: t[:n].reshape(-1, k).mean(1).cpu().numpy()  # noqa: E731
        return Grid(mean(self.x), mean(self.y), 0, self.x.device)

    def block_mean(self, t, k: int):
        n = (t.numel() // k) * k
        return t[:n].reshape(-1, k).mean(1)


def cells(batch: Batch, raw, options: FitOptions):
    """Refined cells (H, P, 6) from raw parameters."""
    from spectool.fit.cell import refined_cells

    return refined_cells(batch.cell0, raw, batch.tie, options.length_bound, options.angle_bound)


def reflections(batch: Batch, lines, cell, zero, disp, po=None):
    """Per line j and reflection n (flat, J·N): observed 2θ (degrees), factor × LP × line weight (× the
    March–Dollase factor of ln r ``po`` (H, P) where a slot is textured), tan θ, slot."""
    import torch

    from spectool.fit.cell import direct_metric

    H, P = batch.shape
    gstar = torch.linalg.inv(direct_metric(cell)).reshape(H * P, 3, 3)[batch.owner]  # (N, 3, 3)
    q = torch.einsum("ni,nij,nj->n", batch.hkl, gstar, batch.hkl).clamp(min=1e-12)
    lam, wt = lines
    s = lam[:, None] * q.sqrt()[None] / 2  # (J, N)
    ok = (s < 0.999) & (batch.factor[None] > 0)
    theta = torch.asin(s.clamp(max=0.999))
    cos2t = torch.cos(2 * theta)
    lp = (1 + cos2t**2) / (torch.sin(theta) ** 2 * torch.cos(theta))
    inten = batch.factor[None] * lp * wt[:, None] * ok
    if po is not None and batch.cos2.numel():
        r = torch.exp((po * batch.textured).flatten()[batch.owner])[:, None]  # untextured slots: r = 1, P = 1
        inten = inten * march_dollase(batch.cos2, r)[None]
    tt = torch.rad2deg(2 * theta) + zero[batch.hyp][None] + disp[batch.hyp][None] * torch.cos(theta)
    return tt.flatten(), inten.flatten(), torch.tan(theta).flatten(), batch.owner.repeat(lam.numel())


def render(grid: Grid, batch: Batch, lines, options: FitOptions, cell, zero, disp, w, u, eta, po=None):
    """Each phase's pattern (H, P, L) at unit scale."""
    import torch

    tt, inten, tan, slot = reflections(batch, lines, cell, zero, disp, po)
    fwhm = (w.flatten()[slot] + u.flatten()[slot] * tan**2).clamp(min=1e-6).sqrt()
    L, half = grid.x.numel(), int(math.ceil(options.window / grid.step))
    offsets = torch.arange(-half, half + 1, device=tt.device)
    nearest = torch.round((tt.detach() - grid.x0) / grid.step).long()
    pos = nearest[:, None] + offsets  # (N, W)
    dx = grid.x0 + pos * grid.step - tt[:, None]
    r2 = 4 * (dx / fwhm[:, None]) ** 2
    e = eta.flatten()[slot][:, None]
    val = (e * (2 / math.pi) / (1 + r2) + (1 - e) * (2 * math.sqrt(_LN2 / math.pi)) * torch.exp(-_LN2 * r2))
    val = val * (inten / fwhm)[:, None] * ((pos >= 0) & (pos < L))
    index = slot[:, None] * L + pos.clamp(0, L - 1)
    out = torch.zeros(batch.shape[0] * batch.shape[1] * L, dtype=val.dtype, device=val.device)
    return out.scatter_add_(0, index.flatten(), val.flatten()).reshape(*batch.shape, L)


def solve_linear(grid: Grid, batch: Batch, curves):
    """Scales (H, P) ≥ 0 and background coefficients (H, B) by least squares; model (H, L).

    Columns are normalised before the normal equations; a phase whose scale comes out negative
    is switched off and the rest solved again (twice at most).
    """
    import torch

    H, P = batch.shape
    active = batch.on.clone()
    basis = grid.basis.expand(H, -1, -1)
    for _ in range(3):
        A = torch.cat([curves * active[..., None], basis], 1)  # (H, K, L)
        norm = A.norm(dim=2).clamp(min=1e-12)
        An = A / norm[..., None]
        ata = An @ An.transpose(1, 2) + 1e-9 * torch.eye(A.shape[1], dtype=A.dtype, device=A.device)
        coef = torch.linalg.solve(ata, An @ grid.y) / norm
        negative = (coef[:, :P] <= 0) & active
        if not negative.any():
            break
        active = active & ~negative.detach()
    coef = torch.cat([coef[:, :P] * active, coef[:, P:]], 1)
    return coef[:, :P], coef[:, P:], torch.einsum("hk,hkl->hl", coef, A)


def coarse_start(grid: Grid, batch: Batch, lines, options: FitOptions, start: list) -> Start:
    """Starting values: previous fits where given (a new phase takes the first known phase's peak shape);
    new phases' cells from the isotropic-scale × zero-shift grid."""
    import torch

    H, P = batch.shape
    dt, dev = grid.y.dtype, grid.y.device
    raw = torch.zeros(H, P, 6, dtype=dt, device=dev)
    zero, disp = torch.zeros(H, dtype=dt, device=dev), torch.zeros(H, dtype=dt, device=dev)
    w = torch.full((H, P), options.fwhm**2, dtype=dt, device=dev)
    u, eta = torch.zeros(H, P, dtype=dt, device=dev), torch.full((H, P), 0.5, dtype=dt, device=dev)
    po = torch.zeros(H, P, dtype=dt, device=dev)
    known = [len(s.phases) if s is not None else 0 for s in start]
    for h, s in enumerate(start):
        if s is None:
            continue
        zero[h], disp[h] = s.zero, s.displacement
        for p, ph in enumerate(s.phases):
            raw[h, p] = _raw_of(ph.cell, batch.cell0[h, p], batch.tie[h, p], options)
            (w[h, p], u[h, p]), eta[h, p] = ph.caglioti, ph.eta
            if ph.texture is not None and ph.texture[0] == batch.hypotheses[h][p].texture:
                po[h, p] = math.log(ph.texture[1])
        if s.phases:  # new phases start with the peak shape of the first known one (same instrument)
            w[h, len(s.phases):], u[h, len(s.phases):] = s.phases[0].caglioti
            eta[h, len(s.phases):] = s.phases[0].eta
    st = Start(raw, zero, disp, w, u, eta, po)
    _grid_new_phases(grid, batch, lines, options, st, known, start)
    return st


def _raw_of(cell: np.ndarray, cell0, tie, options: FitOptions):
    """Raw parameters (6,) that reproduce ``cell`` (within the bounds) for reference ``cell0``."""
    import torch

    c0 = cell0.cpu().numpy()
    rel = np.r_[(np.asarray(cell[:3]) / c0[:3] - 1) / options.length_bound, (np.asarray(cell[3:]) - c0[3:]) / options.angle_bound]
    raw = np.arctanh(np.clip(rel, -0.999, 0.999)) * (tie.cpu().numpy() >= 0)
    return torch.as_tensor(raw, dtype=cell0.dtype)


def _grid_new_phases(grid: Grid, batch: Batch, lines, options: FitOptions, st: Start, known, start) -> None:
    """Each hypothesis's first phase not yet fitted: a coarse search of its cell (and of the zero shift
    when none is known yet) against what the known phases leave unexplained, all slots at once."""
    import torch

    slots = [(h, known[h]) for h in range(batch.shape[0]) if known[h] < len(batch.hypotheses[h])]
    if not slots:
        return
    k = max(1, int(COARSE_STEP / grid.step))
    coarse = grid.coarsened(k)
    with torch.no_grad():
        targets = []
        for h, _ in slots:
            target = grid.y if start[h] is None else grid.y - torch.as_tensor(start[h].model, dtype=grid.y.dtype,
                                                                              device=grid.y.device)
            targets.append(grid.block_mean(target.clamp(min=0), k))
        search = torch.tensor([start[h] is None for h, _ in slots], device=grid.y.device)
        raw, lag, _ = _coarse_cells(coarse, batch, lines, options, st, slots, torch.stack(targets), search)
    for i, (h, p) in enumerate(slots):
        st.raw[h, p] = raw[i]
        st.zero[h] = st.zero[h] + lag[i]


def _coarse_cells(grid, batch, lines, options, st: Start, slots, targets, search, axes: bool = True):
    """Grid over an isotropic scale (with the zero shift where ``search``), then (``axes``) over each
    free cell parameter in turn, twice; scored by the correlation of the slot's broad-peak pattern
    (its strongest ``COARSE_REFLECTIONS`` reflections) with its target.

    Returns (raw cells (S, 6), zero shifts (S,) degrees, best correlation (S,)).
    """
    import torch

    n = options.coarse_steps
    axis = torch.atanh(torch.linspace(-0.98, 0.98, n, dtype=st.raw.dtype, device=st.raw.device))
    S = len(slots)
    trial = torch.zeros(S, n, 6, dtype=axis.dtype, device=axis.device)
    trial[..., :3] = axis[None, :, None]
    zero0 = torch.stack([st.zero[h] for h, _ in slots])
    lag, best, score = _score_trials(grid, _slots_batch(batch, slots, n), lines, options, zero0, targets, trial, search)
    frees = [sorted({int(t) for t in batch.tie[h, p].tolist() if t >= 0}) for h, p in slots]
    for _ in range(2 if axes else 0):
        for k in range(max(len(f) for f in frees)):
            act = [i for i, f in enumerate(frees) if len(f) > 1 and k < len(f)]
            if not act:
                continue
            trial = best[act][:, None].expand(len(act), n, 6).clone()
            for j, i in enumerate(act):
                trial[j, :, frees[i][k]] = axis
            sub = _slots_batch(batch, [slots[i] for i in act], n)
            lag_a, best_a, score_a = _score_trials(grid, sub, lines, options, zero0[act], targets[act], trial,
                                                   search[act])
            lag[act], best[act], score[act] = lag_a, best_a, score_a
    return best, lag, score


def _score_trials(grid, sub: Batch, lines, options, zero0, targets, trial, search):
    """(zero shift (S,) degrees, best raw cell (S, 6), its correlation (S,)) of trials (S, n, 6)."""
    import torch
    import torch.nn.functional as F

    S, n, _ = trial.shape
    width = max(2 * options.fwhm, 0.3)
    coarse = FitOptions(**{**options.__dict__, "window": max(options.window, 3 * width)})
    full = lambda v: torch.full((S * n, 1), v, dtype=trial.dtype, device=trial.device)  # noqa: E731
    zero = zero0.repeat_interleave(n)
    curves = render(grid, sub, lines, coarse, cells(sub, trial.reshape(S * n, 1, 6), options), zero,
                    torch.zeros_like(zero), full(width**2), full(0.0), full(0.5))[:, 0]
    R = int(round(options.zero_bound / grid.step))
    t = targets - targets.mean(1, keepdim=True)
    corr = F.conv1d(F.pad(curves, (R, R))[None], t.repeat_interleave(n, 0)[:, None], groups=S * n)[0]
    corr = (corr / curves.norm(dim=1, keepdim=True).clamp(min=1e-12)).reshape(S, n, 2 * R + 1)
    corr[~search] = torch.where(torch.arange(2 * R + 1, device=corr.device) == R, corr[~search], -torch.inf)
    score, flat = corr.reshape(S, -1).max(1)
    i, j = flat // (2 * R + 1), flat % (2 * R + 1)
    tnorm = t.norm(dim=1).clamp(min=1e-12)
    return (R - j).to(trial.dtype) * grid.step, trial[torch.arange(S), i], score / tnorm  # scan sits R − j right


def _strongest(batch: Batch, h: int, p: int) -> np.ndarray:
    """Flat indices of slot (h, p)'s ``COARSE_REFLECTIONS`` strongest reflections (factor / |g|², as LP
    weighs them at low angle), in their stored order."""
    sl = batch.slot_range(h, p)
    idx = np.arange(sl.start, sl.stop)
    if idx.size <= COARSE_REFLECTIONS:
        return idx
    from spectool.fit.cell import reciprocal_metric

    hkl = batch.hkl[sl].double().cpu().numpy()
    q = np.einsum("mi,ij,mj->m", hkl, reciprocal_metric(batch.cell0[h, p].double().cpu().numpy()), hkl)
    weight = batch.factor[sl].double().cpu().numpy() / np.maximum(q, 1e-6)
    return np.sort(idx[np.argsort(-weight)[:COARSE_REFLECTIONS]])


def _slots_batch(batch: Batch, slots: list[tuple[int, int]], n: int) -> Batch:
    """Each slot (h, p) repeated n times, slot-major, as a batch of S·n one-phase hypotheses."""
    import torch

    strongest = [_strongest(batch, h, p) for h, p in slots]
    idx = torch.as_tensor(np.concatenate([np.tile(r, n) for r in strongest]), dtype=torch.long,
                          device=batch.hkl.device)
    counts = [len(r) for r in strongest]
    sub = Batch.__new__(Batch)
    sub.hypotheses = [[batch.hypotheses[h][p]] for h, p in slots for _ in range(n)]
    sub.cell0 = torch.stack([batch.cell0[h, p] for h, p in slots]).repeat_interleave(n, 0)[:, None]
    sub.tie = torch.stack([batch.tie[h, p] for h, p in slots]).repeat_interleave(n, 0)[:, None]
    sub.hkl, sub.factor = batch.hkl[idx], batch.factor[idx]
    sub.owner = torch.as_tensor(np.repeat(np.arange(len(slots) * n), np.repeat(counts, n)), device=idx.device)
    sub.hyp = sub.owner
    sub.on = torch.ones(len(slots) * n, 1, dtype=torch.bool, device=idx.device)
    sub.shape = (len(slots) * n, 1)
    sub.textured, sub.cos2 = torch.zeros(sub.shape, dtype=batch.textured.dtype, device=idx.device), batch.cos2[:0]
    return sub


def refine(grid: Grid, batch: Batch, lines, options: FitOptions, st: Start):
    """Adam on the non-linear parameters; returns (parameters of the best step, finite mask (H,), the
    best loss Σ (y − ŷ)² / Σ y² (H,)). After ``prune_after`` steps the hopeless hypotheses stop
    (:class:`FitOptions`) and the rest go on as a batch of their own."""
    import torch

    raw = st.raw.clone().requires_grad_(True)
    zero, disp = st.zero.clone().requires_grad_(True), st.disp.clone().requires_grad_(True)
    lw = st.w.clamp(min=1e-6).log().requires_grad_(True)
    lu = st.u.clamp(min=1e-4).log().requires_grad_(True)
    le = torch.logit(st.eta.clamp(0.02, 0.98)).requires_grad_(True)
    lpo = (st.po if st.po is not None else torch.zeros_like(st.w)).clone().requires_grad_(True)
    params = [raw, zero, disp, lw, lu, le, lpo]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    rates = [options.lr * CELL_LR] + [options.lr] * (len(params) - 1)
    best = [p.detach().clone() for p in params]
    best_loss = torch.full((batch.shape[0],), float("inf"), dtype=grid.y.dtype, device=grid.y.device)
    full, full_loss, kept = best, best_loss, None  # after pruning: the whole batch's values, and which go on
    checkpoint = best_loss.clone()
    for step in range(options.steps + 1):
        if step == options.prune_after and kept is None and 0 < step < options.steps:
            keep = _not_hopeless(best_loss, options.prune_rwp)
            if 0 < keep.numel() < batch.shape[0]:
                full, full_loss = best, best_loss  # the pruned hypotheses' final values
                kept, batch = keep, _hypotheses_batch(batch, keep.tolist())
                params = [p.detach()[keep].clone().requires_grad_(True) for p in params]
                raw, zero, disp, lw, lu, le, lpo = params
                moments = [(m[keep].clone(), v[keep].clone()) for m, v in moments]
                best, best_loss, checkpoint = [b[keep].clone() for b in best], best_loss[keep], checkpoint[keep]
        if step and step % 10 == 0:  # stop early once no hypothesis improved by 0.1 % in 10 steps
            if bool((best_loss > checkpoint * (1 - 1e-3)).all()):
                break
            checkpoint = best_loss.clone()
        curves = render(grid, batch, lines, options, cells(batch, raw, options), zero, disp, lw.exp(), lu.exp(),
                        torch.sigmoid(le), lpo)
        model = solve_linear(grid, batch, curves)[2]
        loss, best_loss = track_best(((grid.y - model) ** 2).sum(1) / grid.norm, best_loss, best, params)
        total = loss[torch.isfinite(loss)].sum()
        if not total.requires_grad:
            break
        grads = torch.autograd.grad(total, params, allow_unused=True)
        with torch.no_grad():
            adam_step(params, grads, moments, step + 1, rates)
            zero.clamp_(-2 * options.zero_bound - 0.5, 2 * options.zero_bound + 0.5)
            disp.clamp_(-1.0, 1.0)
            lw.clamp_(math.log(1e-4), math.log(4.0))
            lu.clamp_(math.log(1e-5), math.log(4.0))
            lpo.clamp_(*(math.log(b) for b in MARCH_BOUNDS))
    if kept is not None:  # the pruned keep what they reached at prune_after
        for f, b in zip(full, best):
            f[kept] = b
        full_loss[kept] = best_loss
        best, best_loss = full, full_loss
    raw_b, zero_b, disp_b, lw_b, lu_b, le_b, po_b = best
    final = Start(raw_b, zero_b, disp_b, lw_b.exp(), lu_b.exp(), torch.sigmoid(le_b), po_b)
    return final, torch.isfinite(best_loss), best_loss


def _not_hopeless(loss, prune_rwp: tuple[float, float]):
    """Indices of the hypotheses whose Rwp (√loss) is within ``factor`` × the best + ``margin``."""
    import torch

    rwp = torch.where(torch.isfinite(loss), loss.clamp(min=0).sqrt(), torch.full_like(loss, float("inf")))
    factor, margin = prune_rwp
    return (rwp <= factor * rwp.min() + margin).nonzero().flatten()


def track_best(loss, best_loss, best: list, params: list):
    """One step's losses (H,) with non-finite ones made inf, and the best losses so far (H,); where a
    hypothesis improved, its parameters are copied into ``best`` (a list like ``params``)."""
    import torch

    loss = torch.where(torch.isfinite(loss), loss, torch.full_like(loss, float("inf")))
    better = loss.detach() < best_loss
    for b, p in zip(best, params):
        b[better] = p.detach()[better]
    return loss, torch.where(better, loss.detach(), best_loss)

def adam_step(params, grads, moments, t: int, lr, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
    """One Adam update (Kingma & Ba 2015, as ``torch.optim.Adam`` with its defaults) of ``params`` in
    place, step ``t`` ≥ 1; non-finite gradient entries count as 0. ``moments``: (m, v) per parameter;
    ``lr``: one learning rate, or one per parameter (as torch's parameter groups).

    Our own few lines rather than ``torch.optim``: its first use imports ``torch._dynamo`` (seconds
    of start-up on every ``predict --refine``).
    """
    b1, b2 = betas
    rates = lr if isinstance(lr, (list, tuple)) else [lr] * len(params)
    for p, g, (m, v), lr in zip(params, grads, moments, rates):
        if g is None:
            continue
        g = g.nan_to_num(0.0, 0.0, 0.0)
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v / (1 - b2**t)).sqrt_().add_(eps)
        p.addcdiv_(m, denom, value=-lr / (1 - b1**t))


def summarise(grid: Grid, batch: Batch, lines, options: FitOptions, st: Start, ok) -> list[FitResult]:
    """Figures of merit, per-phase results and curves of the final parameters."""
    import torch

    with torch.no_grad():
        cell = cells(batch, st.raw, options)
        curves = render(grid, batch, lines, options, cell, st.zero, st.disp, st.w, st.u, st.eta, st.po)
        scales, bcoef, model = solve_linear(grid, batch, curves)
        background = bcoef @ grid.basis if grid.basis.numel() else torch.zeros_like(model)
        phase_curves = curves * scales[..., None]
        tt, inten, tan, _ = (t.cpu().numpy() for t in reflections(batch, lines, cell, st.zero, st.disp, st.po))
        n = batch.owner.numel()
    y = grid.y.cpu().numpy().astype(np.float64)
    out = []
    for h, hyp in enumerate(batch.hypotheses):
        sticks = [_every_line((tt, inten, tan), sl, n, len(lines[0])) for sl in
                  (batch.slot_range(h, p) for p in range(len(hyp)))]
        res = _result(y, hyp, cell[h].cpu().numpy().astype(np.float64), scales[h].cpu().numpy().astype(np.float64),
                      phase_curves[h, :len(hyp)].cpu().numpy().astype(np.float64),
                      background[h].cpu().numpy().astype(np.float64), model[h].cpu().numpy().astype(np.float64),
                      st, h, sticks)
        res.converged = bool(ok[h]) and np.isfinite(res.rwp)
        out.append(res)
    return out


def _every_line(arrays, sl: slice, n: int, lines: int):
    """The slot's reflections of every line (flat arrays are line-major: line j at j·n + …)."""
    idx = np.concatenate([np.arange(sl.start, sl.stop) + j * n for j in range(lines)])
    return tuple(a[idx] for a in arrays)


def noise_level(residual: np.ndarray) -> float:
    """Robust noise σ of a residual (L,): 1.4826 × MAD of its point-to-point differences / √2."""
    d = np.diff(residual)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2)) if d.size else 0.0


def peak_shares(y: np.ndarray, curves: np.ndarray, background: np.ndarray, model: np.ndarray):
    """(explained share of the net peak area, each phase's share (P,)) of a fit: y, background, model (L,),
    the phases' fitted curves (P, L) (see :class:`FitResult`)."""
    total = curves.sum(0)
    sigma = noise_level(y - model)
    net = np.maximum(y - background, 0)
    peaks = (net > NOISE_SIGMAS * sigma) | (total > NOISE_SIGMAS * sigma)  # counting noise is nobody's peak area
    net = np.where(peaks, net, 0.0)
    explained_curve = np.minimum(net, np.maximum(total, 0))
    denom = max(net.sum(), 1e-30)
    frac = np.divide(curves, total, out=np.zeros_like(curves), where=total > 0)
    return float(explained_curve.sum() / denom), (explained_curve * frac).sum(1) / denom


def _result(y, hyp, cell, scales, curves, background, model, st, h, sticks) -> FitResult:
    share, shares = peak_shares(y, curves, background, model)
    phases = []
    for p, ref in enumerate(hyp):
        w, u, eta = float(st.w[h, p]), float(st.u[h, p]), float(st.eta[h, p])
        textured = ref.texture is not None and st.po is not None
        texture = (ref.texture, math.exp(float(st.po[h, p]))) if textured else None
        tt, inten, tan = sticks[p]
        fw = np.sqrt(np.maximum(w + u * tan**2, 1e-12))
        peak = scales[p] * inten * (eta * 2 / math.pi + (1 - eta) * 2 * math.sqrt(_LN2 / math.pi)) / fw
        phases.append(PhaseFit(ref.name, cell[p], float(scales[p]), float(cell_volume(cell[p])), ref.mass,
                               float(math.sqrt(max(w + u * math.tan(math.radians(15)) ** 2, 0))), eta,
                               float(shares[p]), 0.0, tt, peak,
                               np.tile(ref.hkl, (tt.size // max(len(ref.hkl), 1), 1)), (w, u), ref,
                               texture=texture))
    fractions = hill_howard([p.scale for p in phases], [p.mass for p in phases], [p.volume for p in phases])
    for p, f in zip(phases, fractions):
        p.weight_fraction = float(f)
    rwp = float(np.sqrt(((y - model) ** 2).sum() / max((y**2).sum(), 1e-30)))
    return FitResult(phases, float(st.zero[h]), float(st.disp[h]), rwp, float(share), curves, background, model)


def coarse_scores(x: np.ndarray, y: np.ndarray, references: list[PhaseReference], wavelengths=(1.5406,),
                  weights=(1.0,), options: FitOptions = FitOptions(), device: str = "cpu") -> np.ndarray:
    """How well each reference can match the scan before refinement: the best normalised correlation
    (R,) of its broad-peak pattern with y (L,) over an isotropic cell scale and the zero shift."""
    import torch

    if not references:
        return np.zeros(0)
    grid = Grid(x, y, 0, device)
    reach = options.window + 2 * options.zero_bound + 1.0
    batch = Batch([[r] for r in references], device, grid.y.dtype,
                  (min(wavelengths), max(wavelengths), grid.x0 - reach, float(x[-1]) + reach))
    lines = (torch.as_tensor(wavelengths, dtype=grid.y.dtype, device=device),
             torch.as_tensor(weights, dtype=grid.y.dtype, device=device))
    k = max(1, int(COARSE_STEP / grid.step))
    coarse = grid.coarsened(k)
    H = len(references)
    st = Start(torch.zeros(H, 1, 6, dtype=grid.y.dtype, device=device), torch.zeros(H, dtype=grid.y.dtype,
               device=device), None, None, None, None)
    target = grid.block_mean(grid.y.clamp(min=0), k)[None].expand(H, -1)
    with torch.no_grad():
        _, _, score = _coarse_cells(coarse, batch, lines, options, st, [(h, 0) for h in range(H)], target,
                                    torch.ones(H, dtype=torch.bool, device=device), axes=False)
    return score.cpu().numpy().astype(np.float64)
