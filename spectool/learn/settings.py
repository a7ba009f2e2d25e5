"""What ``spectool train`` is asked to do: one frozen dataclass whose fields are the command's options and
whose ``checks`` are declared like an ``Op``'s (:mod:`spectool.signal.ops`), run when it is made, so a bad
option is a :class:`UsageError` (exit 2) before any file is opened or any epoch run; :func:`new_job` turns
them into the :class:`~spectool.learn.job.Job` a fresh run trains."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

from spectool.errors import UsageError
from spectool.learn.job import POS_EMBED, SELECT, SPLITS, Job, canonical_model
from spectool.signal.ops import Check, number, one_of

SCHEDULES = ("cosine", "plateau", "constant")
TASKS = ("classification", "spectrum")
AUGMENT_PRESETS = ("none", "pattern")


@dataclass(frozen=True)
class TrainSettings:
    """The options of ``spectool train`` (names as the flags, ``-`` → ``_``; their defaults are the
    command's); ``input`` and ``references`` are filled in once the sets are known (the one given, or
    those built from structures)."""

    inputs: list[str] | None
    output: str | None
    model: str
    task: str
    val: str | None
    val_fraction: float
    split: str
    epochs: int
    batch_size: int | None
    lr: float
    weight_decay: float
    warmup: float
    schedule: str
    label_smoothing: float
    patience: int | None
    select: str
    grad_clip: float
    compile: bool
    amp: bool
    patch: int | None
    dim: int | None
    depth: int | None
    heads: int | None
    width: int | None
    dropout: float | None
    arg: list[str] | None
    augment: str
    aug_op: list[str] | None
    init: str | None
    freeze: bool
    freeze_blocks: int
    pos_embed: str
    groups: str | None
    add_to: str | None
    resume: str | None
    state: str | None
    log: str | None
    test: str | None
    scan_step: list[str] | None
    label_info: str | None
    label_columns: str | None
    like: str | None
    copies: int
    threads: int
    seed: int
    device: str
    given: frozenset[str] = field(default_factory=frozenset)  # options set on the command line or environment
    input: str | None = None
    references: str | None = None

    checks: ClassVar[dict[str, Check]] = {
        "schedule": one_of(*SCHEDULES), "select": one_of(*SELECT), "task": one_of(*TASKS), "split": one_of(*SPLITS),
        "augment": one_of(*AUGMENT_PRESETS), "pos_embed": one_of(*POS_EMBED), "freeze_blocks": number(0, integer=True),
    }

    def __post_init__(self) -> None:
        for key, check in self.checks.items():
            if (msg := check(getattr(self, key))) is not None:
                raise UsageError(f"--{key.replace('_', '-')} {msg}")

    @classmethod
    def option_names(cls) -> list[str]:
        """The fields that are command-line options (not filled in later)."""
        return [f.name for f in fields(cls) if f.name not in ("given", "input", "references")]


def new_job(o: TrainSettings) -> Job:
    """The :class:`~spectool.learn.job.Job` a fresh run of ``o`` trains: the model's registry name, its
    constructor arguments (ViT/ResNet options, then each ``--arg KEY=VALUE``, VALUE as JSON else text), the
    loop's settings and the on-the-fly augmentation ops (as JSON)."""
    from spectool.learn.train import TrainConfig

    name = canonical_model(o.model)
    if (o.groups or o.add_to) and name not in ("rcnet_union", "resnet1d"):
        raise UsageError("--groups and --add-to train RCNets: use --model union")
    config = {k: getattr(o, k) for k in TrainConfig.__dataclass_fields__ if hasattr(o, k)}
    config["seed"] = o.seed
    if o.freeze and o.freeze_blocks:
        raise UsageError("give --freeze (the whole backbone) or --freeze-blocks N, not both")
    return Job(name, _model_args(o), config, o.val_fraction, _augment_ops(o), o.init, o.freeze,
               split=o.split, freeze_blocks=o.freeze_blocks, pos_embed=o.pos_embed)


def _model_args(o: TrainSettings) -> dict:
    import json

    args = {k: getattr(o, k) for k in ("patch", "dim", "depth", "heads", "width", "dropout")
            if getattr(o, k) is not None}
    for item in o.arg or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"--arg must be KEY=VALUE, not {item!r}")
        try:
            args[key] = json.loads(value)
        except ValueError:
            args[key] = value
    return args


def _augment_ops(o: TrainSettings) -> list:
    if o.augment == "none" and not o.aug_op:
        return []
    from spectool.signal.stream import build_ops

    return [op.to_json() for op in build_ops(o.augment, o.aug_op or [], [])]
