"""Writing predictions: result rows, per-scan result files for folders, a folder lock."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from spectool.errors import SpectoolError
from spectool.io.results import to_jsonable

SCHEMA = "spectool.predict/1"
LOCK_NAME = ".spectool-predict.lock"


def result_record(name: str, labels: list[str], indices, scores, reliability: float, similarity, ood: bool,
                  score_kind: str, label_info: dict | None = None) -> dict:
    """One spectrum's result as a JSON-able dict (the ``--json`` line and the per-scan file)."""
    top = []
    for rank, (k, score) in enumerate(zip(indices, scores), start=1):
        entry = {"rank": rank, "label": labels[int(k)], "score": float(score)}
        entry.update((label_info or {}).get(labels[int(k)], {}))
        top.append(entry)
    return {"schema": SCHEMA, "path": name, "score_kind": score_kind, "top": top,
            "reliability": float(reliability), "similarity": None if similarity is None else float(similarity),
            "ood": bool(ood)}


def table_rows(record: dict, info_fields: list[str]) -> Iterator[dict]:
    """One row per rank, for the table and TSV."""
    for entry in record["top"]:
        yield {"path": record["path"], "rank": entry["rank"], "label": entry["label"],
               record["score_kind"]: entry["score"], "reliability": record["reliability"],
               "ood": "yes" if record["ood"] else "no", **{f: entry.get(f) for f in info_fields}}


def result_path(output_dir: Path, source: str, root: str | None) -> Path:
    """Where a scan's result goes: its path below ``root`` mirrored into ``output_dir``, + .json."""
    src = Path(source.split("#")[0])
    rel = src.relative_to(root) if root and src.is_relative_to(root) else Path(src.name)
    suffix = "#" + source.split("#", 1)[1] if "#" in source else ""
    return output_dir / rel.parent / f"{rel.name}{suffix}.json"


def write_result_file(path: Path, record: dict) -> None:
    """Atomically (temp file beside it, then rename)."""
    from spectool.io.stdio import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(record), ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def folder_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory`` so two runs (cron overlapping itself) never collide."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpectoolError("another spectool predict is writing here (lock held); try again later",
                                directory) from None
        yield
    finally:
        os.close(fd)
