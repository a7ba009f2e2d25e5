"""``spectool cluster``'s files: the set read whole, and the output set with its ``/entry/clusters`` group
(NXcollection: one (N,) int64 label column per method, −1 = noise; the projection, isolation distances,
most isolated rows, densest DBSCAN clusters and Ward linkage; attributes: methods, clusters, scores and
the command's parameters)."""

from __future__ import annotations

import numpy as np

from spectool.env import Env
from spectool.io.groups import ExtraGroup
from spectool.io.sets import create_set, history_record, open_set
from spectool.spectra import Chunk


def read_rows(spec: str, env: Env) -> dict:
    """The whole set in memory: ``meta``, ``X`` (N, L) float64, ``y`` (N,) int64, ``samples`` columns."""
    with open_set(spec, env) as reader:
        chunks = list(reader.iter_chunks(65536, peaks=False))
        meta = reader.meta
    columns = {k: np.concatenate([c.samples[k] for c in chunks]) for k in chunks[0].samples}
    return {"meta": meta, "X": np.concatenate([c.X for c in chunks]).astype(np.float64),
            "y": np.concatenate([c.y for c in chunks]).astype(np.int64), "samples": columns}


def write_clusters(env: Env, spec: str, output: str, data: dict, result: dict, params: dict, seed: int) -> None:
    """The input rows again, with ``/entry/clusters`` holding :func:`spectool.analysis.cluster.analyse`'s ``result``."""
    meta = data["meta"]
    record = history_record("cluster", params, [spec], seed)
    out_meta = meta.evolve(has_peaks=False, columns=list(data["samples"]))
    with create_set(output, out_meta, env, record) as builder:
        builder.append(Chunk(data["X"].astype("float32"), data["y"].astype("int32"), data["samples"]))
        group = ExtraGroup(builder, "clusters", NX_class="NXcollection", methods=list(result["labels"]),
                           clusters=result["k"], scores=result["scores"], **_attrs(params))
        for name, labels in result["labels"].items():
            group.put(name, labels)
        _put_extra(group, result)


def _attrs(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None and k != "methods"}


def _put_extra(group, result: dict) -> None:
    extra = result["extra"]
    for name in ("projection", "isolation", "isolated", "ward_linkage"):
        if name in extra:
            group.put(name, extra[name])
    if "dbscan_eps" in extra:
        group.set_attrs(dbscan_eps=extra["dbscan_eps"])
    if "densest" in extra:
        rows = extra["densest"]
        group.put("densest_cluster", np.array([r["cluster"] for r in rows], np.int64))
        group.put("densest_size", np.array([r["size"] for r in rows], np.int64))
        group.put("densest_median_kdistance", np.array([r["median_kdistance"] for r in rows]))
    if "groups" in result:
        group.set_attrs(groups={"groups": result["groups"]})
