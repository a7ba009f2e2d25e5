"""From a checkpoint and raw spectra to class probabilities, reliability and an OOD flag.

:class:`Predictor` replays the checkpoint's recipe on raw scans
(:func:`spectool.signal.recipe.replay_recipe`: Bragg to the training wavelength, the stored steps,
a resample onto the training axis), refuses spectra of the wrong kind or that cover too little of the axis,
and scores them.

Lattice search (XRD on a 2θ axis, on by default): a search–match program lets a reference's cell and
the scan's zero move; the network does the same. It scores the pattern with its d-spacings scaled by
:data:`LATTICE_SCALES` (a solid solution, a strained or thermally expanded cell) and its zero moved by
:data:`ZERO_SHIFTS` (degrees 2θ: zero error, sample displacement), nine patterns in one batch. Each
class keeps its largest probability over the nine, renormalised to sum to 1: its profile over cell and
zero, as the verification fit lets each candidate's cell move on its own. The reliability takes the top
class's probability from one pass (the variant the network is surest of), as train calibrated its
threshold on plain passes; the renormalised profile is flatter (median top probability 0.57 against
0.81 plain) and would have called the demo's rutile out of distribution.

On the shipped model the search moved network top-1 on 123 measured RockJock references from 62.6 to
66.7 % and on 904 compounds held out of its library from 49.0 to 53.2 % (benchmarks/bench_default_model.py),
and verified top-1 from 78.0 to 80.5 % (benchmarks/bench_verify.py). ±1.5 % raised the held-out compounds
further but not the measured scans, ±2 % lost on them. Taking all probabilities from the one surest
variant ranked the network's classes alike but verified 77.2 %: its peaked probabilities weigh the
network more against the fit.

Reliability follows CrySTINet (PAPERS.md B): R = α S + (1 − α) P, with S
the cosine similarity (−1..1, not rescaled) between the input and the mean training
pattern of the predicted class and P its probability; without class means, R = P.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectool.errors import FormatError
from spectool.spectra import Axis

ALPHA = 0.7
OOD_THRESHOLD = 0.6
MIN_COVERAGE = 0.5
#: Factors on the d-spacings and zero shifts (degrees 2θ) of the lattice search (module docstring).
LATTICE_SCALES = (0.99, 1.0, 1.01)
ZERO_SHIFTS = (-0.1, 0.0, 0.1)
PREPARE_ROWS = 64  # rows prepared in one pass: enough to amortise each op's call, small enough for cache


@dataclass
class Prediction:
    """Scores for B spectra over C classes.

    ``scores`` are softmax probabilities (rows sum to 1) for ordinary classifiers; for a union
    of RCNets (``score_kind == "reliability"``) they are each member's reliability R at the
    class it proposes and 0 elsewhere.
    """

    scores: np.ndarray  # (B, C) float32
    reliability: np.ndarray  # (B,)
    similarity: np.ndarray | None  # (B,) cosine to the predicted class's mean pattern
    ood: np.ndarray  # (B,) bool: reliability below the threshold
    score_kind: str = "probability"

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices (B, k), scores (B, k)), best first."""
        k = min(k, self.scores.shape[1])
        order = np.argsort(-self.scores, axis=1, kind="stable")[:, :k]
        return order, np.take_along_axis(self.scores, order, axis=1)


class Predictor:
    """A loaded checkpoint ready to score spectra on any axis it can convert."""

    def __init__(self, checkpoint, device: str = "cpu", min_coverage: float = MIN_COVERAGE,
                 threshold: float | None = None, lattice_search: bool = True):
        """``lattice_search``: score XRD patterns on a 2θ axis over cell scales and zero shifts (module
        docstring); other kinds and axes are scored as they are."""
        from spectool.signal.recipe import Recipe

        self.ckpt, self.device = checkpoint, device
        self.axis: Axis = checkpoint.axis
        self.labels: list[str] = list(checkpoint.labels)
        self.kind = checkpoint.input.get("kind", "xrd")
        self.wavelength = checkpoint.input.get("wavelength")
        self.recipe = Recipe.from_json(checkpoint.preprocess)  # as train recorded it
        self.means = _class_means(checkpoint.tensors)
        calibrated = (checkpoint.train or {}).get("ood_threshold")
        self.min_coverage = min_coverage
        self.threshold = threshold if threshold is not None else calibrated if calibrated is not None else OOD_THRESHOLD
        self.variants = (lattice_variants(self.axis.values, LATTICE_SCALES, ZERO_SHIFTS)
                         if lattice_search and self.kind == "xrd" and self.axis.quantity == "two_theta" else None)

    def prepare(self, item) -> np.ndarray:
        """Rows of a :class:`~spectool.spectra.Spectra` on the training axis, (B, L) float32.

        A set on the training axis is taken as prepared; anything else (a scan always, even on
        exactly that grid) goes through :func:`~spectool.signal.recipe.replay_recipe`, once its
        coverage of the training axis is checked.
        """
        from spectool.signal.ops import Context
        from spectool.signal.recipe import replay_recipe

        self._check_kind(item)
        if self._prepared(item):
            return np.asarray(item.X, np.float32)
        ctx = Context(item.wavelength, item.laser_nm, item.kind)
        self._check_coverage(item, ctx)
        recipe = replay_recipe(self.recipe, item.axis, ctx, self.axis, self.wavelength)
        return recipe.apply(item.X, item.axis, ctx)[0]

    def prepare_many(self, items: list, rows: int = PREPARE_ROWS) -> list:
        """:meth:`prepare` for many items; per item its rows (B, L) float32 or the FormatError it raised.

        Items that share an axis, kind and wavelength (a folder of scans from one instrument) go
        through the recipe together, up to ``rows`` rows at a time: every op works row by row, so
        the rows are the ones :meth:`prepare` gives each alone, at a fraction of the calls.
        """
        out: list = [None] * len(items)
        groups: dict = {}
        for i, item in enumerate(items):
            groups.setdefault(_batch_key(item), []).append(i)
        for members in groups.values():
            for lo in range(0, len(members), rows):
                self._prepare_group([items[i] for i in members[lo:lo + rows]], members[lo:lo + rows], out)
        return out

    def _prepare_group(self, items: list, where: list[int], out: list) -> None:
        if len(items) > 1:
            from dataclasses import replace

            try:
                X = self.prepare(replace(items[0], X=np.concatenate([item.X for item in items])))
            except FormatError:
                pass  # each alone below, so each failure names its own item
            else:
                ends = np.cumsum([len(item) for item in items])
                for i, part in zip(where, np.split(X, ends[:-1])):
                    out[i] = part
                return
        for i, item in zip(where, items):
            try:
                out[i] = self.prepare(item)
            except FormatError as exc:
                out[i] = exc

    def prepared_wavelength(self, item) -> float | None:
        """The wavelength (Å) of ``item``'s rows after :meth:`prepare`: a Bragg step moves them."""
        from spectool.signal.ops import Context
        from spectool.signal.recipe import replay_steps

        if self._prepared(item):
            return item.wavelength
        ctx = Context(item.wavelength, item.laser_nm, item.kind)
        return replay_steps(self.recipe, item.axis, ctx, self.wavelength).context_after(ctx).wavelength

    def _prepared(self, item) -> bool:
        """Rows of a set already on the training axis; a raw scan on that grid still needs the recipe
        (its baseline and counts: ``train CIFs --like SCAN`` trains on the scan's own grid)."""
        return not item.is_scan and item.axis.same_as(self.axis)

    def _check_coverage(self, item, ctx) -> None:
        """Refuse a spectrum whose axis (after the replay's first Bragg conversion, if any) covers too
        little of the model's."""
        from spectool.signal.recipe import Recipe, replay_steps

        axis = item.axis
        steps = replay_steps(self.recipe, axis, ctx, self.wavelength).steps
        axis = Recipe(tuple(op for op in steps if op.name == "bragg")[:1]).axis_after(axis, ctx)
        covered = _coverage(axis, self.axis)
        if covered < self.min_coverage:
            raise FormatError(f"covers {covered:.0%} of the model's {self.axis.values[0]:g}–"
                              f"{self.axis.values[-1]:g} {self.axis.units} axis (at least "
                              f"{self.min_coverage:.0%} needed)", item.name)

    def _check_kind(self, item) -> None:
        """Refuse spectra of another kind, or on an axis the recipe does not bring to the model's quantity and units.

        The kind (xrd, ftir, raman, …) comes from the reader, which tells it by the axis (2θ, cm⁻¹, a Raman
        shift, …): an XRD scan before an IR model, or the reverse, is refused in one line that names both
        axes. A raw axis the model's own recipe converts (µm → cm⁻¹, absolute wavenumbers → Raman shift) passes.
        An ``index`` axis (an embedding's features, an array without its sidecar) is a quantity like any
        other: its values are positions, not degrees, and resampling them as 2θ would answer confidently
        about nothing.
        """
        if item.kind != self.kind:
            what = "a neutron or other non-X-ray" if item.kind == "other" else f"a {item.kind}"
            raise FormatError(f"is {what} spectrum on {_axis_words(item.axis)}, but the model was trained on "
                              f"{self.kind} spectra on {_axis_words(self.axis)}", item.name)
        have, need = self._recipe_axis(item), self.axis
        if have.quantity != need.quantity:
            raise FormatError(f"is on {_axis_words(have)}; the model needs {_axis_words(need)}", item.name)
        if have.units != need.units:
            raise FormatError(f"has its {have.quantity} axis in {have.units or 'no units'}; the model needs "
                              f"{need.units}", item.name)

    def _recipe_axis(self, item) -> Axis:
        """The item's axis, or where the stored recipe's axis conversions take it when its quantity or
        units are not the model's (a conversion that cannot run is the item's FormatError)."""
        from spectool.signal.ops import AxisConversionError, Context

        axis = item.axis
        if (axis.quantity, axis.units) == (self.axis.quantity, self.axis.units) or not item.is_scan:
            return axis
        try:
            return self.recipe.axis_after(axis, Context(item.wavelength, item.laser_nm, item.kind))
        except AxisConversionError as exc:
            raise FormatError(str(exc), item.name) from None

    def predict(self, X: np.ndarray, batch_size: int = 256) -> Prediction:
        """Scores for X (B, L) on the training axis, ``batch_size`` patterns a network pass (a row's
        lattice-search variants count each)."""
        if getattr(self.ckpt.model, "output_kind", "logits") == "reliability":
            return self._union(X)
        rows = max(1, batch_size // (1 if self.variants is None else len(self.variants[0])))
        parts = [self._searched(X[i:i + rows]) for i in range(0, len(X), rows)]
        probs = np.concatenate([p for p, _ in parts])
        r, similarity = reliability(X, probs, self.means, np.concatenate([top for _, top in parts]))
        return Prediction(probs, r, similarity, r < self.threshold)

    def _searched(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (B, C), top-class probability (B,)) of X (B, L). With a lattice search each class
        has its largest probability over the variants, renormalised (its profile over cell and zero, as
        the fit lets each candidate's cell move), and the top-class probability is the largest of one
        pass (the variant the network is surest of), as a plain pass gives the reliability it was
        calibrated on."""
        if self.variants is None:
            probs = self._run(X)
            return probs, probs.max(axis=1)
        left, right, weights = self.variants
        X = np.asarray(X, np.float32)
        moved = X[:, left] * weights[0] + X[:, right] * weights[1]  # (B, V, L)
        probs = self._run(moved.reshape(-1, X.shape[1])).reshape(len(X), len(left), -1).max(axis=1)  # (B, C)
        return probs / probs.sum(axis=1, keepdims=True), probs.max(axis=1)

    def _run(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.ckpt.model(self._tensor(X))
            return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def _tensor(self, X: np.ndarray):
        import torch

        return torch.as_tensor(np.ascontiguousarray(X, np.float32), device=self.device)

    def _union(self, X: np.ndarray) -> Prediction:
        """The union's own decision: R per proposal, S of the winner (CrySTINet)."""
        import torch

        with torch.inference_mode():
            p = self.ckpt.model.proposals(self._tensor(X))
        proposed, r, s = (p[k].cpu().numpy() for k in ("proposed", "reliability", "similarity"))
        scores = np.zeros((len(X), len(self.labels)), np.float32)
        for m in range(proposed.shape[1]):
            rows = np.arange(len(X))
            scores[rows, proposed[:, m]] = np.maximum(scores[rows, proposed[:, m]], r[:, m])
        winner = r.argmax(axis=1)
        best = r[np.arange(len(X)), winner]
        return Prediction(scores, best.astype(np.float32), s[np.arange(len(X)), winner], best < self.threshold,
                          score_kind="reliability")


def lattice_variants(two_theta: np.ndarray, scales, shifts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation that moves a pattern on ``two_theta`` (L,) degrees to each of the V =
    scales × shifts pairs (f, z): (left neighbours (V, L), right neighbours (V, L), weights (2, V, L)
    of the left and the right one). Variant (f, z) at 2θ reads the pattern at 2θ' − z with
    sin θ' = f sin θ: every d-spacing multiplied by f, the zero moved by z. Beyond the axis it reads 0
    (both weights 0)."""
    x = np.asarray(two_theta, np.float64)
    sin = np.sin(np.radians(x / 2))
    src = np.stack([2 * np.degrees(np.arcsin(np.clip(sin * f, 0.0, 1.0))) - z for f in scales for z in shifts])
    right = np.clip(np.searchsorted(x, src), 1, len(x) - 1)
    w = np.clip((src - x[right - 1]) / (x[right] - x[right - 1]), 0.0, 1.0)
    inside = (src >= x[0]) & (src <= x[-1])
    return right - 1, right, np.stack([np.where(inside, 1 - w, 0.0), np.where(inside, w, 0.0)]).astype(np.float32)


def reliability(X: np.ndarray, probs: np.ndarray, means: np.ndarray | None, top: np.ndarray | None = None):
    """(R (B,), S (B,) or None): R = α·S + (1 − α)·P with S the cosine of each row X (B, L) to the mean
    pattern (C, L) of its predicted class and P that class's probability (``top`` (B,) where given: a
    lattice search's); R = P without means."""
    p = probs.max(axis=1) if top is None else np.asarray(top)
    if means is None:
        return p.astype(np.float32), None
    s = _cosine(X, means[probs.argmax(axis=1)])
    return (ALPHA * s + (1 - ALPHA) * p).astype(np.float32), s


def calibrated_threshold(r: np.ndarray, correct: np.ndarray, quantile: float = 0.05) -> float | None:
    """The reliability below which only ``quantile`` of correctly named held-out spectra fall."""
    return float(np.quantile(r[correct], quantile)) if np.any(correct) else None


def _batch_key(item) -> tuple:
    """What must be equal for items to be prepared as one batch."""
    axis = item.axis
    return (item.is_scan, item.kind, item.wavelength, item.laser_nm, axis.quantity, axis.units, len(axis),
            np.ascontiguousarray(axis.values).tobytes())


def _class_means(tensors: dict) -> np.ndarray | None:
    for name in ("class_means", "means"):
        if name in tensors:
            return np.asarray(tensors[name].float().numpy() if hasattr(tensors[name], "numpy") else tensors[name],
                              np.float32)
    return None


def _axis_words(axis: Axis) -> str:
    """``an index axis (0–127: an embedding, or an array without its .json sidecar)`` or ``a two_theta axis in deg``."""
    if axis.quantity == "index":
        return (f"an index axis ({axis.values[0]:g}–{axis.values[-1]:g}: features of an embedding, or an array "
                "without its .json sidecar)")
    return f"a {axis.quantity} axis in {axis.units}"


def _coverage(axis: Axis, target: Axis) -> float:
    v = target.values
    return float(np.mean((v >= axis.values.min()) & (v <= axis.values.max())))


def _cosine(X: np.ndarray, M: np.ndarray) -> np.ndarray:
    num = np.einsum("ij,ij->i", X, M)
    den = np.linalg.norm(X, axis=1) * np.linalg.norm(M, axis=1)
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0).astype(np.float32)
