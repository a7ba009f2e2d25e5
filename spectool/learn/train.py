"""The training loop for the networks: AdamW, warm-up + cosine/plateau, early stopping, best epoch.

:class:`Trainer` runs epochs over :class:`~spectool.learn.data.BatchSource` batches and reports
through a callback; it never prints and writes no files. Everything a resume needs lives in
:class:`TrainState` (epoch counter, history, schedule, early stopping, best weights) plus the
model's and the optimizer's tensors; :mod:`spectool.learn.state` stores them as safetensors.

Determinism: the batch order is drawn from ``(seed, epoch)`` by the BatchSource, augmentation
from ``(seed, row, epoch)``, and torch's generator (dropout, stochastic depth) is re-seeded at
the start of every epoch from ``(seed, epoch, rank)``. So an epoch's result depends only on the
weights and optimizer state at its start: resuming at an epoch boundary gives bit-identical
weights on the same machine and thread count (float reductions may differ across thread counts,
CPUs, or on CUDA unless its deterministic algorithms are enforced).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spectool.learn.distributed import World, all_have, all_sum, wrap
from spectool.learn.job import SELECT
from spectool.learn.metrics import Running


@dataclass
class TrainConfig:
    """Optimisation settings (JSON-able: stored in the checkpoint's ``train`` and the resume state)."""

    epochs: int = 100
    batch_size: int | None = None  # None: scaled to the training set (auto_batch_size)
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: float = 1.0  # epochs of linear warm-up
    schedule: str = "cosine"  # cosine | plateau | constant
    min_lr_ratio: float = 0.01
    label_smoothing: float = 0.0
    patience: int | None = None  # optimiser steps without a better validation score; 0 = never; None: auto_patience
    select: str = "loss"  # the best epoch (kept, and early stopping's reference): lowest val_loss, or highest val_top1
    confidence_lambda: float = 0.1  # for models with a confidence branch (RCNet): λ's start
    confidence_budget: float = 0.3  # its budget β on −log c (DeVries & Taylor; λ adapts to it)
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    amp: bool = True  # mixed precision: on CUDA, and on a bf16 CPU for the models that declare it (amp_dtype)
    compile: bool = False  # torch.compile the training step (pays off on long runs; needs a C++ compiler)
    seed: int = 0


@dataclass
class TrainState:
    """What changes during training and is not a tensor of the model or optimizer."""

    epoch: int = 0  # the next epoch to run
    history: list[dict] = field(default_factory=list)
    schedule: dict = field(default_factory=dict)
    stopper: dict = field(default_factory=dict)
    scaler: dict = field(default_factory=dict)
    best: dict | None = None  # state_dict of the best epoch (CPU tensors)
    stopped_early: bool = False

    @property
    def best_epoch(self) -> int | None:
        return self.stopper.get("best_epoch")

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "best"}


class Schedule:
    """Learning-rate multiplier per step: linear warm-up, then cosine to ``min_ratio`` or plateau steps.

    ``plateau``: × ``factor`` after ``patience`` epochs without a lower validation loss.
    Its whole state is a small dict (``state_dict``), stored as JSON for resume.
    """

    def __init__(self, kind: str, warmup_steps: int, total_steps: int, min_ratio: float = 0.01,
                 factor: float = 0.5, patience: int = 1):
        if kind not in ("cosine", "plateau", "constant"):
            raise ValueError(f"schedule must be cosine, plateau or constant, not {kind!r}")
        self.kind, self.warmup, self.total, self.min_ratio = kind, warmup_steps, max(total_steps, 1), min_ratio
        self.factor, self.patience = factor, patience
        self.step, self.scale, self.best, self.bad = 0, 1.0, math.inf, 0

    def multiplier(self) -> float:
        if self.step < self.warmup:
            return (self.step + 1) / (self.warmup + 1)
        if self.kind != "cosine":
            return self.scale
        t = min(1.0, (self.step - self.warmup) / max(self.total - self.warmup, 1))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    def end_epoch(self, val_loss: float) -> None:
        if self.kind != "plateau" or self.step < self.warmup:
            return
        if val_loss < self.best:
            self.best, self.bad = val_loss, 0
        else:
            self.bad += 1
            if self.bad > self.patience:
                self.scale, self.bad = self.scale * self.factor, 0

    def state_dict(self) -> dict:
        return {"step": self.step, "scale": self.scale, "best": _finite(self.best), "bad": self.bad}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.scale, self.bad = int(state["step"]), float(state["scale"]), int(state["bad"])
        self.best = math.inf if state["best"] is None else float(state["best"])


class EarlyStopping:
    """Stop once ``patience`` optimiser steps have passed without a validation score below the best (0 = never);
    the score is the validation loss, or minus the top-1 accuracy (``--select top1``).

    Counted in steps, not epochs, so that it means the same amount of learning on 200 rows and on 200,000;
    the check still happens at epoch ends, where validation runs. "Lower" means by more than ``MIN_DELTA``:
    a loss creeping from 0.0034 to 0.0033 is not learning worth waiting for.
    """

    def __init__(self, patience: int = 500):
        self.patience, self.best, self.best_epoch, self.best_step, self.since = patience, math.inf, None, 0, 0

    def update(self, loss: float, epoch: int, step: int) -> bool:
        """Record the validation loss after ``epoch`` (``step`` optimiser steps so far); True if the best."""
        if loss < self.best - MIN_DELTA:
            self.best, self.best_epoch, self.best_step, self.since = loss, epoch, step, 0
            return True
        self.since = step - self.best_step
        return False

    @property
    def stop(self) -> bool:
        return self.patience > 0 and self.best_epoch is not None and self.since >= self.patience

    def state_dict(self) -> dict:
        return {"best": _finite(self.best), "best_epoch": self.best_epoch, "best_step": self.best_step,
                "since": self.since}

    def load_state_dict(self, state: dict) -> None:
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.best_epoch, self.best_step, self.since = state["best_epoch"], int(state["best_step"]), int(state["since"])


MIN_DELTA = 1e-3  # the validation score (loss in nats, or top-1 as a fraction) must improve by more than this


def selection_score(record: dict, select: str) -> float:
    """The number early stopping minimises: the validation loss, or minus the validation top-1 (``select``).
    Where a large set overfits, the loss turns up epochs before the accuracy stops rising."""
    if select not in SELECT:
        raise ValueError(f"select must be one of {', '.join(SELECT)}, not {select!r}")
    return record["val_loss"] if select == "loss" else -record["val_top1"]


def auto_batch_size(rows: int, largest: int = 128) -> int:
    """Patterns per step for ``rows`` training rows: a power of two near rows / 16, within [16, ``largest``].

    At least ~16 steps an epoch, so a 200-row set still takes hundreds of optimiser steps in a run. A model
    may lower ``largest`` (its class attribute ``auto_batch_max``: the ViT's 32, see :mod:`spectool.models.vit1d`).
    """
    return int(min(largest, max(16, 2 ** round(math.log2(max(rows, 1) / 16)))))


def auto_patience(steps_per_epoch: int) -> int:
    """Early-stopping patience in steps: 3 epochs, at least 400 steps (a ViT can sit near chance that long)."""
    return max(3 * steps_per_epoch, 400)


def _finite(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


class Objective(nn.Module):
    """(x (B, L), y (B,)) → (training loss, logits (B, C)); what DDP wraps.

    Models with ``forward_with_confidence`` (RCNet) train on DeVries & Taylor's confidence loss as the
    paper does: a random half of each batch may ask for the hint, and λ follows a budget β on −log c
    (÷ 0.99 a step while the penalty is above β, ÷ 1.01 while below). With every row hinted and λ fixed
    at 0.1, c settled near 0.1 at chance, which scales the classifier's gradient by c: the RCNet stayed
    at 10 % validation top-1 on 20 random phases where the CNN reached 96 % (bench_accuracy --case sample).
    The others train on cross-entropy with optional label smoothing.
    """

    def __init__(self, model: nn.Module, label_smoothing: float = 0.0, confidence_lambda: float = 0.1,
                 confidence_budget: float = 0.3):
        super().__init__()
        self.model, self.smoothing, self.budget = model, label_smoothing, confidence_budget
        self.register_buffer("lam", torch.tensor(float(confidence_lambda)), persistent=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if hasattr(self.model, "forward_with_confidence"):
            from spectool.models.resnet1d import confidence_loss, confidence_penalty

            logits, conf = self.model.forward_with_confidence(x)
            hints = torch.rand(conf.shape, device=conf.device) < 0.5
            loss = confidence_loss(logits.float(), conf.float(), y, self.lam.clone(), hints)
            with torch.no_grad():  # λ towards the budget, on the device (no host sync)
                over = confidence_penalty(conf.float()) > self.budget
                self.lam.mul_(torch.where(over, 1 / 0.99, 1 / 1.01))
            return loss, logits
        logits = self.model(x)
        return F.cross_entropy(logits.float(), y, label_smoothing=self.smoothing), logits


def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; no weight decay on biases, norms, tokens, positions."""
    decay, plain = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (plain if p.ndim < 2 or "pos_embed" in name or "cls_token" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    return torch.optim.AdamW(groups, lr=cfg.lr, fused=device.type in ("cpu", "cuda"))


def set_train_mode(model: nn.Module) -> None:
    """train() everywhere but in BatchNorm layers whose parameters are all frozen (``--freeze``)."""
    model.train()
    for m in model.modules():
        params = list(m.parameters(recurse=False))
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and params and not any(p.requires_grad for p in params):
            m.eval()


def training_batch_norms(model: nn.Module) -> list[nn.Module]:
    """The BatchNorm layers that learn (not frozen by ``--freeze``)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and not any(not p.requires_grad for p in m.parameters(recurse=False))]


def average_batch_norm(model: nn.Module) -> None:
    """Running statistics from scratch, as the plain average of the batches to come (momentum None).

    With the default momentum 0.1 the statistics after a few dozen steps still remember their
    initial variance of 1, while a sparse diffraction pattern's activations vary by ~1e-5: evaluation
    then divides by the wrong scale and every pattern gets the same scores.
    """
    for m in training_batch_norms(model):
        m.reset_running_stats()
        m.momentum = None


def weigh_batch_norm(layers: list[nn.Module], seen: int) -> None:
    """Before a batch, after ``seen`` batches since :func:`average_batch_norm`: momentum 1 / (seen + 1), the
    plain average that momentum None gives, but counted on the host (momentum None reads the layer's batch
    count back from the device at every step: a host sync per layer per step on CUDA)."""
    for m in layers:
        m.momentum = 1.0 / (seen + 1)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The torch seed of one epoch on one rank (dropout, stochastic depth)."""
    return int(np.random.SeedSequence([seed, epoch, rank, 11]).generate_state(1, np.uint64)[0] >> 1)


class Callback:
    """What the loop reports; override what you need. Called on every rank (check ``world.main``)."""

    def batch(self, rows: int) -> None: ...

    def epoch(self, record: dict, trainer: "Trainer") -> None: ...


class Trainer:
    """Trains ``model`` (already on ``device``) with ``cfg``; ``lut`` maps a set's label ids to classes."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, device: torch.device, lut: np.ndarray,
                 world: World = World(), callback: Callback | None = None, val_lut: np.ndarray | None = None):
        self.model, self.cfg, self.device, self.world = model, cfg, device, world
        self.lut, self.val_lut = lut, lut if val_lut is None else val_lut
        self.callback = callback or Callback()
        self.objective = Objective(model, cfg.label_smoothing, cfg.confidence_lambda,
                                   cfg.confidence_budget).to(device)
        self.net = wrap(self.objective, world, device)
        if cfg.compile:
            self.net = torch.compile(self.net)
        self.optimizer = build_optimizer(model, cfg, device)
        self.amp_dtype = amp_dtype(device, model) if cfg.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.schedule: Schedule | None = None
        self.stopper = EarlyStopping(cfg.patience or 0)
        self.state = TrainState()

    def plan(self, steps_per_epoch: int) -> None:
        """Set up the schedule for ``steps_per_epoch``; call once before ``fit`` (or ``load``)."""
        cfg = self.cfg
        if cfg.patience is None:
            cfg.patience = self.stopper.patience = auto_patience(steps_per_epoch)
        self.schedule = Schedule(cfg.schedule, int(round(cfg.warmup * steps_per_epoch)),
                                 cfg.epochs * steps_per_epoch, cfg.min_lr_ratio)

    def sync_state(self) -> TrainState:
        """The TrainState with the schedule, stopper and scaler states written into it."""
        self.state.schedule = self.schedule.state_dict()
        self.state.stopper = self.stopper.state_dict()
        self.state.scaler = {k: v for k, v in self.scaler.state_dict().items()}
        return self.state

    def restore(self, state: TrainState) -> None:
        """Continue from ``state`` (the model's and optimizer's tensors are loaded separately)."""
        self.state = state
        self.schedule.load_state_dict(state.schedule)
        self.stopper.load_state_dict(state.stopper)
        if state.scaler:
            self.scaler.load_state_dict(state.scaler)

    def fit(self, train, val) -> TrainState:
        """Epochs from ``state.epoch`` until ``cfg.epochs`` or early stopping; the best weights kept."""
        if self.schedule is None:
            self.plan(len(train))
        while self.state.epoch < self.cfg.epochs and not self.state.stopped_early:
            self._run_epoch(train, val, self.state.epoch)
        return self.sync_state()

    def _run_epoch(self, train, val, epoch: int) -> None:
        start = time.perf_counter()
        record = {"epoch": epoch + 1, **self.train_epoch(train, epoch)}  # counted from 1 in records
        record.update(self.evaluate(val))
        record.update(lr=self.optimizer.param_groups[0]["lr"], time_s=time.perf_counter() - start)
        record["samples_per_s"] = record.pop("train_rows") / max(record["time_s"], 1e-9)
        if self.stopper.update(selection_score(record, self.cfg.select), epoch + 1, self.schedule.step):
            self.state.best = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        self.schedule.end_epoch(record["val_loss"])
        self.state.history.append(record)
        self.state.epoch = epoch + 1
        self.state.stopped_early = self.stopper.stop
        self.sync_state()
        self.callback.epoch(record, self)

    def train_epoch(self, source, epoch: int) -> dict[str, float]:
        """One pass over ``source.epoch(epoch)``; ranks stop together when any runs out of batches."""
        torch.manual_seed(epoch_seed(self.cfg.seed, epoch, self.world.rank))
        set_train_mode(self.model)
        average_batch_norm(self.model)  # evaluation after this epoch uses this epoch's batch statistics
        running, batches, norms, seen = Running(), source.epoch(epoch), training_batch_norms(self.model), 0
        while True:
            batch = next(batches, None)
            if not all_have(batch is not None, self.world, self.device):
                break
            x, y = self.to_device(batch[0], batch[1], self.lut)
            weigh_batch_norm(norms, seen)
            seen += 1
            loss, logits = self.step(x, y)
            running.add(loss, logits, y)
            self.callback.batch(len(y))
        vector = all_sum(running.as_vector(), self.world, self.device)
        return {**running.summary("train", vector), "train_rows": vector[1]}

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a batch; returns (loss, logits)."""
        lr = self.cfg.lr * self.schedule.multiplier()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            loss, logits = self.net(x, y)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.objective.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step += 1
        return loss, logits

    @torch.no_grad()
    def evaluate(self, source, autocast: bool = True) -> dict[str, float]:
        """Validation loss (plain cross-entropy) and top-1/3/5 over every row of ``source``, all ranks;
        ``autocast`` False: in float32, as predict runs the model, whatever training's precision."""
        self.model.eval()
        running = Running()
        for X, yb, _ in source.epoch(0):
            x, y = self.to_device(X, yb, self.val_lut)
            with torch.autocast(self.device.type, self.amp_dtype or torch.float32,
                                enabled=autocast and self.amp_dtype is not None):
                logits = self.model(x).float()
            running.add(F.cross_entropy(logits, y), logits, y)
        return running.summary("val", all_sum(running.as_vector(), self.world, self.device))

    @torch.no_grad()
    def recompute_batch_norm(self, source) -> bool:
        """BatchNorm statistics of the current weights over one pass of ``source`` (the training batches,
        dropout off) in float32, as predict runs the model (never under autocast); False when the model has
        no learning BatchNorm layer."""
        layers = training_batch_norms(self.model)
        if not layers:
            return False
        self.model.eval()
        average_batch_norm(self.model)
        for m in layers:
            m.train()
        for seen, (X, yb, _) in enumerate(source.epoch(0)):
            x, _ = self.to_device(X, yb, self.lut)
            weigh_batch_norm(layers, seen)
            self.model(x)
        self.model.eval()
        return True

    @torch.no_grad()
    def score_spread(self, source) -> float:
        """The largest range, over rows of ``source``, of any class's evaluation-mode probability (0 … 1).

        Near 0 means the model gives every pattern the same scores (a collapsed evaluation mode).
        """
        self.model.eval()
        lo = hi = None
        for X, yb, _ in source.epoch(0):
            x, _ = self.to_device(X, yb, self.val_lut)
            p = torch.softmax(self.model(x).float(), dim=1)
            lo = p.min(0).values if lo is None else torch.minimum(lo, p.min(0).values)
            hi = p.max(0).values if hi is None else torch.maximum(hi, p.max(0).values)
        return 0.0 if lo is None else float((hi - lo).max())

    def to_device(self, X: np.ndarray, y: np.ndarray, lut: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """numpy (B, L) float32 and set label ids (B,) → tensors on the device (classes via ``lut``)."""
        x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        t = torch.from_numpy(lut[y])
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True), t.pin_memory().to(self.device, non_blocking=True)
        return x, t


def fit_warnings(train_top1: float, val_top1: float, spread: float) -> list[str]:
    """What a user must hear about a finished model: collapsed evaluation mode, a large generalisation gap."""
    out = []
    if spread < CONSTANT_SPREAD:
        out.append(f"the model gives every validation pattern the same scores (largest spread of a class "
                   f"probability {spread:.4f}): its evaluation mode has collapsed; do not use it")
    if train_top1 - val_top1 > GAP:
        out.append(f"validation top-1 {val_top1:.3f} is far below training top-1 {train_top1:.3f}: the model "
                   "does not carry over to the held-out patterns (more structures per class, stronger "
                   "augmentation, or a smaller model)")
    return out


CONSTANT_SPREAD = 0.01  # probability range below which evaluation-mode outputs count as constant
GAP = 0.3  # training minus validation top-1 above which train warns


def amp_dtype(device: torch.device, model: nn.Module, cpu_bf16: bool | None = None) -> torch.dtype | None:
    """The autocast dtype of training (None: float32 throughout).

    CUDA: bfloat16 where the GPU has it, else float16 (with loss scaling). CPU: bfloat16 for a model that
    declares ``cpu_bf16`` (measured faster at equal accuracy: the CNN and ResNet) on a processor with native
    bfloat16 arithmetic (``cpu_bf16``; default :func:`~spectool.learn.device.cpu_has_bf16`); the ViT stays
    float32 (slower under CPU autocast). The weights stay float32 either way: checkpoints do not change.
    """
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type != "cpu" or not getattr(model, "cpu_bf16", False):
        return None
    if cpu_bf16 is None:
        from spectool.learn.device import cpu_has_bf16

        cpu_bf16 = cpu_has_bf16()
    return torch.bfloat16 if cpu_bf16 else None


def precision(dtype: torch.dtype | None) -> str:
    """How training computed, for the log and the checkpoint: ``float32`` or ``bfloat16 autocast``."""
    return "float32" if dtype is None else f"{str(dtype).removeprefix('torch.')} autocast"


def count_parameters(model: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


