"""``spectool explain`` with a structure → spectrum model: per-neighbour attention of each head, as a
table (one row per neighbour of each absorbing site) and, with --png, one picture per site."""

from __future__ import annotations

from spectool.cli.common import Batch
from spectool.env import Env


def explain_spectra_command(env: Env, ckpt, inputs: list[str], png: str | None, device,
                            neurons: int | None = None, seed: int = 0) -> None:
    """Read structures (files or paired sets) as predict does, then tabulate and draw their attention;
    with ``neurons``, a second table of neuron groups (:mod:`spectool.analysis.neurons`)."""
    from pathlib import Path

    from spectool.cli.predict_spectrum import read_samples
    from spectool.explain.neighbours import attention_rows, neighbour_attention, neighbourhood_figure
    from spectool.io.results import write_rows
    from spectool.learn.graphdata import concat, to_batch

    if not ckpt.model.explain_hooks().attention:
        from spectool.errors import UsageError

        raise UsageError(f"{ckpt.meta['model']['name']} has no attention to show (gat has)")
    batch = Batch(env, noun="structure")
    got = read_samples(env, ckpt, inputs, batch, evaluate=False)
    if got.graphs:
        graphs = concat(got.graphs)
        rows = attention_rows(got.ids, graphs, neighbour_attention(ckpt.model, to_batch(graphs, device)))
        heads = sorted({k for r in rows for k in r if k.startswith("head")})
        write_rows(env, rows, ("id", "site", "rank", "element", "distance", *heads, "mean"))
        if png:
            from spectool.io.figures import write_pngs

            Path(png).mkdir(parents=True, exist_ok=True)
            sites = {}
            for r in rows:
                sites.setdefault((r["id"], r["site"]), []).append(r)
            write_pngs(Path(png), ((f"{i}_site{s}.png", neighbourhood_figure(rs, f"{i}: attention around site {s}"))
                                   for (i, s), rs in sites.items()))
        if neurons:
            _neurons(env, ckpt, graphs, neurons, seed, device)
    batch.finish()


def _neurons(env: Env, ckpt, graphs, k: int, seed: int, device) -> None:
    from spectool.analysis.neurons import group_report
    from spectool.graph.descriptors import site_descriptors
    from spectool.io.results import write_rows
    from spectool.learn.spectrum import embed_graphs

    from spectool.errors import UsageError

    if ckpt.model.graph_type != "star":
        raise UsageError("--neurons reads absorber-centred graphs (gat)")
    if graphs.n_samples < 4:
        raise UsageError("--neurons needs at least 4 structures")
    rows = group_report(embed_graphs(ckpt.model, graphs, device), site_descriptors(graphs), k, seed)
    write_rows(env, rows, ("group", "neurons", "samples", "descriptor", "d", "responders", "others"))
