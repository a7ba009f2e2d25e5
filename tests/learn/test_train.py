"""The training loop in-process: learning, resume = uninterrupted, early stopping, best epoch, freeze, metrics."""

from __future__ import annotations

import math
from contextlib import ExitStack

import numpy as np
import pytest
import torch

from spectool.env import Env
from spectool.io.sets import open_set
from spectool.learn.data import BatchSource, read_labels
from spectool.learn.job import Job, build_model, prepare_data
from spectool.learn.metrics import Running, confusion_matrix, topk_hits
from spectool.io.trainstate import read_state, save_state
from spectool.learn.state import restore
from spectool.learn.train import (Callback, EarlyStopping, Schedule, TrainConfig, Trainer, fit_warnings,
                                   set_train_mode)
from tests.learn.synth_sets import peak_set

torch.set_num_threads(1)
VIT = {"patch": 8, "dim": 16, "depth": 2, "heads": 2}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return peak_set(tmp_path_factory.mktemp("train") / "s.h5", n_classes=4, per_class=30)


@pytest.fixture
def setup(small_set):
    """``setup(model=…, args=…, **config)`` → (trainer, train, val, job) on the small set; readers closed after."""
    with ExitStack() as stack:
        yield lambda **kw: _setup(stack, small_set, **kw)


def _setup(stack, path, model="vit1d", args=VIT, seed=0, **config):
    reader = stack.enter_context(open_set(path, Env()))
    y = read_labels(reader).astype(np.int64)
    job = Job(model, args, {"batch_size": 16, "epochs": 6, "patience": 60, **config})
    data = prepare_data(reader.meta.label_names, y, job, seed, path)
    net = build_model(model, args, len(data.labels), len(reader.meta.axis), seed)
    cfg = TrainConfig(**{**job.config, "seed": seed})
    train = BatchSource(reader, data.train_rows, 16, True, seed)
    val = BatchSource(reader, data.val_rows, 64, False, seed)
    trainer = Trainer(net, cfg, CPU, data.lut)
    trainer.plan(len(train))
    return trainer, train, val, job


class _Stop(Callback):
    def __init__(self, at: int, path, job):
        self.at, self.path, self.job = at, path, job

    def epoch(self, record, trainer):
        save_state(self.path, trainer, self.job.to_json())
        if record["epoch"] == self.at:
            raise KeyboardInterrupt


def test_resume_reaches_the_same_weights(setup, tmp_path):
    full, train, val, _ = setup()
    full.fit(train, val)
    first, train, val, job = setup()
    first.callback = _Stop(3, tmp_path / "st.safetensors", job)
    with pytest.raises(KeyboardInterrupt):
        first.fit(train, val)
    again, train, val, _ = setup(seed=0)
    restore(again, read_state(tmp_path / "st.safetensors"))
    assert again.state.epoch == 3
    again.fit(train, val)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key  # bit-identical on CPU
    assert [r["val_loss"] for r in again.state.history] == [r["val_loss"] for r in full.state.history]


def test_learns_far_above_chance(setup):
    trainer, train, val, _ = setup(model="cnn1d", args={"channels": [8, 8, 16, 16], "kernel_size": 5},
                                    epochs=12)
    state = trainer.fit(train, val)
    assert max(r["val_top1"] for r in state.history) >= 0.75  # chance: 0.25


def test_early_stopping_stops_and_best_epoch_is_kept(setup):
    trainer, train, val, _ = setup(epochs=30, patience=12, lr=0.05, warmup=0, schedule="constant")  # 2 epochs
    snapshots = {}

    class Keep(Callback):
        def epoch(self, record, t):
            snapshots[record["epoch"]] = {k: v.clone() for k, v in t.model.state_dict().items()}

    trainer.callback = Keep()
    state = trainer.fit(train, val)
    losses = [r["val_loss"] for r in state.history]
    assert state.stopped_early and len(losses) < 30
    best = state.best_epoch
    assert losses[best - 1] == min(losses) and len(losses) - best == 2
    for key, value in state.best.items():
        assert torch.equal(value, snapshots[best][key])


def test_freeze_trains_only_the_head(setup):
    trainer, train, val, _ = setup(model="cnn1d", args={"channels": [4, 4, 8, 8], "kernel_size": 3},
                                    epochs=2)
    model = trainer.model
    for p in model.backbone_parameters():
        p.requires_grad_(False)
    trainer = Trainer(model, trainer.cfg, CPU, trainer.lut)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.fit(train, val)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("classifier") for k in changed)  # BN running stats untouched too
    set_train_mode(model)
    assert not any(m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d))


def test_schedule_warms_up_then_decays_and_round_trips():
    s = Schedule("cosine", warmup_steps=4, total_steps=20, min_ratio=0.1)
    values = []
    for _ in range(20):
        values.append(s.multiplier())
        s.step += 1
    assert values[:4] == sorted(values[:4]) and values[3] < 1.0
    assert values[4] == pytest.approx(1.0) and values[-1] == pytest.approx(0.1, abs=0.01)
    p = Schedule("plateau", 0, 10, patience=1)
    for loss in (1.0, 1.0, 1.0):
        p.end_epoch(loss)
    assert p.multiplier() == 0.5
    q = Schedule("plateau", 0, 10)
    q.load_state_dict(p.state_dict())
    assert q.state_dict() == p.state_dict()


def test_early_stopping_counts_optimiser_steps():
    stop = EarlyStopping(patience=20)  # epochs of 8 steps: stops in the third flat epoch
    assert stop.update(1.0, 1, 8) and not stop.update(1.0, 2, 16) and not stop.stop
    assert not stop.update(1.5, 3, 24) and not stop.stop
    assert not stop.update(1.2, 4, 32) and stop.stop and stop.best_epoch == 1
    again = EarlyStopping(20)
    again.load_state_dict(stop.state_dict())
    assert again.stop and again.state_dict() == stop.state_dict()
    assert not EarlyStopping(0).stop


def test_select_top1_keeps_the_most_accurate_epoch_where_the_loss_turns_up_first():
    from spectool.learn.train import selection_score

    history = [{"val_loss": 2.0, "val_top1": 0.30}, {"val_loss": 1.5, "val_top1": 0.40},
               {"val_loss": 1.6, "val_top1": 0.45}, {"val_loss": 1.7, "val_top1": 0.44}]  # overfitting
    best = {}
    for select in ("loss", "top1"):
        stop = EarlyStopping(patience=0)
        for epoch, record in enumerate(history, start=1):
            stop.update(selection_score(record, select), epoch, 10 * epoch)
        best[select] = stop.best_epoch
    assert best == {"loss": 2, "top1": 3}
    with pytest.raises(ValueError, match="select must be one of loss, top1"):
        selection_score(history[0], "f1")


def test_topk_and_confusion():
    logits = torch.tensor([[3.0, 2, 1, 0], [0, 1, 2, 3], [1, 3, 2, 0]])
    target = torch.tensor([0, 0, 2])
    assert topk_hits(logits, target, (1, 3, 5)).tolist() == [1, 2, 3]
    run = Running()
    run.add(torch.tensor(0.5), logits, target)
    s = run.summary("val")
    assert s["val_loss"] == 0.5 and math.isclose(s["val_top3"], 2 / 3)
    cm = confusion_matrix(np.array([0, 0, 2, 1]), np.array([0, 3, 1, 1]), 4)
    assert cm.sum() == 4 and cm[0, 0] == 1 and cm[0, 3] == 1 and cm[2, 1] == 1


def test_batch_norm_statistics_are_those_of_the_training_batches(setup):
    # a dozen steps: with momentum 0.1 the running variance would still be ~0.3 of its initial 1
    trainer, train, val, _ = setup(model="cnn1d", args={"channels": [4, 4, 8, 8], "kernel_size": 3}, epochs=2)
    trainer.fit(train, val)
    assert trainer.recompute_batch_norm(train)
    bn, conv = trainer.model.features[0][1], trainer.model.features[0][0]
    with torch.no_grad():
        maps = torch.cat([conv(torch.as_tensor(X)[:, None]) for X, _, _ in train.epoch(0)])
    torch.testing.assert_close(bn.running_mean, maps.mean((0, 2)), atol=1e-5, rtol=1e-3)
    torch.testing.assert_close(bn.running_var, maps.var((0, 2)), atol=1e-6, rtol=0.05)  # batch-wise unbiased
    assert not trainer.model.training


def test_constant_evaluation_outputs_are_caught(setup):
    from spectool.learn.runner import final_check

    trainer, train, val, _ = setup(model="cnn1d", args={"channels": [4, 4, 8, 8], "kernel_size": 3}, epochs=1,
                                    lr=0.0)
    torch.nn.init.zeros_(trainer.model.classifier.weight)  # every pattern gets the bias' scores
    state = trainer.fit(train, val)
    checks = final_check(trainer, train, val, state)
    assert checks["score_spread"] < 1e-6 and any("same scores" in w for w in checks["warnings"])
    assert fit_warnings(0.99, 0.17, 0.5) and "far below" in fit_warnings(0.99, 0.17, 0.5)[0]
    assert fit_warnings(0.95, 0.9, 0.5) == []


class _HostSyncs(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the operations that make a GPU run wait: reading a value back (item, tolist, float) and making
    a tensor from host data (torch.tensor, a Python list as an index), which copies it to the device."""

    SYNCS = {"aten._local_scalar_dense.default", "aten.lift_fresh.default", "aten.lift_fresh_copy.default"}

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += str(func) in self.SYNCS
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("model,args", [("vit1d", VIT), ("cnn1d", {"channels": [4, 4, 8, 8], "kernel_size": 3}),
                                        ("resnet1d", {"width": 4, "stages": [1, 1], "kernel_size": 3})])
def test_training_steps_never_wait_for_the_device(setup, model, args):
    # an epoch may read its sums back once at its end; the steps themselves must not (CUDA would sync per step)
    counts = []
    for batch in (16, 4):
        trainer, train, _, _ = setup(model=model, args=args)
        train.batch_size = batch
        trainer.to_device = _outside_modes(trainer.to_device)  # the batch's own copy (pinned, non_blocking on CUDA)
        with _HostSyncs() as syncs:
            trainer.train_epoch(train, 0)
        counts.append(syncs.count)
    assert len(train) > 20 and counts[0] == counts[1]


def _outside_modes(fn):
    def call(*args):
        with torch.utils._python_dispatch._disable_current_modes():
            return fn(*args)
    return call


def test_cpu_bf16_autocast_only_for_the_models_that_declare_it_on_a_bf16_cpu():
    from spectool.learn.train import amp_dtype

    cnn = build_model("cnn1d", {"channels": [4, 4], "kernel_size": 3}, 3, 40, 0)
    resnet = build_model("resnet1d", {"width": 4, "stages": [1]}, 3, 40, 0)
    vit = build_model("vit1d", VIT, 3, 40, 0)
    assert amp_dtype(CPU, cnn, cpu_bf16=True) is torch.bfloat16
    assert amp_dtype(CPU, resnet, cpu_bf16=True) is torch.bfloat16
    assert amp_dtype(CPU, vit, cpu_bf16=True) is None  # measured slower under CPU autocast
    assert amp_dtype(CPU, cnn, cpu_bf16=False) is None  # emulated bfloat16 only slows training down


def test_amp_off_trains_in_float32_and_bf16_keeps_float32_weights(monkeypatch, small_set):
    import spectool.learn.device as device

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    args = {"channels": [4, 4], "kernel_size": 3}
    with ExitStack() as stack:
        on = _setup(stack, small_set, model="cnn1d", args=args, epochs=1)[0]
        off = _setup(stack, small_set, model="cnn1d", args=args, epochs=1, amp=False)[0]
    assert on.amp_dtype is torch.bfloat16 and off.amp_dtype is None
    x, y = torch.rand(8, on.model.input_length), torch.zeros(8, dtype=torch.long)
    loss, _ = on.step(x, y)
    assert torch.isfinite(loss) and all(p.dtype == torch.float32 for p in on.model.state_dict().values()
                                        if p.is_floating_point())
