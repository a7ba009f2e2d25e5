"""Exception classes that carry spectool's exit statuses.

Every failure the user can cause is one of these; ``spectool.cli.main`` is the one place
that turns them into a one-line message ``spectool: error: PATH[:LINE]: what`` and an exit
status (DESIGN.md §4).
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """Exit statuses, documented in every man page."""

    OK = 0
    PARTIAL = 1  # some inputs failed (the rest were written) or an unexpected error
    USAGE = 2  # usage error or nothing usable
    THRESHOLD = 3  # predict --fail-under not met
    INTERRUPTED = 130
    BROKEN_PIPE = 141


class SpectoolError(Exception):
    """Base class: a message, optionally where (path, line), and an exit status."""

    exit_code: int = Exit.PARTIAL

    def __init__(self, message: str, path: object = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line

    def where(self, path: object, line: int | None = None) -> "SpectoolError":
        """Fill in the location if the raiser did not know it; returns self."""
        if self.path is None:
            self.path = str(path)
        if self.line is None:
            self.line = line
        return self

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        return where + self.message


class FormatError(SpectoolError):
    """A file is not what it claims to be, or its content is invalid."""

    exit_code = Exit.USAGE


class UsageError(SpectoolError):
    """Options or arguments that cannot work together; raised before any work."""

    exit_code = Exit.USAGE


class OutputError(SpectoolError):
    """An output cannot be written (no such folder, no permission): exit 1 in every command,
    and never counted as a failed input."""

    exit_code = Exit.PARTIAL


class NothingUsable(SpectoolError):
    """Every input of a batch failed: nothing is written."""

    exit_code = Exit.USAGE


class PartialFailure(SpectoolError):
    """Some inputs of a batch failed; the good ones were written."""

    exit_code = Exit.PARTIAL


class ThresholdNotMet(SpectoolError):
    """A result fell below a threshold the user asked to be alerted about."""

    exit_code = Exit.THRESHOLD


class Interrupted(Exception):
    """Ctrl-C inside a command (kept apart from KeyboardInterrupt so the CLI framework passes it on)."""


class PipeClosed(Exception):
    """The reader of our stdout went away (``spectool … | head``)."""
