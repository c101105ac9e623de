"""How commands answer: JSON on stdout (``--json``) or rich text; errors and progress on stderr."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError
from requests import RequestException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vitrine.core.errors import AvivError
from vitrine.settings import SettingsError
from vitrine_cli.errors import CliError, ExitCode

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)

_UNREACHABLE_CODES = frozenset(
    {"ValidationError", "ResourceNotFoundException", "AccessDenied", "AccessDeniedException",
     "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
     "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NotFound"}
)  # fmt: skip


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """``--json``: the document, one JSON value on stdout; else the human rendering."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        render()


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """A progress bar on stderr (so ``--json`` stays clean); nothing when stderr is not a terminal."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    ) as bar:
        yield from bar.track(items, total=total, description=description)


def fail(message: str, code: ExitCode) -> typer.Exit:
    errors.print(f"[bold red]vitrine:[/] {message}", markup=True, highlight=False)
    return typer.Exit(int(code))


def _client_error(error: ClientError) -> typer.Exit:
    code = str(error.response.get("Error", {}).get("Code", ""))
    message = str(error.response.get("Error", {}).get("Message", error))
    exit_code = ExitCode.UNREACHABLE if code in _UNREACHABLE_CODES else ExitCode.NOT_FOUND
    return fail(f"AWS answered {code}: {message}", exit_code)


def guarded(command: F) -> F:
    """Every failure of a command said in one line, with its exit code (docs/cli.md, Exit codes)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            raise fail(str(error), error.code) from None
        except ClientError as error:
            raise _client_error(error) from None
        except BotoCoreError as error:
            raise fail(f"cannot reach AWS: {error}", ExitCode.UNREACHABLE) from None
        except (AvivError, RequestException) as error:
            raise fail(f"cannot reach AVIV: {error}", ExitCode.UNREACHABLE) from None
        except SettingsError as error:
            raise fail(str(error), ExitCode.UNREACHABLE) from None

    return run  # type: ignore[return-value]
