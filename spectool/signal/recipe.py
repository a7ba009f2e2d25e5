"""A recipe: the ordered preprocess steps, stored as JSON and replayed exactly.

JSON form (what ``/entry/history`` and a checkpoint's ``preprocess`` metadata hold)::

    {"format": "spectool-recipe/1",
     "steps": [{"op": "savgol", "window": 21, "order": 3},
               {"op": "resample", "start": 5.0, "stop": 90.0, "step": 0.02, ...}]}

``predict`` (and explain, embed) replay it through :meth:`spectool.learn.inference.Predictor.prepare`:
:meth:`Recipe.from_json`, then :meth:`Recipe.apply` on a scan's rows (after a Bragg step to the training
wavelength when the recipe has none of its own; before a resample onto the training axis and max
normalisation when the recipe does not end there): the same ops, in the same order, give the same array.
:meth:`Recipe.apply_scan` does the same for one Scan-like object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from spectool.errors import UsageError
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
    def from_json(cls, data: dict | list | str) -> "Recipe":
        """From :meth:`to_json`'s dict, its string, or a bare list of steps."""
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

    def apply_scan(self, scan, ctx: Context | None = None) -> tuple[np.ndarray, Axis]:
        """Run on one Scan-like object (``x``, ``y``, ``quantity``, ``units``, ``wavelength``,
        ``kind``, ``meta['laser_nm']``): returns y' (L',) float32 and its axis."""
        if ctx is None:
            meta = getattr(scan, "meta", {}) or {}
            ctx = Context(getattr(scan, "wavelength", None), meta.get("laser_nm"),
                          getattr(scan, "kind", "xrd"))
        axis = Axis(np.asarray(scan.x, np.float64), getattr(scan, "quantity", "index"),
                    getattr(scan, "units", ""))
        X, axis = self.apply(np.asarray(scan.y, np.float32)[None, :], axis, ctx)
        return X[0], axis

    def output_axis(self) -> np.ndarray | None:
        """The grid of the last resample step, if any (the axis every output will share)."""
        for op in reversed(self.steps):
            if op.name == "resample":
                return op.grid()
            if op.changes_axis:
                return None
        return None
