"""How the local stack runs: ``make local``'s environment variables, parsed once into :class:`LocalSettings`.

README.md's settings table is the one list of those variables and their defaults; this module is the
code behind it. It also owns the ``.local/`` files ``make local`` writes for ``make demo``.
"""

from __future__ import annotations

import base64
import errno
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from devtools import template as cfn
from devtools.lambda_runtime import DEFAULT_REGION, REPO_ROOT

LOCAL_DIR = REPO_ROOT / ".local"
SECRET_FILE = LOCAL_DIR / "webhook-secret"
OWNER_PAGE_SECRET_FILE = LOCAL_DIR / "owner-page-secret"
STACK_FILE = LOCAL_DIR / "stack.json"
INBOX_FILE = LOCAL_DIR / "notifications.jsonl"
WEBHOOK_PATH = "/webhooks/listings"
DEFAULT_LOCAL_PORT = 3000
DEFAULT_RECONCILE_SECONDS = 30.0
LOCAL_CLIENT_ID = "vitrine-local"
LOCAL_CLIENT_SECRET = "vitrine-local-secret"  # noqa: S105 - a fixed credential of the local emulator
PRODUCTION_AUTH_URL = "https://auth.api.aviv-group.com/oauth/token"
LOG_FORMATS = ("text", "json")

HANDLED_FUNCTION_VARIABLES = frozenset(
    {
        "AVIV_API_URL",
        "AVIV_AUTH_URL",
        "AVIV_INTERMEDIARY_ID",
        "VITRINE_DEBOUNCE_SECONDS",
        "VITRINE_MAX_DELAY_SECONDS",
        "VITRINE_DEFAULT_PORTALS",
    }
)
"""Template Globals variables with a setting of their own; the others pass through from the environment."""


class LocalStackError(RuntimeError):
    """The local stack cannot start as configured."""


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


_Number = TypeVar("_Number", int, float)


def _env_number(name: str, default: _Number, parse: Callable[[str], _Number], kind: str) -> _Number:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise LocalStackError(f"{name} must be {kind}, got {raw!r}") from exc


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def generate_webhook_secret() -> str:
    """A new Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _saved_secret(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if text.startswith("whsec_") else None


def generate_owner_page_secret() -> str:
    """A new owner status page signing secret: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def _saved_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def owner_page_secret(path: Path = OWNER_PAGE_SECRET_FILE) -> bytes:
    """The key signing owner status page links locally (a deployed stack keeps its own in Secrets
    Manager): the file's one line, as UTF-8 bytes. Created (0600, like the webhook secret) with 32
    random bytes in URL-safe base64 when missing or empty; the owner page reads the same file."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if not text:
        text = generate_owner_page_secret()
        write_private(path, text + "\n")
    return text.encode("utf-8")


def port_unavailable(error: OSError, host: str, port: int, what: str, variable: str) -> LocalStackError:
    """A port that cannot be listened on, said with the variable that changes it (and a free one)."""
    if error.errno == errno.EADDRINUSE:
        reason = "is already in use"
    else:
        reason = f"cannot be opened ({error.strerror or error})"
    free = _free_port_near(host, port)
    example = f", e.g. {variable}={free} make local" if free else ""
    return LocalStackError(
        f"port {port} on {host} ({what}) {reason}: "
        f"stop what uses it, or set {variable} to another port{example}"
    )


def check_port_free(host: str, port: int, what: str, variable: str) -> None:
    """Fail now, naming ``variable``, if ``port`` cannot be listened on (0 always can: any free port)."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise port_unavailable(exc, host, port, what, variable) from exc


def _free_port_near(host: str, port: int, tries: int = 20) -> int | None:
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket() as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return None


def write_private(path: Path, text: str) -> None:
    """Write a ``.local/`` file only its owner can read: it may hold the webhook secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
        fh.write(text)


@dataclass(frozen=True)
class LocalSettings:
    """How to run the local stack. The defaults suit in-process use (free ports, no files written);
    :meth:`from_env` gives ``make local``'s defaults (port 3000, files under ``.local/``)."""

    aviv_api_url: str | None = None
    """``None`` starts the AVIV emulator."""
    aviv_auth_url: str | None = None
    aviv_client_id: str = LOCAL_CLIENT_ID
    aviv_client_secret: str = LOCAL_CLIENT_SECRET
    aviv_intermediary_id: str = ""
    webhook_secret: str | None = None
    """``None`` generates one."""
    debounce_seconds: int = 5
    max_delay_seconds: int = 60
    default_portals: str = "SL"
    host: str = "127.0.0.1"
    local_port: int = 0
    moto_port: int = 0
    reconcile_seconds: float = DEFAULT_RECONCILE_SECONDS
    inbox_path: Path | None = None
    """Where notifications are appended (``None``: kept in memory only)."""
    secret_file: Path | None = None
    """Where the webhook secret is saved for ``make demo`` (``None``: not saved)."""
    owner_page_secret: str | None = None
    """Signs the owner status page links; ``None`` generates one."""
    owner_page_secret_file: Path | None = None
    """Where the owner page secret is kept, so links stay valid across restarts and ``make local``
    prints the demo owner's link (``None``: not saved, no link printed)."""
    log_format: str = "json"
    """``text``: one short line per log event (``make local``); ``json``: Powertools' JSON lines."""
    region: str = DEFAULT_REGION
    parameters: Mapping[str, str] = field(default_factory=dict)
    """template.yaml parameter overrides, e.g. ``{"SyncMaxReceives": "2"}``."""
    queue_attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """SQS attributes set after creation, by logical id: ``{"SyncQueue": {"VisibilityTimeout": "1"}}``."""
    function_environment: Mapping[str, str] = field(default_factory=dict)
    """Values for template Globals variables that have no setting of their own (README.md)."""
    function_concurrency: int | None = 1
    """Concurrent invocations per function (1: one warm instance; ``None``: unbounded)."""
    print_notifications: bool = False
    media_server: bool = True
    """Run a loopback media server (the CRM's photo host) and report its URL."""

    @classmethod
    def from_env(cls) -> LocalSettings:
        """``make local``'s settings: the environment variables of README.md's table."""
        secret_file = SECRET_FILE
        passthrough = {
            key: value
            for key in cfn.function_environment_keys() - HANDLED_FUNCTION_VARIABLES
            if (value := os.environ.get(key)) is not None
        }
        inbox = _env("VITRINE_INBOX")
        log_format = (_env("VITRINE_LOG_FORMAT") or "text").lower()
        if log_format not in LOG_FORMATS:
            raise LocalStackError(
                f"VITRINE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}"
            )
        return cls(
            aviv_api_url=_env("AVIV_API_URL"),
            aviv_auth_url=_env("AVIV_AUTH_URL"),
            aviv_client_id=_env("AVIV_CLIENT_ID") or LOCAL_CLIENT_ID,
            aviv_client_secret=_env("AVIV_CLIENT_SECRET") or LOCAL_CLIENT_SECRET,
            aviv_intermediary_id=_env("AVIV_INTERMEDIARY_ID") or "",
            webhook_secret=_env("VITRINE_WEBHOOK_SECRET") or _saved_secret(secret_file),
            debounce_seconds=_env_int("VITRINE_DEBOUNCE_SECONDS", 5),
            max_delay_seconds=_env_int("VITRINE_MAX_DELAY_SECONDS", 60),
            default_portals=_env("VITRINE_DEFAULT_PORTALS") or "SL",
            local_port=_env_int("VITRINE_LOCAL_PORT", DEFAULT_LOCAL_PORT),
            moto_port=_env_int("VITRINE_MOTO_PORT", 0),
            reconcile_seconds=_env_float("VITRINE_RECONCILE_SECONDS", DEFAULT_RECONCILE_SECONDS),
            inbox_path=Path(inbox) if inbox else INBOX_FILE,
            secret_file=secret_file,
            owner_page_secret=_env("VITRINE_OWNER_PAGE_SECRET") or _saved_text(OWNER_PAGE_SECRET_FILE),
            owner_page_secret_file=OWNER_PAGE_SECRET_FILE,
            log_format=log_format,
            function_environment=passthrough,
            print_notifications=True,
        )
