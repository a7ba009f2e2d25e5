"""The process environment passed to the I/O layer: streams, their TTY flags, verbosity.

Core code never prints; commands talk to the user only through an :class:`Env`, which
tests construct directly (httpie's pattern).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Callable, Iterator

PLAIN_PROGRESS_EVERY_S = 30.0


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


@dataclass
class Env:
    """Streams and user-facing settings for one invocation."""

    stdin: IO[bytes] = field(default_factory=lambda: sys.stdin.buffer)
    stdout: IO[bytes] = field(default_factory=lambda: sys.stdout.buffer)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    verbosity: int = 0
    quiet: bool = False
    json: bool = False
    stdin_isatty: bool | None = None
    stdout_isatty: bool | None = None
    stderr_isatty: bool | None = None

    def __post_init__(self) -> None:
        if self.stdin_isatty is None:
            self.stdin_isatty = _isatty(self.stdin)
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)
        if self.stderr_isatty is None:
            self.stderr_isatty = _isatty(self.stderr)
        self._console = None

    @property
    def console(self):
        """The one rich console, on stderr."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stderr, force_terminal=self.stderr_isatty or None,
                                    highlight=False, soft_wrap=True)
        return self._console

    def info(self, message: str) -> None:
        """A message for the user (silenced by ``-q``)."""
        if not self.quiet:
            self.console.print(message, markup=False)

    def debug(self, message: str) -> None:
        """Shown with ``-v``."""
        if self.verbosity > 0 and not self.quiet:
            self.console.print(message, markup=False, style="dim")

    def warn(self, message: str) -> None:
        """``spectool: warning: …`` on stderr; shown even with ``-q``."""
        self.stderr.write(f"spectool: warning: {message}\n")
        self.stderr.flush()

    def error(self, message: str) -> None:
        """``spectool: error: …`` on stderr; always shown."""
        self.stderr.write(f"spectool: error: {message}\n")
        self.stderr.flush()

    @contextmanager
    def progress(self, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """Yield ``advance(n)``: a bar on a terminal, a plain line every ~30 s otherwise. Each step first
        raises a Ctrl-C that Python swallowed (:func:`note_interrupt`)."""
        with self._progress(label, total) as advance:
            def step(n: int = 1) -> None:
                raise_noted_interrupt()
                advance(n)

            yield step

    @contextmanager
    def _progress(self, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if self.quiet:
            yield lambda n=1: None
        elif self.stderr_isatty:
            with _rich_progress(self.console, label, total) as advance:
                yield advance
        else:
            yield PlainProgress(self.stderr, label, total)


#: The Ctrl-Cs :func:`note_interrupt` has seen in this command.
_INTERRUPTS: list[int] = []


def note_interrupt(signum: int, frame=None) -> None:
    """A command's SIGINT handler (``cli.common`` installs it): the signal is noted, then raised as Python's
    own handler raises it. Where Python swallows the KeyboardInterrupt (a handler that runs inside a
    weakref callback or ``__del__``: "Exception ignored in …"), the note stays, and the command's next
    progress step raises it again (:func:`raise_noted_interrupt`) instead of running on."""
    _INTERRUPTS.append(signum)
    raise KeyboardInterrupt


def raise_noted_interrupt() -> None:
    """KeyboardInterrupt if :func:`note_interrupt` has seen a Ctrl-C in this command."""
    if _INTERRUPTS:
        raise KeyboardInterrupt


def forget_interrupts() -> None:
    """A new command starts with no Ctrl-C noted."""
    _INTERRUPTS.clear()


@contextmanager
def _rich_progress(console, label: str, total: int | None):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


class PlainProgress:
    """``label 1200/5000 24% 35.2/s eta 1m48s`` to a log, at most every ``every`` seconds."""

    def __init__(self, stream: IO[str], label: str, total: int | None,
                 every: float = PLAIN_PROGRESS_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.stream, self.label, self.total, self.every, self.clock = stream, label, total, every, clock
        self.done = 0
        self.start = self.last = clock()

    def __call__(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.start, 1e-9)
        text = f"{self.label} {self.done}"
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            text += f"/{self.total} {100 * self.done // self.total}% {rate:.1f}/s eta {format_seconds(eta)}"
        else:
            text += f" {rate:.1f}/s"
        return text


def format_seconds(seconds: float) -> str:
    """``95`` → ``1m35s``; ``inf`` → ``?``."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def env_from_os(verbosity: int = 0, quiet: bool = False, json: bool = False) -> Env:
    """The real process streams."""
    quiet = quiet or os.environ.get("SPECTOOL_QUIET", "") not in ("", "0")
    return Env(verbosity=verbosity, quiet=quiet, json=json)
