"""The operation registry: declared parameters, up-front validation, JSON round-trip.

Every preprocess and augment operation is a small frozen dataclass registered here under
its name. Its fields are its parameters; ``checks`` declares their constraints, which run
when the operation is made (from the command line or from a recipe's JSON), so a bad value
is a :class:`~spectool.errors.UsageError` before any work starts. ``to_json`` /
``from_json`` round-trip exactly: that is the recipe stored in history and checkpoints.

Three stages:

``preprocess``
    deterministic, ``apply(X, axis, ctx) -> (X', axis')`` over (N, L) float32 batches.
``pattern``
    random, on profiles: ``draw(streams, X, axis)`` then ``transform(X, axis, params)``.
``sticks``
    random, on stick lists before rendering: ``apply_sticks(sticks, streams)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar

import numpy as np

from spectool.errors import Exit, SpectoolError, UsageError

OPS: dict[str, type["Op"]] = {}


class AxisConversionError(SpectoolError):
    """A scan's axis cannot be converted (e.g. unknown wavelength): skip it, exit 1."""

    exit_code = Exit.PARTIAL


@dataclass
class Context:
    """What ops may need besides the array: the X-ray wavelength (Å), laser line (nm), kind."""

    wavelength: float | None = None
    laser_nm: float | None = None
    kind: str = "xrd"


# ---------------------------------------------------------------- constraints
Check = Callable[[Any], "str | None"]


def number(lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False,
           hi_open: bool = False, integer: bool = False, optional: bool = False) -> Check:
    """A real (or integer) in [lo, hi] (ends open as asked); None allowed if ``optional``."""

    def check(v):
        if v is None:
            return None if optional else "is required"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"must be a finite number, not {v!r}"
        if integer and v != int(v):
            return f"must be an integer, not {v!r}"
        below = v <= lo if lo_open else v < lo
        above = v >= hi if hi_open else v > hi
        if below or above:
            return f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}, not {v:g}"
        return None

    return check


def span(lo: float = -math.inf, hi: float = math.inf, **kw) -> Check:
    """A pair (low, high) with lo ≤ low ≤ high ≤ hi: a range to draw from."""
    inner = number(lo, hi, **kw)

    def check(v):
        if not isinstance(v, (tuple, list)) or len(v) != 2:
            return f"must be a range low:high, not {v!r}"
        for part in v:
            if (msg := inner(part)) is not None:
                return msg
        return None if v[0] <= v[1] else f"is an empty range {v[0]:g}:{v[1]:g}"

    return check


def one_of(*choices) -> Check:
    def check(v):
        return None if v in choices else f"must be one of {', '.join(map(str, choices))}, not {v!r}"

    return check


def odd(lo: int = 1) -> Check:
    base = number(lo, integer=True)

    def check(v):
        msg = base(v)
        return msg if msg is not None else (None if int(v) % 2 == 1 else f"must be odd, not {v}")

    return check


def flag() -> Check:
    def check(v):
        return None if isinstance(v, bool) else f"must be true or false, not {v!r}"

    return check


def floats(min_len: int = 2, increasing: bool = True, optional: bool = True) -> Check:
    def check(v):
        if v is None:
            return None if optional else "is required"
        try:
            a = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            return f"must be a list of numbers, not {v!r}"
        if a.ndim != 1 or len(a) < min_len or not np.all(np.isfinite(a)):
            return f"must be at least {min_len} finite numbers"
        return None if not increasing or np.all(np.diff(a) > 0) else "must be strictly increasing"

    return check


# ---------------------------------------------------------------- base class
@dataclass(frozen=True)
class Op:
    """Base of all operations: fields are parameters, validated when made."""

    name: ClassVar[str] = ""
    stage: ClassVar[str] = "preprocess"
    checks: ClassVar[dict[str, Check]] = {}
    changes_axis: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # JSON gives lists where we keep tuples
                object.__setattr__(self, f.name, tuple(value))
        for key, check in self.checks.items():
            if (msg := check(getattr(self, key))) is not None:
                raise UsageError(f"{self.name}: {key} {msg}")
        self.validate()

    def validate(self) -> None:
        """Cross-parameter checks; raise UsageError."""

    def params(self) -> dict:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    def to_json(self) -> dict:
        return {"op": self.name, **self.params()}

    @classmethod
    def from_json(cls, data: dict) -> "Op":
        return op_from_json(data)

    def context_after(self, ctx: Context) -> Context:
        """The context the next op sees (an axis conversion may change the wavelength)."""
        return ctx


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add an op to :data:`OPS` under ``cls.name``."""
    if not cls.name or cls.name in OPS:
        raise ValueError(f"op name {cls.name!r} missing or taken")
    OPS[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Op]]:
    """Import the modules that register ops; returns :data:`OPS`."""
    from spectool.signal import augment, baseline, physics, preprocess  # noqa: F401

    return OPS


def make_op(name: str, **params) -> Op:
    """An op by registry name; unknown names and parameters are usage errors."""
    ops = load_all()
    if name not in ops:
        raise UsageError(f"unknown operation {name!r} (known: {', '.join(sorted(ops))})")
    cls = ops[name]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise UsageError(f"{name}: unknown parameter(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(known)) or 'none'})")
    return cls(**params)


def op_from_json(data: dict) -> Op:
    """Inverse of :meth:`Op.to_json`."""
    if not isinstance(data, dict) or "op" not in data:
        raise UsageError(f"a recipe step must be an object with an 'op' key, not {data!r}")
    params = {k: v for k, v in data.items() if k != "op"}
    return make_op(data["op"], **params)


def parse_step(text: str) -> Op:
    """An op from ``name`` or ``name:key=value,key=value``; ``a:b`` values are ranges.

    Values parse as JSON where they can (numbers, true/false/null, lists), else as strings:
    ``savgol:window=21,order=3``, ``strain:max=0.03``, ``size:nm=5:30``.
    """
    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"{name}: expected key=value, not {item!r}")
        params[key.strip()] = _parse_value(value.strip())
    return make_op(name.strip(), **params)


def _parse_value(text: str):
    import json

    if ":" in text:
        return tuple(_parse_value(p) for p in text.split(":"))
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---------------------------------------------------------------- randomness
def row_rngs(seed: int, samples: np.ndarray, copies: np.ndarray):
    """The random streams of output rows ``(seed, sample, copy)``: a
    :class:`~spectool.signal.streams.RowStreams` (counter-based, one vectorised call per
    draw). A row's numbers depend on nothing else, so output is the same for any number of
    workers and any chunk size."""
    from spectool.signal.streams import row_streams

    return row_streams(seed, samples, copies)
