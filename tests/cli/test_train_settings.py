"""train's options are one declared TrainSettings, checked before any file is opened."""

from __future__ import annotations

import inspect

import pytest

from spectool.errors import UsageError
from spectool.learn.settings import TrainSettings
from tests.conftest import run_cli


@pytest.mark.parametrize("flag, value", [("--schedule", "foo"), ("--split", "halves"), ("--augment", "both"),
                                        ("--select", "f1")])
def test_a_bad_choice_is_a_usage_error_before_the_set_is_opened(tmp_path, flag, value):
    res = run_cli("train", str(tmp_path / "missing.h5"), flag, value, "-o", str(tmp_path / "m.safetensors"))
    err = res.stderr.decode().strip()
    assert res.returncode == 2 and len(err.splitlines()) == 1, err
    assert f"{flag} must be one of" in err and "missing.h5" not in err, err


def test_the_settings_are_the_commands_options():
    from spectool.cli.train import train

    options = [p for p in inspect.signature(train).parameters if p != "env"]
    assert TrainSettings.option_names() == options


def test_checks_run_when_made():
    with pytest.raises(UsageError, match="--schedule must be one of cosine, plateau, constant"):
        TrainSettings(**{name: None for name in TrainSettings.option_names()} | {"schedule": "step", "split": "auto",
                                                                              "augment": "none"})


def _settings(**given) -> TrainSettings:
    """TrainSettings with the command's defaults, ``given`` changed."""
    from spectool.cli.train import train

    defaults = {p.name: p.default for p in inspect.signature(train).parameters.values() if p.name != "env"}
    return TrainSettings(**defaults | given)


def test_a_fresh_job_has_the_registry_name_the_arguments_and_the_loop_settings():
    from spectool.learn.settings import new_job

    job = new_job(_settings(model="cnn", dropout=0.1, arg=["channels=[4,8]", "head=gap"], epochs=3, seed=5,
                            aug_op=["shift:delta=-0.1:0.1"]))
    assert job.model == "cnn1d" and job.model_args == {"dropout": 0.1, "channels": [4, 8], "head": "gap"}
    assert job.config["epochs"] == 3 and job.config["seed"] == 5 and job.split == "auto"
    assert job.augment == [{"op": "shift", "delta": [-0.1, 0.1]}]


@pytest.mark.parametrize("given, message", [
    ({"model": "vit", "groups": "g.json"}, "--groups and --add-to train RCNets"),
    ({"model": "knn", "add_to": "u.safetensors"}, "--groups and --add-to train RCNets"),
    ({"arg": ["=3"]}, "--arg must be KEY=VALUE"),
])
def test_a_job_the_options_cannot_make_is_a_usage_error(given, message):
    from spectool.learn.settings import new_job

    with pytest.raises(UsageError, match=message):
        new_job(_settings(**given))
