"""Figures as files: the core draws a matplotlib ``Figure`` (Agg canvas, no pyplot), this writes it atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from spectool.io.stdio import atomic_path


def write_png(target: str | Path, figure) -> Path:
    """Write ``figure`` (a matplotlib ``Figure``) as the PNG ``target``, atomically; returns the path."""
    target = Path(target)
    with atomic_path(target, ".png") as tmp:
        figure.savefig(tmp, format="png")
    return target


def write_pngs(folder: str | Path, figures: Iterable[tuple[str, object]]) -> list[Path]:
    """Write each (file name, figure) into ``folder`` (which exists) as :func:`write_png`; returns the paths.

    ``figures`` may be a generator: each figure is written before the next is drawn.
    """
    return [write_png(Path(folder) / name, figure) for name, figure in figures]
