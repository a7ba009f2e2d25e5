"""``spectool train STRUCTURES… -o model``: reference structures to a model in one command.

The steps a user would otherwise chain by hand, in a temporary folder, each the command of the same
name (so each is tested on its own): simulate every structure (one class per file stem) on the axis of
the scans to predict (``--like SCAN``: its 2θ range, step and wavelength), augment with both presets
(physics: strain, crystallite size, texture, impurity, noise, background; pattern: peak scale/drop,
shift, window), then the preprocess recipe that predict replays on raw scans (SNIP baseline, maximum 1).
Validation is a second, independently seeded augmentation of the same structures (each class has one
structure, so no structure can be held out). The simulated sticks and cells of every class go into the
checkpoint as references (see :func:`references`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spectool.env import Env
from spectool.errors import FormatError, UsageError
from spectool.xrd.radiation import CU_KALPHA1

RECIPE = ["-s", "baseline:method=snip", "-s", "normalize:method=max"]  # as `make model` (the shipped model)
GRID = ("5:90", 0.02, CU_KALPHA1)  # 2θ range, step (deg), wavelength (Å) without --like
REFERENCES_FORMAT = "spectool-references/1"


def is_structures(inputs: list[str]) -> bool:
    """True when the inputs are structure files or folders rather than one spectra set."""
    from spectool.io.sets import is_set_path

    return not (len(inputs) == 1 and is_set_path(inputs[0]))


def grid_like(scan: str | None) -> tuple[str, float, float | None]:
    """(``START:STOP``, step, wavelength Å or None when the scan does not say) of the first scan in ``scan``,
    or the defaults."""
    if scan is None:
        return GRID
    from spectool.io.readers import read_scans

    scans = read_scans(scan)
    if not scans:
        raise FormatError("no scan in the file", scan)
    first = scans[0]
    x = np.asarray(first.x, dtype=np.float64)
    if first.quantity not in (None, "two_theta") or len(x) < 2:
        raise FormatError("--like needs a 2θ scan of at least two points", scan)
    step = float(np.median(np.diff(x)))
    return f"{x.min():.6g}:{x.max():.6g}", round(step, 6), float(first.wavelength) if first.wavelength else None


def build_sets(env: Env, structures: list[str], work: Path, like: str | None, copies: int, seed: int) -> dict:
    """Simulate, augment (training and validation) and preprocess into ``work``; the paths made."""
    span, step, wavelength = grid_like(like)
    if wavelength is None:
        env.warn(f"{like}: the scan does not say its wavelength; simulating for Cu Kα ({GRID[2]} Å)")
        wavelength = GRID[2]
    sim, paths = work / "sim.h5", {"sim": str(work / "sim.h5")}
    _step(env, ["simulate", *structures, "--label", "stem", "--range", span, "--step", str(step),
                "--wavelength", str(wavelength), "-o", str(sim)])
    for role, n, s in (("train", copies, seed), ("val", max(4, copies // 4), seed + 1)):
        raw = work / f"aug-{role}.h5"
        _step(env, ["augment", str(sim), "-n", str(n), "--preset", "both", "--seed", str(s), "-o", str(raw)])
        _step(env, ["preprocess", str(raw), *RECIPE, "-o", str(work / f"{role}.h5")])
        paths[role] = str(work / f"{role}.h5")
    return paths


def _step(env: Env, argv: list[str]) -> None:
    from spectool.cli.main import run

    env.info(f"train: spectool {' '.join(argv)}")
    status = run(argv + ([] if env.verbosity else ["-q"]))
    if status != 0:
        raise UsageError(f"`spectool {argv[0]}` failed (exit {status}); the line above says why")


def references(env: Env, sim: str, labels: list[str]) -> tuple[dict, dict]:
    """(tensors, JSON) of each class's simulated reference, in the model's class order.

    Tensors, ``spectool.references.*``: ``offsets`` (C+1,) int64 — class c's sticks are rows
    offsets[c]:offsets[c+1] of ``two_theta`` (P,) float64 deg at the training wavelength,
    ``intensity`` (P,) float64 (relative, strongest 100 per class as simulate computes them),
    ``d`` (P,) float64 Å, ``hkl`` (P, 3) int32, ``multiplicity`` (P,) int32; ``cell`` (C, 6) float64
    a, b, c (Å), α, β, γ (deg). JSON (the checkpoint's ``train.references``): format, wavelength and
    per class label, source file name, formula, space group and the CIF text it was simulated from.
    """
    from spectool.io.sets import open_set

    with open_set(sim, env) as reader:
        chunk = reader.read_rows(0, len(reader), peaks=True)
        names = reader.meta.label_names
        wavelength = reader.meta.wavelength
    first = {}
    for row, y in enumerate(chunk.y):
        first.setdefault(names[y], row)
    rows = [first[label] for label in labels]
    sticks = [chunk.peaks.row(r) for r in rows]
    tensors = {"offsets": np.concatenate([[0], np.cumsum([len(s["two_theta"]) for s in sticks])]).astype(np.int64),
               "cell": np.asarray(chunk.samples["cell"], np.float64)[rows]}
    for field, dtype in (("two_theta", np.float64), ("intensity", np.float64), ("d", np.float64),
                         ("hkl", np.int32), ("multiplicity", np.int32)):
        if field in chunk.peaks.fields:
            tensors[field] = np.concatenate([np.asarray(s[field], dtype) for s in sticks])
    classes = [{"label": label, "source": Path(_text(chunk.samples["source"][r])).name,
                "formula": _text(chunk.samples.get("formula", [""] * (r + 1))[r]),
                "spacegroup": _text(chunk.samples.get("spacegroup_symbol", [""] * (r + 1))[r]),
                "cif": _read_text(_text(chunk.samples["source"][r]))} for label, r in zip(labels, rows)]
    meta = {"format": REFERENCES_FORMAT, "wavelength": wavelength, "classes": classes,
            "tensors": [f"spectool.references.{k}" for k in tensors]}  # Checkpoint.tensors drops "spectool."
    return {f"references.{k}": v for k, v in tensors.items()}, meta


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def check(o) -> None:
    """Options that make no sense with structures: usage errors before any work."""
    if o.resume:
        raise UsageError("--resume continues a run on a set; from structures, train again (it is seeded)")
    if o.copies < 2:
        raise UsageError("--copies must be at least 2")

