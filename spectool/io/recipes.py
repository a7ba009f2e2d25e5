"""Preprocess recipe files: ``preprocess --recipe FILE|NAME`` reads one (or takes a named one:
``ftir``, ``raman``), ``--save-recipe FILE`` writes one (JSON)."""

from __future__ import annotations

from pathlib import Path

from spectool.errors import UsageError
from spectool.io.stdio import atomic_path
from spectool.signal.recipe import NAMED_RECIPES, Recipe, named_recipe


def read_recipe(path: str) -> Recipe:
    """The recipe in the JSON file at ``path``, or the named recipe ``path`` (``ftir``, ``raman``) when no
    such file exists; :class:`UsageError` if it cannot be read."""
    if path in NAMED_RECIPES and not Path(path).exists():
        return named_recipe(path)
    try:
        return Recipe.from_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read recipe {path}: {exc.strerror} (named recipes: "
                         f"{', '.join(sorted(NAMED_RECIPES))})") from None


def write_recipe(path: str, recipe: Recipe) -> None:
    """``recipe`` as JSON at ``path``, atomically."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(recipe.dumps() + "\n")
