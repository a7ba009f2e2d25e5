"""Verification of a network's candidates by whole-pattern fitting, mixtures, and an honest "unknown".

Score of a candidate (documented; higher is better)::

    quality = explained × (1 − min(Rwp, 1))              fit quality, 0..1
    score   = NETWORK_WEIGHT × P + (1 − NETWORK_WEIGHT) × quality

with P the network's probability and ``explained`` the share of measured net peak area the fitted
phase accounts for (:class:`~spectool.fit.engine.FitResult`). Candidates whose scores lie within
``parsimony_margin`` (0.02) of the best are ranked by the number of lines their fitted phase shows
in the scan's range (:func:`visible_lines`), fewest first, and by score among equals: of two
references that fit the scan alike, the one that needs fewer reflections is the simpler explanation
(pyrite rather than its orthorhombic low-temperature description, corundum-type hematite rather
than an R-3 or monoclinic Fe₂O₃ with twice the lines), as a figure of merit like Smith–Snyder's
F_N counts the possible lines. On the shipped model it moved 122 measured RockJock references from
70.5 to 73.0 % verified top-1 (benchmarks/bench_verify.py) and, replayed on the same fits, 150
simulated held-out compounds from 50.0 to 52.7 % (4 gained, none lost). Each reference's cell is first scaled
isotropically to the scan where that correlates clearly better (within ±``scale_bound``,
:mod:`spectool.fit.prescale`: a type's reference is another compound of the type, often 5–20 % off in
cell); a label with several references (a structure type's corpus members) is fitted with the
member whose quick fit matches best. A smectite's references are its layers stacked at random, at each
basal spacing its swelling takes (:mod:`spectool.xrd.turbostratic`, read by
:func:`spectool.io.references.load_references`), with their 00l intensity refined (March–Dollase along
c*): smectites occur so, and a fully ordered crystal's sharp hkl lines match none of their scans.

Mixtures (:func:`identify`, ``max_phases`` > 1; with 1 the best candidate is the answer): a
branching search. The first phase is any of the network's fitted
candidates or of the references a library search–match (:mod:`spectool.fit.search`) ranks
highest on the scan. At each step, for each partial solution kept, candidates come from the union
of the network on the residual (scaled to a maximum of 1) and the search–match of the residual
against every reference of the library; each is fitted jointly with the phases of its partial
solution (with ``all_members``, every reference of a candidate label, all in one batch, and the
member of best joint fit kept: a type's corpus member that search–match ranks first need not be
the one whose cell and intensities fit), and joins (:func:`joins`) when it raises the explained share
by at least ``phase_margin`` and every phase of the joint fit explains at least ``phase_margin`` of
the peak area (a candidate that takes over an earlier phase's peaks does not join), or when it
explains at least ``new_peak_margin`` of the peak area where the phases before it have no peak and
every phase keeps ``min_phase_share`` (a weak scatterer beside a heavy one). The ``beam`` best extensions (by
quality, below) go on to the next step. A partial solution stops growing at ``max_phases``, when
its unexplained share falls below ``stop_unexplained``, or when no candidate passes the margin;
the answer is the stopped solution of best quality (of equals, the one with fewer phases). A scan whose answer leaves more than
``unknown_threshold`` of its peak area unexplained is *unknown*.

Weight fractions: Hill–Howard, W_p = S_p (ZMV)_p / Σ S (ZMV) with S the fitted factor on the
reference's per-cell intensities Σ 2|F|² (× LP, as simulate renders them), Z·M the mass of the
cell's content and V its volume (:func:`~spectool.fit.reference.hill_howard`).

Preferred orientation (``texture``, predict --texture; :func:`with_texture`): after the answer and
*unknown* are decided, each phase of a structure is refitted with a March–Dollase correction along each
direction its crystal system allows, and keeps the best where Rwp drops by ``texture_gain`` (2 %). It is
not used to rank: refitted with a texture (from r = 1), the three best candidates of 122 measured RockJock
references ranked 2–4 scans worse (70.5–72.1 against 73.0 % top-1) and 150 simulated held-out compounds
0.7–1.3 points worse, since wrong references bend their intensities as much as right ones. It moved the
RMS wt % error of the 8 measured RockJock mixtures from 12.4 to 11.9 (benchmarks/bench_verify.py
--texture); the synthetic mixtures of user structures, with no texture, stay at 50/50 phases (1.1 → 0.9 wt %).

Measured-pattern references (:mod:`spectool.fit.measured`, a library of a laboratory's standards):
every reference is fitted alone (scale, its own 2θ shift and extra width, background) and a label
is scored by its best reference, as above; with ``max_phases`` > 1 the phases come from full-pattern
summation (all references together, the phases without a share of at least ``min_share`` dropped,
then one reference per label, the one of largest share) and the weight fractions from the RIRs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from spectool.fit.engine import FitOptions, FitResult, coarse_scores, fit_hypotheses, noise_level
from spectool.fit.measured import MeasuredOptions, is_measured
from spectool.fit.peaks import evidence
from spectool.fit.prescale import SCALE_BOUND, prescaled_all
from spectool.fit.search import SearchIndex, SearchOptions

#: ``search(pattern (L,), zero shift °)`` → (label, reference, score) of the library, best first.
Search = Callable[[np.ndarray, float], list]

NETWORK_WEIGHT = 0.2
UNKNOWN_THRESHOLD = 0.5
PARSIMONY_MARGIN = 0.02
VISIBLE_LINE = 0.01  # a line counts as visible at this fraction of the phase's strongest line


@dataclass(frozen=True)
class VerifyOptions:
    """How candidates are checked and mixtures searched (see the module docstring).

    ``residual_candidates``: the network's candidates per partial solution and step;
    ``search_candidates``: the search–match's (at most ``per_label`` references of one label);
    ``beam``: partial solutions kept per step; ``search_first``: labels the search–match of the scan
    ranks best, fitted beside the network's candidates of the first phase when the network did not
    propose them (a network proposes from the types it learnt well; the fit decides). ``phase_margin`` 0.06 (was 0.03): on 12 measured
    single-phase RockJock scans it gave 4 rather than 6 of them a spurious extra phase, with the same
    phases found in the 8 measured and 4 synthetic mixtures of benchmarks/bench_verify.py.
    """

    network_weight: float = NETWORK_WEIGHT
    parsimony_margin: float = PARSIMONY_MARGIN  # 0: by score alone
    unknown_threshold: float = UNKNOWN_THRESHOLD
    max_phases: int = 1  # predict's default; the mixture search runs with --phases N ≥ 2
    phase_margin: float = 0.06
    stop_unexplained: float = 0.05
    residual_candidates: int = 3
    search_candidates: int = 4
    per_label: int = 2
    beam: int = 3
    search_first: int = 5
    all_members: bool = False  # the mixture search fits every member of a candidate label and keeps the best (4x the fits)
    min_share: float = 0.01  # full-pattern summation of measured references: least share a phase keeps
    min_phase_share: float = 0.02  # least peak-area share of each phase of a mixture (see joins)
    new_peak_margin: float = 0.02  # explained gain where the parent has no peak that admits a phase (see joins)
    scale_bound: float = SCALE_BOUND  # the isotropic pre-scale of each reference's cell (0: none)
    texture: bool = False  # refine each phase's preferred orientation in the answer (with_texture)
    texture_gain: float = 0.02  # least relative Rwp drop for which a phase keeps a preferred orientation
    fit: FitOptions = field(default_factory=FitOptions)
    measured: MeasuredOptions = field(default_factory=MeasuredOptions)
    search: SearchOptions = field(default_factory=SearchOptions)


@dataclass
class Candidate:
    """One network candidate after its fit (``fit`` None: no reference to fit)."""

    label: str
    probability: float
    fit: FitResult | None = None
    score: float = 0.0

    @property
    def quality(self) -> float:
        return fit_quality(self.fit)


@dataclass
class Verdict:
    """The outcome for one scan: candidates re-ranked, the phases found, and whether it is unknown."""

    candidates: list[Candidate]
    phases: FitResult | None
    labels: list[str]
    unknown: bool
    evidence: list = field(default_factory=list)
    confidence: float | None = None  # P(the top candidate is right), where the model is calibrated (fit/confidence.py)

    @property
    def verified(self) -> bool:
        return self.phases is not None


def fit_quality(fit: FitResult | None) -> float:
    """explained × (1 − min(Rwp, 1)); 0 without a converged fit."""
    if fit is None or not fit.converged:
        return 0.0
    return float(fit.explained * (1 - min(fit.rwp, 1.0)))


def combined_score(probability: float, fit: FitResult | None, weight: float = NETWORK_WEIGHT) -> float:
    """NETWORK_WEIGHT × P + (1 − NETWORK_WEIGHT) × quality."""
    return float(weight * probability + (1 - weight) * fit_quality(fit))


def verify_candidates(x, y, candidates: list[tuple[str, float]], library: dict, lines,
                      options: VerifyOptions = VerifyOptions(), device: str = "cpu") -> list[Candidate]:
    """Fit each candidate (label, probability) and re-rank by :func:`combined_score`, best first."""
    out = [Candidate(label, float(p)) for label, p in candidates]
    labels = [c.label for c in out]
    members = [(lab, ref) for lab in dict.fromkeys(labels) for ref in library.get(lab, [])]
    scaled: dict[str, list] = {}
    for (lab, _), ref in zip(members, scaled_references(x, y, [ref for _, ref in members], lines, options, device)):
        scaled.setdefault(lab, []).append(ref)
    chosen = pick_references(x, y, labels, scaled, lines, options.fit, device)
    todo = [(c, ref) for c, ref in zip(out, chosen) if ref is not None]
    fits = fit_hypotheses(x, y, [[ref] for _, ref in todo], *lines, options=options.fit, device=device)
    for (c, _), fit in zip(todo, fits):
        c.fit = fit
    for c in out:
        c.score = combined_score(c.probability, c.fit, options.network_weight)
    return parsimonious(out, x, options.parsimony_margin)


def with_texture(x, y, fit: FitResult, lines, options: VerifyOptions, device="cpu") -> FitResult:
    """The fit with a March–Dollase preferred orientation refined for each phase of a structure where it pays:
    each phase in turn along each direction its crystal system allows (:func:`~spectool.fit.texture.directions`),
    from March r = 0.8 (plates) and 1.25 (needles) — from the converged fit's r = 1 Adam's first steps leave its
    optimum and stop —, the others as they are, all in one batch from ``fit``. Where several phases lowered Rwp
    by at least ``texture_gain`` (relative), all of them along their best directions together, from the best
    trial; the better of that and the best trial. ``fit`` where none pays."""
    from dataclasses import replace

    from spectool.fit.reference import PhaseReference
    from spectool.fit.texture import directions

    refs = [ph.reference for ph in fit.phases]
    trials = [(p, replace(ref, texture=d), r) for p, ref in enumerate(refs) if isinstance(ref, PhaseReference)
              for d in directions(ref.system) for r in TEXTURE_STARTS]
    if not fit.converged or not trials:
        return fit
    hypotheses = [refs[:p] + [ref] + refs[p + 1:] for p, ref, _ in trials]
    starts = [_with_phase_texture(fit, p, (ref.texture, r)) for p, ref, r in trials]
    fits = fit_hypotheses(x, y, hypotheses, *lines, options=options.fit, start=starts, device=device)
    best: dict[int, tuple[float, FitResult, object]] = {}
    for (p, ref, _), f in zip(trials, fits):
        if f.converged and f.rwp < fit.rwp * (1 - options.texture_gain) and f.rwp < best.get(p, (np.inf,))[0]:
            best[p] = (f.rwp, f, ref)
    if not best:
        return fit
    first = min(best, key=lambda p: best[p][0])
    if len(best) == 1:
        return best[first][1]
    chosen = [best[p][2] if p in best else ref for p, ref in enumerate(refs)]
    start = best[first][1]  # the best trial, the other phases' orientations added
    for p in best:
        start = _with_phase_texture(start, p, best[p][1].phases[p].texture)
    (joint,) = fit_hypotheses(x, y, [chosen], *lines, options=options.fit, start=[start], device=device)
    return joint if joint.converged and joint.rwp < best[first][0] else best[first][1]


#: March r that each texture trial starts from (see with_texture).
TEXTURE_STARTS = (0.8, 1.25)


def _with_phase_texture(fit: FitResult, p: int, texture) -> FitResult:
    """``fit`` with phase p's texture set to (direction, r): a start for :func:`fit_hypotheses`."""
    from dataclasses import replace

    phases = list(fit.phases)
    phases[p] = replace(phases[p], texture=texture)
    return replace(fit, phases=phases)


def visible_lines(fit: FitResult | None, x: np.ndarray) -> int | None:
    """Lines of a one-phase fit's phase within the scan's 2θ range x (L,) whose fitted height is at least
    :data:`VISIBLE_LINE` of its strongest (each line of a doublet counts); None without a fitted phase, or
    for a turbostratic stack, whose bands are sampled, not counted, in its reflections."""
    if fit is None or not fit.converged or not fit.phases or not fit.phases[0].height.size:
        return None
    if getattr(fit.phases[0].reference, "layer_samples", 0):
        return None
    phase = fit.phases[0]
    inside = (phase.two_theta >= x[0]) & (phase.two_theta <= x[-1])
    height = np.where(inside, phase.height, 0.0)
    return int((height >= VISIBLE_LINE * max(height.max(), 1e-30)).sum()) if height.max() > 0 else None


def parsimonious(candidates: list[Candidate], x: np.ndarray, margin: float) -> list[Candidate]:
    """Candidates best first: those scoring within ``margin`` of the best by :func:`visible_lines`, fewest
    first (then by score), then the rest by score (see the module docstring)."""
    ranked = sorted(candidates, key=lambda c: -c.score)
    if margin <= 0 or not ranked:
        return ranked
    lines = {id(c): visible_lines(c.fit, x) for c in ranked}
    tied = [c for c in ranked if c.score >= ranked[0].score - margin and lines[id(c)] is not None]
    if len(tied) < 2 or lines[id(ranked[0])] is None:  # the best has no fit to count lines of: by score
        return ranked
    first = {id(c) for c in tied}
    rest = [c for c in ranked if id(c) not in first]
    return sorted(tied, key=lambda c: (lines[id(c)], -c.score)) + rest


def scaled_references(x, y, refs: list, lines, options: VerifyOptions, device="cpu") -> list:
    """Each reference, or its cell scaled isotropically to the scan y (L,) on x (L,) degrees
    (:func:`~spectool.fit.prescale.prescaled`, at the strongest line's wavelength) where the scaled one's
    quick fit (:func:`~spectool.fit.engine.coarse_scores`) matches better: in a mixture the widest
    correlation can line a reference up with another phase's peaks, so the scaled cell must earn its place."""
    if options.scale_bound <= 0 or not refs:
        return list(refs)
    scaled = prescaled_all(x, y, list(refs), _strongest_wavelength(lines), options.scale_bound)
    moved = [i for i, (a, b) in enumerate(zip(refs, scaled)) if a is not b]
    if not moved:
        return list(refs)
    scores = coarse_scores(x, y, [refs[i] for i in moved] + [scaled[i] for i in moved], *lines, options=options.fit,
                           device=device)
    out = list(refs)
    for j, i in enumerate(moved):
        if scores[len(moved) + j] > scores[j]:
            out[i] = scaled[i]
    return out


def with_scaled_variants(x, y, pairs: list[tuple[str, object]], lines, options: VerifyOptions) -> list:
    """(label, reference) pairs and, after them, the references whose cell :func:`~spectool.fit.prescale.prescaled`
    scales to y, as further members of their labels: the joint fit decides between them."""
    if options.scale_bound <= 0 or not pairs:
        return list(pairs)
    scaled = prescaled_all(x, y, [ref for _, ref in pairs], _strongest_wavelength(lines), options.scale_bound)
    return list(pairs) + [(lab, new) for (lab, old), new in zip(pairs, scaled) if new is not old]


def _strongest_wavelength(lines) -> float:
    """The wavelength (Å) of the strongest line of (wavelengths, weights)."""
    return float(np.asarray(lines[0])[int(np.argmax(np.asarray(lines[1])))])


def pick_references(x, y, labels: list[str], library: dict, lines, options: FitOptions, device="cpu") -> list:
    """For each label its reference, or None; of a label with several (a structure type's corpus
    members), the one whose pattern correlates best with the scan before refinement
    (:func:`~spectool.fit.engine.coarse_scores`)."""
    many = [(i, ref) for i, lab in enumerate(labels) if len(library.get(lab, [])) > 1 for ref in library[lab]]
    scores = coarse_scores(x, y, [ref for _, ref in many], *lines, options=options, device=device)
    best: dict[int, tuple[float, object]] = {}
    for (i, ref), score in zip(many, scores):
        if i not in best or score > best[i][0]:
            best[i] = (float(score), ref)
    return [best[i][1] if i in best else (library.get(lab) or [None])[0] for i, lab in enumerate(labels)]


def identify(x, y, propose: Callable[[np.ndarray], list[tuple[str, float]]], library: dict, lines,
             options: VerifyOptions = VerifyOptions(), device: str = "cpu", search: Search | None = None) -> Verdict:
    """Name the phases of one scan y (L,) on x (L,) degrees.

    ``propose(pattern (L,))`` returns the network's candidates (label, probability), best first,
    for a pattern on the same axis. ``lines``: (wavelengths, weights) of the radiation.
    ``search``: the library search–match on the same axis (:data:`Search`); by default a
    :class:`~spectool.fit.search.SearchIndex` of ``library`` is built for this call. A library of
    measured patterns goes to :func:`identify_measured` (``lines`` and ``search`` unused).
    """
    if is_measured(library):
        return identify_measured(x, y, propose, library, options, device)
    proposals = list(propose(y))
    if options.search_first and search is not None:
        proposals += _search_first(search(np.asarray(y, np.float64), 0.0), proposals, options.search_first)
    candidates = verify_candidates(x, y, proposals, library, lines, options, device)
    fitted = [c for c in candidates if c.fit is not None and c.fit.converged]
    if not fitted:
        return Verdict(candidates, None, [], False)
    if options.max_phases <= 1:  # no mixture search: the best candidate is the answer
        answer = _Partial(fitted[0].fit, (fitted[0].label,))
    else:
        if search is None:
            search = SearchIndex(library, x, *lines, options=options.search, device=device).match
        answer = _mixture(x, y, fitted, propose, search, library, lines, options, device)
    unknown = answer.fit.unexplained > options.unknown_threshold  # decided without texture, as calibrated
    final = with_texture(x, y, answer.fit, lines, options, device) if options.texture else answer.fit
    return Verdict(candidates, final, list(answer.labels), unknown, peak_evidence(x, y, final))


def identify_measured(x, y, propose: Callable[[np.ndarray], list[tuple[str, float]]], library: dict,
                      options: VerifyOptions = VerifyOptions(), device: str = "cpu") -> Verdict:
    """Name the phases of one scan y (L,) on x (L,) degrees against measured references (label →
    [:class:`~spectool.fit.measured.MeasuredReference`]); see the module docstring."""
    from spectool.fit.measured import fit_measured, summation

    flat = [(label, ref) for label, refs in library.items() for ref in refs]
    fits = fit_measured(x, y, [[ref] for _, ref in flat], options.measured, device)
    best: dict[str, FitResult] = {}
    for (label, _), fit in zip(flat, fits):
        if fit.converged and (label not in best or fit_quality(fit) > fit_quality(best[label])):
            best[label] = fit
    network = dict(propose(y))
    candidates = [Candidate(label, float(network.get(label, 0.0)), best.get(label)) for label in library]
    for c in candidates:
        c.score = combined_score(c.probability, c.fit, options.network_weight)
    candidates.sort(key=lambda c: -c.score)
    if not best:
        return Verdict(candidates, None, [], False)
    first = next(c for c in candidates if c.fit is not None)
    if options.max_phases <= 1:
        answer, labels = first.fit, [first.label]
    else:
        label_of = {id(ref): label for label, ref in flat}
        answer = summation(x, y, [ref for _, ref in flat], options.max_phases, options.min_share, options.measured,
                           device)
        if answer is not None:  # one reference per label: the one that explains most
            keep: dict[str, tuple[float, object]] = {}
            for ph in answer.phases:
                label = label_of[id(ph.reference)]
                if label not in keep or ph.share > keep[label][0]:
                    keep[label] = (ph.share, ph.reference)
            answer = summation(x, y, [ref for _, ref in keep.values()], options.max_phases, options.min_share,
                               options.measured, device)
        if answer is None:
            answer = first.fit
        labels = [label_of[id(ph.reference)] for ph in answer.phases] if answer is not first.fit else [first.label]
    unknown = answer.unexplained > options.unknown_threshold
    return Verdict(candidates, answer, labels, unknown, peak_evidence(x, y, answer))


def _search_first(ranked: list, proposals: list[tuple[str, float]], n: int) -> list[tuple[str, float]]:
    """The first ``n`` labels of a search–match ranking of the scan that the network did not propose,
    as candidates of probability 0 (the network gave them less than its last proposal)."""
    have, out = {label for label, _ in proposals}, []
    for label, _, _ in ranked:
        if len(out) >= n:
            break
        if label not in have:
            have.add(label)
            out.append((label, 0.0))
    return out


def _mixture(x, y, fitted: list[Candidate], propose, search: Search, library, lines, options: VerifyOptions,
             device) -> _Partial:
    """The branching search of the module docstring, from the fitted candidates (best first)."""
    seeds = [_Partial(c.fit, (c.label,)) for c in fitted]
    base = fitted[0].fit
    tried = {c.fit.phases[0].name for c in fitted}
    extra = _search_proposals(search(np.asarray(y, np.float64) - base.background, base.zero), (), tried,
                              options.search_candidates, options.per_label)
    if options.all_members:  # every member of every first-step label, so the best one can be kept
        done_names = tried | {ref.name for _, ref in extra}
        labels = list(dict.fromkeys([c.label for c in fitted] + [lab for lab, _ in extra]))
        extra += [(lab, ref) for lab in labels for ref in library.get(lab, []) if ref.name not in done_names]
    fits = fit_hypotheses(x, y, [[ref] for _, ref in extra], *lines, options=options.fit, device=device)
    seeds += [_Partial(f, (lab,)) for (lab, _), f in zip(extra, fits) if f.converged]
    if options.all_members:
        seeds = _best_member(seeds)
    beams, done = _best(seeds, options.beam, options.per_label), []
    while beams:
        open_ = [len(b.labels) < options.max_phases and b.fit.unexplained > options.stop_unexplained for b in beams]
        grow = [b for b, o in zip(beams, open_) if o]
        done += [b for b, o in zip(beams, open_) if not o]
        children, stopped = _extend(x, y, grow, propose, search, library, lines, options, device)
        done += stopped
        beams = _best(children, options.beam, options.per_label)
    return max(done, key=lambda b: (b.quality, -len(b.labels)))


@dataclass(eq=False)
class _Partial:
    """A partial solution of the mixture search: its joint fit and the labels of its phases."""

    fit: FitResult
    labels: tuple[str, ...]

    @property
    def quality(self) -> float:
        return fit_quality(self.fit)


def _best(partials: list[_Partial], n: int, per_labels: int = 2) -> list[_Partial]:
    """The n best of ``partials`` by quality: one per set of references, at most ``per_labels`` per
    set of labels (so that a type's other corpus member, with its own mass and intensities, competes)."""
    out, seen, count = [], set(), {}
    for p in sorted(partials, key=lambda p: -p.quality):
        key, labels = frozenset(ph.name for ph in p.fit.phases), frozenset(p.labels)
        if key not in seen and count.get(labels, 0) < per_labels:
            seen.add(key)
            count[labels] = count.get(labels, 0) + 1
            out.append(p)
    return out[:n]


def _search_proposals(ranked: list, labels, tried: set, n: int, per_label: int) -> list[tuple[str, object]]:
    """The first n (label, reference) of a search–match ranking whose label is not in ``labels`` and
    whose reference name is not in ``tried``, at most ``per_label`` of one label."""
    out, count = [], {}
    for label, ref, _ in ranked:
        if len(out) >= n:
            break
        if label in labels or ref.name in tried or count.get(label, 0) >= per_label:
            continue
        count[label] = count.get(label, 0) + 1
        out.append((label, ref))
    return out


def _extend(x, y, partials: list[_Partial], propose, search, library, lines, options: VerifyOptions, device):
    """(extensions of ``partials`` by one phase that pass the margin, the partials none of whose
    candidates did); all candidates of all partials fitted in one batch."""
    hypotheses, owners, labels = [], [], []
    for i, part in enumerate(partials):
        residual = np.asarray(y, np.float64) - part.fit.model
        peak = residual.max()
        if peak <= 0:
            continue
        ranked = search(residual, part.fit.zero)
        member = {}
        for label, ref, _ in ranked:
            member.setdefault(label, ref)
        network = [lab for lab, _ in propose(np.clip(residual, 0, None) / peak)
                   if lab not in part.labels and lab in member][:options.residual_candidates]
        chosen = [(lab, member[lab]) for lab in network]
        chosen += _search_proposals(ranked, part.labels, {ref.name for _, ref in chosen}, options.search_candidates,
                                    options.per_label)
        if options.all_members:
            chosen = [(lab, ref) for lab in dict.fromkeys(lab for lab, _ in chosen) for ref in library.get(lab, [])]
        chosen = with_scaled_variants(x, np.clip(residual, 0, None), chosen, lines, options)
        found = [ph.reference for ph in part.fit.phases]
        for lab, ref in chosen:
            hypotheses.append(found + [ref])
            owners.append(i)
            labels.append(lab)
    fits = fit_hypotheses(x, y, hypotheses, *lines, options=options.fit,
                          start=[partials[i].fit for i in owners], device=device)
    best: dict[tuple[int, str], FitResult] = {}  # of a label's members that join (see joins), the best joint fit
    for fit, i, lab in zip(fits, owners, labels):
        if (fit.converged and joins(y, partials[i].fit, fit, options)
                and ((i, lab) not in best or fit_quality(fit) > fit_quality(best[i, lab]))):
            best[i, lab] = fit
    children, grew = [], set()
    for (i, lab), fit in best.items():
        children.append(_Partial(fit, partials[i].labels + (lab,)))
        grew.add(i)
    return children, [p for i, p in enumerate(partials) if i not in grew]


def joins(y, parent: FitResult, child: FitResult, options: VerifyOptions) -> bool:
    """Whether ``child`` (``parent``'s phases and one more, fitted jointly to y (L,)) keeps its new phase.

    Every phase needs a positive scale and at least ``min_phase_share`` of the peak area, and the child
    must explain more: by ``phase_margin`` of the peak area, or by ``new_peak_margin`` counted only
    where the parent's phases have no peak (:func:`new_peak_share`). The second way admits a weak
    scatterer (light elements beside heavy ones: 37 wt % of Na2Li3GaO4 beside Tm3InN explains 4 % of the
    peak area) through the peaks only it has, and not a phase that merely reshapes the parent's peaks.
    """
    if not all(ph.scale > 0 and ph.share >= options.min_phase_share for ph in child.phases):
        return False
    if child.explained - parent.explained >= options.phase_margin:
        return all(ph.share >= options.phase_margin for ph in child.phases)
    return new_peak_share(y, parent, child) >= options.new_peak_margin


def new_peak_share(y, parent: FitResult, child: FitResult) -> float:
    """Share of the measured net peak area that the child's last phase explains where the parent's phases
    predict no peak (below ``NOISE_SIGMAS`` noise σ): Σ_free min(net⁺, curve) / Σ net⁺, net⁺ and σ as in
    :func:`~spectool.fit.engine.peak_shares`."""
    from spectool.fit.engine import NOISE_SIGMAS

    y = np.asarray(y, np.float64)
    sigma = noise_level(y - child.model)
    net = np.maximum(y - child.background, 0)
    curve = np.maximum(child.curves[-1], 0)
    net = np.where((net > NOISE_SIGMAS * sigma) | (child.curves.sum(0) > NOISE_SIGMAS * sigma), net, 0.0)
    free = parent.curves.sum(0) <= NOISE_SIGMAS * sigma
    return float(np.minimum(net, curve)[free].sum() / max(net.sum(), 1e-30))


def _best_member(partials: list[_Partial]) -> list[_Partial]:
    """Of one-phase partials with the same label, the one of best quality (first-seen order kept)."""
    best: dict[tuple[str, ...], _Partial] = {}
    for p in partials:
        if p.labels not in best or p.quality > best[p.labels].quality:
            best[p.labels] = p
    return list(best.values())


def peak_evidence(x, y, fit: FitResult) -> list:
    """Matched / missing / unexplained peaks of each phase of ``fit`` (see :mod:`spectool.fit.peaks`)."""
    net = np.asarray(y, np.float64) - fit.background
    sigma = noise_level(np.asarray(y, np.float64) - fit.model)
    tolerance = max(max((p.fwhm for p in fit.phases), default=0.1), 0.05)
    return evidence(np.asarray(x, np.float64), net, sigma, fit.phases, tolerance)


#: A scan stating a wavelength this close (Å) to Cu Kα without naming its radiation is taken as Kα1 + Kα2.
CU_TOLERANCE = 0.004


def fit_lines(scan_wavelength: float | None, radiation: str | None, prepared_wavelength: float) -> tuple:
    """(wavelengths, weights) of the lines as they appear on the prepared axis.

    The prepared axis is at ``prepared_wavelength`` (Å), converted by Bragg's law from the scan's
    ``scan_wavelength``: line j of the tube shows there as λ_j · λ_prepared / λ_scan. A named
    radiation gives the lines (``CuKa12``: the doublet; ``CuKa``: one line); an unnamed scan at a
    Cu Kα wavelength is a laboratory Kα1 + Kα2 scan; anything else, one line.
    """
    from spectool.xrd.radiation import WAVELENGTHS, parse_radiation

    if not scan_wavelength:
        return (prepared_wavelength,), (1.0,)
    rad = None
    if radiation:
        try:
            rad = parse_radiation(radiation)
        except ValueError:
            rad = None
    if rad is None and abs(scan_wavelength - WAVELENGTHS["CuKa"]) < CU_TOLERANCE:
        rad = parse_radiation("CuKa12")
    if rad is None or len(rad.wavelengths) == 1:
        return (prepared_wavelength,), (1.0,)
    factor = prepared_wavelength / scan_wavelength
    return tuple(w * factor for w in rad.wavelengths), tuple(rad.weights)


def restrict_library(library: dict, allowed: set[str] | None = None, required: set[str] | None = None) -> dict:
    """The references whose formula uses only ``allowed`` elements and all ``required`` ones; a label
    none of whose references qualifies is left out (for a type-level model: its corpus members)."""
    out = {}
    for label, refs in library.items():
        keep = [r for r in refs if (allowed is None or r.elements() <= allowed)
                and (required is None or required <= r.elements())]
        if keep:
            out[label] = keep
    return out
