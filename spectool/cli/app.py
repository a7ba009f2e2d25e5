"""The ``spectool`` command tree. Each subcommand lives in its own module and registers here.

Nothing heavy is imported at this level: ``spectool --help`` and TAB completion stay fast
(torch, pymatgen and scipy load inside the commands that need them).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spectool import __version__

HELP = """Crystal structures and measured spectra to trained, explainable classifiers.

Commands read and write spectra sets (HDF5 or NPY) by path or - (stdin/stdout), so they compose in pipes: spectool simulate cifs/ -o - | spectool info -
"""

EPILOG = ("Exit status: 0 success; 1 some inputs failed or an unexpected error; 2 usage error or "
          "nothing usable; 3 predict --fail-under not met; 130 interrupted; 141 output pipe closed.")

app = typer.Typer(
    name="spectool",
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich markup ate "[default: …]" and cut long option names
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spectool {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    """Crystal structures and measured spectra to trained, explainable classifiers."""


COMMANDS = (  # one module per subcommand; importing it registers the command
    "augment",
    "cluster",
    "completion",
    "corpus",
    "demo",
    "embed",
    "explain",
    "formats",
    "info",
    "merge",
    "ops",
    "pairs",
    "predict",
    "preprocess",
    "simulate",
    "train",
)


def _register(names=COMMANDS) -> None:
    import importlib

    for name in names:
        importlib.import_module(f"spectool.cli.{name}")


def ensure_registered(argv: list[str]) -> None:
    """Register every command unless the one ``argv`` runs is registered already (a command that
    runs others in-process, as ``demo`` and ``train`` do, gets them here)."""
    name = next((a for a in argv if not a.startswith("-")), None)
    known = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    if name not in known:
        _register()


def _only() -> tuple[str, ...]:
    """The command modules to import now: all of them, or only the one ``spectool.cli.main.main``
    named before this module was first imported (a process that runs one command needs no other)."""
    import spectool.cli

    only = getattr(spectool.cli, "ONLY_COMMAND", None)
    return (only,) if only in COMMANDS else COMMANDS


_register(_only())
