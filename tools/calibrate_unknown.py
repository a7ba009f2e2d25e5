"""Calibrate predict's "unknown" threshold and its confidence on held-out compounds; store both in the checkpoint.

    python tools/calibrate_unknown.py MODEL.safetensors HELD_OUT.h5 [--n 300] [--seed 0] [--quantile 0.95]

HELD_OUT.h5: simulated patterns of compounds held out of training (make model's sim-test.h5), labelled
with the model's classes. Each of n rows (drawn with --seed) becomes a laboratory scan with Gaussian
noise and a flat background (:func:`as_scan`), is prepared as predict prepares a scan and verified with predict's own options
(mixture search included: the unknown score is the unexplained share of the final joint fit); the
threshold is the --quantile of the unknown score over the rows whose verified top-1 is right: at most
5 % of correctly named known compounds are then called unknown. Written as references.unknown_threshold
(the references stay). The same verdicts calibrate the confidence (:mod:`spectool.fit.confidence`): a
logistic model of whether the top candidate is right, written as references.confidence.
benchmarks/bench_unknown.py measures the threshold as a detector on structure types the model never saw,
on rows of the same set that this draw did not use (:func:`calibration_rows`).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def calibration_rows(n_rows: int, n: int, seed: int) -> np.ndarray:
    """The sorted row indices (n,) of a set of ``n_rows`` that a calibration with ``seed`` uses."""
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=min(n, n_rows), replace=False))


#: The 2θ grid (degrees) of the scans made from simulated patterns: a laboratory scan's range, not the
#: model's axis (a row on the model's axis is taken as prepared already and skips predict's recipe).
SCAN_GRID = (10.0, 80.0, 0.02)


def as_scan(pattern: np.ndarray, two_theta: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A simulated pattern (L,) on ``two_theta`` (L,) degrees as a counted laboratory scan on
    :data:`SCAN_GRID`: maximum 1000 counts on a flat 40, Gaussian noise σ 3. Returns (2θ (M,), counts (M,))."""
    lo, hi, step = SCAN_GRID
    x = np.arange(lo, hi + step / 2, step)
    y = np.interp(x, two_theta, pattern)
    return x, (y / y.max() * 1000 + 40 + rng.normal(0, 3, x.size)).astype(np.float32)


def scan_verdicts(verifier, X: np.ndarray, axis, wavelength: float, rng: np.random.Generator,
                  radiation: str = "CuKa") -> list:
    """Per simulated row of X (N, L) on ``axis``: its :class:`~spectool.fit.verify.Verdict` as a
    laboratory scan (:func:`as_scan`), or None where the row could not be fitted."""
    from spectool.spectra import Axis, Spectra

    out = []
    for i, row in enumerate(X):
        x, y = as_scan(row, np.asarray(axis.values, np.float64), rng)
        item = Spectra(f"row{i}", y[None], Axis(x, "two_theta", "deg"), wavelength=wavelength, radiation=radiation)
        (verdict,) = verifier.verdicts(item, verifier.predictor.prepare(item))
        out.append(verdict if not isinstance(verdict, Exception) and verdict.phases is not None else None)
    return out


def unknown_score(verdict) -> tuple[float, str] | None:
    """(unexplained share of the final fit, verified top-1 label) of a :func:`scan_verdicts` verdict, or None."""
    return None if verdict is None else (verdict.phases.unexplained, verdict.candidates[0].label)


def unknown_scores(verifier, X: np.ndarray, axis, wavelength: float, rng: np.random.Generator,
                   radiation: str = "CuKa") -> list[tuple[float, str] | None]:
    """Per simulated row of X (N, L) on ``axis``: :func:`unknown_score`, None where the row could not be fitted."""
    return [unknown_score(v) for v in scan_verdicts(verifier, X, axis, wavelength, rng, radiation)]


def main(argv: list[str] | None = None) -> int:
    from spectool.env import Env
    from spectool.fit.confidence import FEATURES, answer_features, fit_confidence
    from spectool.fit.verify import VerifyOptions
    from spectool.io.checkpoint import add_references, load_checkpoint, read_references
    from spectool.io.sets import open_set
    from spectool.learn.inference import Predictor
    from spectool.learn.verification import Verifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("held_out")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quantile", type=float, default=0.95)
    args = ap.parse_args(argv)
    predictor = Predictor(load_checkpoint(args.model))
    library, meta = read_references(predictor.ckpt)
    verifier = Verifier(predictor, library, 10, VerifyOptions())
    with open_set(args.held_out, Env()) as reader:
        rows = calibration_rows(len(reader), args.n, args.seed)
        chunk = reader.read_rows(0, len(reader), peaks=False)
        names, axis, wavelength = reader.meta.label_names, reader.meta.axis, reader.meta.wavelength
    verdicts = scan_verdicts(verifier, chunk.X[rows], axis, wavelength, np.random.default_rng(args.seed))
    done = [(v, names[chunk.y[i]]) for v, i in zip(verdicts, rows) if v is not None]
    u = np.array([v.phases.unexplained for v, _ in done])
    ok = np.array([v.candidates[0].label == truth for v, truth in done])
    threshold = float(np.quantile(u[ok], args.quantile)) if ok.any() else None
    fitted = [(f, right) for (v, _), right in zip(done, ok) if (f := answer_features(v)) is not None]
    try:
        confidence = fit_confidence(np.array([f for f, _ in fitted]).reshape(-1, len(FEATURES)),
                                    np.array([right for _, right in fitted], bool))
    except ValueError as exc:
        print(f"no confidence model: {exc}", file=sys.stderr)
        confidence = None
    entries = [(label, ref) for label, refs in library.items() for ref in refs]
    add_references(args.model, entries, source=meta.get("source", ""), unknown_threshold=threshold,
                   confidence=None if confidence is None else confidence.to_json())
    print(f"{len(u)} held-out compounds, verified top-1 {ok.mean():.1%}; unexplained share: correct median "
          f"{np.median(u[ok]):.3f}, wrong median {np.median(u[~ok]) if (~ok).any() else float('nan'):.3f}; "
          f"threshold ({args.quantile:.0%} of correct) {threshold}", file=sys.stderr)
    if confidence is not None:
        print(f"confidence: weights {dict(zip(confidence.features, (round(c, 3) for c in confidence.coef)))}, "
              f"intercept {confidence.intercept:.3f}, on {confidence.n} verdicts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
