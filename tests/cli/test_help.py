"""Every command's --help shows every option name and every declared help string in full."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from spectool.cli.app import app


def _commands(group=None, path=()):
    """(command path, click command) of the root, every group and every command."""
    group = group or get_command(app)
    yield path, group
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        yield from _commands(cmd, path + (name,))


def _squeeze(text: str) -> str:
    """Text without whitespace, so that wrapping at any width compares equal."""
    return "".join(text.split())


COMMANDS = list(_commands())


@pytest.mark.parametrize("columns", ["80", "100"])
@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) or "spectool" for p, _ in COMMANDS])
def test_help_shows_every_option_and_help_text_whole(path, cmd, columns):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": columns}, prog_name="spectool")
    assert result.exit_code == 0, result.output
    words = set(result.output.replace(",", " ").replace("/", " ").split())
    shown = _squeeze(result.output)
    for param in cmd.params:
        for name in param.opts + param.secondary_opts:
            if name.startswith("-"):
                assert name in words, f"{name} cut or missing in 'spectool {' '.join(path)} --help'"
        helptext = getattr(param, "help", None)
        if helptext:
            assert _squeeze(helptext) in shown, f"help of {param.name} mangled: {helptext!r}"
    assert "<bool>" not in result.output


def test_default_model_is_named_in_predict_help():
    result = CliRunner().invoke(app, ["predict", "--help"], env={"COLUMNS": "80"})
    assert "[default: $SPECTOOL_MODEL, else the shipped model]" in " ".join(result.output.split())
