"""``spectool cluster``: projections, clusters, isolated samples, dense clusters and class groups of a set."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import JsonOpt, OutputOpt, SeedOpt, command
from spectool.env import Env
from spectool.errors import UsageError

METHOD_HELP = "dbscan, affinity, ward or kmeans (repeatable) (default: dbscan, ward, kmeans)."
COLUMNS = ["method", "clusters", "noise", "silhouette", "ari"]


@command(app, "cluster")
def cluster(
    env: Env,
    input: Annotated[str, typer.Argument(metavar="SET", help="Features from embed, or any spectra set (path or -).")],
    output: OutputOpt = "-",
    png: Annotated[Optional[str], typer.Option(metavar="FILE", help="Draw the projection coloured by labels and "
                                               "clusters (and FILE_dendrogram.png for Ward).")] = None,
    project: Annotated[str, typer.Option(help="Projection for the map: pca, tsne, or umap (optional extra).")] = "tsne",
    dims: Annotated[int, typer.Option(min=1, help="Dimensions of the projection.")] = 2,
    method: Annotated[Optional[list[str]], typer.Option("--method", metavar="NAME", help=METHOD_HELP)] = None,
    space: Annotated[str, typer.Option(help="Cluster the features or the projection.")] = "features",
    clusters: Annotated[Optional[int], typer.Option("--clusters", "-k", min=1, help="Clusters for ward and kmeans "
                                                    "(default: the number of labels, else 8).")] = None,
    eps: Annotated[Optional[float], typer.Option(help="DBSCAN radius (default: the k-distance knee).")] = None,
    min_samples: Annotated[int, typer.Option(min=1, help="DBSCAN core size (and its k-distance k).")] = 5,
    neighbors: Annotated[int, typer.Option(min=1, help="k of the kNN isolation distance.")] = 5,
    top: Annotated[int, typer.Option(min=0, help="How many isolated samples and dense clusters to report.")] = 10,
    group_classes: Annotated[Optional[int], typer.Option(metavar="G", help="Group the labels into G groups by their "
                                                         "mean rows (CrySTINet) and write --groups.")] = None,
    groups: Annotated[str, typer.Option(metavar="FILE", help="Where --group-classes writes "
                                        "{\"groups\": [[label, …], …]} (for train --groups).")] = "groups.json",
    seed: SeedOpt = 0,
    json: JsonOpt = False,
) -> None:
    """Project and cluster feature vectors (or patterns); score them against the labels.

    Writes the input rows again with /entry/clusters: the projection, one label column per method (-1 = noise),
    the kNN isolation distance, the densest DBSCAN clusters, the Ward linkage, and silhouette / adjusted Rand index
    against the labels when there are labels. A summary table goes to stdout (stderr when -o -).
    """
    from spectool.analysis.cluster import ClusterSettings, analyse
    from spectool.io.clusters import read_rows, write_clusters

    methods = method or ["dbscan", "ward", "kmeans"]
    settings = ClusterSettings(tuple(methods), project, dims, space, clusters, eps, min_samples, neighbors, top, seed)
    data = read_rows(input, env)
    result = analyse(data["X"], data["y"], settings)
    if group_classes is not None:
        result["groups"] = _group(env, data, group_classes, groups, seed)
    params = _params(project, dims, methods, space, eps, min_samples, neighbors, group_classes)
    write_clusters(env, input, output, data, result, params, seed)
    if png:
        _pictures(png, data, result)
    _report(env, output, result)


def _params(project, dims, methods, space, eps, min_samples, neighbors, group_classes) -> dict:
    return {"project": project, "dims": dims, "methods": methods, "space": space, "eps": eps,
            "min_samples": min_samples, "neighbors": neighbors, "group_classes": group_classes}


def _group(env: Env, data: dict, n_groups: int, path: str, seed: int) -> list[list[str]]:
    from spectool.analysis.cluster import group_classes
    from spectool.io.classgroups import write_groups

    names = data["meta"].label_names
    if not names or not (data["y"] >= 0).any():
        raise UsageError("--group-classes needs a labelled set")
    indices, how = group_classes(data["X"], data["y"], n_groups, seed)
    groups = [[names[i] for i in g] for g in indices]
    write_groups(path, groups)
    env.info(f"cluster: {len(names)} labels in {len(groups)} groups ({how}) written to {path}")
    return groups


def _pictures(png: str, data: dict, result: dict) -> None:
    from pathlib import Path

    from spectool.analysis.plots import dendrogram_figure, map_figure
    from spectool.io.figures import write_png

    names = data["meta"].label_names or None
    panels = ([("labels", data["y"], names)] if (data["y"] >= 0).any() else []) + \
        [(name, lab, None) for name, lab in result["labels"].items()]
    write_png(png, map_figure(result["extra"]["projection"], panels, result["extra"]["isolated"]))
    if "ward_linkage" in result["extra"]:
        target = Path(png)
        write_png(target.with_name(target.stem + "_dendrogram.png"),
                  dendrogram_figure(result["extra"]["ward_linkage"], result["k"]))


def _report(env: Env, output: str, result: dict) -> None:
    from spectool.io.results import format_cell, write_rows

    if output != "-":
        write_rows(env, result["scores"], COLUMNS, title="clusters")
    else:
        for row in result["scores"]:
            env.info("cluster: " + " ".join(f"{c}={format_cell(row.get(c))}" for c in COLUMNS))
    iso = result["extra"]["isolated"]
    if len(iso):
        env.info(f"cluster: most isolated rows: {', '.join(str(int(i)) for i in iso)}")
