"""``spectool predict``: name what a scan (or a folder, or a set) shows, with top-k scores."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NamedTuple, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, DeviceOpt, InputsArg, JsonOpt, command
from spectool.env import Env
from spectool.learn.device import DEFAULT_DEVICE
from spectool.errors import SpectoolError, ThresholdNotMet, UsageError

INFO_KEPT = ("mineral", "prototype_formula")  # label details a narrow table keeps longest, most wanted first
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "default.safetensors"
BATCH_ROWS = 256  # spectra scored in one model call: many small scans cost about what one does


class _Prepared(NamedTuple):
    """An item waiting to be scored: its rows on the model's axis, their names and result files."""

    item: object
    names: list
    targets: list
    X: object  # (B, L) float32


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
                                                      help="One JSON result per scan, written atomically (cron): DIR/PATH.json, PATH being "
                                                           "the scan's path below the folder holding every INPUT "
                                                           "(set rows: PATH#ID), so names are unique and the same "
                                                           "on every run.")] = None,
    skip_existing: Annotated[bool, typer.Option(help="With --output-dir: skip scans that have a result.")] = False,
    fail_under: Annotated[Optional[float], typer.Option(metavar="P", min=0.0, max=1.0,
                                                        help="Exit 3 when an answer's confidence (a verified answer of a "
                                                             "calibrated model), else its top score, is below P "
                                                             "(0..1).")] = None,
    evaluate: Annotated[bool, typer.Option("--eval", help=(
        "Labelled sets: top-1/3/5 accuracy and a confusion matrix; with a structure → spectrum model, paired sets: "
        "MAE and R² per sample and overall."))] = False,
    confusion: Annotated[str, typer.Option(metavar="PREFIX", help="With --eval: PREFIX.csv and PREFIX.png.")] = "confusion",
    wavelength: Annotated[Optional[float], typer.Option(help="Wavelength in Å of scans that state none.")] = None,
    min_coverage: Annotated[float, typer.Option(min=0, max=1, help="Least fraction of the model's axis a scan must cover.")] = 0.5,
    threshold: Annotated[Optional[float], typer.Option(help=(
        "Reliability below this flags out-of-distribution [default: the checkpoint's, calibrated on held-out "
        "data by train --test, else 0.6]."))] = None,
    lattice_search: Annotated[bool, typer.Option("--lattice-search/--no-lattice-search", help=(
        "XRD: score each class at its best cell (d-spacings x0.99-1.01) and zero (+-0.1 deg 2theta), nine "
        "network passes, as search-match lets a cell and the zero move; --no-lattice-search: the scan as "
        "prepared, one pass."))] = True,
    device: DeviceOpt = DEFAULT_DEVICE,
    refine: Annotated[Optional[bool], typer.Option("--refine/--no-refine", show_default=False, help=(
        "Verify the network's candidates (and the scan's best search–match candidates) by whole-pattern "
        "fitting, when the model or --references has structures to fit; --no-refine: the network alone, "
        "milliseconds a scan instead of about a second [default: --refine]."))] = None,
    refine_top: Annotated[int, typer.Option(min=1, max=50, metavar="N", help="How many network candidates to fit.")] = 10,
    references: Annotated[Optional[str], typer.Option(metavar="DIR|SET", help=(
        "References to fit instead of the model's: structures (CIF/POSCAR files) or measured scans of "
        "standards (a folder, a set, or a CSV table of them), labels from a manifest.csv or labels.csv "
        "(path,label[,rir]) in DIR, else the file names; measured references are fitted by full-pattern "
        "summation (scale, shift, width each) with wt % from their RIRs (rir column; 1 when unknown)."))] = None,
    phases: Annotated[Optional[int], typer.Option(min=1, max=8, metavar="N", help=(
        "Most phases per scan (1..8): above 1, a mixture search (network and library search-match on "
        "each residual, joint fits, Hill-Howard wt %) [default: 1: the search costs about 4x the time "
        "per scan and can name spurious phases on a single-phase scan]."))] = None,
    texture: Annotated[bool, typer.Option("--texture", help=(
        "Refine a March-Dollase preferred orientation for each phase found (structures only; each direction "
        "its crystal system allows, kept where Rwp drops by 2 %), for the weight fractions of textured "
        "specimens (clays, micas, carbonates); the answer and 'unknown' are decided without it. In the JSON: "
        "texture.direction and texture.march_r."))] = False,
    elements: Annotated[Optional[str], typer.Option(metavar="LIST", help=(
        "Only candidates made of these elements (e.g. Fe,Ti,O; needs structures to fit)."))] = None,
    require: Annotated[Optional[str], typer.Option(metavar="LIST", help=(
        "Only candidates that contain all of these elements (e.g. Fe)."))] = None,
    png: Annotated[Optional[str], typer.Option(metavar="DIR", help=(
        "The Rietveld plot of each fitted scan (measured, fit, phases with wt %, difference, tick marks) as "
        "DIR/PATH.png, named as --output-dir names results (implies --refine)."))] = None,
) -> None:
    """Identify spectra with a trained model: top-k labels with scores, reliability and an OOD flag.

    With a structure → spectrum model (train --task spectrum), INPUT are structure files or paired sets: the
    predicted spectra go to -o as a set, the table gives each one's peak; --eval compares with the pairs' spectra.

    Raw scans in any format spectool reads go through the checkpoint's recipe (wavelength conversion, resampling
    onto the training axis, baseline, normalisation); sets already on the training axis are scored as they are.
    A table on a terminal, TSV when piped, JSON Lines with --json.

    Verified answers carry the fit (score, Rwp, explained peak area, cell, shift), the phases found and, where
    the model is calibrated, its own references are fitted and one phase is asked for, a confidence: the
    probability that the answer is right, calibrated on compounds held out of training (--fail-under holds it).
    """
    from spectool.io.checkpoint import load_checkpoint, read_header
    from spectool.learn.device import resolve_device
    from spectool.learn.inference import Predictor

    if read_header(_model_path(model)).meta["task"] == "spectrum":
        from spectool.cli.predict_spectrum import predict_spectra_command

        torch_device = resolve_device(device)
        ckpt = load_checkpoint(_model_path(model), device=torch_device)
        return predict_spectra_command(env, ckpt, inputs, output, evaluate, torch_device)
    if evaluate:
        _require_labelled_set(inputs, env)
    torch_device = resolve_device(device)
    ckpt = load_checkpoint(_model_path(model), device=torch_device)
    predictor = Predictor(ckpt, torch_device, min_coverage, threshold, lattice_search=lattice_search)
    run = _Run(env, predictor, top, output_dir, skip_existing, inputs)
    if refine is None:  # the network proposes, the fit decides, wherever there is something to fit
        refine = True
    if png and not refine:
        raise UsageError("--png draws the fit: drop --no-refine")
    if texture and not refine:
        raise UsageError("--texture refines the fit: drop --no-refine")
    run.verifier = _verifier(env, ckpt, predictor, refine, refine_top, references, phases, torch_device,
                             _elements(elements, "--elements"), _elements(require, "--require"), wavelength, texture)
    if png:
        if run.verifier is None:
            raise UsageError("--png draws the fit, and the model has no structures to fit (see --references)")
        from spectool.io.predictions import ResultNames

        run.pictures = ResultNames(Path(png), inputs, suffix=".png")
    run.all(inputs, wavelength, output)
    if evaluate:
        run.evaluation(confusion)
    run.batch.finish()
    if fail_under is not None and run.worst is not None and run.worst < fail_under:
        raise ThresholdNotMet(f"{run.worst_kind} {run.worst:.3f} is below --fail-under {fail_under:g}",
                              run.worst_name)


def _require_labelled_set(inputs: list[str], env: Env) -> None:
    """--eval without a labelled set among the inputs is a usage error, before any scoring or output.

    Stdin can be read only once: with ``-`` the check waits for the scores (nothing labelled → exit 2).
    """
    from spectool.io.inputs import expand_inputs
    from spectool.io.sets import is_set_path, open_set
    from spectool.io.spectra import input_suffixes

    for path, problem in expand_inputs(inputs, input_suffixes()):
        if path == "-":
            return
        if problem or not is_set_path(path):
            continue
        try:
            with open_set(path, env) as reader:
                if reader.meta.label_names:
                    return
        except SpectoolError:
            continue  # named when the batch reaches it
    raise UsageError("--eval needs labelled sets among the inputs")


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


def _verifier(env, ckpt, predictor, refine, refine_top, references, phases, device, allowed=None, required=None,
              wavelength=None, texture: bool = False):
    """The fitting step, or None (--no-refine, or no structures to fit: then say so)."""
    if (allowed or required) and not refine:
        raise UsageError("--elements and --require need the fit (drop --no-refine)")
    if not refine:
        return None
    from spectool.fit.verify import VerifyOptions, restrict_library
    from spectool.io.checkpoint import read_references
    from spectool.io.references import is_measured_source, library_from_folder
    from spectool.learn.verification import Verifier

    library, meta = read_references(ckpt)
    if references and is_measured_source(references):
        library = _measured_library(env, predictor, references, wavelength)
    elif references:
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
    options = VerifyOptions(max_phases=phases or 1, texture=texture,
                            **({"unknown_threshold": threshold} if threshold else {}))
    from spectool.fit.confidence import Confidence
    from spectool.io.searchcache import SearchCache

    # calibrated on single-phase scans against the model's own references, every candidate allowed: elsewhere it
    # would not mean what it says
    calibrated = not references and not chemistry and (phases or 1) == 1
    confidence = Confidence.from_json(meta.get("confidence")) if calibrated else None
    return Verifier(predictor, library, refine_top, options, device, only_library=chemistry,
                    index_store=SearchCache.default(), confidence=confidence)


def _measured_library(env, predictor, references: str, wavelength) -> dict:
    """--references of measured scans: label → prepared references; a usage error when none is usable."""
    from spectool.io.references import measured_entries
    from spectool.learn.verification import measured_library

    entries, errors = measured_entries(references, env, wavelength)
    for message in errors:
        env.warn(f"{message} (not used as a reference)")
    library = measured_library(predictor, entries, env.warn)
    if not library:
        raise UsageError("--references: no measured reference here could be used", references)
    return library


def _model_path(model: str | None) -> str:
    path = model or os.environ.get("SPECTOOL_MODEL") or str(DEFAULT_MODEL)
    if not model and not os.environ.get("SPECTOOL_MODEL") and not DEFAULT_MODEL.exists():
        raise UsageError("no model: give --model or set SPECTOOL_MODEL (the default model is built by `make model`)")
    return path


def _answer_score(record: dict) -> tuple[float, str]:
    """(score, what it is) that --fail-under holds a record to: its confidence where it has one, else the
    score of its top candidate (the network's probability, or an RCNet union's reliability)."""
    if record.get("confidence") is not None:
        return float(record["confidence"]), "confidence"
    return (float(record["top"][0]["score"]) if record["top"] else 0.0), "best score"


class _Run:
    """One predict invocation: scores items as they stream and writes every kind of output."""

    def __init__(self, env, predictor, top, output_dir, skip_existing, inputs):
        self.env, self.predictor, self.top = env, predictor, top
        self.output_dir = Path(output_dir) if output_dir else None
        self.skip_existing = skip_existing
        self.names = None
        if output_dir:
            from spectool.io.predictions import ResultNames

            self.names = ResultNames(Path(output_dir), inputs)
        self.batch = Batch(env, noun="input")
        self.worst, self.worst_name, self.worst_kind = None, None, ""
        self.truth: list[str] = []
        self.ranked: list = []
        self.verifier = None
        self.pictures = None  # --png: ResultNames of the pictures

    def all(self, inputs, wavelength, output) -> None:
        from contextlib import ExitStack

        from spectool.io.predictions import folder_lock
        from spectool.io.results import write_rows

        info = self.predictor.ckpt.meta.get("label_info") or {}
        fields = list(dict.fromkeys(f for v in info.values() for f in v))
        columns = ["path", "rank", "label", self._score_kind(), "reliability", "ood"] + fields
        optional = [f for f in fields if f not in INFO_KEPT] + [f for f in INFO_KEPT[::-1] if f in fields]
        if self.verifier is not None:
            from spectool.io.predictions import CONFIDENCE_COLUMN, FIT_COLUMNS

            columns += FIT_COLUMNS + ([CONFIDENCE_COLUMN] if self.verifier.confidence is not None else [])
        with ExitStack() as stack:
            if self.output_dir:
                stack.enter_context(folder_lock(self.output_dir))
            writer = stack.enter_context(self._set_writer(output)) if output else None
            rows = self._rows(inputs, wavelength, writer, info)
            if self.env.json:
                write_rows(self.env, rows, columns, optional=optional + ["reliability"])
            else:
                from spectool.io.predictions import table_rows, verified_table_rows

                as_rows = verified_table_rows if self.verifier is not None else table_rows
                write_rows(self.env, (r for rec in rows for r in as_rows(rec, fields)), columns,
                           optional=optional + ["reliability"])

    def _score_kind(self) -> str:
        return "reliability" if getattr(self.predictor.ckpt.model, "output_kind", "") == "reliability" \
            else "probability"

    def _set_writer(self, output):
        from spectool.io.lazy import LazySetWriter
        from spectool.io.sets import history_record

        return LazySetWriter(output, self.env, history_record("predict", {"model": self.predictor.ckpt.meta.get(
            "model"), "top": self.top}))

    def _rows(self, inputs, wavelength, writer, info):
        """Records in input order; items are prepared and scored ``BATCH_ROWS`` rows at a time.

        A batch is prepared and scored on a second thread while the next one is read (numpy's
        array work and torch let go of the GIL, file parsing holds it): two cores busy, not one.
        """
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="score")
        try:
            previous = None
            for batch in self._batches(inputs, wavelength):
                if previous is not None:
                    yield from self._score(*previous, writer, info)
                previous = batch, pool.submit(self._work, batch)
            if previous is not None:
                yield from self._score(*previous, writer, info)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _work(self, items: list):
        """(per item its rows or its FormatError, the Prediction of all good rows or None): pure work,
        safe on the worker thread."""
        import numpy as np

        rows = self.predictor.prepare_many(items)
        good = [X for X in rows if not isinstance(X, SpectoolError)]
        return rows, self.predictor.predict(np.concatenate(good)) if good else None

    def _batches(self, inputs, wavelength):
        """Readable items that still need results, ``BATCH_ROWS`` rows at a time; failures reported."""
        from spectool.io.spectra import iter_spectra

        pending: list = []
        for name, item in iter_spectra(inputs, self.env, wavelength):
            if isinstance(item, SpectoolError) or self._has_results(item):
                with self.batch.item(name):
                    if isinstance(item, SpectoolError):
                        raise item
                continue
            pending.append(item)
            if sum(len(i) for i in pending) >= BATCH_ROWS:
                yield pending
                pending = []
        if pending:
            yield pending

    def _has_results(self, item) -> bool:
        """With --skip-existing: whether every result file of ``item`` is there already."""
        return bool(self.output_dir and self.skip_existing
                    and all(self._target(item, name, claim=False).exists() for name in self._names(item)))

    def _prepare(self, items: list, rows: list) -> list["_Prepared"]:
        """The items with their rows on the model's axis; each failure reported under its item's name."""
        prepared = []
        for item, X in zip(items, rows):
            with self.batch.item(item.name):
                if isinstance(X, SpectoolError):
                    raise X
                names = self._names(item)
                prepared.append(_Prepared(item, names, [self._target(item, n) for n in names], X))
        return prepared

    def _score(self, items: list, work, writer, info) -> list[dict]:
        """Records of a batch scored by :meth:`_work` (a future); writes result files and set rows."""
        from spectool.io.predictions import result_record, write_result_file

        rows, pred = work.result()
        pending = self._prepare(items, rows)
        if not pending:
            return []
        indices, scores = pred.top(self.top)
        records, lo = [], 0
        for p in pending:
            rows = range(lo, lo + len(p.X))
            mine = [result_record(p.names[i - lo], self.predictor.labels, indices[i], scores[i], pred.reliability[i],
                                  None if pred.similarity is None else pred.similarity[i], pred.ood[i],
                                  pred.score_kind, info) for i in rows]
            if self.verifier is not None:
                mine = self._verified(p.item, p.X, mine, info, p.names)
            for record, target in zip(mine, p.targets):
                if target is not None:
                    write_result_file(target, record)
            if writer is not None:
                writer.append(p.item.at_wavelength(self.predictor.prepared_wavelength(p.item)), p.X,
                              self.predictor.axis, [r["top"][0]["label"] for r in mine])
            self._remember(p.item, p.names, [_answer_score(r) for r in mine], indices[rows.start:rows.stop])
            records += mine
            lo = rows.stop
        return records

    def _verified(self, item, X, records: list[dict], info, names: list[str]) -> list[dict]:
        """Records with the fit's verdicts (and with --png their pictures); a row that cannot be fitted
        says why on one line."""
        from spectool.io.predictions import verified_record

        out = []
        for record, verdict, row, name in zip(records, self.verifier.verdicts(item, X), X, names):
            if isinstance(verdict, SpectoolError):
                self.env.warn(str(verdict.where(record["path"])))
            elif self.pictures is not None and verdict.phases is not None:
                with self.batch.item(name):
                    self._picture(item, name, row, verdict)
            record = verified_record(record, verdict, info)
            out.append({**record, "top": record["top"][:self.top]})
        return out

    def _picture(self, item, name: str, row, verdict) -> None:
        """--png: the Rietveld plot of one fitted row, written atomically."""
        from spectool.fit.plots import rietveld_figure
        from spectool.io.figures import write_png
        from spectool.spectra import covered

        span = covered(row)
        wavelength = self.predictor.prepared_wavelength(item) or self.predictor.wavelength
        state = "unknown (best fit shown)" if verdict.unknown else ", ".join(verdict.labels)
        if verdict.confidence is not None and not verdict.unknown:
            state += f" (confidence {verdict.confidence:.2f})"
        fig = rietveld_figure(self.verifier.x[span], row[span], verdict.phases, verdict.labels,
                              f"{os.path.basename(name)}: {state}",
                              f"2θ (°, at λ = {wavelength:g} Å)" if wavelength else "2θ (°)",
                              "intensity (as prepared for the model)").figure
        target = self._target(item, name, names=self.pictures)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_png(target, fig)

    def _target(self, item, name: str, claim: bool = True, names=None):
        """The result file (or with ``names`` the picture) of one of ``item``'s spectra; claimed for this
        run unless only looked at."""
        names = names or self.names
        if names is None:
            return None
        find = names.target if claim else names.path_of
        return find(name) if item.is_scan else find(item.name, name[len(item.name) + 1:])

    def _names(self, item) -> list[str]:
        if item.is_scan:
            return [item.name]
        ids = item.samples.get("id")
        return [f"{item.name}:{ids[i]}" if ids is not None else f"{item.name}#{i}" for i in range(len(item))]

    def _remember(self, item, names, best: list[tuple[float, str]], indices) -> None:
        """--fail-under's worst answer (``best``: (score, what it is) per row, :func:`_answer_score`) and --eval's
        rankings."""
        i = min(range(len(best)), key=lambda j: best[j][0])
        if self.worst is None or best[i][0] < self.worst:
            (self.worst, self.worst_kind), self.worst_name = best[i], names[i]
        if item.labels is not None:  # rows of a set without labels carry "": not evidence for --eval
            labelled = [i for i, label in enumerate(item.labels) if label]
            self.truth += [item.labels[i] for i in labelled]
            self.ranked += [indices[i] for i in labelled]

    def evaluation(self, prefix: str) -> None:
        from spectool.io.confusion import write_confusion
        from spectool.learn.evaluate import evaluate_ranked

        if not self.truth:
            raise UsageError("--eval needs labelled sets among the inputs")
        result = evaluate_ranked(self.truth, self.ranked, self.predictor.labels)
        write_confusion(prefix, result)
        self.env.info(result.summary() + f"; confusion matrix in {prefix}.csv and {prefix}.png")
