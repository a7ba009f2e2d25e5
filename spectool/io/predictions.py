"""Writing predictions: result rows, per-scan result files for folders, a folder lock."""

from __future__ import annotations

import json
import os
import re
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


class ResultNames:
    """Where each result goes in an ``--output-dir``: unique per input path and the same on every run.

    A result mirrors its source's path below the deepest folder holding every INPUT argument (the
    command line, not the files found in it), + ``.json``: ``predict scans/`` writes ``S.xy.json``,
    ``predict a/ b/`` writes ``a/S.xy.json`` and ``b/S.xy.json``. Set rows add ``#ID``. A second
    result for a name already written in this run (a set's repeated id) is refused, never overwritten.
    """

    def __init__(self, output_dir: Path, inputs: list[str]):
        self.output_dir = output_dir
        self.base = common_folder(inputs)
        self.claimed: dict[Path, str] = {}

    def path_of(self, path: str, row: str | None = None) -> Path:
        """The result file of ``path`` (a scan, or row ``row`` of a set), without claiming it."""
        rel = _below(path, self.base)
        name = rel.name if row is None else f"{rel.name}#{row.replace(os.sep, '_')}"
        return self.output_dir / rel.parent / f"{name}.json"

    def target(self, path: str, row: str | None = None) -> Path:
        """The result file of ``path`` (a scan, or row ``row`` of a set); raises if another source has it."""
        source = path if row is None else f"{path}#{row}"
        target = self.path_of(path, row)
        if target in self.claimed:  # a set's repeated id, or one file given twice
            raise SpectoolError(f"{target} already holds the result of {self.claimed[target]} from this run "
                                "(a set's rows need distinct ids); not overwritten", source)
        self.claimed[target] = source
        return target


def common_folder(inputs: list[str]) -> str:
    """The deepest folder holding every input: a folder itself, a file's parent, a glob's fixed part."""
    folders = [_folder_of(spec) for spec in inputs if spec != "-"]
    return os.path.commonpath(folders) if folders else os.getcwd()


def _folder_of(spec: str) -> str:
    fixed = re.split(r"[*?\[]", spec, maxsplit=1)[0]
    if fixed != spec:  # a glob: the folder its fixed part names
        return os.path.abspath(fixed if fixed.endswith(os.sep) else os.path.dirname(fixed) or ".")
    if spec.endswith(os.sep) or os.path.isdir(spec):
        return os.path.abspath(spec)
    return os.path.dirname(os.path.abspath(spec))


def _below(path: str, base: str) -> Path:
    """``path`` relative to ``base``; just its name where it is not below it (stdin)."""
    full = os.path.abspath(path)
    if path != "-" and os.path.commonpath([full, base]) == base:
        return Path(os.path.relpath(full, base))
    return Path(Path(path).name or path)


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
