"""predict's verification step: the network proposes, :mod:`spectool.fit` decides.

:class:`Verifier` ties a :class:`~spectool.learn.inference.Predictor` (the proposer, also run on
the residual of a partial fit) to the phase references of the checkpoint or of ``--references``.
"""

from __future__ import annotations

import numpy as np

from spectool.errors import FormatError
from spectool.fit.verify import VerifyOptions, Verdict, fit_lines, identify
from spectool.learn.device import torch_threads
from spectool.spectra import covered

#: Least 2θ span (degrees) and points of a prepared scan worth fitting.
MIN_SPAN = 10.0
MIN_POINTS = 200
#: Intra-op threads of a fit. Its tensors are small (10⁴–10⁵ elements) and there are thousands of
#: them per scan: with 2 OpenMP threads each op paid a fork/join, 4× slower on 2 idle cores and
#: 8–20× on 2 busy ones (the second thread waits for a core), against one thread.
FIT_THREADS = 1


class Verifier:
    """Fits the network's ``top`` candidates of each prepared row and searches for further phases."""

    def __init__(self, predictor, library: dict, top: int = 10, options: VerifyOptions = VerifyOptions(),
                 device: str = "cpu", only_library: bool = False, index_store=None, confidence=None):
        """``index_store``: where the search index's norms outlive the process, an object with
        ``load(key) → (R, F) array | None`` and ``save(key, norms)`` (:class:`spectool.io.searchcache.SearchCache`);
        ``confidence``: a calibrated :class:`~spectool.fit.confidence.Confidence` that gives each verdict
        the probability that its top candidate is right (None: no confidence)."""
        self.predictor, self.library, self.top = predictor, library, top
        self.confidence = confidence
        self.index_store = index_store
        self.options, self.device = options, device
        self.only_library = only_library  # chemistry limits: candidates without a qualifying reference drop out
        self.x = np.asarray(predictor.axis.values, np.float64)
        self._indexes: dict = {}  # lines → SearchIndex of the library on the model's axis, built on first use

    def propose(self, y: np.ndarray) -> list[tuple[str, float]]:
        """The network's top candidates (label, score) for one pattern (L,) on the model's axis."""
        pred = self.predictor.predict(np.asarray(y, np.float32)[None])
        idx, scores = pred.top(len(self.predictor.labels) if self.only_library else self.top)
        out = [(self.predictor.labels[int(i)], float(s)) for i, s in zip(idx[0], scores[0])]
        return [c for c in out if c[0] in self.library][:self.top] if self.only_library else out

    def verdicts(self, item, X: np.ndarray) -> list[Verdict | FormatError]:
        """One :class:`Verdict` per prepared row of X (B, L), or the reason it could not be fitted."""
        lines = fit_lines(item.wavelength, item.radiation, self.predictor.prepared_wavelength(item)
                          or self.predictor.wavelength or 1.54184)
        with torch_threads(FIT_THREADS):
            return [self._one(row, lines, item.name) for row in np.asarray(X, np.float64)]

    def _one(self, y: np.ndarray, lines, name: str) -> Verdict | FormatError:
        problem = self.unfit_reason(y)
        if problem:
            return FormatError(f"{problem}; the network's answer is unverified", name)
        span = covered(y)
        pad = lambda r: np.pad(r, (span.start, len(y) - span.stop))  # noqa: E731  back onto the model's axis
        try:
            verdict = identify(self.x[span], y[span], lambda r: self.propose(pad(r)), self.library, lines,
                               self.options, self.device,
                               search=lambda r, zero: self.search_index(lines).match(pad(r), zero))
        except (RuntimeError, ValueError, np.linalg.LinAlgError) as exc:  # a numerical failure is this scan's alone
            return FormatError(f"the fit failed ({exc}); the network's answer is unverified", name)
        if self.confidence is not None:
            verdict.confidence = self.confidence.of(verdict)
        return verdict

    def search_index(self, lines):
        """The library's :class:`~spectool.fit.search.SearchIndex` on the model's axis for these lines
        (built once per radiation and kept: a folder of scans pays for it once; its norms, most of the
        cost, come from and go to ``index_store`` when there is one: a later process pays nothing)."""
        from spectool.fit.search import SearchIndex, index_key

        key = (tuple(lines[0]), tuple(lines[1]))
        if key not in self._indexes:
            stored = index_key(self.library, self.x, *lines, options=self.options.search) if self.index_store else None
            norms = self.index_store.load(stored) if stored else None
            self._indexes[key] = SearchIndex(self.library, self.x, *lines, options=self.options.search,
                                             device=self.device, norms=norms)
            if stored and norms is None:
                self.index_store.save(stored, self._indexes[key].norm.cpu().numpy())
        return self._indexes[key]

    def unfit_reason(self, y: np.ndarray) -> str | None:
        """Why a prepared row cannot be fitted (non-finite, too few points or too narrow), or None."""
        if not np.isfinite(y).all():
            return "has non-finite values"
        span = covered(y)
        n, width = span.stop - span.start, float(self.x[span.stop - 1] - self.x[span.start]) if span.stop else 0.0
        if n < MIN_POINTS or width < MIN_SPAN:
            return f"too short or narrow to fit ({n} points over {width:.1f}° 2θ; {MIN_SPAN:g}° needed)"
        return None


def measured_library(predictor, entries: list, warn=None) -> dict[str, list]:
    """label → [:class:`~spectool.fit.measured.MeasuredReference`] of measured references ``entries``
    ((label, name, Spectra, row, RIR) as :func:`spectool.io.references.measured_entries` reads them),
    each prepared as predict prepares a scan (the model's recipe) and cut to the 2θ span it covers.
    ``warn(message)`` hears of each one that cannot be prepared or has no peak."""
    from spectool.errors import SpectoolError
    from spectool.fit.measured import measured_reference

    x = np.asarray(predictor.axis.values, np.float64)
    prepared: dict[int, np.ndarray | SpectoolError] = {}
    library: dict[str, list] = {}
    for label, name, item, row, rir in entries:
        if id(item) not in prepared:
            try:
                prepared[id(item)] = np.asarray(predictor.prepare(item), np.float64)
            except SpectoolError as exc:
                prepared[id(item)] = exc
        X = prepared[id(item)]
        try:
            if isinstance(X, SpectoolError):
                raise ValueError(X.message)
            span = covered(X[row])
            library.setdefault(label, []).append(measured_reference(name, x[span], X[row][span], rir))
        except ValueError as exc:
            if warn is not None:
                warn(f"{item.name}: {exc} (not used as a reference)")
    return library
