"""Preprocess recipe files: ``preprocess --recipe FILE`` reads one, ``--save-recipe FILE`` writes one (JSON)."""

from __future__ import annotations

from pathlib import Path

from spectool.errors import UsageError
from spectool.io.stdio import atomic_path
from spectool.signal.recipe import Recipe


def read_recipe(path: str) -> Recipe:
    """The recipe in the JSON file at ``path``; :class:`UsageError` if it cannot be read."""
    try:
        return Recipe.from_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read recipe {path}: {exc.strerror}") from None


def write_recipe(path: str, recipe: Recipe) -> None:
    """``recipe`` as JSON at ``path``, atomically."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(recipe.dumps() + "\n")
