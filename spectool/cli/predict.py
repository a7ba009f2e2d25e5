"""``spectool predict``: name what a scan (or a folder, or a set) shows, with top-k scores."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, DeviceOpt, InputsArg, JsonOpt, command
from spectool.env import Env
from spectool.errors import SpectoolError, ThresholdNotMet, UsageError

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "default.safetensors"


@command(app, "predict")
def predict(
    env: Env,
    inputs: InputsArg,
    model: Annotated[Optional[str], typer.Option("--model", "-m", metavar="MODEL.safetensors",
                                                 help="Checkpoint [default: $SPECTOOL_MODEL, else the shipped model].")] = None,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="How many candidates per spectrum.")] = 5,
    json: JsonOpt = False,
    output: Annotated[Optional[str], typer.Option("-o", "--output", metavar="SET",
                                                  help="Also write the spectra and predictions as a set.")] = None,
    output_dir: Annotated[Optional[str], typer.Option(metavar="DIR",
                                                      help="One JSON result per scan, written atomically (cron).")] = None,
    skip_existing: Annotated[bool, typer.Option(help="With --output-dir: skip scans that have a result.")] = False,
    fail_under: Annotated[Optional[float], typer.Option(metavar="P",
                                                        help="Exit 3 when a best score is below P.")] = None,
    evaluate: Annotated[bool, typer.Option("--eval", help="Labelled sets: top-1/3/5 accuracy and a confusion matrix.")] = False,
    confusion: Annotated[str, typer.Option(metavar="PREFIX", help="With --eval: PREFIX.csv and PREFIX.png.")] = "confusion",
    wavelength: Annotated[Optional[float], typer.Option(help="Wavelength in Å of scans that state none.")] = None,
    min_coverage: Annotated[float, typer.Option(min=0, max=1, help="Least fraction of the model's axis a scan must cover.")] = 0.5,
    threshold: Annotated[Optional[float], typer.Option(help=(
        "Reliability below this flags out-of-distribution [default: the checkpoint's, calibrated on held-out "
        "data by train --test, else 0.6]."))] = None,
    device: DeviceOpt = "auto",
    refine: Annotated[bool, typer.Option("--refine/--no-refine", help=(
        "Verify the network's candidates by whole-pattern fitting and search for further phases "
        "(when the model or --references has structures to fit); --no-refine: the network alone."))] = True,
    refine_top: Annotated[int, typer.Option(min=1, max=50, metavar="N", help="How many network candidates to fit.")] = 10,
    references: Annotated[Optional[str], typer.Option(metavar="DIR", help=(
        "Structures to fit instead of the model's: CIF/POSCAR files, labels from a manifest.csv or labels.csv "
        "(path,label) in DIR, else the file names."))] = None,
    phases: Annotated[Optional[int], typer.Option(min=1, max=8, metavar="N", help=(
        "Most phases per scan (1..8) [default: automatic, up to 4]."))] = None,
    elements: Annotated[Optional[str], typer.Option(metavar="LIST", help=(
        "Only candidates made of these elements (e.g. Fe,Ti,O; needs structures to fit)."))] = None,
    require: Annotated[Optional[str], typer.Option(metavar="LIST", help=(
        "Only candidates that contain all of these elements (e.g. Fe)."))] = None,
) -> None:
    """Identify spectra with a trained model: top-k labels with scores, reliability and an OOD flag.

    Raw scans in any format spectool reads go through the checkpoint's recipe (wavelength conversion, resampling
    onto the training axis, baseline, normalisation); sets already on the training axis are scored as they are.
    A table on a terminal, TSV when piped, JSON Lines with --json.
    """
    from spectool.io.checkpoint import load_checkpoint
    from spectool.learn.device import pick_device
    from spectool.learn.inference import Predictor

    torch_device = pick_device(device)
    ckpt = load_checkpoint(_model_path(model), device=torch_device)
    predictor = Predictor(ckpt, torch_device, min_coverage, threshold)
    run = _Run(env, predictor, top, output_dir, skip_existing, inputs)
    run.verifier = _verifier(env, ckpt, predictor, refine, refine_top, references, phases, torch_device,
                             _elements(elements, "--elements"), _elements(require, "--require"))
    run.all(inputs, wavelength, output)
    if evaluate:
        run.evaluation(confusion)
    run.batch.finish()
    if fail_under is not None and run.worst is not None and run.worst < fail_under:
        raise ThresholdNotMet(f"best score {run.worst:.3f} is below --fail-under {fail_under:g}", run.worst_name)


def _elements(text: str | None, option: str) -> set[str] | None:
    """Element symbols of a comma-separated list; a usage error for anything that is not one."""
    if text is None:
        return None
    from spectool.xrd.scattering import ATOMIC_NUMBER

    symbols = {t.strip() for t in text.split(",") if t.strip()}
    bad = sorted(s for s in symbols if s not in ATOMIC_NUMBER)
    if bad or not symbols:
        raise UsageError(f"{option}: not element symbols: {', '.join(bad) or repr(text)}")
    return symbols


def _verifier(env, ckpt, predictor, refine, refine_top, references, phases, device, allowed=None, required=None):
    """The fitting step, or None (--no-refine, or no structures to fit: then say so)."""
    if (allowed or required) and not refine:
        raise UsageError("--elements and --require need the fit (drop --no-refine)")
    if not refine:
        return None
    from spectool.fit.verify import VerifyOptions, restrict_library
    from spectool.io.checkpoint import read_references
    from spectool.io.references import library_from_folder
    from spectool.learn.verification import Verifier

    library, meta = read_references(ckpt)
    if references:
        library = library_from_folder(references, env.warn)
    chemistry = bool(allowed or required)
    if chemistry:
        library = restrict_library(library, allowed, required)
        if not library:
            raise UsageError("no candidate structure is consistent with --elements/--require")
    if not library:
        env.debug("the model has no structures to fit (see --references): the network's answers are unverified")
        return None
    threshold = meta.get("unknown_threshold")
    options = VerifyOptions(max_phases=phases or 4, **({"unknown_threshold": threshold} if threshold else {}))
    return Verifier(predictor, library, refine_top, options, device, only_library=chemistry)


def _model_path(model: str | None) -> str:
    path = model or os.environ.get("SPECTOOL_MODEL") or str(DEFAULT_MODEL)
    if not model and not os.environ.get("SPECTOOL_MODEL") and not DEFAULT_MODEL.exists():
        raise UsageError("no model: give --model or set SPECTOOL_MODEL (the default model is built by `make model`)")
    return path


class _Run:
    """One predict invocation: scores items as they stream and writes every kind of output."""

    def __init__(self, env, predictor, top, output_dir, skip_existing, inputs):
        self.env, self.predictor, self.top = env, predictor, top
        self.output_dir = Path(output_dir) if output_dir else None
        self.skip_existing = skip_existing
        self.roots = {str(Path(i)) for i in inputs if Path(i).is_dir()}
        self.batch = Batch(env, noun="input")
        self.worst, self.worst_name = None, None
        self.truth: list[str] = []
        self.ranked: list = []
        self.verifier = None

    def all(self, inputs, wavelength, output) -> None:
        from contextlib import ExitStack

        from spectool.io.predictions import folder_lock
        from spectool.io.results import write_rows

        info = self.predictor.ckpt.meta.get("label_info") or {}
        fields = list(dict.fromkeys(f for v in info.values() for f in v))
        columns = ["path", "rank", "label", self._score_kind(), "reliability", "ood"] + fields
        if self.verifier is not None:
            from spectool.io.predictions import FIT_COLUMNS

            columns += FIT_COLUMNS
        with ExitStack() as stack:
            if self.output_dir:
                stack.enter_context(folder_lock(self.output_dir))
            writer = stack.enter_context(self._set_writer(output)) if output else None
            rows = self._rows(inputs, wavelength, writer, info)
            if self.env.json:
                write_rows(self.env, rows, columns)
            else:
                from spectool.io.predictions import table_rows, verified_table_rows

                as_rows = verified_table_rows if self.verifier is not None else table_rows
                write_rows(self.env, (r for rec in rows for r in as_rows(rec, fields)), columns)

    def _score_kind(self) -> str:
        return "reliability" if getattr(self.predictor.ckpt.model, "output_kind", "") == "reliability" \
            else "probability"

    def _set_writer(self, output):
        from spectool.io.lazy import LazySetWriter
        from spectool.io.sets import history_record

        return LazySetWriter(output, self.env, history_record("predict", {"model": self.predictor.ckpt.meta.get(
            "model"), "top": self.top}))

    def _rows(self, inputs, wavelength, writer, info):
        from spectool.io.spectra import iter_spectra

        for name, item in iter_spectra(inputs, self.env, wavelength):
            records = []
            with self.batch.item(name):
                if isinstance(item, SpectoolError):
                    raise item
                records = self._score(item, writer, info)
            yield from records

    def _score(self, item, writer, info) -> list[dict]:
        from spectool.io.predictions import result_record, write_result_file

        names = self._names(item)
        targets = [self._target(item, name) for name in names]
        if self.output_dir and self.skip_existing and all(t.exists() for t in targets):
            return []
        X = self.predictor.prepare(item)
        pred = self.predictor.predict(X)
        indices, scores = pred.top(self.top)
        records = [result_record(names[i], self.predictor.labels, indices[i], scores[i], pred.reliability[i],
                                 None if pred.similarity is None else pred.similarity[i], pred.ood[i],
                                 pred.score_kind, info) for i in range(len(X))]
        if self.verifier is not None:
            records = self._verified(item, X, records, info)
        for record, target in zip(records, targets):
            if target is not None:
                write_result_file(target, record)
        if writer is not None:
            writer.append(item.at_wavelength(self.predictor.prepared_wavelength(item)), X, self.predictor.axis,
                          [r["top"][0]["label"] for r in records])
        self._remember(item, names, scores, indices)
        return records

    def _verified(self, item, X, records: list[dict], info) -> list[dict]:
        """Records with the fit's verdicts; a row that cannot be fitted says why on one line."""
        from spectool.io.predictions import verified_record

        out = []
        for record, verdict in zip(records, self.verifier.verdicts(item, X)):
            if isinstance(verdict, SpectoolError):
                self.env.warn(str(verdict.where(record["path"])))
            record = verified_record(record, verdict, info)
            out.append({**record, "top": record["top"][:self.top]})
        return out

    def _target(self, item, name: str):
        from spectool.io.predictions import result_path

        if not self.output_dir:
            return None
        root = next((r for r in self.roots if item.name.startswith(r)), None)
        return result_path(self.output_dir, name.replace(":", "#", 1) if not item.is_scan else name, root)

    def _names(self, item) -> list[str]:
        if item.is_scan:
            return [item.name]
        ids = item.samples.get("id")
        return [f"{item.name}:{ids[i]}" if ids is not None else f"{item.name}#{i}" for i in range(len(item))]

    def _remember(self, item, names, scores, indices) -> None:
        best = scores[:, 0]
        i = int(best.argmin())
        if self.worst is None or best[i] < self.worst:
            self.worst, self.worst_name = float(best[i]), names[i]
        if item.labels is not None:
            self.truth += list(item.labels)
            self.ranked += list(indices)

    def evaluation(self, prefix: str) -> None:
        from spectool.learn.evaluate import evaluate_ranked, write_confusion

        if not self.truth:
            raise UsageError("--eval needs labelled sets among the inputs")
        result = evaluate_ranked(self.truth, self.ranked, self.predictor.labels)
        write_confusion(prefix, result)
        self.env.info(result.summary() + f"; confusion matrix in {prefix}.csv and {prefix}.png")
