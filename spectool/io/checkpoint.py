"""Checkpoints: one ``.safetensors`` file is the whole model (DESIGN.md §5).

Tensors: the model's ``state_dict`` under its own names, plus ``spectool.*`` extras: always
``spectool.axis`` (L,) float64, the training axis; callers may add more (``extra_tensors``).

``__metadata__`` (str → str; JSON where structured)::

    format            "pt"                        (Hugging Face tooling)
    spectool.format   "spectool-checkpoint/1"     (a newer number is refused)
    spectool.version  "0.1.0"
    task              "classification"
    model      JSON   {"name": "vit1d", "kwargs": {...constructor kwargs...}}
    labels     JSON   ["NaCl", "CsCl", ...]        (index → name; len == num_classes)
    input      JSON   {"kind": "xrd", "quantity": "two_theta", "units": "deg",
                       "wavelength": 1.5406, "radiation": "CuKa", "length": 4251,
                       "axis_tensor": "spectool.axis"}
    preprocess JSON   opaque: the recipe the training data went through (predict replays it)
    train      JSON   {"seed": 0, "data": [...hashes...], "argv": [...], "metrics": {...}, ...}
    explain    JSON   {"cam_layer": "features.3" | null, "cam_exact": bool, "attention": bool}
    references JSON   optional, what ``predict`` fits to verify candidates (see below)

References (optional; written by :func:`add_references`, read by :func:`read_references`): R phase
references, any number per label, for the whole-pattern fit (:mod:`spectool.fit`)::

    spectool.ref.cell     (R, 6) float64   a, b, c (Å), α, β, γ (°), conventional standard setting
    spectool.ref.mass     (R,)   float64   mass of the cell's content, g/mol (Z·M of Hill–Howard)
    spectool.ref.offsets  (R+1,) int64     reference r owns reflection rows offsets[r]:offsets[r+1]
    spectool.ref.hkl      (N, 3) int16     Miller indices in that setting
    spectool.ref.factor   (N,)   float32   intensity factor Σ 2|F|² (electrons²) of each reflection group
    references JSON   {"format": "spectool-references/1", "entries": [{"label", "name", "system",
                       "formula", "texture" (optional: [h, k, l] of a refined preferred orientation),
                       "layer_samples" (optional: a turbostratic stack's rod samples per unit l)} × R],
                       "unknown_threshold": float | null, "source": str,
                       "confidence": {"features", "coef", "intercept", "n", "accuracy"} (optional;
                       :class:`spectool.fit.confidence.Confidence`)}

:func:`read_header` needs only the standard library (8-byte little-endian length + JSON header),
so ``spectool info`` stays cheap; torch is imported inside the functions that need it.
Anything wrong with a file raises :class:`~spectool.errors.FormatError` naming it and why.
Transfer learning (``--init``/``--freeze``) on a loaded checkpoint: :mod:`spectool.models.transfer`.

Weights may be stored in float16 (:func:`half_weights`, which ``make model`` applies to the shipped
model): loading copies them into the model's float32 parameters, so nothing else changes.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectool import __version__
from spectool.errors import FormatError, UsageError
from spectool.io.stdio import atomic_path

CHECKPOINT_FORMAT = "spectool-checkpoint/1"
FORMAT_NAME, FORMAT_VERSION = CHECKPOINT_FORMAT.split("/")[0], 1
PREFIX = "spectool."
AXIS_TENSOR = "spectool.axis"
PLAIN_KEYS = ("spectool.format", "spectool.version", "task")
JSON_KEYS = ("model", "labels", "input", "preprocess", "train", "explain", "label_info", "references",
             "library")
REFERENCES_FORMAT = "spectool-references/1"
REF_TENSORS = ("ref.cell", "ref.mass", "ref.offsets", "ref.hkl", "ref.factor")
MAX_HEADER_BYTES = 100 * 2**20


@dataclass
class CheckpointHeader:
    """The decoded header: ``meta`` (plain and JSON keys decoded) and the tensor table."""

    path: str
    meta: dict[str, Any]
    tensors: dict[str, dict]  # name → {"dtype", "shape", "data_offsets"}
    file_size: int

    @property
    def n_parameters(self) -> int:
        """Number of values in the model's own tensors (the extras not counted)."""
        return sum(math.prod(t["shape"]) for n, t in self.tensors.items() if not n.startswith(PREFIX))


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model in eval mode on ``device`` and what it was trained on."""

    model: Any
    labels: list[str]
    input: dict
    preprocess: Any
    train: dict
    meta: dict
    tensors: dict = field(default_factory=dict)  # extras without the "spectool." prefix, on CPU

    @property
    def task(self) -> str:
        return self.meta["task"]

    @property
    def axis(self):
        """The training axis as a :class:`spectool.spectra.Axis`."""
        from spectool.spectra import Axis

        return Axis(self.tensors["axis"].numpy(), self.input.get("quantity", "index"),
                    self.input.get("units", ""))


def read_header(path: str | os.PathLike) -> CheckpointHeader:
    """Read and validate the header (standard library only); :class:`FormatError` if not ours."""
    raw, size = _read_raw_header(Path(path))
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise FormatError("not a safetensors file (its header is not JSON)", path) from None
    if not isinstance(header, dict):
        raise FormatError("not a safetensors file (its header is not a JSON object)", path)
    metadata = header.pop("__metadata__", None) or {}
    _check_tensor_table(header, 8 + len(raw), size, path)
    return CheckpointHeader(str(path), _decode_meta(metadata, path), header, size)


def _read_raw_header(path: Path) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise FormatError("not a spectool checkpoint (too short for a safetensors header)", path)
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES:
                raise FormatError("not a safetensors file (implausible header length)", path)
            if n > size - 8:
                raise FormatError(f"truncated: the header needs {n + 8} bytes, the file has {size}",
                                  path)
            return f.read(n), size
    except FileNotFoundError:
        raise FormatError("no such file", path) from None
    except IsADirectoryError:
        raise FormatError("is a folder, not a checkpoint", path) from None
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}", path) from None


def _check_tensor_table(table: dict, data_start: int, size: int, path) -> None:
    """Every entry well formed and its bytes inside the file (else: corrupt or truncated)."""
    end = 0
    for name, info in table.items():
        try:
            begin, stop = info["data_offsets"]
            ok = (all(_count(d) for d in info["shape"]) and _count(begin) and _count(stop)
                  and stop - begin == math.prod(info["shape"]) * DTYPE_BYTES[info["dtype"]])
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise FormatError(f"not a safetensors file (bad entry for tensor {name!r})", path)
        end = max(end, stop)
    if data_start + end > size:
        raise FormatError(f"truncated: the tensors need {data_start + end} bytes, "
                          f"the file has {size}", path)


DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}  # safetensors' dtypes, bytes per value


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _decode_meta(metadata: dict, path) -> dict[str, Any]:
    fmt = metadata.get("spectool.format")
    if not isinstance(fmt, str):
        raise FormatError("a safetensors file but not a spectool checkpoint "
                          "(no spectool.format in its metadata)", path)
    name, _, version = fmt.partition("/")
    if name != FORMAT_NAME or not version.isdigit():
        raise FormatError(f"unknown checkpoint format {fmt!r}", path)
    if int(version) > FORMAT_VERSION:
        raise FormatError(f"checkpoint format {fmt} is newer than this spectool reads "
                          f"({CHECKPOINT_FORMAT}); upgrade spectool", path)
    meta: dict[str, Any] = {k: metadata.get(k) for k in PLAIN_KEYS}
    for key in JSON_KEYS:
        try:
            meta[key] = json.loads(metadata[key]) if key in metadata else None
        except (TypeError, ValueError):
            raise FormatError(f"corrupt metadata: {key!r} is not JSON", path) from None
    _check_meta(meta, path)
    return meta


def _check_meta(meta: dict, path) -> None:
    model, labels = meta["model"], meta["labels"]
    if not (isinstance(model, dict) and isinstance(model.get("name"), str)
            and isinstance(model.get("kwargs"), dict)):
        raise FormatError("corrupt metadata: 'model' must be {\"name\": str, \"kwargs\": {...}}", path)
    if not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        raise FormatError("corrupt metadata: 'labels' must be a list of strings", path)
    if not isinstance(meta["input"], dict):
        raise FormatError("corrupt metadata: 'input' must be a JSON object", path)


def save_checkpoint(path: str | os.PathLike, model, *, labels: list[str], input, preprocess: Any,
                    train: dict, task: str = "classification",
                    extra_tensors: dict | None = None, label_info: dict | None = None) -> Path:
    """Write ``model`` and its metadata to ``path`` atomically (mode 0644 & ~umask); returns it.

    ``input``: a :class:`~spectool.spectra.SetMeta`, or a dict with ``axis`` (an
    :class:`~spectool.spectra.Axis` or (L,) values) plus ``kind``, ``quantity``, ``units``,
    ``wavelength``… ``extra_tensors``: name → array, stored as ``spectool.<name>``.
    ``label_info``: label → {field: value} shown beside predictions (e.g. a structure type's
    Strukturbericht and Pearson symbols).
    """
    from safetensors.torch import save

    input_meta, axis = _input_meta(input)
    labels = [str(x) for x in labels]
    _check_fits(model, labels, axis)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update(_extras(extra_tensors, axis))
    metadata = {"format": "pt", "spectool.format": CHECKPOINT_FORMAT,
                "spectool.version": __version__, "task": task,
                **{k: json.dumps(v) for k, v in (
                    ("model", {"name": model.model_name, "kwargs": model.config}),
                    ("labels", labels), ("input", input_meta), ("preprocess", preprocess),
                    ("train", train), ("explain", _explain_meta(model)), ("label_info", label_info or {}))}}
    with atomic_path(Path(path), mode=0o644) as tmp:  # safetensors alone would leave 0600
        tmp.write_bytes(save(tensors, metadata=metadata))
    return Path(path)


def _input_meta(input) -> tuple[dict, Any]:
    """(JSON-able input description, axis values (L,) float64)."""
    import numpy as np

    from spectool.spectra import Axis, SetMeta

    if isinstance(input, SetMeta):
        input = {"axis": input.axis, "kind": input.kind, "wavelength": input.wavelength,
                 "radiation": input.radiation}
    if not isinstance(input, dict) or "axis" not in input:
        raise UsageError("checkpoint input must be a SetMeta or a dict with an 'axis'")
    meta = {k: v for k, v in input.items() if k != "axis"}
    axis = input["axis"]
    if isinstance(axis, Axis):
        meta.setdefault("quantity", axis.quantity)
        meta.setdefault("units", axis.units)
        axis = axis.values
    values = np.asarray(axis, dtype=np.float64)
    meta.update(length=len(values), axis_tensor=AXIS_TENSOR)
    return meta, values


def _check_fits(model, labels: list[str], axis) -> None:
    n_classes, length = getattr(model, "num_classes", None), getattr(model, "input_length", None)
    if n_classes is not None and len(labels) != n_classes:
        raise UsageError(f"{len(labels)} labels for a model with {n_classes} classes")
    if length is not None and len(axis) != length:
        raise UsageError(f"axis of {len(axis)} points for a model taking {length}")


def _extras(extra_tensors: dict | None, axis) -> dict:
    import torch

    out = {AXIS_TENSOR: torch.as_tensor(axis, dtype=torch.float64)}
    for name, value in (extra_tensors or {}).items():
        key = name if name.startswith(PREFIX) else PREFIX + name
        if key == AXIS_TENSOR:
            raise UsageError(f"{AXIS_TENSOR} is reserved for the training axis")
        out[key] = torch.as_tensor(value).detach().cpu().contiguous()
    return out


def _explain_meta(model) -> dict:
    """Where ``explain`` may hook: the CAM layer's module name, whether CAM is exact, attention."""
    hooks = model.explain_hooks()
    names = {id(m): n for n, m in model.named_modules()}
    return {"cam_layer": names.get(id(hooks.cam_layer)) if hooks.cam_layer is not None else None,
            "cam_exact": bool(hooks.cam_exact), "attention": bool(hooks.attention)}


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> Checkpoint:
    """Rebuild the model through the registry, load its weights, put it on ``device`` in eval mode."""
    header = read_header(path)
    _check_shapes(header, path)  # before a byte is read or a weight allocated
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types: any of them means a bad file
        raise FormatError(f"cannot read the tensors: {exc}", path) from None
    extras = {k[len(PREFIX):]: tensors.pop(k) for k in list(tensors) if k.startswith(PREFIX)}
    if "axis" not in extras:
        raise FormatError(f"no training axis ({AXIS_TENSOR})", path)
    model = _rebuild(header, tensors, path).to(device).eval()
    meta = header.meta
    return Checkpoint(model, meta["labels"], meta["input"], meta["preprocess"], meta["train"] or {},
                      meta, extras)


def _check_shapes(header: CheckpointHeader, path) -> None:
    """The model the metadata describes, built on the meta device (shapes, no memory), must hold
    exactly the file's tensors: a header claiming a huge model is refused before it costs anything."""
    import torch

    spec = header.meta["model"]
    with torch.device("meta"):
        model = _build(spec, path)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(t["shape"]) for k, t in header.tensors.items() if not k.startswith(PREFIX)}
    wrong = [k for k in want if k in have and want[k] != have[k]]
    if wrong:
        k = wrong[0]
        raise FormatError(f"weights do not fit {spec['name']}: {k} is {have[k]} in the file, its metadata makes it "
                          f"{want[k]}", path)
    missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing or unexpected:
        raise FormatError(f"weights do not fit {spec['name']}: missing {missing[:3]}, unexpected {unexpected[:3]}",
                          path)


def _build(spec: dict, path):
    from spectool.models.registry import create_model

    try:
        return create_model(spec["name"], **spec["kwargs"])
    except UsageError:
        raise FormatError(f"unknown model architecture {spec['name']!r}", path) from None
    except (TypeError, ValueError, RuntimeError, MemoryError, NotImplementedError) as exc:
        raise FormatError(f"cannot build {spec['name']}: {exc}", path) from None


def _rebuild(header: CheckpointHeader, weights: dict, path):
    spec = header.meta["model"]
    model = _build(spec, path)
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as exc:
        raise FormatError(f"weights do not fit {spec['name']}: {_first_line(exc)}", path) from None
    if missing or unexpected:
        raise FormatError(f"weights do not fit {spec['name']}: missing {missing[:3]}, "
                          f"unexpected {unexpected[:3]}", path)
    n = getattr(model, "num_classes", None)
    if n is not None and len(header.meta["labels"]) != n:
        raise FormatError(f"{len(header.meta['labels'])} labels for {n} classes", path)
    return model


def _first_line(exc: Exception) -> str:
    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)



def read_references(checkpoint: Checkpoint) -> tuple[dict[str, list], dict]:
    """The checkpoint's phase references as label → [:class:`~spectool.fit.reference.PhaseReference`]
    and the ``references`` metadata ({} and {} when it has none)."""
    import numpy as np

    from spectool.fit.reference import PhaseReference

    meta, t = checkpoint.meta.get("references") or {}, checkpoint.tensors
    if not meta or any(k not in t for k in REF_TENSORS):
        return {}, {}
    cell, mass, off, hkl, factor = (t[k].numpy() for k in REF_TENSORS)
    out: dict[str, list] = {}
    for r, entry in enumerate(meta["entries"]):
        rows = slice(int(off[r]), int(off[r + 1]))
        texture = entry.get("texture")
        out.setdefault(entry["label"], []).append(PhaseReference(
            entry.get("name", entry["label"]), entry["system"], np.asarray(cell[r], np.float64),
            np.asarray(hkl[rows]), np.asarray(factor[rows]), float(mass[r]), entry.get("formula", ""),
            tuple(int(i) for i in texture) if texture else None, int(entry.get("layer_samples", 0))))
    return out, meta


def references_payload(entries: list, source: str = "", unknown_threshold: float | None = None,
                       confidence: dict | None = None) -> tuple[dict, dict]:
    """(tensors named as in the module docstring, ``references`` metadata) for (label, reference) pairs;
    ``confidence``: a calibrated :meth:`spectool.fit.confidence.Confidence.to_json`, or None."""
    import numpy as np
    import torch

    refs = [r for _, r in entries]
    offsets = np.cumsum([0] + [len(r.factor) for r in refs]).astype(np.int64)
    tensors = {
        PREFIX + "ref.cell": torch.as_tensor(np.array([r.cell for r in refs], np.float64).reshape(-1, 6)),
        PREFIX + "ref.mass": torch.as_tensor(np.array([r.mass for r in refs], np.float64)),
        PREFIX + "ref.offsets": torch.as_tensor(offsets),
        PREFIX + "ref.hkl": torch.as_tensor(np.concatenate([r.hkl for r in refs] + [np.zeros((0, 3))]).astype(np.int16)),
        PREFIX + "ref.factor": torch.as_tensor(np.concatenate([r.factor for r in refs] + [np.zeros(0)]).astype(np.float32)),
    }
    meta = {"format": REFERENCES_FORMAT, "entries": [_entry(label, r) for label, r in entries],
            "unknown_threshold": unknown_threshold, "source": source}
    if confidence is not None:
        meta["confidence"] = confidence
    return tensors, meta


def _entry(label: str, ref) -> dict:
    """A reference's metadata entry: what its tensors do not hold (texture and layer_samples only where set)."""
    entry = {"label": label, "name": ref.name, "system": ref.system, "formula": ref.formula}
    if ref.texture is not None:
        entry["texture"] = [int(i) for i in ref.texture]
    if ref.layer_samples:
        entry["layer_samples"] = int(ref.layer_samples)
    return entry


def add_references(path: str | os.PathLike, entries: list, source: str = "",
                   unknown_threshold: float | None = None, output: str | os.PathLike | None = None,
                   library: dict | None = None, confidence: dict | None = None) -> Path:
    """Write the checkpoint at ``path`` again (to ``output``, default in place, atomically) with these
    references replacing any it had; weights and every other metadata key unchanged. ``library`` (a
    structure-type library's library.json: sources, licences, citations, counts) travels as the
    ``library`` key, so the checkpoint says where its classes and references came from."""
    tensors, metadata = _read_all(path)
    tensors = {k: t for k, t in tensors.items() if not k.startswith(PREFIX + "ref.")}
    extra, meta = references_payload(entries, source, unknown_threshold, confidence)
    tensors.update(extra)
    metadata["references"] = json.dumps(meta)
    if library is not None:
        metadata["library"] = json.dumps(library)
    return _write_all(Path(output or path), tensors, metadata)


def _read_all(path) -> tuple[dict, dict]:
    """(every tensor, the raw metadata) of a spectool checkpoint, to write it again."""
    from safetensors import safe_open

    read_header(path)  # refuses anything that is not a spectool checkpoint
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def _write_all(target: Path, tensors: dict, metadata: dict) -> Path:
    """Write tensors and metadata (sorted: safe_open hands them back in no fixed order) atomically, mode 0644."""
    from safetensors.torch import save

    with atomic_path(target, mode=0o644) as tmp:
        tmp.write_bytes(save(tensors, metadata=dict(sorted(metadata.items()))))
    return target


#: Largest magnitude float16 holds; a tensor with a larger value keeps its float32.
FLOAT16_MAX = 65504.0


def half_weights(path: str | os.PathLike, output: str | os.PathLike | None = None) -> tuple[Path, int, int]:
    """Write the checkpoint at ``path`` again (to ``output``, default in place, atomically) with its float32
    model tensors stored as float16, halving what they take on disk; the ``spectool.*`` extras (axis,
    references) and every metadata key unchanged. A tensor with a value beyond :data:`FLOAT16_MAX` stays
    float32. Returns (the file, tensors halved, bytes saved)."""
    import torch

    tensors, metadata = _read_all(path)
    halved, saved = 0, 0
    for name, t in tensors.items():
        if name.startswith(PREFIX) or t.dtype != torch.float32 or not t.numel():
            continue
        if float(t.abs().max()) <= FLOAT16_MAX:
            tensors[name] = t.to(torch.float16)
            halved, saved = halved + 1, saved + 2 * t.numel()
    return _write_all(Path(output or path), tensors, metadata), halved, saved
