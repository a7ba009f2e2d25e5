"""Features of spectra: what a trained model sees (``forward_features`` or a named layer), or PCA.

- ViT: the [CLS] output after the final norm (the paper's "last encoder layer" representation).
- CNN: the penultimate layer (GAP of the last maps, or the last hidden dense layer).
- A named layer (``model.named_modules()`` name, e.g. ``blocks.3`` or ``features.2``) through a
  forward hook; its output (B, …) is reduced to (B, D) by ``reduce``: ``auto`` takes the [CLS]
  token of a ViT's (B, T, D) tokens and averages a conv layer's (B, C, L) maps over L;
  ``mean``, ``cls`` and ``flatten`` force one way.
- ``raw_pca``: principal components of the patterns themselves, for comparison (``--raw``).
"""

from __future__ import annotations

import numpy as np

from spectool.errors import UsageError

REDUCE = ("auto", "mean", "cls", "flatten")


def find_layer(model, name: str):
    """The submodule called ``name``; :class:`UsageError` listing a few names if none."""
    modules = dict(model.named_modules())
    if name not in modules or not name:
        some = [n for n in modules if n and n.count(".") <= 1][:12]
        raise UsageError(f"no layer {name!r} in {getattr(model, 'model_name', 'the model')}; "
                         f"e.g. {', '.join(some)}")
    return modules[name]


def reduce_output(out, model, how: str = "auto"):
    """A layer's output (B, …) → (B, D) tensor (see the module docstring)."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if how not in REDUCE:
        raise UsageError(f"reduce must be one of {', '.join(REDUCE)}, not {how!r}")
    if out.ndim == 2 or how == "flatten":
        return out.flatten(1)
    if how == "auto":
        how = "cls" if (out.ndim == 3 and model.explain_hooks().attention) else "mean"  # tokens, [CLS] first
    if how == "cls":
        return out[:, 0].flatten(1)
    return out.mean(dim=-1).flatten(1)


def features(model, X: np.ndarray, layer: str | None = None, reduce: str = "auto", batch_size: int = 256,
             device: str = "cpu") -> np.ndarray:
    """Rows X (N, L) → features (N, D) float32, batch by batch, no gradients."""
    import torch

    if layer is None and not hasattr(model, "forward_features"):
        raise UsageError(f"{getattr(model, 'model_name', 'this model')} has no feature layer; name one with --layer")
    module = find_layer(model, layer) if layer else None
    out = []
    for lo in range(0, len(X), batch_size):
        x = torch.as_tensor(np.ascontiguousarray(X[lo:lo + batch_size], np.float32), device=device)
        out.append(_batch_features(model, x, module, reduce).cpu().numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _batch_features(model, x, module, reduce: str):
    import torch

    with torch.no_grad():
        if module is None:
            return model.forward_features(x)
        store = []
        handle = module.register_forward_hook(lambda _m, _i, out: store.append(out))
        try:
            model(x)
        finally:
            handle.remove()
        if not store:
            raise UsageError("the named layer did not run in the forward pass")
        return reduce_output(store[0], model, reduce)


def raw_pca(X: np.ndarray, n_components: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the patterns: X (N, L) → (scores (N, k) float32, explained variance ratio (k,)).

    k = min(n_components, N, L); centred, not scaled (patterns share one intensity scale).
    """
    from sklearn.decomposition import PCA

    k = max(1, min(n_components, X.shape[0], X.shape[1]))
    pca = PCA(n_components=k, random_state=seed, svd_solver="auto")
    scores = pca.fit_transform(np.asarray(X, np.float64))
    return scores.astype(np.float32), pca.explained_variance_ratio_.astype(np.float64)
