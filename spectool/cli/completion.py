"""``spectool completion SHELL``: print the TAB-completion script for bash, zsh or fish."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from spectool.cli.app import app
from spectool.cli.common import command
from spectool.env import Env


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@command(app, "completion")
def completion(env: Env, shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the completion script for SHELL on stdout.

    Install: spectool completion bash > ~/.local/share/bash-completion/completions/spectool
    """
    from spectool.io.stdio import write_all

    write_all(env.stdout, completion_script(shell.value).encode())
    env.stdout.flush()


def completion_script(shell: str) -> str:
    """The script typer generates for ``shell``, fixed so zsh registers it from $fpath."""
    from typer._completion_classes import completion_init
    from typer._completion_shared import get_completion_script

    completion_init()
    script = get_completion_script(prog_name="spectool", complete_var="_SPECTOOL_COMPLETE", shell=shell)
    return script.lstrip("\n") if script.endswith("\n") else script.lstrip("\n") + "\n"
