"""Building a preprocess recipe from the command line's pieces."""

from __future__ import annotations

from spectool.errors import UsageError
from spectool.spectra import Axis
from spectool.signal.recipe import Recipe


def parse_grid(text: str) -> tuple[float, float, float]:
    """``"5:90:0.02"`` → (5.0, 90.0, 0.02)."""
    try:
        start, stop, step = (float(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"--grid must be START:STOP:STEP, got {text!r}") from None
    if not (stop > start and step > 0):
        raise UsageError(f"--grid {text}: need START < STOP and STEP > 0")
    return start, stop, step


def build_recipe(steps: list[str], base: Recipe | None, grid: str | None, like: Axis | None) -> Recipe:
    """Steps of ``base`` (a recipe file's), then ``--step``s, then a final resample from ``--grid``/``--like``."""
    from spectool.signal.ops import make_op
    from spectool.signal.preprocess import Resample

    if grid and like is not None:
        raise UsageError("give --grid or --like, not both")
    ops = list(base.steps if base else ()) + list(Recipe.parse(steps).steps)
    if grid:
        start, stop, step = parse_grid(grid)
        ops.append(make_op("resample", start=start, stop=stop, step=step))
    elif like is not None:
        ops.append(Resample.like(like))
    return Recipe(tuple(ops))
