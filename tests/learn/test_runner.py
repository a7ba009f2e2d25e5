"""learn.runner.run: the model kind picks the training flow (what spectool train used to decide in cli/)."""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
import pytest

from spectool.env import Env
from spectool.errors import UsageError
from spectool.io.sets import open_set
from spectool.learn.data import read_labels
from spectool.learn.job import Job
from spectool.learn.runner import Inputs, Options, run
from spectool.learn.train import Callback
from tests.learn.synth_sets import peak_set


class _Hooks(Callback):
    """The reporter's interface (cli/train.py's _Reporter), keeping the epoch records."""

    member = None

    def __init__(self):
        self.records = []

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def save_state(self, trainer, job) -> None: ...

    def epoch(self, record: dict, trainer) -> None:
        self.records.append(record)


class _Asked(Exception):
    """What a reader passed in raises, to show it was asked for ``args``."""


def _asked(*args):
    raise _Asked(*args)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return peak_set(tmp_path_factory.mktemp("runner") / "s.h5", n_classes=3, per_class=10)


@pytest.fixture
def inputs(small_set):
    with ExitStack() as stack:
        reader = stack.enter_context(open_set(small_set, Env()))
        yield Inputs(reader, read_labels(reader).astype(np.int64), small_set)


def test_a_classical_model_is_fitted_once_and_the_job_keeps_its_classes(inputs):
    job, hooks = Job("knn", {"n_neighbors": 1}), _Hooks()
    outcome = run(job, inputs, Options(), hooks)
    assert outcome.train["model"] == "knn" and [r["epoch"] for r in hooks.records] == [1]
    assert job.labels == outcome.labels and len(outcome.labels) == 3


def test_a_union_needs_groups_and_reads_them_with_the_reader_passed_in(inputs):
    with pytest.raises(UsageError, match="needs --groups"):
        run(Job("rcnet_union"), inputs, Options(read_groups=_asked), _Hooks())
    with pytest.raises(UsageError, match="--resume continues single networks"):
        run(Job("rcnet_union"), inputs, Options(resume=object(), read_groups=_asked), _Hooks(), groups="g.json")
    with pytest.raises(_Asked, match="g.json"):
        run(Job("rcnet_union"), inputs, Options(read_groups=_asked), _Hooks(), groups="g.json")


def test_add_to_loads_the_union_it_extends(inputs):
    with pytest.raises(_Asked, match="u.safetensors"):
        run(Job("resnet1d"), inputs, Options(load_checkpoint=_asked), _Hooks(), add_to="u.safetensors")


def test_a_network_keeps_class_means_only_within_the_budget(inputs):
    import torch

    job = Job("cnn1d", {"channels": [4, 4], "kernel_size": 3}, config={"epochs": 1, "batch_size": 8})
    kept = run(job, inputs, Options(device=torch.device("cpu")), _Hooks())
    assert kept.extra_tensors["class_means"].shape == (3, inputs.reader.meta.axis.values.size)
    job = Job("cnn1d", {"channels": [4, 4], "kernel_size": 3}, config={"epochs": 1, "batch_size": 8})
    small = Options(device=torch.device("cpu"), means_budget=3 * 4 * 10)
    assert "class_means" not in run(job, inputs, small, _Hooks()).extra_tensors


@pytest.mark.parametrize("native", [True, False])
def test_the_checkpoint_and_the_log_say_how_training_computed(inputs, monkeypatch, native):
    import torch

    import spectool.learn.device as device

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: native)
    lines = []
    hooks = _Hooks()
    hooks.info = lines.append
    job = Job("cnn1d", {"channels": [4, 4], "kernel_size": 3}, config={"epochs": 1, "batch_size": 8})
    outcome = run(job, inputs, Options(device=torch.device("cpu")), hooks)
    assert outcome.train["precision"] == ("bfloat16 autocast" if native else "float32")
    assert any("bfloat16 autocast on cpu" in line and "--no-amp" in line for line in lines) == native
    assert all(t.dtype == torch.float32 for t in outcome.model.state_dict().values() if t.is_floating_point())


@pytest.mark.parametrize("model, batch", [("cnn1d", 128), ("vit1d", 32)])
def test_the_vit_takes_at_most_32_patterns_a_step_where_other_networks_take_more(inputs, model, batch):
    from spectool.learn.runner import sources

    rows = np.repeat(np.arange(30), 67)[:2000]  # 2,000 training rows: rows / 16 → 128
    train, _ = sources(inputs, None, Job(model), Options(), train_rows=rows, val_rows=np.arange(30))
    assert train.batch_size == batch
    given = Job(model, config={"batch_size": 64})
    assert sources(inputs, None, given, Options(), train_rows=rows, val_rows=np.arange(30))[0].batch_size == 64
