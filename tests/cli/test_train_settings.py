"""train's options are one declared TrainSettings, checked before any file is opened."""

from __future__ import annotations

import inspect

import pytest

from spectool.errors import UsageError
from spectool.learn.settings import TrainSettings
from tests.conftest import run_cli


@pytest.mark.parametrize("flag, value", [("--schedule", "foo"), ("--split", "halves"), ("--augment", "both")])
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
