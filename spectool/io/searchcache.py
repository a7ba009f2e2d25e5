"""The search index's norms kept between runs: one small safetensors file per index key.

Building :class:`~spectool.fit.search.SearchIndex` over a checkpoint's 3,333 references renders every
reference at 21 cell scales to get the norms of its broad-peak patterns (R, F) float32 (280 KB): most of
a fresh ``predict``'s start-up. They depend only on what :func:`~spectool.fit.search.index_key`
digests, so they are cached under that key in ``$SPECTOOL_CACHE_DIR`` (``off`` or empty: no cache),
else ``$XDG_CACHE_HOME/spectool``, else ``~/.cache/spectool``. Writes are atomic; a cache that cannot
be read or written is ignored (the index is built as without one).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spectool.errors import SpectoolError

ENV = "SPECTOOL_CACHE_DIR"


def cache_folder() -> Path | None:
    """Where cached files go, or None when ``$SPECTOOL_CACHE_DIR`` turns the cache off."""
    if ENV in os.environ:
        value = os.environ[ENV].strip()
        return None if value in ("", "off") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spectool"


class SearchCache:
    """``load(key)`` / ``save(key, norms)`` of search-index norms in ``folder`` (default :func:`cache_folder`)."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder

    @classmethod
    def default(cls) -> "SearchCache | None":
        folder = cache_folder()
        return cls(folder) if folder is not None else None

    def path(self, key: str) -> Path:
        return self.folder / f"search-{key}.safetensors"

    def load(self, key: str) -> np.ndarray | None:
        """The norms stored under ``key``, or None (absent, unreadable, or not what was stored)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            norms = load_file(str(self.path(key))).get("norm")
        except (OSError, SafetensorError):  # missing, truncated or foreign: rebuilt
            return None
        return norms if norms is not None and norms.ndim == 2 else None

    def save(self, key: str, norms: np.ndarray) -> None:
        """Store ``norms`` under ``key`` atomically; a folder that cannot be written is left alone."""
        from safetensors.numpy import save_file

        from spectool.io.stdio import atomic_path

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path(key), mode=0o644) as tmp:
                save_file({"norm": np.ascontiguousarray(norms, np.float32)}, str(tmp))
        except (OSError, SpectoolError):
            pass
