"""``spectool train --task spectrum``: a paired set → a structure → spectrum model (gat, alignn).

Reads the pairs and their structures (io), builds the graphs the model asks for, fits with
:func:`spectool.learn.spectrum.fit_spectra` and writes one checkpoint (task ``spectrum``; its axis tensor is
the spectra's axis, ``input`` says the model reads structures of which absorber).
"""

from __future__ import annotations

from spectool.env import Env
import sys

from spectool.errors import NothingUsable, PartialFailure, UsageError

DEFAULT_MODEL = "gat"
DEFAULT_PATIENCE = 40  # epochs
DEFAULT_BATCH = 16


def train_spectrum(env: Env, o) -> None:
    """Train and save; ``o``: the :class:`~spectool.learn.settings.TrainSettings` of the command."""
    from spectool.io.checkpoint import save_checkpoint
    from spectool.io.pairs import read_pairs
    from spectool.io.stdio import check_output_folder
    from spectool.learn.device import torch_device
    from spectool.learn.spectrum import FitConfig, fit_spectra

    if not o.inputs or len(o.inputs) != 1:
        raise UsageError("--task spectrum takes one paired set (spectool pairs … -o pairs.h5)")
    output = o.output or "model.safetensors"
    check_output_folder(output)
    pairs = read_pairs(o.inputs[0], env)
    model = _model(o, len(pairs.axis))
    train = load_graphs(env, o.inputs[0], model, pairs)
    graphs, Y, rows = _rows(env, o, model, train)
    config = FitConfig(o.epochs, o.batch_size or DEFAULT_BATCH, o.lr, o.weight_decay,
                       DEFAULT_PATIENCE if o.patience is None else o.patience, o.seed)
    result = fit_spectra(model, graphs, Y, rows[0], rows[1], config, torch_device(o.device, None),
                         report=lambda r: env.info(_line(r)))
    metrics = {"best_epoch": result.best_epoch, "val": {"mae": result.val["mae"], "r2": result.val["r2"]},
               "seconds": round(result.seconds, 2), "n_train": int(len(rows[0])), "n_val": int(len(rows[1])),
               "seed": o.seed, "argv": ["spectool", *sys.argv[1:]], "history": result.history}
    save_checkpoint(output, result.model.cpu(), labels=[], task="spectrum", preprocess=pairs.history,
                    input={"axis": pairs.axis, "kind": "structure", "spectrum_kind": pairs.kind,
                           "absorber": train.absorber}, train=metrics)
    env.info(f"train: {output}: best epoch {result.best_epoch}, val MAE {result.val['mae']:.4f} "
             f"R² {result.val['r2']:.3f} ({result.seconds:.1f} s)")
    if train.failed:
        raise PartialFailure(f"{train.failed} structure(s) could not be used (named above); trained on the rest")


def _model(o, length: int):
    """The model named by --model (default gat) with --arg, for spectra of ``length`` points, seeded."""
    import torch

    from spectool.learn.settings import _model_args
    from spectool.models.registry import create_model, model_kind

    from spectool.learn.job import canonical_model

    name = canonical_model(o.model) if "model" in o.given else DEFAULT_MODEL
    if model_kind(name) != "graph":
        raise UsageError(f"--task spectrum needs a structure → spectrum model (gat, alignn), not {name!r}")
    torch.manual_seed(o.seed)
    try:
        return create_model(name, output_length=length, **_model_args(o))
    except TypeError as exc:
        raise UsageError(f"--arg: {exc}") from None


def _rows(env: Env, o, model, train):
    """(graphs, Y, (train rows, validation rows)): --val's pairs after the training ones, or a seeded
    --val-fraction of the training pairs."""
    import numpy as np

    from spectool.learn.graphdata import concat
    from spectool.learn.spectrum import split_rows

    Y = train.pairs.X[train.kept]
    if not o.val:
        return train.graphs, Y, split_rows(len(Y), o.val_fraction, o.seed)
    val = load_graphs(env, o.val, model)
    if not val.pairs.axis.same_as(train.pairs.axis):
        raise UsageError(f"--val is on {val.pairs.axis.describe()}, the training pairs on "
                         f"{train.pairs.axis.describe()}", o.val)
    n = len(Y)
    rows = (np.arange(n), np.arange(n, n + len(val.kept)))
    return concat([train.graphs, val.graphs]), np.concatenate([Y, val.pairs.X[val.kept]]), rows


def _line(r: dict) -> str:
    return (f"epoch {r['epoch']}  train L1 {r['train_loss']:.4f}  val MAE {r['val_mae']:.4f}  "
            f"R² {r['val_r2']:.3f}")


class Loaded:
    """A paired set with its graphs: ``pairs``, the rows whose structure could be used (``kept``), the
    graphs of those rows in order, the absorber, and how many rows failed."""

    def __init__(self, pairs, kept, graphs, absorber: str, failed: int):
        self.pairs, self.kept, self.graphs, self.absorber, self.failed = pairs, kept, graphs, absorber, failed


def load_graphs(env: Env, spec: str, model, pairs=None) -> Loaded:
    """Read a paired set (unless given) and build the model's graph for each structure; a structure that
    cannot be read or lacks the absorber is named on one line and left out."""
    import numpy as np

    from spectool.io.pairs import read_absorber_atoms, read_pairs
    from spectool.learn.graphdata import build_graphs, concat
    from spectool.errors import SpectoolError

    pairs = pairs if pairs is not None else read_pairs(spec, env)
    kept, parts, failed = [], [], 0
    for i, (path, absorber) in enumerate(zip(pairs.structures, pairs.absorbers)):
        try:
            parts.append(build_graphs(model, [read_absorber_atoms(path, absorber)], absorber))
            kept.append(i)
        except SpectoolError as exc:
            env.error(str(exc.where(path)))
            failed += 1
    if not parts:
        raise NothingUsable(f"no usable structure among the {len(pairs.ids)} pairs", spec)
    return Loaded(pairs, np.array(kept, dtype=np.int64), concat(parts), pairs.absorbers[kept[0]], failed)
