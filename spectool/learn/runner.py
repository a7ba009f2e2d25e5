"""The training flows behind ``spectool train``: a network, a union of RCNets, a classical baseline, one
more RCNet added to a union; :func:`run` picks the flow from the job's model kind.

Each takes open set readers and a :class:`Job`, reports through ``hooks`` (a
:class:`~spectool.learn.train.Callback` with ``info(msg)`` and ``save_state(trainer, job)``) and
returns an :class:`Outcome`: the trained model and what its checkpoint stores. No printing here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from spectool.errors import UsageError
from spectool.learn.distributed import World
from spectool.learn.job import (Data, Job, build_model, check_init, check_split, class_means, make_augmenter,
                                inherited_args, prepare_data, summary, train_model_args, transfer)


@dataclass
class Inputs:
    """Open readers (validation optional), the label ids of all their rows, their names for messages."""

    reader: object
    y: np.ndarray
    where: str
    val_reader: object = None
    val_y: np.ndarray | None = None
    parents: np.ndarray | None = None  # the set's 'parent' column (N,), if any: what the split keeps whole


@dataclass
class Outcome:
    model: object
    labels: list[str]
    train: dict  # the checkpoint's ``train`` metadata (without argv/data, which the CLI adds)
    extra_tensors: dict = field(default_factory=dict)


@dataclass
class Options:
    seed: int = 0
    device: object = None  # torch.device
    world: World = field(default_factory=World)
    resume: object = None  # SavedState
    load_checkpoint: object = None  # path -> Checkpoint: io's reader, passed in (the core opens no files)
    block_rows: int = 512
    read_groups: object = None  # path -> [[label, …], …]: io's reader of --groups, passed in
    means_budget: int = 8 * 2**20  # bytes of class means (C × L float32) a network checkpoint may carry


def run(job: Job, inputs: Inputs, opts: Options, hooks, groups: str | None = None,
        add_to: str | None = None) -> Outcome:
    """Classes and split (:func:`~spectool.learn.job.prepare_data`, fixed into ``job.labels``), then the
    flow for the job: ``add_to`` (a union checkpoint's path) → :func:`run_add_member`; ``rcnet_union`` →
    :func:`run_union` over the ``groups`` file (read by ``opts.read_groups``); a classical model →
    :func:`run_classical`; any other → :func:`run_network`."""
    from spectool.models.registry import model_kind

    val = None if inputs.val_reader is None else (inputs.val_reader.meta.label_names, inputs.val_y)
    data = prepare_data(inputs.reader.meta.label_names, inputs.y, job, opts.seed, inputs.where, val,
                        inputs.parents)
    job.labels = data.labels
    if add_to:
        return run_add_member(job, inputs, data, opts, hooks, add_to)
    if job.model == "rcnet_union":
        if not groups:
            raise UsageError("--model union needs --groups GROUPS.json (or --add-to UNION to extend one)")
        if opts.resume is not None:
            raise UsageError("--resume continues single networks; retrain the union (or add members with --add-to)")
        return run_union(job, inputs, data, opts, hooks, opts.read_groups(groups))
    if model_kind(job.model) == "classical":
        return run_classical(job, inputs, data, opts, hooks)
    return run_network(job, inputs, data, opts, hooks)


def sources(inputs: Inputs, data: Data, job: Job, opts: Options, train_rows=None, val_rows=None):
    """(train, val) BatchSources: this rank's share, augmentation on the training side."""
    from spectool.learn.data import BatchSource

    from spectool.learn.train import auto_batch_size
    from spectool.models.registry import get_model_class

    w = opts.world
    rows = data.train_rows if train_rows is None else train_rows
    largest = getattr(get_model_class(job.model), "auto_batch_max", 128)
    bs = job.config.get("batch_size") or auto_batch_size(len(rows) // w.size, largest)
    aug = make_augmenter(job, inputs.reader.meta.axis, opts.seed)
    train = BatchSource(inputs.reader, rows, bs, True,
                        opts.seed, opts.block_rows, transform=aug, rank=w.rank, world=w.size)
    val_reader = inputs.val_reader or inputs.reader
    val = BatchSource(val_reader, data.val_rows if val_rows is None else val_rows, max(bs, 256), False,
                      opts.seed, opts.block_rows, rank=w.rank, world=w.size)
    return train, val


def fit_network(model, job: Job, train, val, lut, val_lut, opts: Options, hooks, resume=None):
    """Train ``model`` with a fresh (or resumed) Trainer; the best epoch's weights loaded at the end."""
    from spectool.learn.state import restore
    from spectool.learn.train import TrainConfig, Trainer, precision

    cfg = TrainConfig(**{**job.config, "seed": opts.seed, "batch_size": train.batch_size})
    trainer = Trainer(model.to(opts.device), cfg, opts.device, lut, opts.world, hooks, val_lut)
    trainer.plan(len(train))
    if trainer.amp_dtype is not None:
        hooks.info(f"train: {precision(trainer.amp_dtype)} on {opts.device}"
                   + (" (the processor has native bfloat16; --no-amp for float32)" if opts.device.type == "cpu" else ""))
    if resume is not None:
        restore(trainer, resume)
    hooks.save_state(trainer, job)  # the epoch-boundary state: what Ctrl-C leaves behind
    state = trainer.fit(train, val)
    if state.best is not None:
        model.load_state_dict(state.best)
    final = final_check(trainer, train, val, state)
    for line in final["warnings"]:
        hooks.warn(line)
    return trainer, state, final


def final_check(trainer, train, val, state) -> dict:
    """The saved weights as they will be used (float32, as predict runs them): BatchNorm statistics recomputed
    over the training batches, validation run again, the spread of the scores and the warnings they call for."""
    from spectool.learn.train import fit_warnings

    recomputed = trainer.recompute_batch_norm(train)
    record = trainer.evaluate(val, autocast=False)
    spread = trainer.score_spread(val)
    best = next((r for r in state.history if r["epoch"] == state.best_epoch), {})
    warnings = fit_warnings(best.get("train_top1", float("nan")), record["val_top1"], spread)
    return {"val": {k[4:]: v for k, v in record.items()}, "score_spread": spread,
            "batch_norm_recomputed": recomputed, "warnings": warnings}


def train_meta(job: Job, state, model, seconds: float, opts: Options, trainer=None, final=None) -> dict:
    import torch
    from dataclasses import asdict

    from spectool.learn.train import count_parameters, precision

    config = job.config if trainer is None else {k: v for k, v in asdict(trainer.cfg).items() if k != "seed"}
    val = final["val"] if final else summary(state.history, state.best_epoch)
    return {"seed": opts.seed, "model": job.model, "config": config, "val_fraction": job.val_fraction,
            "augment": job.augment, "metrics": state.history, "best_epoch": state.best_epoch,
            "epochs_run": state.epoch, "stopped_early": state.stopped_early,
            "val": val, "best_epoch_val": summary(state.history, state.best_epoch),
            "checks": {k: v for k, v in (final or {}).items() if k != "val"}, "time_s": round(seconds, 3),
            "parameters": count_parameters(model), "trainable_parameters": count_parameters(model, True),
            "device": str(opts.device), "precision": precision(getattr(trainer, "amp_dtype", None)),
            "world_size": opts.world.size, "torch": torch.__version__}


def run_network(job: Job, inputs: Inputs, data: Data, opts: Options, hooks) -> Outcome:
    """ViT / CNN / ResNet (RCNet): build (or --init), train, keep the best epoch."""
    check_split(data)
    L = len(inputs.reader.meta.axis)
    if (job.freeze or job.freeze_blocks) and not job.init:
        raise UsageError("--freeze and --freeze-blocks need --init (a trained backbone to freeze)")
    source = opts.load_checkpoint(job.init) if job.init else None
    if source is not None and opts.resume is None:
        check_init(source, job.init, job.model)
        job.model_args = inherited_args(source.meta["model"]["kwargs"], job.model_args)
    job.model_args = train_model_args(job.model, job.model_args, inputs.reader.meta.axis)
    model = build_model(job.model, job.model_args, len(data.labels), L, opts.seed)
    init = transfer(model, source, job.init, job.freeze, data.labels, job.freeze_blocks,
                    job.pos_embed) if source is not None else None
    if init:
        hooks.info(f"train: --init {job.init}: {init['loaded']} tensors loaded, head {init['head']}"
                   + (f", {init['frozen']} frozen" if init["frozen"] else ""))
    say_split(data, hooks)
    train, val = sources(inputs, data, job, opts)
    start = time.perf_counter()
    trainer, state, final = fit_network(model, job, train, val, data.lut, data.val_lut, opts, hooks, opts.resume)
    meta = train_meta(job, state, model, time.perf_counter() - start, opts, trainer, final)
    meta.update(init=init, train_rows=len(data.train_rows), val_rows=len(data.val_rows), split=data.split)
    # a network keeps its classes' mean training patterns (predict's reliability, cosine S) while they
    # are small beside the model; a library of thousands of types would carry tens of MB of them, and
    # there predict's fit to the references decides "unknown" (reliability is then the probability)
    extra = {}
    if len(data.labels) * L * 4 <= opts.means_budget:
        extra["class_means"] = class_means(_plain(inputs, data, opts), data.lut, len(data.labels))
    else:
        hooks.info(f"train: no class means stored ({len(data.labels)} classes × {L} points would "
                   f"take {len(data.labels) * L * 4 / 2**20:.0f} MB); reliability is the probability")
    return Outcome(model.cpu().eval(), data.labels, meta, extra)


def say_split(data: Data, hooks) -> None:
    """Tell how validation was chosen (info lines; warnings where it measures memorisation or is missing)."""
    from spectool.learn.job import split_messages

    lines, warnings = split_messages(data.split, len(data.train_rows), len(data.val_rows))
    for line in lines:
        hooks.info(line)
    for line in warnings:
        hooks.warn(line)


def _plain(inputs: Inputs, data: Data, opts: Options, rows=None):
    """Every training row once, in order, no augmentation (class means, classical fits)."""
    from spectool.learn.data import BatchSource

    return BatchSource(inputs.reader, data.train_rows if rows is None else rows, 4096, False, opts.seed,
                       opts.block_rows)


def run_classical(job: Job, inputs: Inputs, data: Data, opts: Options, hooks) -> Outcome:
    """kNN / logistic regression / Gaussian naive Bayes through scikit-learn, stored as tensors."""
    from spectool.learn import classical

    if job.augment or job.init or job.freeze or job.freeze_blocks:
        raise UsageError(f"{job.model} takes no --augment, --init or --freeze")
    check_split(data)
    say_split(data, hooks)
    model, seconds = classical.fit(job.model, job.model_args, _plain(inputs, data, opts), data.lut,
                                   len(data.labels), opts.seed, hooks.batch)
    val = sources(inputs, data, job, opts)[1] if opts.world.main else None
    record = {"epoch": 1, **classical.evaluate(model, val, data.val_lut)}
    hooks.epoch(record, None)
    meta = {"seed": opts.seed, "model": job.model, "estimator_args": job.model_args, "metrics": [record],
            "best_epoch": 1, "val": {k[4:]: v for k, v in record.items() if k.startswith("val_")},
            "time_s": round(seconds, 3), "parameters": sum(b.numel() for b in model.buffers()),
            "train_rows": len(data.train_rows), "val_rows": len(data.val_rows), "split": data.split}
    return Outcome(model, data.labels, meta)


def run_union(job: Job, inputs: Inputs, data: Data, opts: Options, hooks, groups: list[list[str]]) -> Outcome:
    """One RCNet per group of classes, then the union with every class's mean pattern."""
    from spectool.learn.job import class_table
    from spectool.learn.union import assemble, member_lut, order_classes

    groups, order, left = order_classes(groups, data.labels)
    if left:
        hooks.info(f"train: {len(left)} labels in no group are left out: {', '.join(left[:5])}")
    names = inputs.reader.meta.label_names
    lut = class_table(names, inputs.y, order)[1]
    val_lut = lut if inputs.val_reader is None else class_table(inputs.val_reader.meta.label_names,
                                                                inputs.val_y, order)[1]
    data = Data(order, lut, data.train_rows[lut[inputs.y[data.train_rows]] >= 0],
                data.val_rows, val_lut)
    members, ids, metas, start = [], [], [], time.perf_counter()
    for gi, group in enumerate(groups):
        hooks.member = gi
        gids = [order.index(x) for x in group]
        model, meta = _train_member(job, inputs, data, opts, hooks, gids, job.model_args)
        members.append(model), ids.append(gids), metas.append(meta)
    hooks.member = None
    union = assemble(members, ids, class_means(_plain(inputs, data, opts), lut, len(order)))
    meta = {"seed": opts.seed, "model": "rcnet_union", "config": job.config, "groups": groups, "members": metas,
            "time_s": round(time.perf_counter() - start, 3), "parameters": sum(p.numel() for p in union.parameters())}
    return Outcome(union.eval(), order, meta)


def _train_member(job: Job, inputs: Inputs, data: Data, opts: Options, hooks, gids: list[int], args: dict):
    """Train one ResNet-1D on the rows of classes ``gids`` (global ids); returns (model on CPU, meta)."""
    from spectool.learn.union import member_lut

    lut, val_lut = member_lut(data.lut, gids), member_lut(data.val_lut, gids)
    val_y = inputs.y if inputs.val_reader is None else inputs.val_y
    rows = data.train_rows[lut[inputs.y[data.train_rows]] >= 0]
    val_rows = data.val_rows[val_lut[val_y[data.val_rows]] >= 0]
    if len(val_rows) == 0:
        raise UsageError("a group has no validation rows; give --val or more patterns per class")
    model = build_model("resnet1d", args, len(gids), len(inputs.reader.meta.axis), opts.seed + len(gids))
    train, val = sources(inputs, data, job, opts, rows, val_rows)
    start = time.perf_counter()
    trainer, state, final = fit_network(model, job, train, val, lut, val_lut, opts, hooks)
    meta = train_meta(job, state, model, time.perf_counter() - start, opts, trainer, final)
    meta["classes"] = [data.labels[i] for i in gids]
    return model.cpu().eval(), meta


def run_add_member(job: Job, inputs: Inputs, data: Data, opts: Options, hooks, union_path: str) -> Outcome:
    """``--add-to``: train one more RCNet on this set's classes and append it; the others untouched."""
    import torch

    from spectool.learn.union import check_addition, member_kwargs

    check_split(data)
    ckpt = opts.load_checkpoint(union_path)
    check_addition(ckpt, data.labels, len(inputs.reader.meta.axis), union_path)
    union = ckpt.model
    gids = list(range(len(data.labels)))
    member, meta = _train_member(job, inputs, data, opts, hooks, gids, member_kwargs(union, job.model_args))
    means = class_means(_plain(inputs, data, opts), data.lut, len(data.labels))
    union.add_member(member, torch.as_tensor(means))
    train = {**meta, "added_to": union_path, "previous": ckpt.train, "model": "rcnet_union"}
    return Outcome(union.eval(), list(ckpt.labels) + data.labels, train)
