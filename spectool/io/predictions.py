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

    def __init__(self, output_dir: Path, inputs: list[str], suffix: str = ".json"):
        self.output_dir, self.suffix = output_dir, suffix  # predict --png: the same names + .png
        self.base = common_folder(inputs)
        self.claimed: dict[Path, str] = {}

    def path_of(self, path: str, row: str | None = None) -> Path:
        """The result file of ``path`` (a scan, or row ``row`` of a set), without claiming it."""
        rel = _below(path, self.base)
        name = rel.name if row is None else f"{rel.name}#{row.replace(os.sep, '_')}"
        return self.output_dir / rel.parent / f"{name}{self.suffix}"

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


#: Columns a verified prediction adds to the table and TSV.
FIT_COLUMNS = ["fit_score", "rwp", "explained", "cell", "shift", "phases"]
#: The column a verifier with a calibrated confidence adds after them (the answer's row only).
CONFIDENCE_COLUMN = "confidence"


def verified_record(record: dict, verdict, label_info: dict | None = None) -> dict:
    """``record`` (from :func:`result_record`) with the fit's outcome: candidates re-ranked by the
    combined score, each with its fit; the phases found with weight fractions; unknown or not.

    ``verdict``: a :class:`~spectool.fit.verify.Verdict`, or the error that kept the scan from being
    fitted (then the network's answer stands, marked ``verified: false``). ``label`` is the first
    phase found (the one that explains the scan best on its own; with ``--phases 1`` the top candidate),
    or ``unknown``; ``confidence`` the probability that the top candidate is right where the verifier has a
    calibrated model (:mod:`spectool.fit.confidence`), else None.
    """
    if isinstance(verdict, Exception):
        return {**record, "verified": False, "label": record["top"][0]["label"], "note": verdict.message}
    network = {e["label"]: e for e in record["top"]}
    top = []
    for rank, cand in enumerate(verdict.candidates, start=1):
        entry = {**network.get(cand.label, {"label": cand.label, "score": cand.probability,
                                            **(label_info or {}).get(cand.label, {})}),
                 "rank": rank, "fit_score": cand.score}
        if cand.fit is not None:
            entry.update(_fit_fields(cand.fit, cand.fit.phases[0]))
        top.append(entry)
    phases = verdict.phases
    out = {**record, "top": top, "verified": phases is not None, "unknown": bool(verdict.unknown),
           "confidence": verdict.confidence,
           "label": "unknown" if verdict.unknown or not top else (verdict.labels or [top[0]["label"]])[0]}
    if phases is not None:
        out.update(rwp=phases.rwp, explained=phases.explained, zero=phases.zero, displacement=phases.displacement,
                   phases=[_phase_fields(label, p, ev) for label, p, ev in
                           zip(verdict.labels, phases.phases, verdict.evidence or [None] * len(verdict.labels))])
    return out


def _fit_fields(fit, phase) -> dict:
    return {"rwp": fit.rwp, "explained": fit.explained, "cell": _cell(phase),
            "zero": fit.zero, "displacement": fit.displacement, "reference": phase.name,
            "formula": phase.reference.formula if phase.reference is not None else None,
            "converged": fit.converged, **_texture_fields(phase)}


def _cell(phase) -> list[float]:
    """A fitted phase's cell as a user reads it (a turbostratic stack's basal spacing for its c)."""
    reported = getattr(phase.reference, "reported_cell", None)
    return [round(float(v), 5) for v in (reported(phase.cell) if reported else phase.cell)]


def _texture_fields(phase) -> dict:
    """The refined preferred orientation, if any: the direction (h, k, l) of the planes' normal and March's r."""
    if phase.texture is None:
        return {}
    direction, r = phase.texture
    return {"texture": {"direction": [int(i) for i in direction], "march_r": round(float(r), 4)}}


def _phase_fields(label: str, phase, evidence) -> dict:
    out = {"label": label, "reference": phase.name, "weight_fraction": phase.weight_fraction,
           "scale": phase.scale, "share": phase.share, "cell": _cell(phase),
           "fwhm": phase.fwhm, "eta": phase.eta,
           "formula": phase.reference.formula if phase.reference is not None else None, **_texture_fields(phase)}
    if phase.shift is not None:  # a measured reference: its own 2θ shift
        out["shift"] = phase.shift
    if evidence is not None:
        out.update(matched=evidence.matched, missing=evidence.missing, unexplained=evidence.unexplained)
    return out


def verified_table_rows(record: dict, info_fields: list[str]) -> Iterator[dict]:
    """:func:`table_rows` plus the fit's columns; the first row names the phases found (wt %)."""
    phases = ", ".join(f"{p['label']} {100 * p['weight_fraction']:.0f}%" for p in record.get("phases", []))
    if record.get("unknown"):
        phases = "unknown" + (f" (best: {phases})" if phases else "")
    for row, entry in zip(table_rows(record, info_fields), record["top"]):
        cell = entry.get("cell")
        yield {**row, "fit_score": entry.get("fit_score"), "rwp": entry.get("rwp"),
               "explained": entry.get("explained"),
               "cell": " ".join(f"{v:.4g}" for v in _distinct_cell(cell)) if cell else None,
               "shift": entry.get("zero"), "phases": phases if entry["rank"] == 1 else None,
               CONFIDENCE_COLUMN: record.get("confidence") if entry["rank"] == 1 else None}


def _distinct_cell(cell: list[float]) -> list[float]:
    """a, b, c and the angles that are not 90° (a compact cell for the table)."""
    return cell[:3] + [v for v in cell[3:] if abs(v - 90) > 1e-3]
