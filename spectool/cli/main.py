"""The entry point: the one place that turns exceptions into messages and exit statuses."""

from __future__ import annotations

import os
import sys
import traceback

from spectool.errors import Exit, Interrupted, PipeClosed, SpectoolError


def main(argv: list[str] | None = None) -> None:
    """``spectool`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    _only_command(argv)
    sys.exit(run(argv))


#: Commands that need the whole command tree even when they run alone.
WHOLE_TREE = ("completion",)


def _only_command(argv: list[str]) -> None:
    """Before the command tree is built, mark the one command this process runs, so that only its
    module is imported (~0.1 s less start-up: the others' options and imports are never built).
    Help, TAB completion and anything that is not a plain command name get the whole tree."""
    import spectool.cli

    name = next((a for a in argv if not a.startswith("-")), None)
    if ("spectool.cli.app" in sys.modules or "_SPECTOOL_COMPLETE" in os.environ or name is None
            or name in WHOLE_TREE):
        return
    spectool.cli.ONLY_COMMAND = name


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit status (DESIGN.md §4)."""
    from typer import _click
    from typer.exceptions import Abort
    from typer.main import get_command

    from spectool.cli.app import app, ensure_registered
    from spectool.cli.common import ACTIVE

    ensure_registered(argv or [])

    if "_SPECTOOL_COMPLETE" in os.environ:  # a TAB press: register typer's shell classes
        from typer._completion_classes import completion_init

        completion_init()

    try:
        result = get_command(app).main(args=argv, prog_name="spectool", standalone_mode=False)
        return result if isinstance(result, int) else Exit.OK
    except _click.exceptions.ClickException as exc:
        _report_usage(exc)
        return exc.exit_code
    except (KeyboardInterrupt, Abort, Interrupted):
        sys.stderr.write("spectool: interrupted\n")
        return Exit.INTERRUPTED
    except (BrokenPipeError, PipeClosed):
        _silence_stdout()
        return Exit.BROKEN_PIPE
    except SpectoolError as exc:
        _report(str(exc), ACTIVE.get("env"))
        return exc.exit_code
    except OSError as exc:
        _report(_os_error(exc), ACTIVE.get("env"))
        return Exit.PARTIAL
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback with -v
        _report(f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)",
                ACTIVE.get("env"))
        return Exit.PARTIAL


def _report(message: str, env) -> None:
    if env is not None and env.verbosity > 0:
        traceback.print_exc()
    sys.stderr.write(f"spectool: error: {message}\n")


def _os_error(exc: OSError) -> str:
    """A full disk that no writer caught: where, when the error says, and "no space left"."""
    from spectool.io.stdio import no_space

    message = no_space(exc)
    if message is None:
        return f"unexpected OSError: {exc} (run with -v for the traceback)"
    return f"{exc.filename}: {message}" if exc.filename else message


def _report_usage(exc) -> None:
    """``spectool: error: …`` and where to find help, for errors in the command line."""
    sys.stderr.write(f"spectool: error: {exc.format_message()}\n")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        sys.stderr.write(f"Try '{ctx.command_path} --help' for help.\n")


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
