"""``spectool embed``: learned features of a model (or PCA of the raw patterns) as a set for ``cluster``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, DeviceOpt, InputsArg, OutputOpt, command
from spectool.env import Env
from spectool.learn.device import DEFAULT_DEVICE
from spectool.errors import SpectoolError, UsageError


@command(app, "embed")
def embed(
    env: Env,
    inputs: InputsArg,
    model: Annotated[Optional[str], typer.Option("--model", "-m", metavar="MODEL",
                                                 help="A spectool checkpoint (.safetensors).")] = None,
    output: OutputOpt = "-",
    layer: Annotated[Optional[str], typer.Option(metavar="NAME", help="A named layer (e.g. blocks.3, features.2) "
                                                 "instead of the penultimate features.")] = None,
    reduce: Annotated[str, typer.Option(help="How a named layer's (B, T|C, …) output becomes a vector: auto "
                                             "([CLS] token of a ViT, mean over length of conv maps), mean, cls, "
                                             "flatten.")] = "auto",
    raw: Annotated[bool, typer.Option("--raw", help="PCA of the patterns themselves (with --model: after its "
                                                    "recipe, on its axis), for comparison.")] = False,
    components: Annotated[int, typer.Option(min=1, help="PCA components for --raw.")] = 50,
    batch_size: Annotated[int, typer.Option(min=1, help="Spectra per forward pass.")] = 256,
    from_wavelength: Annotated[Optional[float], typer.Option(
        help="Wavelength in Å of scans that do not state one (for the recipe's bragg step).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the PCA solver.")] = 0,
    device: DeviceOpt = DEFAULT_DEVICE,
) -> None:
    """Turn spectra into feature vectors: the [CLS] output of a ViT, the penultimate layer of a CNN, a named layer,
    or (--raw) principal components of the patterns.

    The output set holds the features as X (N, D) on an axis of quantity "index", with the inputs' labels and sample
    columns, and /entry/embedding describing where they came from. Raw scans go through the checkpoint's recipe.
    With a structure → spectrum model (train --task spectrum), INPUT are structure files or paired sets and the
    features are the graph embeddings (mean over each structure's absorbing sites).
    """
    from spectool.io.stdio import refuse_binary_to_terminal

    refuse_binary_to_terminal(output, env)
    if model is None and not raw:
        raise UsageError("give --model MODEL, or --raw for PCA features of the patterns")
    if model and not raw and _task(model) == "spectrum":
        from spectool.cli.predict_spectrum import embed_spectra_command
        from spectool.learn.device import resolve_device

        return embed_spectra_command(env, _load(model, device), inputs, output, resolve_device(device))
    ckpt = _load(model, device) if model else None
    rows, batch = _collect(env, inputs, ckpt, from_wavelength)
    if raw:
        import numpy as np

        from spectool.analysis.embed import raw_pca

        feats, ratio = raw_pca(np.concatenate([x for _, x in rows]), components, seed)
        parts = np.split(feats, np.cumsum([len(x) for _, x in rows])[:-1])
        description = {"source": "raw-pca", "components": int(feats.shape[1]),
                       "explained_variance": float(ratio.sum())}
        extra = {"explained_variance_ratio": ratio}
    else:
        parts = [_features(ckpt, x, layer, reduce, batch_size) for _, x in rows]
        description = {"source": "model", "model": ckpt.meta["model"]["name"], "layer": layer or "features",
                       "reduce": reduce if layer else None}
        extra = {}
    description["checkpoint"] = model
    _write(env, output, rows, parts, description, extra, inputs, seed)
    batch.finish()


def _load(model: str, device: str):
    from spectool.io.checkpoint import load_checkpoint
    from spectool.learn.device import resolve_device

    return load_checkpoint(model, resolve_device(device))


def _collect(env: Env, inputs: list[str], ckpt, from_wavelength) -> tuple[list, Batch]:
    """[(Spectra, rows on the model's axis (or the first input's))] for every usable input, and the batch."""
    from spectool.io.spectra import iter_spectra
    from spectool.learn.inference import Predictor

    batch, rows, first = Batch(env, noun="input"), [], None
    predictor = Predictor(ckpt) if ckpt else None
    for name, item in iter_spectra(inputs, env, from_wavelength):
        with batch.item(name):
            if isinstance(item, SpectoolError):
                raise item
            if predictor is not None:
                X = predictor.prepare(item)
            else:
                first = first or item.axis
                if not item.axis.same_as(first):
                    raise UsageError(f"is on {item.axis.describe()}, not the first input's {first.describe()}: "
                                     "preprocess onto one axis first, or give --model")
                X = item.X
            rows.append((item, X))
    if not rows:
        batch.finish()
    return rows, batch


def _features(ckpt, X, layer, reduce, batch_size):
    from spectool.analysis.embed import features

    device = next(iter(ckpt.model.parameters()), None)
    return features(ckpt.model, X, layer, reduce, batch_size, device.device.type if device is not None else "cpu")


def _write(env: Env, output: str, rows: list, parts: list, description: dict, extra: dict, inputs, seed) -> None:
    from spectool.io.groups import ExtraGroup
    from spectool.io.lazy import LazySetWriter
    from spectool.spectra import Axis
    from spectool.io.sets import history_record

    dims = parts[0].shape[1]
    record = history_record("embed", {k: v for k, v in description.items() if v is not None}, inputs, seed)
    with LazySetWriter(output, env, record) as out:
        for (item, _), feats in zip(rows, parts):
            out.append(item, feats, Axis.index(dims), item.labels)
        group = ExtraGroup(out.builder, "embedding", **{k: v for k, v in description.items() if v is not None})
        for name, values in extra.items():
            group.put(name, values)
    env.info(f"embed: {out.n} feature vectors of {dims} dimensions written to {output}")


def _task(model: str) -> str | None:
    from spectool.io.checkpoint import read_header

    return read_header(model).meta["task"]
