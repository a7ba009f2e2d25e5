"""Models: nn.Modules (one file per family) and tensor-backed classical baselines, by registry name.

Layers the families share (a dropout that is fast on CPU) live in :mod:`spectool.models.layers`.

Importing this package does not import torch; :func:`create_model` does, on first use.
"""

from __future__ import annotations

from spectool.models.registry import (create_model, get_model_class, list_models, model_kind,
                                      register_model)

__all__ = ["create_model", "get_model_class", "list_models", "model_kind", "register_model"]
