"""``spectool explain``: attention maps, CAM, Grad-CAM and occlusion of a trained model, on the input's axis."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, DeviceOpt, InputsArg, OutputOpt, command
from spectool.env import Env
from spectool.learn.device import DEFAULT_DEVICE, resolve_device
from spectool.errors import SpectoolError, UsageError

METHOD_HELP = ("arm (ViT: last layer's [CLS] attention, mean over heads), rollout (ViT: Abnar & Zuidema with the "
               "residual identity), cam (exact, GAP heads), gradcam (models with a conv cam_layer), occlusion (any "
               "model), or all (repeatable) (default: arm+rollout for a ViT, cam+gradcam for a CNN, else occlusion).")
ModelOpt = Annotated[str, typer.Option("--model", "-m", metavar="MODEL", help="A spectool checkpoint (.safetensors).")]


@command(app, "explain")
def explain(
    env: Env,
    inputs: InputsArg,
    model: ModelOpt,
    output: OutputOpt = "-",
    png: Annotated[Optional[str], typer.Option(metavar="DIR", help="Also draw one picture per sample here "
                                               "(and a layers × heads grid for a ViT).")] = None,
    method: Annotated[Optional[list[str]], typer.Option("--method", metavar="NAME", help=METHOD_HELP)] = None,
    klass: Annotated[Optional[str], typer.Option("--class", metavar="LABEL",
                                                 help="Explain this class (default: the predicted one).")] = None,
    window: Annotated[Optional[float], typer.Option(help="Occlusion window in axis units (default: 1/50 of the "
                                                         "axis span).")] = None,
    stride: Annotated[Optional[float], typer.Option(help="Occlusion stride in axis units (default: half the "
                                                         "window).")] = None,
    baseline: Annotated[float, typer.Option(help="Value occluded points take.")] = 0.0,
    batch_size: Annotated[int, typer.Option(min=1, help="Spectra per forward pass.")] = 64,
    from_wavelength: Annotated[Optional[float], typer.Option(
        help="Wavelength in Å of scans that do not state one (for the recipe's bragg step).")] = None,
    neurons: Annotated[Optional[int], typer.Option(min=2, metavar="K", help=(
        "Structure → spectrum models: also cluster the graph-embedding neurons by their responses over the inputs "
        "into K groups, each with the structural descriptor that best separates the samples it responds to "
        "(a second table, after the attention one)."))] = None,
    seed: Annotated[int, typer.Option(help="Seed for --neurons (PCA, k-means).")] = 0,
    device: DeviceOpt = DEFAULT_DEVICE,
) -> None:
    """Explain a model's decisions: which parts of each spectrum drive its class.

    Inputs are sets or raw scans; raw scans go through the checkpoint's preprocess recipe and must end on its training
    axis. The output set holds the model's input rows (/entry/data) and /entry/explain: one (N, L) map per method on
    the same axis, the explained class, its probability and, for a ViT, the [CLS] attention of every layer and head.

    With a structure → spectrum model (train --task spectrum), INPUT are structure files or paired sets, and the
    result is a table of each head's attention on each neighbour of every absorbing site (--png DIR: one bar chart
    per site); -o is not used.
    """
    from spectool.io.checkpoint import load_checkpoint, read_header
    from spectool.io.stdio import refuse_binary_to_terminal

    if read_header(model).meta["task"] == "spectrum":
        from spectool.cli.explain_spectrum import explain_spectra_command

        return explain_spectra_command(env, load_checkpoint(model, resolve_device(device)), inputs, png,
                                       resolve_device(device), neurons, seed)
    refuse_binary_to_terminal(output, env)
    if output.lower().endswith(".npy"):
        raise UsageError("explain writes an HDF5 set (.h5): the maps need /entry/explain", output)
    ckpt = load_checkpoint(model, resolve_device(device))
    plan = _plan(ckpt, method or [], klass, window, stride, baseline, batch_size)
    _run(env, inputs, model, ckpt, plan, output, png, from_wavelength)


def _plan(ckpt, methods: list[str], klass, window, stride, baseline, batch_size) -> dict:
    """Methods, target class and occlusion settings (in points), checked against the model."""
    from spectool.explain.maps import OcclusionSettings, check_methods, default_methods

    model = ckpt.model
    try:
        methods = _supported(model) if "all" in methods else methods
        chosen = check_methods(model, methods) if methods else default_methods(model)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if klass is not None and klass not in ckpt.labels:
        raise UsageError(f"--class {klass!r} is not one of the model's labels ({', '.join(ckpt.labels[:10])}…)")
    axis = ckpt.axis.values
    step = (axis[-1] - axis[0]) / max(len(axis) - 1, 1)
    width = window if window is not None else (axis[-1] - axis[0]) / 50
    points = int(min(max(1, round(width / step)), len(axis)))
    stride_points = max(1, round(stride / step)) if stride is not None else max(1, points // 2)
    return {"methods": chosen, "target": None if klass is None else ckpt.labels.index(klass),
            "occlusion": OcclusionSettings(points, stride_points, baseline, "probability", 256),
            "batch_size": batch_size, "step": step}


def _supported(model) -> list[str]:
    from spectool.explain.maps import supported

    return supported(model)


def _run(env: Env, inputs: list[str], model_path: str, ckpt, plan: dict, output: str, png, from_wavelength) -> None:
    from pathlib import Path

    from spectool.io.lazy import LazySetWriter
    from spectool.io.sets import history_record
    from spectool.io.spectra import iter_spectra
    from spectool.learn.inference import Predictor

    predictor = Predictor(ckpt, str(next(ckpt.model.parameters()).device) if _has_parameters(ckpt.model) else "cpu")
    if png:
        Path(png).mkdir(parents=True, exist_ok=True)
    occ = plan["occlusion"]
    params = {"model": model_path, "methods": plan["methods"], "class": plan["target"],
              "window_points": occ.window, "stride_points": occ.stride, "baseline": occ.baseline}
    record = history_record("explain", params, [*inputs, model_path])
    batch = Batch(env, noun="input")
    writer = _ExplainWriter(ckpt, plan, png)
    with LazySetWriter(output, env, record) as out, env.progress("explain", None) as advance:
        for name, item in iter_spectra(inputs, env, from_wavelength):
            with batch.item(name):
                if isinstance(item, SpectoolError):
                    raise item
                writer.write(out, item, _model_rows(item, predictor))
                advance(len(item))
        if not batch.ok:
            batch.finish()
    env.info(f"explain: {out.n} maps ({', '.join(plan['methods'])}) written to {output}"
             + (f", pictures in {png}" if png else ""))
    batch.finish()


def _has_parameters(model) -> bool:
    return any(True for _ in model.parameters())


def _model_rows(item, predictor):
    """The item's rows on the model's axis, exactly as predict prepares them."""
    return predictor.prepare(item)


class _ExplainWriter:
    """Runs the methods batch by batch and appends rows, maps and pictures."""

    def __init__(self, ckpt, plan: dict, png):
        self.ckpt, self.plan, self.png = ckpt, plan, png
        self.group = None
        self.row = 0

    def write(self, out, item, X) -> None:
        from spectool.explain.maps import explain_batch

        size = self.plan["batch_size"]
        for lo in range(0, len(X), size):
            part = X[lo:lo + size]
            device = next(iter(self.ckpt.model.parameters()), None)
            maps = explain_batch(self.ckpt.model, part, self.plan["methods"], self.plan["target"],
                                 self.plan["occlusion"], device.device.type if device is not None else "cpu")
            sub = _slice(item, lo, lo + len(part))
            out.append(sub, part, self.ckpt.axis, sub.labels)
            self._append(out.builder, maps)
            if self.png:
                self._pictures(sub, part, maps)
            self.row += len(part)

    def _append(self, builder, maps: dict) -> None:
        from spectool.explain.maps import main_map
        from spectool.io.explainmaps import append_maps, open_explain_group

        if self.group is None:
            self.group = open_explain_group(builder, self.ckpt, self.plan, main_map(maps))
        append_maps(self.group, maps, self.ckpt.labels, self.plan["methods"])

    def _pictures(self, item, X, maps: dict) -> None:
        from spectool.explain.plots import sample_figures
        from spectool.io.figures import write_pngs

        ids = item.samples.get("id")
        names = [str(i) for i in ids] if ids is not None else [f"{item.name}#{k}" for k in range(len(X))]
        spans = self.ckpt.model.patch_spans().numpy() if "attention" in maps else None
        write_pngs(self.png, sample_figures(self.row, names, X, self.ckpt.axis, maps, self.ckpt.labels,
                                            item.labels, spans))


def _slice(item, lo: int, hi: int):
    from dataclasses import replace

    return replace(item, X=item.X[lo:hi], samples={k: v[lo:hi] for k, v in item.samples.items()},
                   labels=item.labels[lo:hi] if item.labels is not None else None)
