"""``spectool preprocess``: measured scans (or sets) → one set on one axis, recipe recorded."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, InputsArg, OutputOpt, command
from spectool.env import Env
from spectool.errors import SpectoolError

STEP_HELP = ("A step NAME[:key=value,…], applied in the order given (repeatable): crop, resample, savgol, baseline, "
             "normalize, clip, absorbance, wavenumber, raman_shift, despike, bragg, edge (XANES onto an edge window). "
             "E.g. --step savgol:window=21,order=3 "
             "--step baseline:method=arpls --step normalize:method=max. `spectool ops` lists parameters.")


@command(app, "preprocess")
def preprocess(
    env: Env,
    inputs: InputsArg,
    output: OutputOpt = "-",
    step: Annotated[Optional[list[str]], typer.Option("--step", "-s", metavar="NAME[:K=V,…]", help=STEP_HELP)] = None,
    recipe: Annotated[Optional[str], typer.Option(metavar="FILE|NAME", help=(
        "Steps from a recipe JSON, or a named recipe: ftir (transmittance → absorbance, nm/µm → cm⁻¹, 700–3500 "
        "cm⁻¹ step 2, 0–1) or raman (laser line → Raman shift, spike removal, 100–1800 cm⁻¹, baseline, step 1, "
        "0–1); before any --step."))] = None,
    grid: Annotated[Optional[str], typer.Option(metavar="START:STOP:STEP",
                                                help="Resample onto this grid as the last step.")] = None,
    like: Annotated[Optional[str], typer.Option(metavar="MODEL|SET",
                                                help="Resample onto the axis of a checkpoint or set as the last step.")] = None,
    from_wavelength: Annotated[Optional[float], typer.Option(
        help="Wavelength in Å of scans that do not state one (for bragg).")] = None,
    label: Annotated[str, typer.Option(help="stem, parent, none, or a CSV mapping id/path to label.")] = "none",
    save_recipe: Annotated[Optional[str], typer.Option(metavar="FILE", help="Also write the recipe as JSON.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="hdf5 or npy [default: from the suffix].")] = None,
) -> None:
    """Smooth, remove baselines, crop, resample, normalise and convert units of scans or sets.

    Every row must end on one axis: finish with a resample (--grid, --like or --step resample:…) when the inputs
    differ. The recipe goes into the set's history, and predict replays it on raw scans.
    """
    from spectool.io.like import axis_like
    from spectool.io.recipes import read_recipe, write_recipe
    from spectool.io.stdio import refuse_binary_to_terminal
    from spectool.signal.pipeline import build_recipe

    refuse_binary_to_terminal(output, env)
    like_axis = axis_like(like, env) if like else None
    plan = build_recipe(step or [], read_recipe(recipe) if recipe else None, grid, like_axis)
    if save_recipe:
        write_recipe(save_recipe, plan)
    _run(env, inputs, plan, output, label, from_wavelength, fmt)


def _run(env: Env, inputs: list[str], plan, output: str, label: str, from_wavelength, fmt) -> None:
    from spectool.io.labels import PATH_RULES, read_label_table
    from spectool.io.lazy import LazySetWriter
    from spectool.io.sets import history_record
    from spectool.io.spectra import iter_spectra
    from spectool.signal.ops import Context

    table = None if label in PATH_RULES else read_label_table(label)
    record = history_record("preprocess", {"recipe": plan.to_json(), "label": label,
                                           "from_wavelength": from_wavelength}, inputs)
    batch = Batch(env, noun="input")
    with LazySetWriter(output, env, record, fmt) as out, env.progress("preprocess", None) as advance:
        for name, item in iter_spectra(inputs, env, from_wavelength):
            with batch.item(name):
                if isinstance(item, SpectoolError):
                    raise item
                ctx = Context(item.wavelength, item.laser_nm, item.kind)
                X, axis = plan.apply(item.X, item.axis, ctx)
                out.append(item.at_wavelength(plan.context_after(ctx).wavelength), X, axis,
                           _labels(item, label, table))
                advance(len(item))
        if not batch.ok:
            batch.finish()
    env.info(f"preprocess: {out.n} spectra written to {output}")
    batch.finish()


def _labels(item, rule: str, table) -> list[str] | None:
    from spectool.io.labels import label_from_path, label_from_table

    if not item.is_scan and rule == "none":
        return item.labels
    ids, sources = item.samples["id"], item.samples.get("source", item.samples["id"])
    if table is not None:
        return [label_from_table(table, str(s), str(i)) for s, i in zip(sources, ids)]
    return [label_from_path(str(s), rule) for s in sources]
