"""What every subcommand shares: the common options, the ``command`` decorator, batches.

A subcommand is a plain function whose first parameter is ``env: Env``; ``command``
registers it with typer, adds ``-q/--quiet`` and ``-v/--verbose`` to its options and
builds the :class:`~spectool.env.Env` from them.
"""

from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Callable, Iterator

import typer

from spectool.env import Env, env_from_os
from spectool.errors import Interrupted, NothingUsable, OutputError, PartialFailure, PipeClosed, SpectoolError

ACTIVE: dict[str, Env] = {}  # the Env of the running command, for the error handler

QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", envvar="SPECTOOL_QUIET",
                                        help="No messages or progress on stderr; errors still shown.")]
VerboseOpt = Annotated[int, typer.Option("-v", "--verbose", count=True,
                                         help="More detail on stderr (repeatable); -v shows tracebacks.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON Lines on stdout instead of a table/TSV.")]
SeedOpt = Annotated[int, typer.Option("--seed", envvar="SPECTOOL_SEED", show_envvar=False,
                                      help="Random seed; results depend on it, never on --workers.")]
WorkersOpt = Annotated[int, typer.Option("--workers", "-j", envvar="SPECTOOL_WORKERS", show_envvar=False,
                                         min=1, help="Worker processes.")]
OutputOpt = Annotated[str, typer.Option("-o", "--output", metavar="PATH",
                                        help="Output set (.h5 or .npy), or - for stdout.")]
InputsArg = Annotated[list[str], typer.Argument(metavar="INPUT",
                                                help="Files, folders or globs; - for stdin.")]


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


DeviceOpt = Annotated[str, typer.Option("--device", envvar="SPECTOOL_DEVICE", show_envvar=False,
                                        metavar="auto|cpu|cuda[:N]",
                                        help="Where tensors live; auto picks CUDA when present.")]

_COMMON = [
    inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=QuietOpt),
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=0, annotation=VerboseOpt),
]


def command(app: typer.Typer, name: str, **settings) -> Callable:
    """Register ``func(env, ...)`` as ``spectool NAME`` with the common options added."""

    def register(func: Callable) -> Callable:
        signature = inspect.signature(func, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "env"]

        @functools.wraps(func)
        def run(*args, quiet: bool = False, verbose: int = 0, **kwargs):
            env = env_from_os(verbosity=verbose, quiet=quiet, json=bool(kwargs.get("json", False)))
            ACTIVE["env"] = env
            try:
                with interrupts_noted():
                    return func(env, *args, **kwargs)
            except KeyboardInterrupt:
                raise Interrupted() from None
            except BrokenPipeError:
                raise PipeClosed() from None

        run.__doc__ = reflow(func.__doc__)
        run.__signature__ = signature.replace(parameters=own + _COMMON)
        run.__annotations__ = {p.name: p.annotation for p in own + _COMMON}
        del run.__wrapped__  # typer must see the new signature, not the function's own
        app.command(name, **settings)(run)
        return func

    return register


@contextmanager
def interrupts_noted() -> Iterator[None]:
    """Ctrl-C during a command goes through :func:`spectool.env.note_interrupt`, so one that Python swallows
    still stops the command at its next progress step. Only in the main thread and only in place of
    Python's own handler (an embedding program's handler is left alone)."""
    import signal
    import threading

    from spectool.env import forget_interrupts, note_interrupt

    forget_interrupts()
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, note_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def reflow(doc: str | None) -> str | None:
    """A docstring with each paragraph on one line, so the help wraps it to the terminal."""
    if not doc:
        return doc
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


class Batch:
    """Runs items of a batch, reporting each failure on one line and going on.

    ``finish`` raises :class:`NothingUsable` (exit 2) if every item failed and
    :class:`PartialFailure` (exit 1) if some did.
    """

    def __init__(self, env: Env, noun: str = "input"):
        self.env, self.noun = env, noun
        self.ok = 0
        self.failed: list[str] = []

    @contextmanager
    def item(self, name: str) -> Iterator[None]:
        try:
            yield
        except OutputError:
            raise  # the output failed, not this input: the whole command stops with exit 1
        except SpectoolError as exc:
            self.env.error(str(exc.where(name)))
            self.failed.append(name)
        else:
            self.ok += 1

    def finish(self) -> None:
        if self.failed and not self.ok:
            raise NothingUsable(f"no usable {self.noun}: all {len(self.failed)} failed")
        if self.failed:
            total = self.ok + len(self.failed)
            raise PartialFailure(f"{len(self.failed)} of {total} {self.noun}s failed (named above); "
                                 "the rest were processed")


def parse_range(text: str, what: str = "range") -> tuple[float, float]:
    """``"5:90"`` → ``(5.0, 90.0)``; a :class:`~spectool.errors.UsageError` otherwise."""
    from spectool.errors import UsageError

    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"{what} must be START:STOP, got {text!r}") from None
    if not lo < hi:
        raise UsageError(f"{what} {text!r} is empty: START must be below STOP")
    return lo, hi
