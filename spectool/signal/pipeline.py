"""Building a preprocess recipe from the command line's pieces."""

from __future__ import annotations

from pathlib import Path

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


def build_recipe(steps: list[str], recipe_file: str | None, grid: str | None, like: Axis | None) -> Recipe:
    """Steps from a recipe file, then ``--step``s, then a final resample from ``--grid``/``--like``."""
    from spectool.signal.ops import make_op
    from spectool.signal.preprocess import Resample

    if grid and like is not None:
        raise UsageError("give --grid or --like, not both")
    recipe = Recipe(())
    if recipe_file:
        try:
            recipe = Recipe.from_json(Path(recipe_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read recipe {recipe_file}: {exc.strerror}") from None
    ops = list(recipe.steps) + list(Recipe.parse(steps).steps)
    if grid:
        start, stop, step = parse_grid(grid)
        ops.append(make_op("resample", start=start, stop=stop, step=step))
    elif like is not None:
        ops.append(Resample.like(like))
    return Recipe(tuple(ops))
