"""Verification of a network's candidates by whole-pattern fitting, mixtures, and an honest "unknown".

Score of a candidate (documented; higher is better)::

    quality = explained × (1 − min(Rwp, 1))              fit quality, 0..1
    score   = NETWORK_WEIGHT × P + (1 − NETWORK_WEIGHT) × quality

with P the network's probability and ``explained`` the share of measured net peak area the fitted
phase accounts for (:class:`~spectool.fit.engine.FitResult`). A label with several references (a
structure type's corpus members) is fitted with the member whose quick fit matches best.

Mixtures (:func:`identify`): after the best phase, the network proposes candidates for what is
left (the residual, scaled to a maximum of 1); each is fitted jointly with the phases found, and
the best joins when it raises the explained share by at least ``phase_margin``; the search stops
at ``max_phases``, when the unexplained share falls below ``stop_unexplained``, or when no
candidate improves the fit by the margin. A scan whose final fit leaves more than
``unknown_threshold`` of its peak area unexplained is *unknown*. Weight fractions: Hill–Howard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from spectool.fit.engine import FitOptions, FitResult, coarse_scores, fit_hypotheses, noise_level
from spectool.fit.peaks import evidence

NETWORK_WEIGHT = 0.2
UNKNOWN_THRESHOLD = 0.5


@dataclass(frozen=True)
class VerifyOptions:
    """How candidates are checked and mixtures searched (see the module docstring)."""

    network_weight: float = NETWORK_WEIGHT
    unknown_threshold: float = UNKNOWN_THRESHOLD
    max_phases: int = 4
    phase_margin: float = 0.03
    stop_unexplained: float = 0.05
    residual_candidates: int = 5
    fit: FitOptions = field(default_factory=FitOptions)


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
    chosen = pick_references(x, y, [c.label for c in out], library, lines, options.fit, device)
    todo = [(c, ref) for c, ref in zip(out, chosen) if ref is not None]
    fits = fit_hypotheses(x, y, [[ref] for _, ref in todo], *lines, options=options.fit, device=device)
    for (c, _), fit in zip(todo, fits):
        c.fit = fit
    for c in out:
        c.score = combined_score(c.probability, c.fit, options.network_weight)
    return sorted(out, key=lambda c: -c.score)


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
             options: VerifyOptions = VerifyOptions(), device: str = "cpu") -> Verdict:
    """Name the phases of one scan y (L,) on x (L,) degrees.

    ``propose(pattern (L,))`` returns the network's candidates (label, probability), best first,
    for a pattern on the same axis. ``lines``: (wavelengths, weights) of the radiation.
    """
    candidates = verify_candidates(x, y, propose(y), library, lines, options, device)
    best = candidates[0] if candidates and candidates[0].fit is not None and candidates[0].fit.converged else None
    if best is None:
        return Verdict(candidates, None, [], False)
    joint, labels = best.fit, [best.label]
    while len(labels) < options.max_phases and joint.unexplained > options.stop_unexplained:
        step = _next_phase(x, y, joint, labels, propose, library, lines, options, device)
        if step is None:
            break
        joint, label = step
        labels.append(label)
    unknown = joint.unexplained > options.unknown_threshold
    return Verdict(candidates, joint, labels, unknown, peak_evidence(x, y, joint))


def _next_phase(x, y, joint: FitResult, labels, propose, library, lines, options: VerifyOptions, device):
    """(joint fit with one more phase, its label), or None when no candidate raises the explained
    share by ``phase_margin``."""
    residual = np.clip(y - joint.model, 0, None)
    if residual.max() <= 0:
        return None
    proposals = [(lab, p) for lab, p in propose(residual / residual.max()) if lab not in labels]
    proposals = proposals[:options.residual_candidates]
    refs = pick_references(x, residual, [lab for lab, _ in proposals], library, lines, options.fit, device)
    todo = [(lab, ref) for (lab, _), ref in zip(proposals, refs) if ref is not None]
    if not todo:
        return None
    found = [_reference_of(joint, i) for i in range(len(joint.phases))]
    fits = fit_hypotheses(x, y, [found + [ref] for _, ref in todo], *lines, options=options.fit,
                          start=[joint] * len(todo), device=device)
    gains = [f.explained - joint.explained if f.converged and f.phases[-1].scale > 0 else -1.0 for f in fits]
    k = int(np.argmax(gains))
    if gains[k] < options.phase_margin or fits[k].phases[-1].share < options.phase_margin:
        return None
    return fits[k], todo[k][0]


def _reference_of(fit: FitResult, i: int):
    return fit.phases[i].reference


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
