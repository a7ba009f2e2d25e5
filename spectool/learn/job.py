"""One training job from sets to a trained model: labels, split, model, loop, what the checkpoint keeps.

``spectool train`` decides a :class:`Job` (JSON-able, stored in the resume state) and calls
:func:`prepare_data` then :func:`train_network` (or :mod:`spectool.learn.classical` /
:mod:`spectool.learn.union`). Nothing here prints or writes files: progress and per-epoch
records go to the callback, which also saves the resume state.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field

import numpy as np

from spectool.errors import UsageError

ALIASES = {"vit": "vit1d", "cnn": "cnn1d", "resnet": "resnet1d", "rcnet": "resnet1d", "union": "rcnet_union",
           "nb": "gaussian_nb", "bayes": "gaussian_nb", "logistic": "logreg"}


@dataclass
class Job:
    """What the command line asked for (the resume state stores it and ``--resume`` replays it)."""

    model: str
    model_args: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)  # TrainConfig fields
    val_fraction: float = 0.2
    augment: list = field(default_factory=list)  # op JSON (pattern ops, applied on the fly)
    init: str | None = None
    freeze: bool = False
    labels: list | None = None  # fixed by the first run, so a resume keeps the class order
    split: str = "auto"  # auto (by parent when the set has one) | parent | rows
    freeze_blocks: int = 0  # --freeze-blocks N: the stem and the first N blocks
    pos_embed: str = "interpolate"  # --pos-embed: ViT position embeddings for another grid length

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Job":
        known = set(inspect.signature(cls).parameters)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Data:
    """Classes and rows: ``labels`` (C,) names; ``lut`` maps the training set's label ids to 0…C−1
    (−1 = not trained on); ``val_lut`` does the same for the validation set's ids."""

    labels: list[str]
    lut: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    val_lut: np.ndarray
    split: dict = field(default_factory=dict)  # how validation was chosen (the checkpoint's train.split)


def canonical_model(name: str) -> str:
    """``vit`` → ``vit1d`` etc.; registry names pass through; unknown names → UsageError."""
    from spectool.models.registry import get_model_class

    name = ALIASES.get(name, name)
    get_model_class(name)
    return name


def class_table(names: list[str], y: np.ndarray, fixed: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """The classes that occur (in the set's order, or ``fixed``) and a lookup set id → class (−1 if none)."""
    if fixed is None:
        present = np.unique(y[(y >= 0) & (y < len(names))])
        fixed = [names[i] for i in present]
    index = {name: i for i, name in enumerate(fixed)}
    lut = np.array([index.get(n, -1) for n in names] + [-1], dtype=np.int64)  # last entry: y = −1
    return list(fixed), lut


def check_labels(names: list[str], y: np.ndarray, labels: list[str], where: str) -> None:
    """A set without labels or with one class cannot train a classifier: UsageError (exit 2)."""
    if not names or not (y >= 0).any():
        raise UsageError("the set has no labels (train needs labelled patterns: simulate --label or "
                         "preprocess --label)", where)
    if len(labels) < 2:
        raise UsageError(f"only one class ({labels[0]!r}) in the set: a classifier needs at least two", where)


def prepare_data(names: list[str], y: np.ndarray, job: Job, seed: int, where: str,
                 val: tuple[list[str], np.ndarray] | None = None, parents: np.ndarray | None = None) -> Data:
    """Classes, the train/validation split (or every row of ``val``), lookups.

    Without ``val``: split by ``parents`` (the ``parent`` column: the structure an augmented row came
    from), stratified by class, whenever there are parents and ``job.split`` is not ``rows``.
    """
    y = np.asarray(y, np.int64)
    labels, lut = class_table(names, y, job.labels)
    check_labels(names, y, labels, where)
    if val is None:
        train_rows, val_rows, split = split_rows(lut[y], parents, job, seed, labels, where)
        return Data(labels, lut, train_rows, val_rows, lut, split)
    val_names, val_y = val
    val_lut = class_table(val_names, np.asarray(val_y, np.int64), labels)[1]
    train_rows = np.flatnonzero(lut[y] >= 0)
    val_rows = np.flatnonzero(val_lut[np.asarray(val_y, np.int64)] >= 0)
    return Data(labels, lut, train_rows, val_rows, val_lut, {"by": "set"})


SPLITS = ("auto", "parent", "rows")
SELECT = ("loss", "top1")  # what picks the kept epoch (TrainConfig.select)


def split_rows(classes: np.ndarray, parents: np.ndarray | None, job: Job, seed: int, labels: list[str],
               where: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(train rows, validation rows, a JSON-able account of the split) for ``classes`` (N,), −1 = none."""
    from spectool.learn.data import grouped_split, stratified_split

    if job.split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)}, not {job.split!r}")
    if job.split == "parent" and parents is None:
        raise UsageError("--split parent needs a 'parent' column (spectool augment writes one)", where)
    if parents is None or job.split == "rows":
        s = stratified_split(classes, job.val_fraction, seed)
        return s.train, s.val, {"by": "rows", "parents": parents is not None}
    s = grouped_split(classes, parents, job.val_fraction, seed)
    lone = [labels[c] for c in range(len(labels)) if (classes == c).any() and not (classes[s.val] == c).any()]
    count = lambda rows: len(np.unique(parents[rows]))  # noqa: E731
    return s.train, s.val, {"by": "parent", "train_parents": count(s.train), "val_parents": count(s.val),
                            "unvalidated": lone}


def split_messages(split: dict, train_rows: int, val_rows: int) -> tuple[list[str], list[str]]:
    """(info lines, warnings) that say how validation was chosen."""
    by = split.get("by")
    if by == "parent":
        info = [f"train: validation split by parent, stratified by class: {split['val_parents']} parents "
                f"({val_rows} rows) held out, {split['train_parents']} ({train_rows} rows) trained on; "
                "no parent on both sides"]
        lone = split["unvalidated"]
        warn = [f"{len(lone)} class(es) with a single parent are trained on but not validated "
                f"({', '.join(lone[:5])}{', …' if len(lone) > 5 else ''}): give --val SET, or --split rows"] if lone else []
        return info, warn
    if by == "rows":
        warn = ["validation split by row (--split rows): copies of one parent lie on both sides, so validation "
                "measures memorisation, not new structures"] if split.get("parents") else []
        return [f"train: validation split by row, stratified by class: {val_rows} rows held out"], warn
    return [], []
def check_split(data: Data) -> None:
    if len(data.val_rows) == 0 and data.split.get("by") == "parent":
        raise UsageError("no validation rows: every class has a single parent (structure), and a parent is never "
                         "split; give --val SET (patterns of other structures of the same classes) or --split rows "
                         "(validation then measures memorisation)")
    if len(data.val_rows) == 0:
        raise UsageError("no validation rows (each class needs ≥ 2 patterns for the 4:1 split, or give --val "
                         "with patterns of the training classes)")


SMEAR_AXIS_UNITS = 1.0  # ViT's input max filter in train: ~1° 2θ, the order of augment's default shift (±0.5°)


def train_model_args(name: str, args: dict, axis) -> dict:
    """The model arguments train adds when not given: ViT's ``smear`` over ~``SMEAR_AXIS_UNITS`` of the axis."""
    values = np.asarray(getattr(axis, "values", axis), dtype=np.float64)
    if name != "vit1d" or "smear" in args or len(values) < 2 or getattr(axis, "quantity", "two_theta") != "two_theta":
        return args
    step = float(np.median(np.abs(np.diff(values))))
    points = int(round(SMEAR_AXIS_UNITS / step)) if step > 0 else 0
    return {**args, "smear": min(points, len(values)) // 2 * 2 + 1}


def build_model(name: str, args: dict, num_classes: int, input_length: int, seed: int):
    """A fresh model from the registry, initialised from ``seed``; unknown ``args`` → UsageError."""
    import torch

    from spectool.models.registry import get_model_class

    cls = get_model_class(name)
    params = set(inspect.signature(cls.__init__).parameters) - {"self", "num_classes", "input_length"}
    unknown = sorted(set(args) - params)
    if unknown:
        raise UsageError(f"{name} has no argument {unknown[0]!r}; it takes: {', '.join(sorted(params))}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return cls(num_classes=num_classes, input_length=input_length, **args)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"cannot build {name}: {exc}") from None


POS_EMBED = ("interpolate", "relearn")

#: Constructor arguments a model made for ``--init`` does not take from the checkpoint: the classes, the
#: grid length and the input max filter (``smear``, sized for the checkpoint's axis) follow the new data.
NOT_INHERITED = ("num_classes", "input_length", "smear")


def inherited_args(checkpoint_kwargs: dict, given: dict) -> dict:
    """The architecture of an ``--init`` checkpoint (its constructor arguments but :data:`NOT_INHERITED`),
    overridden by the arguments ``given`` on the command line: the weights then fit without asking for
    ``--patch/--dim/--depth/--heads`` again."""
    return {**{k: v for k, v in checkpoint_kwargs.items() if k not in NOT_INHERITED}, **given}


def check_init(source, path: str, model_name: str) -> None:
    """``--init``: the checkpoint must hold the same family of model."""
    if source.meta["model"]["name"] != model_name:
        raise UsageError(f"--init {path}: a {source.meta['model']['name']} checkpoint cannot initialise "
                         f"a {model_name}")


def transfer(model, source, path: str, freeze: bool, labels: list[str], freeze_blocks: int = 0,
             pos_embed: str = "interpolate") -> dict:
    """``--init``: load the backbone of checkpoint ``source`` (read from ``path``; the head too if the
    classes are the same); ``--freeze`` or ``--freeze-blocks``; ``--pos-embed`` for another grid length."""
    from spectool.models.transfer import init_from

    check_init(source, path, model.model_name)
    report = init_from(model, source, freeze=freeze, labels=labels, freeze_blocks=freeze_blocks,
                       adapt=pos_embed == "interpolate")
    if not report.loaded and not report.adapted:
        raise UsageError(f"--init {path}: no backbone weight fits this model")
    relearned = [k for k, why in report.skipped.items() if why.endswith("learned anew")]
    return {"path": path, "loaded": len(report.loaded), "adapted": report.adapted, "relearned": relearned,
            "head": report.head, "skipped": len(report.skipped), "frozen": len(report.frozen),
            "pos_embed": pos_embed}


class Augmenter:
    """On-the-fly pattern augmentation: row r in epoch e draws from ``(seed, r, e)`` only."""

    def __init__(self, ops: list, axis, seed: int):
        from spectool.signal.augment import check_ops

        if any(op.stage == "sticks" for op in ops):
            raise UsageError("train augments patterns on the fly: use pattern operations (peak_scale, peak_drop, "
                             "shift, window, noise, background); physics ones belong to spectool augment")
        check_ops(ops, has_sticks=False)
        self.ops, self.axis, self.seed = ops, axis, seed

    def __call__(self, X: np.ndarray, rows: np.ndarray, epoch: int) -> np.ndarray:
        """(B, L) float32 → augmented (B, L) float32; X itself is left alone."""
        from spectool.signal.streams import row_streams

        streams = row_streams(self.seed, rows, np.full(len(rows), epoch))
        Y = np.array(X, dtype=np.float32)
        for i, op in enumerate(self.ops):  # as augment_chunk: op i draws from slot i
            Y = op.transform(Y, self.axis, op.draw(streams.child(i), Y, self.axis))
        return np.ascontiguousarray(Y, dtype=np.float32)


def make_augmenter(job: Job, axis, seed: int) -> Augmenter | None:
    if not job.augment:
        return None
    from spectool.signal.ops import op_from_json

    return Augmenter([op_from_json(o) for o in job.augment], axis, seed)


def class_means(source, lut: np.ndarray, num_classes: int) -> np.ndarray:
    """Mean pattern per class (C, L) float32 over a (non-shuffled) BatchSource: S in RCNet's reliability."""
    sums, counts = None, np.zeros(num_classes)
    for X, y, _ in source.epoch(0):
        cls = lut[y]
        if sums is None:
            sums = np.zeros((num_classes, X.shape[1]))
        np.add.at(sums, cls, X)
        counts += np.bincount(cls, minlength=num_classes)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def summary(history: list[dict], best_epoch: int | None) -> dict:
    """Validation figures of the best epoch (what the checkpoint's ``train`` reports at top level)."""
    if best_epoch is None:
        return {}
    best = next(r for r in history if r["epoch"] == best_epoch)
    return {k: best[f"val_{k}"] for k in ("loss", "top1", "top3", "top5") if f"val_{k}" in best}
