"""``spectool info``: what a set or a scan holds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Iterable, Iterator

import numpy as np
import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, InputsArg, JsonOpt, command
from spectool.env import Env
from spectool.io.inputs import expand_inputs, raise_problem
from spectool.io.results import write_rows

COLUMNS = ["path", "type", "format", "kind", "n", "points", "start", "stop", "step", "quantity",
           "units", "wavelength", "classes", "params"]
OPTIONAL = ["units", "quantity", "step", "format", "kind", "params", "classes", "wavelength"]  # given up first
HISTORY_COLUMNS = ["path", "step", "command", "spectool", "params"]


@command(app, "info")
def info(
    env: Env,
    inputs: InputsArg,
    json: JsonOpt = False,
    labels: Annotated[bool, typer.Option("--labels", help="List each set's labels with counts.")] = False,
    history: Annotated[bool, typer.Option("--history", help="List each set's history records.")] = False,
) -> None:
    """Describe spectra sets (N, L, axis, kind, labels, history), scans (format, points, range, wavelength) and checkpoints.

    A table on a terminal, TSV when piped, JSON Lines with --json (every field, history included).
    """
    batch = Batch(env)
    rows = _rows(inputs, env, batch)
    if labels:
        write_rows(env, _label_rows(rows), ["path", "label", "count"])
    elif history:
        write_rows(env, _history_rows(rows), HISTORY_COLUMNS, optional=["spectool"])
    else:
        write_rows(env, rows, COLUMNS, optional=OPTIONAL)
    batch.finish()


def _rows(inputs: list[str], env: Env, batch: Batch) -> Iterator[dict]:
    for path, problem in expand_inputs(inputs, known_suffixes()):
        rows: list[dict] = []
        with batch.item(path):
            raise_problem(path, problem)
            rows = describe(path, env)
        yield from rows


def known_suffixes() -> set[str]:
    """What a folder is searched for: scans, sets and checkpoints."""
    from spectool.io.readers import SCAN_SUFFIXES
    from spectool.io.sets import INPUT_SET_SUFFIXES

    return set(SCAN_SUFFIXES) | INPUT_SET_SUFFIXES | {".safetensors"}


def describe(path: str, env: Env) -> list[dict]:
    """Rows describing the set or the scans at ``path``."""
    from spectool.io.sets import is_set_path

    if path.endswith(".safetensors"):
        return [describe_checkpoint(path)]
    return [describe_set(path, env)] if is_set_path(path) else describe_scans(path)


def describe_checkpoint(path: str) -> dict:
    """A checkpoint's header (standard library only): model, classes, axis, recipe, metrics, the
    structure-type library it was trained on (sources, licences, citations) where it says, and what predict's
    verification has: how many references, the calibrated unknown threshold and confidence model."""
    from spectool.io.checkpoint import read_header
    from spectool.io.like import checkpoint_axis

    header = read_header(path)
    values = checkpoint_axis(path).values
    meta, info = header.meta, header.meta.get("input") or {}
    train = meta.get("train") or {}
    steps = [s.get("op") for s in (meta.get("preprocess") or {}).get("steps", [])] \
        if isinstance(meta.get("preprocess"), dict) else [s.get("op") for s in meta.get("preprocess") or []]
    return {**_axis_fields(values, _step(values)), "path": path, "type": "model", "format": meta["model"]["name"],
            "kind": info.get("kind"),
            "params": header.n_parameters,
            "quantity": info.get("quantity"), "units": info.get("units"), "wavelength": info.get("wavelength"),
            "classes": len(meta["labels"]), "recipe": steps, "val": train.get("val"), "test": train.get("test"),
            "best_epoch": train.get("best_epoch"), "train_seconds": train.get("time_s"),
            "spectool": meta.get("spectool.version"), "model": meta["model"],
            **({"library": meta["library"]} if meta.get("library") else {}), **_verification_fields(meta)}


def _verification_fields(meta: dict) -> dict:
    """references (how many), unknown_threshold and confidence of a checkpoint with references; {} without."""
    refs = meta.get("references") or {}
    if not refs:
        return {}
    return {"references": len(refs.get("entries", [])), "unknown_threshold": refs.get("unknown_threshold"),
            "confidence": refs.get("confidence")}


def describe_set(path: str, env: Env) -> dict:
    from spectool.io.sets import open_set

    with open_set(path, env) as reader:
        meta = reader.meta
        counts = Counter()
        for chunk in reader.iter_chunks(rows=8192, peaks=False):
            counts.update(chunk.y.tolist())
    names = meta.label_names
    label_counts = {(names[k] if 0 <= k < len(names) else "<unlabelled>"): v for k, v in sorted(counts.items())}
    fmt = "npy" if Path(path).suffix.lower() in (".npy", ".npz") else "hdf5"
    return {**_axis_fields(meta.axis.values, meta.axis.step), "path": path, "type": "set", "format": fmt,
            "kind": meta.kind, "n": meta.n, "quantity": meta.axis.quantity, "units": meta.axis.units,
            "wavelength": meta.wavelength, "radiation": meta.radiation, "classes": len(names),
            "labels": label_counts, "columns": meta.columns, "peaks": meta.has_peaks,
            "history": meta.history}


def describe_scans(path: str) -> list[dict]:
    from spectool.io.readers import read_scans

    rows = []
    for scan in read_scans(path):
        rows.append({**_axis_fields(scan.x, _step(scan.x)), "path": path, "type": "scan", "format": scan.format,
                     "kind": scan.kind, "n": 1, "quantity": scan.quantity, "units": scan.units,
                     "wavelength": scan.wavelength, "radiation": scan.radiation,
                     "sigma": scan.sigma is not None, "meta": scan.meta})
    return rows


def _step(x: np.ndarray) -> float | None:
    diffs = np.diff(x)
    return float(diffs.mean()) if np.allclose(diffs, diffs.mean(), rtol=1e-3) else None


def _axis_fields(values: np.ndarray, step: float | None) -> dict:
    return {"points": len(values), "start": float(values[0]), "stop": float(values[-1]), "step": step}


def _label_rows(rows: Iterable[dict]) -> Iterator[dict]:
    return ({"path": r["path"], "label": k, "count": v} for r in rows for k, v in r.get("labels", {}).items())


def _history_rows(rows: Iterable[dict]) -> Iterator[dict]:
    return ({"path": r["path"], "step": i + 1, "command": h.get("command"), "spectool": h.get("spectool"),
             "params": h.get("params"), "seed": h.get("seed"), "inputs": h.get("inputs")}
            for r in rows for i, h in enumerate(r.get("history", [])))
