"""``spectool train``: a labelled set → a trained classifier in one ``.safetensors`` checkpoint."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import DeviceOpt, SeedOpt, command
from spectool.env import Env
from spectool.learn.device import DEFAULT_DEVICE
from spectool.errors import UsageError

if TYPE_CHECKING:
    from spectool.learn.settings import TrainSettings

Opt = typer.Option
MODEL_HELP = ("vit (ViT-1D), cnn, resnet (RCNet: ResNet-1D + confidence), union (RCNets over --groups), knn, "
              "logreg, nb (Gaussian naive Bayes), or a registry name.")
STATE_HELP = "Resumable state, written at every epoch boundary [default: OUTPUT with .state.safetensors]."
RESUME_HELP = ("Continue an interrupted run from its state file: SET, --val and -o default to the run's, and its "
               "model and training settings win (options that would change them are ignored, with a warning).")
JOB_OPTIONS = ("model", "val_fraction", "epochs", "batch_size", "lr", "weight_decay", "warmup", "schedule",
               "label_smoothing", "patience", "select", "grad_clip", "compile", "amp", "patch", "dim", "depth", "heads", "width",
               "dropout", "arg", "augment", "aug_op", "init", "freeze", "freeze_blocks", "pos_embed", "groups", "add_to",
               "seed", "split")  # the state's on --resume


@command(app, "train")
def train(
    env: Env,
    inputs: Annotated[Optional[list[str]], typer.Argument(metavar="SET|STRUCTURE…", help=(
        "A labelled spectra set (path or -), or crystal structures (CIF, POSCAR… files or folders): each file "
        "one class, simulated, augmented and prepared here (see below); with --resume, the interrupted run's "
        "set."))] = None,
    output: Annotated[Optional[str], Opt("-o", "--output", metavar="PATH", help=(
        "The checkpoint to write [default: model.safetensors; with --resume, the interrupted run's]."))] = None,
    model: Annotated[str, Opt("-m", "--model", help=MODEL_HELP)] = "vit",
    task: Annotated[str, Opt(help=(
        "classification (a labelled set → classes), or spectrum (a paired set from spectool pairs → a structure → "
        "spectrum model, --model gat or alignn; --patience counts epochs there [default: 40]).")
    )] = "classification",
    val: Annotated[Optional[str], Opt("--val", metavar="SET", help="Validation set [default: a stratified "
                                                                    "--val-fraction of SET].")] = None,
    val_fraction: Annotated[float, Opt(help="Validation share of each class (4:1 split).")] = 0.2,
    split: Annotated[str, Opt(help=(
        "How --val-fraction is held out: auto (by parent when the set has a 'parent' column, as augment "
        "writes: whole structures, never one on both sides; else by row), parent, or rows (copies of one "
        "structure on both sides: validation measures memorisation)."))] = "auto",
    epochs: Annotated[int, Opt(min=1, help="Most epochs.")] = 100,
    batch_size: Annotated[Optional[int], Opt("--batch-size", "-b", min=1, help=(
        "Patterns per step (per process) [default: a power of two near training rows / 16, from 16 to 128; "
        "to 32 for the ViT, which learns per step]."))] = None,
    lr: Annotated[float, Opt(help="AdamW peak learning rate.")] = 1e-3,
    weight_decay: Annotated[float, Opt(help="AdamW weight decay (not on biases and norms).")] = 0.05,
    warmup: Annotated[float, Opt(min=0, help="Epochs of linear warm-up.")] = 1.0,
    schedule: Annotated[str, Opt(help="After warm-up: cosine, plateau (halve after 2 flat epochs) or constant.")] = "cosine",
    label_smoothing: Annotated[float, Opt(min=0, max=0.5, help="Cross-entropy label smoothing.")] = 0.0,
    patience: Annotated[Optional[int], Opt(min=0, help=(
        "Stop after N optimiser steps without a lower validation loss (0: never) [default: 3 epochs' steps, "
        "at least 400]."))] = None,
    select: Annotated[str, Opt(help=(
        "The epoch kept, and what --patience waits on: loss (lowest validation loss) or top1 (highest "
        "validation top-1; on large sets the loss turns up epochs before the accuracy stops rising)."))] = "loss",
    grad_clip: Annotated[float, Opt(min=0, help="Clip the gradient norm (0: off).")] = 0.0,
    compile: Annotated[bool, Opt("--compile/--no-compile", help=(
        "torch.compile the training step (the first steps compile; needs a C++ compiler). Measured no gain on "
        "2 CPU cores (bench_train.py); meant for GPUs and long runs."))] = False,
    amp: Annotated[bool, Opt(help=(
        "Mixed precision (weights and checkpoint stay float32): on CUDA bfloat16 (float16 where the GPU lacks "
        "it); on a CPU with native bfloat16 (AVX512-BF16 or AMX) for the CNN and ResNet, measured faster at equal "
        "accuracy (the ViT stays float32: slower there). --no-amp: float32 throughout."))] = True,
    patch: Annotated[Optional[int], Opt(help="ViT segment length (points).")] = None,
    dim: Annotated[Optional[int], Opt(help="ViT embedding width.")] = None,
    depth: Annotated[Optional[int], Opt(help="ViT encoder blocks.")] = None,
    heads: Annotated[Optional[int], Opt(help="ViT attention heads.")] = None,
    width: Annotated[Optional[int], Opt(help="ResNet base width.")] = None,
    dropout: Annotated[Optional[float], Opt(help="Dropout rate.")] = None,
    arg: Annotated[Optional[list[str]], Opt("--arg", metavar="KEY=VALUE", help="Any constructor argument of the "
                                            "model (VALUE as JSON, else text), e.g. --arg channels=[16,16,32,32]; "
                                            "for knn/logreg/nb: scikit-learn's, e.g. --arg n_neighbors=3.")] = None,
    augment: Annotated[str, Opt(help="On-the-fly augmentation preset: none or pattern.")] = "none",
    aug_op: Annotated[Optional[list[str]], Opt("--aug-op", metavar="NAME[:K=V,…]", help="An augment pattern "
                                               "operation applied on the fly (repeatable).")] = None,
    init: Annotated[Optional[str], Opt(metavar="CKPT", help="Start from a trained checkpoint's backbone "
                                       "(new head when the classes differ; its architecture unless --patch, "
                                       "--dim… say otherwise), also across modalities: an XRD model for FTIR "
                                       "or Raman sets.")] = None,
    freeze: Annotated[bool, Opt(help="With --init: train only the head (frozen BatchNorm stays in eval mode).")] = False,
    freeze_blocks: Annotated[int, Opt("--freeze-blocks", metavar="N", help=(
        "With --init: freeze the input layers and the first N blocks (ViT encoder blocks, CNN conv blocks, "
        "ResNet blocks); the rest and the head train."))] = 0,
    pos_embed: Annotated[str, Opt("--pos-embed", metavar="interpolate|relearn", help=(
        "With --init on another grid length (ViT): interpolate the checkpoint's position embeddings onto the "
        "new number of segments, or learn them anew."))] = "interpolate",
    groups: Annotated[Optional[str], Opt(metavar="JSON", help="--model union: {group: [labels…]} (cluster "
                                         "--group-classes).")] = None,
    add_to: Annotated[Optional[str], Opt("--add-to", metavar="UNION", help="Train one more RCNet on this set's "
                                         "(new) classes and add it to a union checkpoint.")] = None,
    resume: Annotated[Optional[str], Opt(metavar="STATE", help=RESUME_HELP)] = None,
    state: Annotated[Optional[str], Opt(metavar="PATH", help=STATE_HELP)] = None,
    log: Annotated[Optional[str], Opt(metavar="JSONL", help="Append one JSON line of metrics per epoch.")] = None,
    test: Annotated[Optional[str], Opt("--test", metavar="SET", help=(
        "A held-out labelled set on the same axis: top-1/3/5 of the saved model on it go into the checkpoint."))] = None,
    scan_step: Annotated[Optional[list[str]], Opt("--scan-step", metavar="NAME[:K=V,…]", help=(
        "A preprocess step predict applies to raw scans after the training set's own recipe (repeatable), e.g. "
        "--scan-step baseline:method=snip for a model trained on background-free simulations."))] = None,
    label_info: Annotated[Optional[str], Opt("--label-info", metavar="CSV", help=(
        "A table with a 'label' column whose other columns predict shows beside each label "
        "(e.g. corpus/types.csv: Strukturbericht, Pearson, prototype formula)."))] = None,
    label_columns: Annotated[Optional[str], Opt("--label-columns", metavar="A,B,…", help=(
        "Which columns of --label-info to keep [default: all]."))] = None,
    like: Annotated[Optional[str], Opt("--like", metavar="SCAN", help=(
        "From structures: simulate on this scan's 2θ range, step and wavelength [default: 5–90° step 0.02°, "
        "Cu Kα1 1.54056 Å]."))] = None,
    copies: Annotated[int, Opt(min=1, help="From structures: augmented training copies per structure "
                                           "(validation: a quarter as many, another seed).")] = 50,
    threads: Annotated[int, Opt(min=0, help="CPU threads for torch (0: torch's default; per process).")] = 0,
    seed: SeedOpt = 0,
    device: DeviceOpt = DEFAULT_DEVICE,
) -> None:
    """Train a classifier on a labelled set and write the best epoch as one checkpoint.

    AdamW with warm-up then cosine decay, early stopping on the validation loss, per-epoch loss and
    top-1/3/5 on stderr. Validation holds out whole structures (augment's parent column) unless --split rows.
    At the end BatchNorm statistics are recomputed on the training set and validation runs again on the
    saved weights; a warning if they give every pattern the same scores or validation top-1 lies far below
    training top-1. Ctrl-C leaves the state of the last finished epoch (exit 130): --resume STATE continues
    and reaches the same weights as an uninterrupted run. Runs data-parallel unchanged under
    torchrun --nproc-per-node N -m spectool train … (rank 0 writes).

    From structures (spectool train cifs/ --like scan.xy -o model.safetensors): simulate (label: file stem)
    on the scan's axis → augment --preset both (-n --copies; validation another seed) → preprocess
    (SNIP baseline, maximum 1: the recipe predict replays) → train; each class's simulated sticks, cell and
    CIF text are stored in the checkpoint as references.
    """
    options = dict(locals())
    options.pop("env")
    from spectool.learn.settings import TrainSettings

    _run(env, TrainSettings(**options, given=frozenset(_given(options))))


def _given(names) -> set[str]:
    """The options set on the command line or by the environment, not left at their defaults."""
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return set()
    unset = (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
    return {name for name in names if ctx.get_parameter_source(name) not in unset}


def ignored_on_resume(given) -> list[str]:
    """The options given with --resume that it does not honour (the state's settings win), as flags."""
    return ["--" + name.replace("_", "-") for name in JOB_OPTIONS if name in given]


def _resumed(env: Env, o: TrainSettings, saved) -> TrainSettings:
    """A resumed run's options: SET, --val and -o the interrupted run's unless given; ignored ones named."""
    from spectool.errors import UsageError

    run = saved.job.get("run") or {}
    o = replace(o, **{k: getattr(o, k) or run.get(k) for k in ("input", "val", "output")})
    if o.input is None:
        raise UsageError("this state does not name its set (written by an older spectool): give SET", o.resume)
    ignored = ignored_on_resume(o.given)
    if ignored:
        env.warn(f"--resume continues with the interrupted run's settings; ignored: {', '.join(ignored)}")
    return o


def _run(env: Env, o: TrainSettings) -> None:
    from spectool.learn import distributed
    from spectool.learn.device import torch_device

    if o.task == "spectrum":
        from spectool.cli.train_spectrum import train_spectrum

        _threads(o.threads, distributed.detect())
        return train_spectrum(env, o)
    world = distributed.detect()
    _threads(o.threads, world)
    device = torch_device(o.device, world)
    distributed.init(world, device)
    try:
        _train(env, o, world, device)
    finally:
        distributed.cleanup(world)


def _threads(n: int, world) -> None:
    """--threads, or under torchrun on CPU the cores shared out between the local ranks."""
    import os

    import torch

    if n == 0 and world.distributed:
        n = max(1, (os.cpu_count() or 1) // world.local_size)
    if n > 0:
        torch.set_num_threads(n)


def _train(env: Env, o: TrainSettings, world, device) -> None:
    from contextlib import ExitStack

    with ExitStack() as stack:
        o = _from_structures(env, o, world, stack)
        _train_set(env, o, world, device)


def _from_structures(env: Env, o: TrainSettings, world, stack) -> TrainSettings:
    """The options with ``input`` (and ``val``) set: the set given, or the sets built from structures."""
    from spectool.cli import train_structures as ts

    if not o.inputs or not ts.is_structures(o.inputs):
        return replace(o, input=o.inputs[0] if o.inputs else None, references=None)
    import tempfile
    from pathlib import Path

    ts.check(o)
    if world.distributed:
        raise UsageError("training from structures runs in one process; build the sets first for torchrun")
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spectool-train-")))
    paths = ts.build_sets(env, o.inputs, work, o.like, o.copies, o.seed)
    return replace(o, input=paths["train"], val=o.val or paths["val"], references=paths["sim"])


def _train_set(env: Env, o: TrainSettings, world, device) -> None:
    from contextlib import ExitStack

    from spectool.io.checkpoint import load_checkpoint
    from spectool.io.classgroups import read_groups
    from spectool.io.sets import open_set
    from spectool.learn.data import read_column, read_labels
    from spectool.learn.runner import Inputs, Options, run
    from spectool.errors import UsageError
    from spectool.io.stdio import check_output_folder
    from spectool.io.trainstate import default_state_path, read_state

    saved = read_state(o.resume) if o.resume else None
    o = _resumed(env, o, saved) if saved is not None else o
    if o.input is None:
        raise UsageError("give SET, a labelled spectra set (or --resume STATE)")
    o = replace(o, output=o.output or "model.safetensors")
    if world.main:
        check_output_folder(o.output)  # before the epochs, not after them
    job = _job(o, saved)
    seed = job.config["seed"]
    with ExitStack() as stack:
        reader = stack.enter_context(open_set(o.input, env))
        inputs = Inputs(reader, read_labels(reader).astype("int64"), o.input, parents=read_column(reader, "parent"))
        if o.val:
            inputs.val_reader = stack.enter_context(open_set(o.val, env))
            inputs.val_y = read_labels(inputs.val_reader).astype("int64")
        reporter = _Reporter(env, world, o.log, o.state or o.resume or default_state_path(o.output),
                             keep=bool(o.state or o.resume), run=_run_paths(o))
        opts = Options(seed, device, world, saved, load_checkpoint=load_checkpoint, read_groups=read_groups)
        recipe = _scan_recipe(reader.meta.history, o.scan_step, o.input)  # checked before any training
        outcome = reporter.guard(lambda: run(job, inputs, opts, reporter, o.groups, o.add_to))
        if world.main:
            _save(env, o, outcome, reader.meta, recipe)
            reporter.finish()


def _run_paths(o: TrainSettings) -> dict:
    """SET, --val and -o as absolute paths (``-`` kept): what the state keeps so --resume alone continues."""
    import os

    paths = {k: getattr(o, k) for k in ("input", "val", "output")}
    return {k: p if p in (None, "-") else os.path.abspath(p) for k, p in paths.items()}


def _job(o: TrainSettings, saved):
    """The Job from the options, or from the resume state (whose settings win)."""
    from spectool.learn.job import Job
    from spectool.learn.settings import new_job

    return Job.from_json(saved.job) if saved is not None else new_job(o)


def _save(env: Env, o: TrainSettings, outcome, meta, recipe: dict) -> None:
    import sys
    from pathlib import Path

    from spectool.io.checkpoint import save_checkpoint
    from spectool.io.sets import sha256_file

    data = [{"role": role, "path": p, "sha256": sha256_file(p) if p != "-" and Path(p).is_file() else None}
            for role, p in (("train", o.input), ("val", o.val)) if p]
    train = {**outcome.train, "data": data, "argv": ["spectool", *sys.argv[1:]], "resumed_from": o.resume}
    extra = dict(outcome.extra_tensors)
    if o.references:
        from spectool.cli.train_structures import references

        tensors, train["references"] = references(env, o.references, outcome.labels)
        extra.update(tensors)
    if o.test:
        train["test"] = _test_metrics(env, o.test, outcome)
        if train["test"]["ood_threshold"] is not None:  # predict flags what falls below 95 % of these
            train["ood_threshold"] = train["test"]["ood_threshold"]
    save_checkpoint(o.output, outcome.model, labels=outcome.labels, input=meta,
                    preprocess=recipe, train=train,
                    extra_tensors=extra,
                    label_info=_label_info(o.label_info, outcome.labels, o.label_columns))
    val = train.get("val") or {}
    env.info(f"train: {o.output}: {len(outcome.labels)} classes, best epoch {train.get('best_epoch')}, val "
             + " ".join(f"top{k} {val[f'top{k}']:.3f}" for k in (1, 3, 5) if f"top{k}" in val))


def _test_metrics(env: Env, path: str, outcome) -> dict:
    """Top-k of the trained model on a held-out set (whole compounds, not augmented copies)."""
    from spectool.io.sets import open_set, sha256_file
    from spectool.learn.evaluate import evaluate_model

    means = outcome.extra_tensors.get("class_means")
    with open_set(path, env) as reader:
        result = evaluate_model(outcome.model, reader, outcome.labels, means=means)
    env.info(f"train: held-out {path}: " + result.summary().split(": ", 1)[1])
    return {"path": path, "sha256": sha256_file(path), "n": result.n, "unknown_labels": result.unknown,
            **{f"top{k}": v for k, v in result.accuracy.items()}, "ood_threshold": result.ood_threshold}


def _scan_recipe(history: list[dict], extra: list[str] | None, source: str) -> dict:
    """What predict replays on raw scans (:func:`spectool.signal.recipe.training_recipe`), as JSON."""
    from spectool.signal.recipe import training_recipe

    return training_recipe(history, extra, source).to_json()


def _label_info(path: str | None, labels: list[str], columns: str | None = None) -> dict:
    """label → {column: value} for the labels the model knows, from a CSV with a 'label' column."""
    if not path:
        return {}
    import csv

    from spectool.errors import FormatError

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read the label table ({exc})", path) from None
    if not rows or "label" not in rows[0]:
        raise FormatError("the label table needs a 'label' column", path)
    keep = [c.strip() for c in columns.split(",")] if columns else [c for c in rows[0] if c != "label"]
    missing = [c for c in keep if c not in rows[0]]
    if missing:
        raise FormatError(f"the label table has no column {missing[0]!r}", path)
    known = set(labels)
    return {r["label"]: {k: r[k] for k in keep if r.get(k) not in (None, "")} for r in rows if r["label"] in known}


class _Reporter:
    """The loop's callback: progress, one line per epoch on stderr, --log lines, state files (rank 0 only)."""

    member = None

    def __init__(self, env: Env, world, log: str | None, state_path: str, keep: bool, run: dict):
        self.env, self.world, self.log, self.state_path, self.keep = env, world, log, state_path, keep
        self.run = run
        self._bar = None

    def info(self, message: str) -> None:
        if self.world.main:
            self.env.info(message)

    def warn(self, message: str) -> None:
        if self.world.main:
            self.env.warn(message)

    def batch(self, rows: int) -> None:
        if self._bar is None and self.world.main:
            self._cm = self.env.progress("train" if self.member is None else f"train member {self.member}", None)
            self._bar = self._cm.__enter__()
        if self._bar is not None:
            self._bar(rows)

    def epoch(self, record: dict, trainer) -> None:
        self._close_bar()
        if not self.world.main:
            return
        record = {**record, "member": self.member} if self.member is not None else record
        self.env.info(_epoch_line(record))
        if self.log:
            import json

            with open(self.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if trainer is not None:
            self.save_state(trainer, self.job)

    def save_state(self, trainer, job) -> None:
        from spectool.io.trainstate import save_state

        self.job = job
        if self.world.main and self.member is None:
            save_state(self.state_path, trainer, {**job.to_json(), "run": self.run})

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._cm.__exit__(None, None, None)
            self._bar = None

    def guard(self, work):
        """Run ``work``; on Ctrl-C say where the resumable state is, then let the 130 exit happen."""
        try:
            return work()
        except KeyboardInterrupt:
            self._close_bar()
            if self.world.main and getattr(self, "job", None) is not None and self.member is None:
                self.env.warn(f"interrupted: the last finished epoch is in {self.state_path}; "
                              f"continue with: {resume_hint(self.state_path, self.run['input'])}")
            raise

    def finish(self) -> None:
        import os

        if not self.keep and os.path.exists(self.state_path):
            os.unlink(self.state_path)


def resume_hint(state_path: str, set_path: str) -> str:
    """The command that continues a run (the state names SET unless it came on stdin)."""
    import shlex

    command = f"spectool train --resume {shlex.quote(state_path)}"
    return command.replace("train ", "train - ") + " (the same set on stdin)" if set_path == "-" else command


def _epoch_line(r: dict) -> str:
    who = f"member {r['member']} " if r.get("member") is not None else ""
    parts = [f"{who}epoch {r['epoch']}"]
    if "train_loss" in r:
        parts.append(f"train loss {r['train_loss']:.4f} top1 {r['train_top1']:.3f}")
    parts.append(f"val loss {r['val_loss']:.4f} top1/3/5 {r['val_top1']:.3f}/{r['val_top3']:.3f}/{r['val_top5']:.3f}")
    if "lr" in r:
        parts.append(f"lr {r['lr']:.2e} {r['samples_per_s']:.0f}/s")
    return "  ".join(parts)
