"""Exit codes and the errors that choose them (docs/cli.md, Exit codes)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NOT_FOUND = 1
    """Not found, or problems exist (``problems``, ``resync``, ``smoke``, ``dlq list``)."""
    USAGE = 2
    """A wrong option or argument (typer's own usage errors use 2 as well)."""
    UNREACHABLE = 3
    """The stack cannot be reached: no ``make local`` running, no such CloudFormation stack, no
    credentials, an endpoint that does not answer, a secret missing."""


class CliError(Exception):
    """Stops the command with ``message`` on stderr and ``code`` as the exit status."""

    code = ExitCode.NOT_FOUND

    def __init__(self, message: str, code: ExitCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(CliError):
    code = ExitCode.NOT_FOUND


class UsageError(CliError):
    code = ExitCode.USAGE


class Unreachable(CliError):
    code = ExitCode.UNREACHABLE
