"""A recipe: the ordered preprocess steps, stored as JSON and replayed exactly.

JSON form (what ``/entry/history`` and a checkpoint's ``preprocess`` metadata hold)::

    {"format": "spectool-recipe/1",
     "steps": [{"op": "savgol", "window": 21, "order": 3},
               {"op": "resample", "start": 5.0, "stop": 90.0, "step": 0.02, ...}]}

This module owns what a model replays. :func:`training_recipe` is the recipe ``train`` records whole
in the checkpoint (the set's preprocess history, then ``--scan-step`` ones); :func:`replay_recipe` is
the complete recipe predict, explain, embed and the verifier apply to raw rows, from that stored recipe
and the model's axis and wavelength: a Bragg step to the training wavelength when the recipe has none
of its own, the stored steps, then a resample onto the training axis and max normalisation when the
steps do not end there. The same ops, in the same order, give the same array: :meth:`Recipe.apply`
is the one way rows go through a recipe (a scan is one row of a ``Spectra``, read in io/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from spectool.errors import FormatError, UsageError
from spectool.spectra import Axis
from spectool.signal.ops import Context, Op, op_from_json, parse_step

RECIPE_FORMAT = "spectool-recipe/1"


@dataclass(frozen=True)
class Recipe:
    """An ordered tuple of preprocess ops."""

    steps: tuple[Op, ...] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(self.steps))
        for op in self.steps:
            if op.stage != "preprocess":
                raise UsageError(f"{op.name} is an augment operation, not a preprocess step")

    def __len__(self) -> int:
        return len(self.steps)

    @classmethod
    def parse(cls, specs: list[str]) -> "Recipe":
        """From ``name:key=value,…`` strings (see :func:`spectool.signal.ops.parse_step`)."""
        return cls(tuple(parse_step(s) for s in specs))

    def to_json(self) -> dict:
        return {"format": RECIPE_FORMAT, "steps": [op.to_json() for op in self.steps]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict | list | str | None) -> "Recipe":
        """From :meth:`to_json`'s dict, its string, a bare list of steps, or None (no steps)."""
        if data is None:
            return cls()
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise UsageError(f"recipe is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            if data.get("format", RECIPE_FORMAT) != RECIPE_FORMAT:
                raise UsageError(f"unknown recipe format {data.get('format')!r}")
            data = data.get("steps", [])
        if not isinstance(data, list):
            raise UsageError("a recipe is a list of steps")
        return cls(tuple(op_from_json(step) for step in data))

    def apply(self, X: np.ndarray, axis: Axis, ctx: Context | None = None) -> tuple[np.ndarray, Axis]:
        """Run every step on (N, L) rows sharing ``axis``; returns float32 (N, L') and the axis."""
        ctx = ctx or Context()
        X = np.ascontiguousarray(X, dtype=np.float32)
        for op in self.steps:
            X, axis = op.apply(X, axis, ctx)
            ctx = op.context_after(ctx)
        return X, axis

    def context_after(self, ctx: Context) -> Context:
        """The context after every step: a ``bragg`` step leaves the rows at its wavelength."""
        for op in self.steps:
            ctx = op.context_after(ctx)
        return ctx

    def axis_after(self, axis: Axis, ctx: Context | None = None) -> Axis:
        """The axis rows on ``axis`` end on: only the axis-changing steps run, on one row of zeros."""
        ctx = ctx or Context()
        row = np.zeros((1, len(axis)), np.float32)
        for op in self.steps:
            if op.changes_axis:
                row, axis = op.apply(row, axis, ctx)
            ctx = op.context_after(ctx)
        return axis

    def output_axis(self) -> np.ndarray | None:
        """The grid of the last resample step, if any (the axis every output will share)."""
        for op in reversed(self.steps):
            if op.name == "resample":
                return op.grid()
            if op.changes_axis:
                return None
        return None


#: Recipes shipped by name (``preprocess --recipe ftir``), as ``--step`` strings.
#: ftir (PAPERS.md A): transmittance (0–1 or %) → absorbance, rows already in absorbance kept; a
#: wavelength axis (nm, µm) → wavenumber; 700–3500 cm⁻¹ on a 2 cm⁻¹ grid (1401 points, about the
#: resolution of bench FTIR); scaled to 0–1.
#: raman: absolute wavenumbers (or nm) → Raman shift with the scan's laser line, shifts kept; cosmic-ray
#: spikes out on the native grid; 100–1800 cm⁻¹ (lattice modes to C=O, what mineral databases cover);
#: arPLS baseline; a 1 cm⁻¹ grid (1701 points); 0–1.
NAMED_RECIPES: dict[str, tuple[str, ...]] = {
    "ftir": ("absorbance:source=auto", "wavenumber", "crop:start=700,stop=3500",
             "resample:start=700,stop=3500,step=2", "normalize:method=minmax"),
    "raman": ("raman_shift", "despike", "crop:start=100,stop=1800", "baseline:method=arpls",
              "resample:start=100,stop=1800,step=1", "normalize:method=minmax"),
}


def named_recipe(name: str) -> Recipe:
    """The shipped recipe ``name`` (a key of :data:`NAMED_RECIPES`); UsageError for another name."""
    if name not in NAMED_RECIPES:
        raise UsageError(f"no recipe named {name!r} (named recipes: {', '.join(sorted(NAMED_RECIPES))})")
    return Recipe.parse(list(NAMED_RECIPES[name]))


def history_steps(history: list[dict]) -> list[dict]:
    """The preprocess steps recorded in a set's history (``/entry/history`` records), oldest first."""
    steps: list[dict] = []
    for record in history:
        if record.get("command") == "preprocess":
            steps += record.get("params", {}).get("recipe", {}).get("steps", [])
    return steps


def training_recipe(history: list[dict], extra: list[str] | None = None, source: str | None = None) -> Recipe:
    """What ``train`` records for predict to replay: the set's own preprocess steps, then ``extra``
    (``--scan-step`` strings). A recorded step that no longer parses is a FormatError of ``source``."""
    try:
        recorded = Recipe.from_json(history_steps(history))
    except UsageError as exc:
        raise FormatError(f"its history holds a preprocess step predict could not replay ({exc})", source) from None
    return Recipe(recorded.steps + Recipe.parse(extra or []).steps)


def replay_steps(stored: Recipe, axis: Axis, ctx: Context, wavelength: float | None) -> Recipe:
    """The stored recipe, after a Bragg step to the training ``wavelength`` (Å) when rows on the 2θ
    ``axis`` come at another one (ctx's, beyond 1e-4 Å) and the recipe has no Bragg step of its own."""
    from spectool.signal.preprocess import Bragg

    has_own = any(op.name == "bragg" for op in stored.steps)
    differs = ctx.wavelength and wavelength and abs(ctx.wavelength - wavelength) > 1e-4
    if axis.quantity == "two_theta" and differs and not has_own:
        return Recipe((Bragg(to_wavelength=float(wavelength)),) + stored.steps)
    return stored


def replay_recipe(stored: Recipe, axis: Axis, ctx: Context, target: Axis, wavelength: float | None) -> Recipe:
    """The complete recipe a model applies to raw rows on ``axis`` (context ``ctx``): :func:`replay_steps`,
    then a resample onto the model's ``target`` axis and max normalisation unless those steps end on it."""
    from spectool.signal.preprocess import Normalize, Resample

    recipe = replay_steps(stored, axis, ctx, wavelength)
    if recipe.axis_after(axis, ctx).same_as(target):
        return recipe
    return Recipe(recipe.steps + (Resample.like(target), Normalize(method="max")))
