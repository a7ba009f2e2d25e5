"""``spectool predict`` with a structure → spectrum checkpoint (task ``spectrum``): structure files or
paired sets in, predicted spectra out (a set with -o; a table of the peak of each), MAE and R² per sample
and overall with --eval (paired sets: the true spectra are theirs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spectool.cli.common import Batch
from spectool.env import Env
from spectool.errors import FormatError, SpectoolError, UsageError


@dataclass
class _Samples:
    """What was read: per sample its id, structure path, graphs, and the true spectrum (paired sets)."""

    ids: list = field(default_factory=list)
    structures: list = field(default_factory=list)
    graphs: list = field(default_factory=list)
    truth: list = field(default_factory=list)


def predict_spectra_command(env: Env, ckpt, inputs: list[str], output: str | None, evaluate: bool,
                            device) -> None:
    """Predict every structure of ``inputs``; bad items are named on one line each, the rest go on."""
    import numpy as np

    from spectool.learn.graphdata import concat
    from spectool.learn.spectrum import predict_spectra

    batch = Batch(env, noun="structure")
    got = read_samples(env, ckpt, inputs, batch, evaluate)
    if got.graphs:
        P = predict_spectra(ckpt.model, concat(got.graphs), device)
        if output:
            _write(env, ckpt, got, P, output)
        if evaluate:
            _evaluation(env, got, P)
        else:
            axis = ckpt.axis.values
            _rows(env, [{"id": i, "structure": s, "sites": len(g), "peak": float(axis[int(np.argmax(p))]),
                         "max": float(p.max())} for i, s, g, p in zip(got.ids, got.structures, got.graphs, P)],
                  ("id", "peak", "max", "sites", "structure"))
    batch.finish()


def read_samples(env: Env, ckpt, inputs: list[str], batch: Batch, evaluate: bool) -> _Samples:
    from spectool.io.inputs import expand_inputs
    from spectool.io.pairs import STRUCTURE_SUFFIXES, is_paired_set, read_pairs
    from spectool.io.sets import SET_SUFFIXES

    got = _Samples()
    for path, problem in expand_inputs(inputs, STRUCTURE_SUFFIXES + tuple(SET_SUFFIXES)):
        with batch.item(path):
            if problem:
                raise FormatError(problem)
            if is_paired_set(path, env):
                _add_pairs(env, ckpt, read_pairs(path, env), path, got, batch)
            elif evaluate:
                raise UsageError("--eval needs paired sets (spectool pairs), not structure files")
            else:
                _add(ckpt, path, path, None, got)
    return got


def _add_pairs(env, ckpt, pairs, path: str, got: _Samples, batch: Batch) -> None:
    if not pairs.axis.same_as(ckpt.axis):
        raise FormatError(f"spectra on {pairs.axis.describe()}, the model's on {ckpt.axis.describe()}")
    for i, (sid, structure) in enumerate(zip(pairs.ids, pairs.structures)):
        with batch.item(f"{path}#{sid}"):
            _add(ckpt, sid, structure, pairs.X[i], got)


def _add(ckpt, sid: str, structure: str, truth, got: _Samples) -> None:
    from pathlib import Path

    from spectool.io.pairs import read_absorber_atoms
    from spectool.learn.graphdata import build_graphs

    absorber = ckpt.input["absorber"]
    try:
        graphs = build_graphs(ckpt.model, [read_absorber_atoms(structure, absorber)], absorber)
    except SpectoolError as exc:
        raise exc.where(structure) from None
    got.ids.append(Path(sid).stem if sid == structure else sid)
    got.structures.append(structure)
    got.graphs.append(graphs)
    got.truth.append(truth)


def _write(env: Env, ckpt, got: _Samples, P, output: str) -> None:
    import numpy as np

    from spectool.io.sets import history_record, write_set
    from spectool.spectra import Chunk, SetMeta

    record = history_record("predict", {"model": ckpt.meta["model"]["name"]}, [])
    samples = {"id": np.array(got.ids, dtype=object), "structure": np.array(got.structures, dtype=object),
               "absorber": np.array([ckpt.input["absorber"]] * len(got.ids), dtype=object)}
    meta = SetMeta(axis=ckpt.axis, kind=ckpt.input.get("spectrum_kind", "other"))
    write_set(output, meta, Chunk(np.asarray(P, np.float32), samples=samples), env, record)
    env.info(f"predict: {len(P)} predicted spectra written to {output}")


def _evaluation(env: Env, got: _Samples, P) -> None:
    import numpy as np

    from spectool.learn.spectrum import spectrum_metrics

    keep = [i for i, t in enumerate(got.truth) if t is not None]
    m = spectrum_metrics(np.stack([got.truth[i] for i in keep]), P[keep])
    rows = [{"id": got.ids[i], "mae": float(mae), "r2": float(r2)}
            for i, mae, r2 in zip(keep, m["per_sample"]["mae"], m["per_sample"]["r2"])]
    rows.append({"id": "overall", "mae": m["mae"], "r2": m["r2"]})
    _rows(env, rows, ("id", "mae", "r2"))
    env.info(f"predict: {len(keep)} spectra: MAE {m['mae']:.4f}, R² {m['r2']:.3f}")


def _rows(env: Env, rows: list[dict], columns) -> None:
    from spectool.io.results import write_rows

    write_rows(env, rows, columns)


def embed_spectra_command(env: Env, ckpt, inputs: list[str], output: str, device) -> None:
    """Graph embeddings (the model's ``forward_features``, mean over a structure's absorbing sites) of
    every structure of ``inputs`` as a set (X (S, D) on an index axis) for ``cluster``."""
    import numpy as np

    from spectool.io.sets import history_record, write_set
    from spectool.learn.graphdata import concat
    from spectool.learn.spectrum import embed_graphs
    from spectool.spectra import Axis, Chunk, SetMeta

    batch = Batch(env, noun="structure")
    got = read_samples(env, ckpt, inputs, batch, evaluate=False)
    if got.graphs:
        F = embed_graphs(ckpt.model, concat(got.graphs), device)
        samples = {"id": np.array(got.ids, dtype=object), "structure": np.array(got.structures, dtype=object)}
        record = history_record("embed", {"model": ckpt.meta["model"]["name"], "source": "graph-embedding"}, [])
        write_set(output, SetMeta(axis=Axis.index(F.shape[1]), kind="other"),
                  Chunk(np.asarray(F, np.float32), samples=samples), env, record)
        env.info(f"embed: {len(F)} graph embeddings of {F.shape[1]} features written to {output}")
    batch.finish()
