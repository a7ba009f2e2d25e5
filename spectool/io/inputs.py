"""Turning INPUT arguments (files, folders, globs, ``-``, lists of paths) into paths."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import IO, Iterable

from spectool.errors import FormatError
from spectool.io.readers.base import NUMBERED, suffix_of

GLOB_CHARS = set("*?[")


def expand_inputs(specs: Iterable[str], suffixes: Iterable[str] | None = None) -> list[tuple[str, str | None]]:
    """Each input as ``(path, problem)``; ``problem`` is None for a usable path.

    Folders are walked recursively for files whose suffix is in ``suffixes`` (all files
    if None), sorted; globs are expanded (sorted); ``-`` passes through. A missing path
    or an empty glob is kept with its problem, so a batch can name it and go on.
    """
    wanted = None if suffixes is None else {s.lower() for s in suffixes}
    out: list[tuple[str, str | None]] = []
    for spec in specs:
        if spec == "-":
            out.append((spec, None))
        elif Path(spec).is_dir():
            found = [str(p) for p in sorted(Path(spec).rglob("*")) if p.is_file() and _wanted(p, wanted)]
            out.extend((p, None) for p in found) if found else out.append((spec, "folder holds no known files"))
        elif Path(spec).exists():
            out.append((spec, None))
        elif GLOB_CHARS & set(spec):
            matches = sorted(glob.glob(spec, recursive=True))
            out.extend((m, None) for m in matches) if matches else out.append((spec, "no file matches"))
        else:
            out.append((spec, "no such file"))
    return out


def _wanted(path: Path, suffixes: set[str] | None) -> bool:
    if path.name.startswith("."):
        return False
    if suffixes is None:
        return True
    name = path.name.lower()
    if any(name.endswith(s) for s in suffixes):
        return True
    return NUMBERED in suffixes and suffix_of(name) == NUMBERED and _numbered_scan(path)


def _numbered_scan(path: Path) -> bool:
    """Whether a file with a numeric suffix (``sample.0``) starts the way a reader registered for such
    names recognises (Bruker OPUS): a folder walk passes over ``run.log.1`` and other numbered files."""
    from spectool.io.readers import claims_numbered

    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return True  # unreadable: read_scans says so in its one line
    return claims_numbered(head, path.name)


def read_path_list(stream: IO[bytes], name: str = "<stdin>") -> list[str]:
    """Paths one per line (``find … | spectool simulate --from-list -``); blank lines and # skipped."""
    try:
        text = stream.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"list of paths is not UTF-8 text ({exc.reason})", name) from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def raise_problem(path: str, problem: str | None) -> None:
    if problem:
        raise FormatError(problem, path)
