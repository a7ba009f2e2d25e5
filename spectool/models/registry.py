"""Registry: a model name → its class (timm style), so a checkpoint can rebuild any model.

Every registered class takes keyword-only hyper-parameters, always including ``num_classes``
and ``input_length``; after construction it carries ``config``: the full constructor kwargs
(defaults filled in, tuples as lists), JSON-able, so ``create_model(name, **model.config)``
rebuilds the same architecture. A new model is one file with ``@register_model("name")`` plus
its module name in ``_FAMILIES``; the parametrised tests pick it up.

This module imports no torch: the family modules are imported on first use.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Callable

from spectool.errors import UsageError

_FAMILIES = ("vit1d", "cnn1d", "resnet1d", "ensemble", "classical", "gat", "alignn")
KINDS = ("network", "ensemble", "classical", "graph")

_REGISTRY: dict[str, type] = {}
_KIND: dict[str, str] = {}
_TINY: dict[str, dict] = {}


def register_model(name: str, *, kind: str = "network", tiny: dict | None = None) -> Callable:
    """Class decorator: register ``cls`` under ``name`` and record its ``config`` on construction.

    ``kind``: ``network`` (the full timm face), ``ensemble`` or ``classical``.
    ``tiny``: small kwargs (with ``num_classes`` and ``input_length``) for tests and examples.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")

    def decorate(cls: type) -> type:
        if _REGISTRY.get(name, cls) is not cls:
            raise ValueError(f"model name {name!r} is already registered")
        _record_config(cls)
        cls.model_name = name
        _REGISTRY[name], _KIND[name], _TINY[name] = cls, kind, dict(tiny or {})
        return cls

    return decorate


def _record_config(cls: type) -> None:
    """Wrap ``cls.__init__`` (keyword-only) so the instance keeps its bound kwargs as ``config``."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, **kwargs: Any) -> None:
        init(self, **kwargs)
        bound = signature.bind(self, **kwargs)
        bound.apply_defaults()
        self.config = {k: jsonable(v) for k, v in bound.arguments.items() if k != "self"}

    cls.__init__ = __init__


def jsonable(value: Any) -> Any:
    """Tuples → lists, recursively, so a config equals its JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def _ensure_loaded() -> None:
    for family in _FAMILIES:
        importlib.import_module(f"spectool.models.{family}")


def list_models(kind: str | None = None) -> list[str]:
    """Registered names, sorted; only those of ``kind`` if given."""
    _ensure_loaded()
    return sorted(n for n in _REGISTRY if kind is None or _KIND[n] == kind)


def get_model_class(name: str) -> type:
    """The class registered under ``name``; :class:`UsageError` naming the known ones if none."""
    _ensure_loaded()
    if name not in _REGISTRY:
        raise UsageError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def model_kind(name: str) -> str:
    get_model_class(name)
    return _KIND[name]


def tiny_kwargs(name: str) -> dict:
    """Small constructor kwargs for tests and examples (a copy)."""
    get_model_class(name)
    return jsonable(_TINY[name])


def create_model(name: str, **kwargs: Any):
    """Build the model registered under ``name`` with keyword-only ``kwargs``."""
    return get_model_class(name)(**kwargs)
