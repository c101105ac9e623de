"""AVIV Classifieds Management V4 ("CaaS") on loopback, with AVIV's documented semantics.

Why an emulator and not mocks: vitrine's AVIV client must be exercised over real HTTP (tokens, headers,
status codes, Retry-After, timeouts), and the media rules (what gets downloaded again, what stays failed)
are the heart of the product. Everything follows ``/work/shared/aviv/README.md``; the places where the
documentation is silent are decided here and marked "choice:".

- ``POST /oauth/token`` (JSON body) issues opaque bearer tokens bound to (audience, intermediary_id);
  classifieds and webhooks are scoped by the token's intermediary.
- ``/caas/v4/classifieds`` CRUD, ``/classifieds/{id}/statuses``, ``/webhooks``.
- After each accepted POST/PUT/DELETE a RECEIVED status is recorded at once; a worker then (after
  ``process_delay_seconds``) downloads new media and media whose ``timestamp`` changed with a real HTTP
  GET, and records CREATED/UPDATED or ``*_WITH_MEDIA_ERROR`` (with DOWNLOADING_FAILED media), or DELETED.
- Faults (status codes, Retry-After, hangs) can be injected; everything is inspectable from Python and
  over HTTP under ``/_emulator/``.

Choices where AVIV's documentation is silent:
- a missing or malformed ``User-Agent`` is refused before authentication with 403 and a problem body;
- ``Retry-After`` of an injected fault is written as seconds with ``%g`` (``2``, ``0.5``);
- ``nextToken`` is ``null`` on the last page; a deleted classified answers 404 to GET/PUT/DELETE but its
  statuses stay readable; its offererEstateId may be used again;
- media are identified by their URL without the ``timestamp`` parameter (empty parameters ignored);
  per media, ``mediaStatuses`` says CREATED (new), UPDATED (kept) or DOWNLOADING_FAILED;
- webhook pushes are made once, with a 2 s timeout, and recorded (``webhook_pushes()``).

Run ``python -m devtools.aviv_emulator --port 8080`` to serve until Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import importlib
import json
import logging
import os
import re
import secrets
import select
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests as requests_lib
from jsonschema import Draft7Validator, ValidationError
from jsonschema.exceptions import best_match

from devtools.loopback_server import LoopbackHTTPServer

logger = logging.getLogger(__name__)

API_PREFIX = "/caas/v4"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
INSPECT_PREFIX = "/_emulator"

USER_AGENT_PATTERN = re.compile(
    r"^[^\/\s]+\/[^\/\s]+\s{1}[^\/\s]+\/[^\/\s]+\s{1}[^\/\s]+\/[^\/\s]+$"  # verbatim from the OpenAPI
)
_TRACEPARENT_PATTERN = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

CLASSIFIED_STATUSES = (
    "RECEIVING",
    "RECEIVED",
    "RECEIVING_FAILED",
    "CREATING",
    "CREATED",
    "CREATED_WITH_MEDIA_ERROR",
    "CREATING_FAILED",
    "UPDATING",
    "UPDATED",
    "UPDATED_WITH_MEDIA_ERROR",
    "UPDATING_FAILED",
    "DELETING",
    "DELETED",
    "DELETING_FAILED",
)
SUBSCRIBABLE_STATUSES = tuple(s for s in CLASSIFIED_STATUSES if not s.endswith("_WITH_MEDIA_ERROR"))
PORTALS = ("SL", "BUCOM", "BD", "SLC", "SLN")

_STATUS_MESSAGES = {
    "RECEIVED": "The classified has successfully been transmitted to the next steps.",
    "CREATED": "The classified has successfully been created in our system.",
    "CREATED_WITH_MEDIA_ERROR": "The classified has been created but some media failed to be processed.",
    "UPDATED": "The classified has successfully been updated in our system.",
    "UPDATED_WITH_MEDIA_ERROR": "The classified has been updated but some media failed to be processed.",
    "DELETED": "The classified has successfully been deleted in our system.",
}

_ERRORS_DOC = (
    "https://caas-api-documentation.kugawana.eu/doc/staging/seloger/ingest-v4/index.html#section/Errors/"
)
_VALIDATION_TYPE = _ERRORS_DOC + "Validation-Error"
_DUPLICATED_CLASSIFIED_TYPE = _ERRORS_DOC + "Duplicated-Classifieds-Error"
_DUPLICATED_MEDIA_TYPE = _ERRORS_DOC + "Duplicated-Media-Error"

_PROBLEM_CONTENT_TYPE = "application/json+problem"  # AVIV's declared (non-standard) problem type
_JSON_CONTENT_TYPE = "application/json"
_MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024  # a real portal reads the whole file; a few MB is enough to prove it
_DOWNLOAD_CONCURRENCY = 8
_WEBHOOK_TIMEOUT_SECONDS = 2.0
_DEFAULT_PAGE_SIZE = 250
_REASON_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# ====================================================================== spec lookup
def default_openapi_path() -> Path:
    """``$AVIV_OPENAPI``, else ``<repo root>/../shared/aviv/classifieds-v4.openapi.json``.

    The spec is never copied into the repo."""
    from_env = os.environ.get("AVIV_OPENAPI")
    if from_env:
        return Path(from_env)
    repo_root = Path(__file__).resolve().parent.parent
    return repo_root.parent / "shared" / "aviv" / "classifieds-v4.openapi.json"


@lru_cache(maxsize=8)
def _load_spec(path: str) -> dict[str, Any] | None:
    """The parsed OpenAPI (cached: 450 KB parsed once per process), or None when the file is missing."""
    spec_file = Path(path)
    if not spec_file.is_file():
        return None
    with spec_file.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def _schema_validator(spec: dict[str, Any], schema_name: str) -> Draft7Validator:
    wrapped = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return Draft7Validator(wrapped, format_checker=Draft7Validator.FORMAT_CHECKER)


# ====================================================================== public records
@dataclass(frozen=True)
class RecordedRequest:
    """One call to the token endpoint or the API (inspection calls are not recorded).

    ``path`` is relative to the API base for API calls (``/classifieds/<id>``), ``/oauth/token`` for
    token calls, the raw path otherwise; ``status`` is None when the emulator hung up without answering.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int | None
    at: datetime
    traceparent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": _iso(self.at)}


@dataclass(frozen=True)
class Download:
    """One media fetch AVIV made (real HTTP GET of the full URL, timestamp included)."""

    url: str
    classified_id: str
    status_code: int | None
    error: str | None
    ok: bool
    at: datetime
    bytes_read: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": _iso(self.at)}


@dataclass(frozen=True)
class WebhookPush:
    """One status pushed to a subscribed webhook URL, with the receiver's answer."""

    url: str
    classified_id: str
    status: str
    status_code: int | None
    error: str | None
    ok: bool
    at: datetime
    body: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": _iso(self.at)}


# ====================================================================== internal state
@dataclass
class _Token:
    client_id: str
    audience: str
    intermediary_id: str | None
    expires_at: float  # time.monotonic()
    revoked: bool = False

    def valid(self) -> bool:
        return not self.revoked and time.monotonic() < self.expires_at


@dataclass
class _MediaState:
    """What AVIV holds for one media, keyed by its URL without ``timestamp``."""

    url: str
    timestamp: str | None
    failed: bool


@dataclass
class _Job:
    kind: str  # POST | PUT | DELETE
    revision: int
    body: dict[str, Any]
    received: dict[str, Any]


@dataclass
class _Classified:
    classified_id: str
    scope: str
    intermediary_id: str | None
    customer_id: str
    body: dict[str, Any]
    revision: int
    created_at: datetime
    sequence: int
    deleted: bool = False
    statuses: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, _MediaState] = field(default_factory=dict)
    jobs: deque[_Job] = field(default_factory=deque)
    running: bool = False

    @property
    def offerer_estate_id(self) -> str | None:
        return _offerer_estate_id(self.body)


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: float | None
    timeout: bool
    paths: str
    method: str | None
    hang_seconds: float

    def matches(self, kind: str, path: str, method: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.paths in ("*", ""):
            return kind in ("api", "token")
        if self.paths.startswith(TOKEN_PATH):
            return kind == "token"
        return kind == "api" and (path == self.paths or path.startswith(self.paths.rstrip("/") + "/"))


@dataclass
class _Generation:
    """Work accounting for one reset() epoch: jobs of an older epoch never touch the new state."""

    number: int
    pending: int = 0


@dataclass
class _Incoming:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class _Outgoing:
    status: int
    payload: Any = None
    content_type: str = _JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float | None = None  # hang (until the client gives up) and drop, answering nothing

    def encoded(self) -> bytes:
        if self.payload is None:
            return b""
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")


@dataclass
class _Context:
    """Per-call facts every handler needs."""

    traceparent: str
    token: _Token | None = None

    @property
    def scope(self) -> str:
        return (self.token.intermediary_id or "") if self.token else ""


class _BadBody(Exception):
    def __init__(self, response: _Outgoing) -> None:
        super().__init__(response.status)
        self.response = response


# ====================================================================== the emulator
class AvivEmulator:
    """AVIV CaaS V4 on loopback. Thread-safe; ``start()`` serves in a daemon thread; context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        openapi_path: str | Path | None = None,
        client_id: str = "vitrine-test",
        client_secret: str = "vitrine-test-secret",  # noqa: S107 - the emulator's public test secret
        token_ttl_seconds: int = 86400,
        process_delay_seconds: float = 0.0,
        download_timeout_seconds: float = 5.0,
        fault_hang_seconds: float = 30.0,
        max_recorded: int = 50_000,
    ) -> None:
        self._host = host
        self._requested_port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl_seconds = token_ttl_seconds
        self.process_delay_seconds = process_delay_seconds
        self.download_timeout_seconds = download_timeout_seconds
        self.fault_hang_seconds = fault_hang_seconds

        self.openapi_path = Path(openapi_path) if openapi_path is not None else default_openapi_path()
        spec = _load_spec(str(self.openapi_path))
        self.schema_validation: bool = spec is not None
        self._classified_validator = _schema_validator(spec, "AvivClassified") if spec else None
        self._webhook_validator = _schema_validator(spec, "Webhook") if spec else None
        if spec is None:
            logger.warning(
                "AVIV OpenAPI not found at %s: validating with vitrine.core.validation", self.openapi_path
            )

        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._validation_lock = threading.Lock()
        self._stopping = threading.Event()
        self._generation = _Generation(0)
        self._tokens: dict[str, _Token] = {}
        self._token_requests = 0
        self._classifieds: dict[str, _Classified] = {}
        self._sequence = 0
        self._webhooks: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        # Bounded so a long `make local` session cannot grow without limit (the oldest are forgotten).
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._downloads: deque[Download] = deque(maxlen=max_recorded)
        self._pushes: deque[WebhookPush] = deque(maxlen=max_recorded)
        self._worker_slots = threading.BoundedSemaphore(16)

        self._server: _EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> AvivEmulator:
        """Bind (port 0 = any free port) and serve in a daemon thread. Idempotent."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _EmulatorHTTPServer((self._host, self._requested_port), _Handler, self)
        self._server = server
        self._bound_port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="aviv-emulator", daemon=True
        )
        self._thread.start()
        logger.info("AVIV emulator serving %s (auth %s)", self.base_url, self.auth_url)
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and interrupt processing delays and hung faults."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AvivEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        """The bound port (still known after stop(), for log lines)."""
        if self._bound_port is None:
            raise RuntimeError("AvivEmulator is not started")
        return self._bound_port

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    @property
    def auth_url(self) -> str:
        return self.root_url + TOKEN_PATH

    # ------------------------------------------------------------------ inspection (thread-safe copies)
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def downloads(self) -> list[Download]:
        with self._lock:
            return list(self._downloads)

    def webhook_pushes(self) -> list[WebhookPush]:
        with self._lock:
            return list(self._pushes)

    def token_requests(self) -> int:
        """Calls to the token endpoint (granted or not) since start or the last reset()."""
        with self._lock:
            return self._token_requests

    def classified(self, classified_id: str) -> dict[str, Any] | None:
        """The stored body (as last accepted), or None when unknown or deleted (like GET)."""
        with self._lock:
            stored = self._classifieds.get(classified_id)
            if stored is None or stored.deleted:
                return None
            return copy.deepcopy(stored.body)

    def etag(self, classified_id: str) -> str | None:
        with self._lock:
            stored = self._classifieds.get(classified_id)
            return None if stored is None else _etag(stored.revision)

    def statuses(self, classified_id: str) -> list[dict[str, Any]]:
        """All statuses of a classified, oldest first (the HTTP API answers newest first)."""
        with self._lock:
            stored = self._classifieds.get(classified_id)
            return copy.deepcopy(stored.statuses) if stored else []

    def latest_status(self, classified_id: str) -> dict[str, Any] | None:
        found = self.statuses(classified_id)
        return found[-1] if found else None

    def classified_id_for(self, offerer_estate_id: str, *, intermediary_id: str | None = None) -> str | None:
        """The live classified with this offererEstateId, else the most recent deleted one, else None."""
        with self._lock:
            candidates = [
                c
                for c in self._classifieds.values()
                if c.offerer_estate_id == offerer_estate_id
                and (intermediary_id is None or c.intermediary_id == intermediary_id)
            ]
            if not candidates:
                return None
            candidates.sort(key=lambda c: (not c.deleted, c.sequence))
            return candidates[-1].classified_id

    def state(self) -> dict[str, Any]:
        """Everything AVIV holds, JSON-ready (what ``GET /_emulator/state`` answers)."""
        with self._lock:
            return {
                "classifieds": [
                    {
                        "classifiedId": c.classified_id,
                        "intermediaryId": c.intermediary_id,
                        "customerId": c.customer_id,
                        "offererEstateId": c.offerer_estate_id,
                        "revision": c.revision,
                        "etag": _etag(c.revision),
                        "deleted": c.deleted,
                        "createdAt": _iso(c.created_at),
                        "body": copy.deepcopy(c.body),
                        "media": [asdict(m) for m in c.media.values()],
                    }
                    for c in sorted(self._classifieds.values(), key=lambda c: c.sequence)
                ],
                "statuses": {cid: copy.deepcopy(c.statuses) for cid, c in self._classifieds.items()},
                "token_requests": self._token_requests,
                "webhooks": copy.deepcopy(self._webhooks),
                "pending_jobs": self._generation.pending,
                "faults": [asdict(f) for f in self._faults],
                "schema_validation": self.schema_validation,
            }

    # ------------------------------------------------------------------ test controls
    def inject_faults(
        self,
        count: int,
        status: int = 500,
        retry_after: float | None = None,
        timeout: bool = False,
        paths: str = "/classifieds",
        *,
        method: str | None = None,
        hang_seconds: float | None = None,
    ) -> None:
        """The next ``count`` matching calls fail with ``status`` (Retry-After when given), or, with
        ``timeout=True``, hang until the client gives up (at most ``hang_seconds``) and are dropped.

        ``paths`` is a prefix of the API path (``/classifieds`` matches every classified call),
        ``/oauth/token`` for the token endpoint, or ``*`` for both; ``method`` narrows to one verb.
        Faults queue up: each call consumes one unit of the first matching fault.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        if not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        if count == 0:
            return
        fault = _Fault(
            remaining=count,
            status=status,
            retry_after=retry_after,
            timeout=timeout,
            paths=paths,
            method=method,
            hang_seconds=self.fault_hang_seconds if hang_seconds is None else hang_seconds,
        )
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 401 (tokens issued afterwards are fine)."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def wait_idle(self, timeout: float = 10) -> None:
        """Block until every accepted call has been processed (downloads, statuses, webhook pushes)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            generation = self._generation
            while generation.pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"AVIV emulator still has {generation.pending} job(s) after {timeout}s"
                    )
                self._idle.wait(remaining)

    def reset(self) -> None:
        """Forget classifieds, statuses, webhooks, faults and recordings. Issued tokens stay valid
        (choice: a token cache outliving a reset must not turn every next call into a 401)."""
        with self._idle:
            self._generation = _Generation(self._generation.number + 1)
            self._classifieds.clear()
            self._webhooks.clear()
            self._faults.clear()
            self._requests.clear()
            self._downloads.clear()
            self._pushes.clear()
            self._token_requests = 0
            self._idle.notify_all()

    # ------------------------------------------------------------------ request entry point
    def _handle(self, incoming: _Incoming) -> _Outgoing:
        """Route one HTTP request; never raises (a bug answers 500 and is logged)."""
        if incoming.path == INSPECT_PREFIX or incoming.path.startswith(INSPECT_PREFIX + "/"):
            try:
                return self._inspect(incoming)
            except Exception as exc:
                logger.exception("emulator inspection endpoint failed")
                return _Outgoing(500, {"error": f"{type(exc).__name__}: {exc}"})

        kind, path = _classify_path(incoming.path)
        ctx = _Context(traceparent=_traceparent_for(incoming.headers.get("traceparent")))
        body = _parse_json_quietly(incoming.body)
        try:
            response = self._fault_for(kind, path, incoming.method, ctx)
            if response is None:
                if kind == "token":
                    response = self._token(incoming, body)
                elif kind == "api":
                    response = self._api(incoming, path, ctx)
                else:
                    response = _problem(404, "Not found", f"No such resource: {incoming.path}", ctx)
        except Exception as exc:
            logger.exception("AVIV emulator failed on %s %s", incoming.method, incoming.path)
            response = _problem(
                500, "Internal Server Error", f"emulator bug: {type(exc).__name__}: {exc}", ctx
            )
        response.headers.setdefault("traceparent", ctx.traceparent)
        self._record(
            incoming, path, body, None if response.hang_seconds is not None else response.status, ctx
        )
        return response

    def _record(self, incoming: _Incoming, path: str, body: Any, status: int | None, ctx: _Context) -> None:
        recorded = RecordedRequest(
            method=incoming.method,
            path=path,
            query=incoming.query,
            headers=dict(incoming.headers.items()),
            body=body,
            status=status,
            at=_now(),
            traceparent=ctx.traceparent,
        )
        with self._lock:
            self._requests.append(recorded)

    def _fault_for(self, kind: str, path: str, method: str, ctx: _Context) -> _Outgoing | None:
        with self._lock:
            fault = next((f for f in self._faults if f.matches(kind, path, method)), None)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
        if kind == "token":
            with self._lock:
                self._token_requests += 1
        if fault.timeout:
            return _Outgoing(0, hang_seconds=fault.hang_seconds)
        title = _REASON_TITLES.get(fault.status, "Error")
        response = _problem(fault.status, title, f"Injected fault: {fault.status} {title}", ctx)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response

    def _hang(self, connection: socket.socket, seconds: float) -> None:
        """Keep the call unanswered until the client closes its side (its read timeout), ``seconds``
        pass, or the emulator stops/resets — never answering, like a stuck upstream."""
        deadline = time.monotonic() + seconds
        generation = self._generation
        while not self._stopping.is_set() and generation is self._generation:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([connection], [], [], min(0.05, remaining))
                if readable and not connection.recv(1, socket.MSG_PEEK):
                    return  # the client gave up and closed the connection
                if readable:
                    return  # the client is sending something else: stop pretending
            except (OSError, ValueError):
                return

    # ------------------------------------------------------------------ token endpoint
    def _token(self, incoming: _Incoming, body: Any) -> _Outgoing:
        with self._lock:
            self._token_requests += 1
        if not isinstance(body, dict):
            return _Outgoing(
                400, {"error": "invalid_request", "error_description": "Expected a JSON object body"}
            )
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return _Outgoing(401, {"error": "access_denied", "error_description": "Unauthorized"})
        if body.get("grant_type") != "client_credentials":
            return _Outgoing(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Grant type not allowed for the client.",
                },
            )
        audience = body.get("audience")
        if not isinstance(audience, str) or not audience:
            return _Outgoing(400, {"error": "invalid_request", "error_description": "audience is required"})
        intermediary_id = body.get("intermediary_id")
        if intermediary_id is not None and not isinstance(intermediary_id, str):
            return _Outgoing(
                400, {"error": "invalid_request", "error_description": "intermediary_id must be a string"}
            )
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[access_token] = _Token(
                client_id=self.client_id,
                audience=audience,
                intermediary_id=intermediary_id or None,
                expires_at=time.monotonic() + self.token_ttl_seconds,
            )
        return _Outgoing(
            200,
            {"access_token": access_token, "expires_in": self.token_ttl_seconds, "token_type": "Bearer"},
            headers={"Cache-Control": "no-store"},
        )

    # ------------------------------------------------------------------ API dispatch
    def _api(self, incoming: _Incoming, path: str, ctx: _Context) -> _Outgoing:
        # choice: the User-Agent is checked first, as an edge filter would, and "blocked" calls get
        # 403 with a problem body (AVIV documents the header as mandatory but not the refusal).
        user_agent = incoming.headers.get("User-Agent") or ""
        if not USER_AGENT_PATTERN.fullmatch(user_agent):
            return _problem(
                403,
                "Forbidden",
                "Missing or invalid User-Agent header: expected "
                "'<crm-software-name>/<version> <tool-name>/<version> <operating-system>/<version>'.",
                ctx,
            )
        token = self._authenticate(incoming.headers.get("Authorization"))
        if token is None:
            return _Outgoing(  # AVIV's 401 is plain JSON
                401,
                {
                    "type": "about:blank",
                    "title": "Unauthorized",
                    "detail": "Invalid token. Please check your authentication token, "
                    "it can either be not valid or expired.",
                    "instance": ctx.traceparent,
                    "status": 401,
                },
            )
        ctx.token = token
        segments = [s for s in path.split("/") if s]
        method = incoming.method
        try:
            if segments == ["classifieds"]:
                if method == "POST":
                    return self._create(incoming, ctx)
                if method == "GET":
                    return self._list(incoming, ctx)
            elif len(segments) == 2 and segments[0] == "classifieds":
                if method == "GET":
                    return self._get(segments[1], ctx)
                if method == "PUT":
                    return self._update(segments[1], incoming, ctx)
                if method == "DELETE":
                    return self._delete(segments[1], ctx)
            elif len(segments) == 3 and segments[0] == "classifieds" and segments[2] == "statuses":
                if method == "GET":
                    return self._list_statuses(segments[1], incoming, ctx)
            elif segments == ["webhooks"]:
                if method == "PUT":
                    return self._subscribe(incoming, ctx)
                if method == "DELETE":
                    return self._unsubscribe(ctx)
            else:
                return _problem(404, "Not found", f"No such resource: {path}", ctx)
        except _BadBody as bad:
            return bad.response
        return _problem(405, "Method Not Allowed", f"{method} is not allowed on {path}", ctx)

    def _authenticate(self, authorization: str | None) -> _Token | None:
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        with self._lock:
            token = self._tokens.get(value.strip())
            return token if token is not None and token.valid() else None

    # ------------------------------------------------------------------ classifieds
    def _create(self, incoming: _Incoming, ctx: _Context) -> _Outgoing:
        body = self._accepted_body(incoming, ctx)
        with self._lock:
            self._check_duplicate_classified(body, ctx, exclude=None)
            self._sequence += 1
            classified = _Classified(
                classified_id=str(uuid.uuid4()),
                scope=ctx.scope,
                intermediary_id=ctx.token.intermediary_id if ctx.token else None,
                customer_id=(ctx.token.intermediary_id or ctx.token.client_id) if ctx.token else "",
                body=body,
                revision=1,
                created_at=_now(),
                sequence=self._sequence,
            )
            self._classifieds[classified.classified_id] = classified
            self._accept(classified, "POST")
        return _accepted(classified.classified_id)

    def _update(self, classified_id: str, incoming: _Incoming, ctx: _Context) -> _Outgoing:
        body = self._accepted_body(incoming, ctx, classified_id=classified_id)
        with self._lock:
            classified = self._visible(classified_id, ctx)
            if classified is None:
                return _not_found(classified_id, ctx)
            if_match = incoming.headers.get("If-Match")
            if if_match is not None and not _etag_matches(if_match, classified.revision):
                return _problem(
                    412,
                    "Precondition Failed",
                    "The if-match header don't match with the revision of the classified "
                    "you are trying to operate with.",
                    ctx,
                )
            self._check_duplicate_classified(body, ctx, exclude=classified_id)
            classified.body = body
            classified.revision += 1
            self._accept(classified, "PUT")
        return _accepted(classified_id)

    def _delete(self, classified_id: str, ctx: _Context) -> _Outgoing:
        with self._lock:
            classified = self._visible(classified_id, ctx)
            if classified is None:
                return _not_found(classified_id, ctx)
            classified.deleted = True
            classified.revision += 1
            self._accept(classified, "DELETE")
        return _accepted(classified_id)

    def _get(self, classified_id: str, ctx: _Context) -> _Outgoing:
        with self._lock:
            classified = self._visible(classified_id, ctx)
            if classified is None:
                return _not_found(classified_id, ctx)
            payload = {**copy.deepcopy(classified.body), "classifiedId": classified_id}
            return _Outgoing(200, payload, headers={"ETag": _etag(classified.revision)})

    def _list(self, incoming: _Incoming, ctx: _Context) -> _Outgoing:
        offerer_estate_id = _first(incoming.query, "offererEstateId")
        limit, offset, problem = _paging(incoming.query, ctx)
        if problem is not None:
            return problem
        with self._lock:
            found = [
                c
                for c in self._classifieds.values()
                if c.scope == ctx.scope
                and not c.deleted
                and (offerer_estate_id is None or c.offerer_estate_id == offerer_estate_id)
            ]
            found.sort(key=lambda c: c.sequence, reverse=True)  # "the 250 last items"
            items = [{**copy.deepcopy(c.body), "classifiedId": c.classified_id} for c in found]
        return _Outgoing(200, _page(items, limit, offset))

    def _list_statuses(self, classified_id: str, incoming: _Incoming, ctx: _Context) -> _Outgoing:
        query = incoming.query
        latest_only = False
        wanted_filter = _first(query, "filter")
        errors: list[dict[str, str]] = []
        if wanted_filter is not None:
            if wanted_filter != "latest":
                errors.append(
                    {"name": "filter", "reason": "must be equal to one of the allowed values: latest."}
                )
            latest_only = True
        if (_first(query, "current") or "").lower() in ("true", "1", "latest"):
            latest_only = True  # deprecated spelling of filter=latest
        wanted_statuses = _multi(query, "status")
        wanted_portals = _multi(query, "portal")
        errors += [
            {
                "name": "status",
                "reason": f"must be equal to one of the allowed values: {', '.join(CLASSIFIED_STATUSES)}.",
            }
            for s in wanted_statuses
            if s not in CLASSIFIED_STATUSES
        ]
        errors += [
            {"name": "portal", "reason": f"must be equal to one of the allowed values: {', '.join(PORTALS)}."}
            for p in wanted_portals
            if p not in PORTALS
        ]
        if errors:
            return _validation_problem(errors, ctx, source="requestParameter")
        limit, offset, problem = _paging(query, ctx)
        if problem is not None:
            return problem
        with self._lock:
            classified = self._classifieds.get(classified_id)
            if classified is None or classified.scope != ctx.scope:
                return _not_found(classified_id, ctx)
            items = [copy.deepcopy(s) for s in reversed(classified.statuses)]  # newest first
        if wanted_statuses:
            items = [s for s in items if s["status"] in wanted_statuses]
        if wanted_portals:
            items = [s for s in items if set(s.get("portals", [])) & set(wanted_portals)]
        if latest_only:
            return _Outgoing(200, {"items": items[:1], "nextToken": None})
        return _Outgoing(200, _page(items, limit, offset))

    # ------------------------------------------------------------------ webhooks
    def _subscribe(self, incoming: _Incoming, ctx: _Context) -> _Outgoing:
        body = _parse_body(incoming, ctx)
        errors: list[dict[str, str]]
        if self._webhook_validator is not None:
            with self._validation_lock:
                errors = _schema_errors(self._webhook_validator, body)
        else:
            errors = _manual_webhook_errors(body)
        if not errors:
            url = body["url"]
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
                errors.append({"name": "/url", "reason": "must be an http(s) URL."})
            statuses = body.get("statuses")
            for index, status in enumerate(statuses or []):
                if status not in SUBSCRIBABLE_STATUSES:  # belt and braces: the spec enum already says so
                    errors.append(
                        {
                            "name": f"/statuses/{index}",
                            "reason": "must be equal to one of the allowed values: "
                            + ", ".join(SUBSCRIBABLE_STATUSES)
                            + ".",
                        }
                    )
        if errors:
            return _validation_problem(errors, ctx)
        statuses = body.get("statuses")
        subscription = {
            "url": body["url"],
            "statuses": list(statuses) if statuses is not None else list(SUBSCRIBABLE_STATUSES),
        }
        with self._lock:
            self._webhooks[ctx.scope] = subscription
        return _Outgoing(200, "success")

    def _unsubscribe(self, ctx: _Context) -> _Outgoing:
        with self._lock:
            self._webhooks.pop(ctx.scope, None)
        return _Outgoing(200, "success")

    # ------------------------------------------------------------------ validation
    def _accepted_body(
        self, incoming: _Incoming, ctx: _Context, classified_id: str | None = None
    ) -> dict[str, Any]:
        """Parse and validate a classified body; raises _BadBody with AVIV's 400 otherwise."""
        body = _parse_body(incoming, ctx)
        if self._classified_validator is None:
            # vitrine's own validator also flags duplicated URLs; answer those as AVIV does.
            self._check_duplicate_media(body, classified_id, ctx)
        errors = self._validate_classified(body)
        if errors:
            raise _BadBody(_validation_problem(errors, ctx))
        self._check_duplicate_media(body, classified_id, ctx)
        if not isinstance(body, dict):  # only a lenient fallback validator could let this through
            raise _BadBody(_validation_problem([{"name": "", "reason": "must be object"}], ctx))
        return body

    def _validate_classified(self, body: Any) -> list[dict[str, str]]:
        if self._classified_validator is not None:
            with self._validation_lock:
                return _schema_errors(self._classified_validator, body)
        validate = _fallback_validator()
        return [{"name": e.pointer, "reason": e.reason} for e in validate(body)]

    def _check_duplicate_media(self, body: dict[str, Any], classified_id: str | None, ctx: _Context) -> None:
        seen: set[str] = set()
        for item in _media_items(body):
            key, _ = media_key(item["url"])
            if key in seen:
                media_id = uuid.uuid5(uuid.NAMESPACE_URL, key)
                raise _BadBody(
                    _problem(
                        400,
                        "Duplicated media",
                        f"This url: {item['url']} is already sent on the media identified by mediaId : "
                        f"{media_id} for the classified identified by classifiedId: "
                        f"{classified_id or 'new'}. Media must have unique url.",
                        ctx,
                        type_=_DUPLICATED_MEDIA_TYPE,
                    )
                )
            seen.add(key)

    def _check_duplicate_classified(self, body: dict[str, Any], ctx: _Context, exclude: str | None) -> None:
        offerer_estate_id = _offerer_estate_id(body)
        if offerer_estate_id is None:
            return
        for other in self._classifieds.values():
            if (
                other.scope == ctx.scope
                and not other.deleted
                and other.classified_id != exclude
                and other.offerer_estate_id == offerer_estate_id
            ):
                raise _BadBody(
                    _problem(
                        400,
                        "Duplicated classified",
                        f"This offererEstateId: {offerer_estate_id} is already associated with an existing "
                        f"classified identified by classifiedId: {other.classified_id}. "
                        "Classifieds must have unique offerEstateId.",
                        ctx,
                        type_=_DUPLICATED_CLASSIFIED_TYPE,
                    )
                )

    def _visible(self, classified_id: str, ctx: _Context) -> _Classified | None:
        classified = self._classifieds.get(classified_id)
        if classified is None or classified.deleted or classified.scope != ctx.scope:
            return None
        return classified

    # ------------------------------------------------------------------ asynchronous processing
    def _accept(self, classified: _Classified, kind: str) -> None:
        """Record RECEIVED now (so a poll right after the 202 sees it) and queue the processing.
        Caller holds the lock."""
        received = self._new_status(
            classified,
            "RECEIVED",
            revision=classified.revision,
            body=classified.body,
            sub_status=f"RECEIVED_{kind}",
            media_statuses=[],
        )
        classified.statuses.append(received)
        job = _Job(
            kind=kind, revision=classified.revision, body=copy.deepcopy(classified.body), received=received
        )
        classified.jobs.append(job)
        generation = self._generation
        generation.pending += 1
        if not classified.running:
            classified.running = True
            threading.Thread(
                target=self._drain,
                args=(classified, generation),
                name=f"aviv-job-{classified.classified_id[:8]}",
                daemon=True,
            ).start()

    def _drain(self, classified: _Classified, generation: _Generation) -> None:
        """Process one classified's jobs in order (AVIV applies a classified's calls in sequence)."""
        with self._worker_slots:
            while True:
                with self._lock:
                    if not classified.jobs:
                        classified.running = False
                        return
                    job = classified.jobs.popleft()
                try:
                    if generation is self._generation and not self._stopping.is_set():
                        self._process(classified, job, generation)
                except Exception:
                    logger.exception("AVIV emulator failed processing %s", classified.classified_id)
                finally:
                    with self._idle:
                        generation.pending -= 1
                        self._idle.notify_all()

    def _process(self, classified: _Classified, job: _Job, generation: _Generation) -> None:
        self._push(classified, job.received, generation)
        if self.process_delay_seconds > 0 and self._stopping.wait(self.process_delay_seconds):
            return
        if generation is not self._generation:
            return
        if job.kind == "DELETE":
            final = self._new_status(
                classified, "DELETED", revision=job.revision, body=job.body, media_statuses=[]
            )
            with self._lock:
                classified.media = {}
                classified.statuses.append(final)
            self._push(classified, final, generation)
            return

        with self._lock:
            previous = dict(classified.media)
        creating = job.kind == "POST"
        items = _media_items(job.body)
        to_download: list[str] = []
        for item in items:
            key, timestamp = media_key(item["url"])
            before = previous.get(key)
            if before is None or before.timestamp != timestamp:
                to_download.append(item["url"])
        results = self._download_all(to_download, classified.classified_id)
        if generation is not self._generation:
            return

        current: dict[str, _MediaState] = {}
        media_statuses: list[dict[str, str]] = []
        for item in items:
            url = item["url"]
            key, timestamp = media_key(url)
            before = previous.get(key)
            # unchanged media are not fetched again, and a failed one stays failed (AVIV does not retry)
            unchanged_failed = before.failed if before is not None else False
            failed = not results[url].ok if url in results else unchanged_failed
            current[key] = _MediaState(url=url, timestamp=timestamp, failed=failed)
            if failed:
                media_status = "DOWNLOADING_FAILED"
            elif creating or before is None:
                media_status = "CREATED"
            else:
                media_status = "UPDATED"
            media_statuses.append({"url": url, "status": media_status})

        failures = sum(1 for m in current.values() if m.failed)
        name = "CREATED" if creating else "UPDATED"
        if failures:
            name += "_WITH_MEDIA_ERROR"
        final = self._new_status(
            classified,
            name,
            revision=job.revision,
            body=job.body,
            media_statuses=media_statuses,
            details=f"{failures} media could not be downloaded" if failures else None,
        )
        with self._lock:
            classified.media = current
            classified.statuses.append(final)
        self._push(classified, final, generation)

    def _download_all(self, urls: list[str], classified_id: str) -> dict[str, Download]:
        """Fetch ``urls`` with a few parallel workers; record every attempt."""
        results: dict[str, Download] = {}
        if not urls:
            return results
        work: deque[str] = deque(urls)
        results_lock = threading.Lock()

        def worker() -> None:
            while True:
                with results_lock:
                    if not work:
                        return
                    url = work.popleft()
                outcome = self._download(url, classified_id)
                with results_lock:
                    results[url] = outcome

        threads = [
            threading.Thread(target=worker, name="aviv-download", daemon=True)
            for _ in range(min(_DOWNLOAD_CONCURRENCY, len(urls)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with self._lock:
            self._downloads.extend(results[url] for url in urls if url in results)
        return results

    def _download(self, url: str, classified_id: str) -> Download:
        bytes_read = 0
        try:
            with requests_lib.Session() as session:
                session.trust_env = False  # loopback only: never through a proxy from the environment
                with session.get(
                    url,
                    timeout=self.download_timeout_seconds,
                    stream=True,
                    headers={"User-Agent": "aviv-emulator-media-fetcher/1.0"},
                ) as response:
                    for chunk in response.iter_content(64 * 1024):
                        bytes_read += len(chunk)
                        if bytes_read >= _MAX_DOWNLOAD_BYTES:
                            break
                    ok = 200 <= response.status_code < 300
                    return Download(
                        url=url,
                        classified_id=classified_id,
                        status_code=response.status_code,
                        error=None if ok else f"HTTP {response.status_code}",
                        ok=ok,
                        at=_now(),
                        bytes_read=bytes_read,
                    )
        except (requests_lib.RequestException, ValueError) as exc:
            return Download(
                url=url,
                classified_id=classified_id,
                status_code=None,
                error=f"{type(exc).__name__}: {exc}",
                ok=False,
                at=_now(),
                bytes_read=bytes_read,
            )

    def _push(self, classified: _Classified, status: dict[str, Any], generation: _Generation) -> None:
        """POST a status to the scope's webhook when subscribed to it; best effort, recorded."""
        with self._lock:
            if generation is not self._generation:
                return
            subscription = self._webhooks.get(classified.scope)
            if subscription is None or status["status"] not in subscription["statuses"]:
                return
            target = f"{subscription['url'].rstrip('/')}/classifieds/{classified.classified_id}/statuses"
        status_code: int | None = None
        error: str | None = None
        try:
            with requests_lib.Session() as session:
                session.trust_env = False
                answer = session.post(
                    target,
                    json=status,
                    timeout=_WEBHOOK_TIMEOUT_SECONDS,
                    headers={"User-Agent": "aviv-emulator-webhook/1.0"},
                )
                status_code = answer.status_code
        except requests_lib.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        push = WebhookPush(
            url=target,
            classified_id=classified.classified_id,
            status=status["status"],
            status_code=status_code,
            error=error,
            ok=status_code == 201,
            at=_now(),
            body=copy.deepcopy(status),
        )
        with self._lock:
            if generation is self._generation:
                self._pushes.append(push)

    def _new_status(
        self,
        classified: _Classified,
        name: str,
        *,
        revision: int,
        body: dict[str, Any],
        sub_status: str | None = None,
        media_statuses: list[dict[str, str]],
        details: str | None = None,
    ) -> dict[str, Any]:
        status: dict[str, Any] = {
            "statusId": str(uuid.uuid4()),
            "classifiedId": classified.classified_id,
            "customerId": classified.customer_id,
            "creationDate": _iso(classified.created_at),
            "revision": revision,
            "portals": list(body.get("portals") or []),
            "status": name,
            "message": _STATUS_MESSAGES.get(name, name),
            "statusDate": _iso(_now()),
        }
        if sub_status is not None:
            status["subStatus"] = sub_status
        if details is not None:
            status["subStatusDetails"] = details
        status["mediaStatuses"] = media_statuses
        return status

    # ------------------------------------------------------------------ /_emulator/ endpoints
    def _inspect(self, incoming: _Incoming) -> _Outgoing:
        action = incoming.path[len(INSPECT_PREFIX) :].strip("/")
        method = incoming.method
        if method == "GET":
            if action == "requests":
                return _Outgoing(200, [r.to_dict() for r in self.requests()])
            if action == "downloads":
                return _Outgoing(200, [d.to_dict() for d in self.downloads()])
            if action == "webhooks":
                return _Outgoing(200, [p.to_dict() for p in self.webhook_pushes()])
            if action == "state":
                return _Outgoing(200, self.state())
            if action in ("", "health"):
                return _Outgoing(200, {"ok": True, "base_url": self.base_url, "auth_url": self.auth_url})
        if method == "POST":
            if action == "faults":
                options = _parse_json_quietly(incoming.body)
                if not isinstance(options, dict):
                    return _Outgoing(
                        400, {"error": "expected a JSON object like inject_faults' keyword arguments"}
                    )
                try:
                    self.inject_faults(**options)
                except (TypeError, ValueError) as exc:
                    return _Outgoing(400, {"error": str(exc)})
                return _Outgoing(200, {"ok": True})
            if action == "reset":
                self.reset()
                return _Outgoing(200, {"ok": True})
            if action == "expire_tokens":
                self.expire_tokens()
                return _Outgoing(200, {"ok": True})
            if action == "wait_idle":
                try:
                    self.wait_idle()
                except TimeoutError as exc:
                    return _Outgoing(504, {"error": str(exc)})
                return _Outgoing(200, {"ok": True})
        return _Outgoing(404, {"error": f"no emulator endpoint {method} {incoming.path}"})


# ====================================================================== HTTP plumbing
class _EmulatorHTTPServer(LoopbackHTTPServer):
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], emulator: AvivEmulator
    ):
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut keep-alive connections so their handler threads end now rather than at their timeout."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: vitrine's client reuses its session
    timeout = 60  # idle keep-alive connections are dropped after a minute
    server_version = "aviv-emulator/4.0"
    server: _EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add ~40 ms per call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        incoming = _Incoming(
            method=self.command,
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=_HeaderView(self.headers),
            body=body,
        )
        emulator = self.server.emulator
        response = emulator._handle(incoming)
        if response.hang_seconds is not None:
            emulator._hang(self.connection, response.hang_seconds)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = response.encoded()
        self.send_response(response.status)
        if payload:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537).split(b";", 1)[0].strip()
                size = int(size_line or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)


class _HeaderView(Mapping[str, str]):
    """Case-insensitive read-only view of the request headers (last value wins)."""

    def __init__(self, message: Any) -> None:
        self._items: dict[str, str] = {}
        self._lower: dict[str, str] = {}
        for name, value in message.items():
            self._items[name] = value
            self._lower[name.lower()] = value

    def __getitem__(self, name: str) -> str:
        return self._lower[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        return self._lower.get(name.lower(), default)

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> Any:
        return self._items.items()


# ====================================================================== helpers
def media_key(url: str) -> tuple[str, str | None]:
    """(URL without its ``timestamp`` query parameter, the timestamp or None).

    Two media are the same media when their keys are equal; a changed timestamp means "download again".
    The other parameters are kept byte for byte; empty ones (``?&x=1&``) are dropped, so that adding a
    timestamp to a URL and removing it gives back the same identity.
    """
    without_fragment, hash_sign, fragment = url.partition("#")
    path, question_mark, query = without_fragment.partition("?")
    timestamp: str | None = None
    if question_mark:
        kept: list[str] = []
        for part in query.split("&"):
            name, equals, value = part.partition("=")
            if name == "timestamp":
                timestamp = value if equals else ""
            elif part:
                kept.append(part)
        path = path + ("?" + "&".join(kept) if kept else "")
    return path + (hash_sign + fragment if hash_sign else ""), timestamp


def _media_items(body: Any) -> list[dict[str, Any]]:
    media = body.get("media") if isinstance(body, dict) else None
    if not isinstance(media, list):
        return []
    return [item for item in media if isinstance(item, dict) and isinstance(item.get("url"), str)]


def _offerer_estate_id(body: Any) -> str | None:
    try:
        value = body["data"]["metaData"]["source"]["offererEstateId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _fallback_validator() -> Callable[[Any], Iterable[Any]]:
    """``vitrine.core.validation.validate_classified`` (imported late: only needed without the spec)."""
    try:
        module = importlib.import_module("vitrine.core.validation")
    except ImportError:
        layer = Path(__file__).resolve().parent.parent / "layers" / "vitrine"
        if str(layer) in sys.path or not layer.is_dir():
            raise
        sys.path.insert(0, str(layer))
        module = importlib.import_module("vitrine.core.validation")
    validate: Callable[[Any], Iterable[Any]] = module.validate_classified
    return validate


def _manual_webhook_errors(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"name": "", "reason": "must be object"}]
    errors = [{"name": "/url", "reason": "must have required property 'url'"}] if "url" not in body else []
    statuses = body.get("statuses")
    if statuses is not None and not isinstance(statuses, list):
        errors.append({"name": "/statuses", "reason": "must be array"})
    return errors


def _schema_errors(validator: Draft7Validator, instance: Any) -> list[dict[str, str]]:
    """jsonschema errors as AVIV's ``errors: [{name: <JSON pointer>, reason}]`` (AJV-like wording)."""
    found: list[dict[str, str]] = []
    for error in validator.iter_errors(instance):
        found.extend(_flatten(error))
    unique = {(e["name"], e["reason"]): e for e in found}
    return sorted(unique.values(), key=lambda e: (e["name"], e["reason"]))


def _flatten(error: ValidationError) -> list[dict[str, str]]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = best_match(error.context)
        branch = best.relative_schema_path[0] if best is not None and best.relative_schema_path else None
        chosen = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
        flattened: list[dict[str, str]] = []
        for sub_error in chosen or error.context:
            flattened.extend(_flatten(sub_error))
        return flattened
    pointer = _pointer(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = set(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        extras = [k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns)]
        return [
            {"name": f"{pointer}/{_escape(k)}", "reason": f"must NOT have additional properties: {k}."}
            for k in extras
        ]
    if error.validator == "required":
        match = re.fullmatch(r"'(.+)' is a required property", error.message)
        if match:
            return [
                {
                    "name": f"{pointer}/{_escape(match.group(1))}",
                    "reason": f"must have required property '{match.group(1)}'",
                }
            ]
    if error.validator == "enum" and isinstance(error.validator_value, list):
        allowed = ", ".join(str(v) for v in error.validator_value)
        return [{"name": pointer, "reason": f"must be equal to one of the allowed values: {allowed}."}]
    if error.validator == "type":
        return [{"name": pointer, "reason": f"must be {error.validator_value}"}]
    if error.validator == "pattern":
        return [{"name": pointer, "reason": f'must match pattern "{error.validator_value}"'}]
    return [{"name": pointer, "reason": error.message}]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + _escape(str(part)) for part in path)


def _classify_path(path: str) -> tuple[str, str]:
    if path.rstrip("/") == TOKEN_PATH:
        return "token", TOKEN_PATH
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        relative = path[len(API_PREFIX) :].rstrip("/")
        return "api", relative or "/"
    return "other", path


def _traceparent_for(incoming: str | None) -> str:
    """W3C traceparent for the answer: the caller's trace-id when it sent a valid one, a new span."""
    match = _TRACEPARENT_PATTERN.fullmatch((incoming or "").strip().lower())
    trace_id = match.group(2) if match and match.group(2) != "0" * 32 else secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _parse_json_quietly(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _parse_body(incoming: _Incoming, ctx: _Context) -> Any:
    """The JSON body, or _BadBody with AVIV's wording for an empty or unparsable one."""
    content_type = (incoming.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise _BadBody(
            _validation_problem(
                [
                    {
                        "name": "Content-Type",
                        "reason": "must be equal to one of the allowed values: application/json.",
                    }
                ],
                ctx,
                source="contentType",
            )
        )
    if not incoming.body.strip():
        raise _BadBody(_problem(400, "Bad request", "Body is not defined", ctx))
    try:
        return json.loads(incoming.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _BadBody(_problem(400, "Bad request", "Validator could not parse body", ctx)) from None


def _problem(
    status: int, title: str, detail: str, ctx: _Context, *, type_: str = "about:blank", **extra: Any
) -> _Outgoing:
    payload = {
        "type": type_,
        "title": title,
        "detail": detail,
        "instance": ctx.traceparent,
        "status": status,
        **extra,
    }
    return _Outgoing(status, payload, content_type=_PROBLEM_CONTENT_TYPE)


def _validation_problem(errors: list[dict[str, str]], ctx: _Context, *, source: str = "body") -> _Outgoing:
    return _problem(
        400,
        "Bad request",
        "Your request has not been validated",
        ctx,
        type_=_VALIDATION_TYPE,
        errors=errors,
        errorSource=source,
    )


def _not_found(classified_id: str, ctx: _Context) -> _Outgoing:
    return _problem(
        404, "Not found", f"The resource you are trying to operate with doesn't exists: {classified_id}.", ctx
    )


def _accepted(classified_id: str) -> _Outgoing:
    return _Outgoing(
        202,
        {"classifiedId": classified_id, "links": [{"statuses": f"/classifieds/{classified_id}/statuses"}]},
    )


def _etag(revision: int) -> str:
    return f'"{revision}"'


def _etag_matches(if_match: str, revision: int) -> bool:
    for candidate in if_match.split(","):
        value = candidate.strip()
        if value == "*":
            return True
        if value.startswith("W/"):
            value = value[2:]
        if value.strip('"') == str(revision):
            return True
    return False


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _multi(query: Mapping[str, list[str]], name: str) -> list[str]:
    """``status=A&status=B``, ``status[]=A`` or ``status=A,B``."""
    values = [*query.get(name, []), *query.get(f"{name}[]", [])]
    return [part for value in values for part in value.split(",") if part]


def _paging(query: Mapping[str, list[str]], ctx: _Context) -> tuple[int, int, _Outgoing | None]:
    raw_limit = _first(query, "limit")
    limit = _DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if limit < 1:
            problem = _validation_problem(
                [{"name": "limit", "reason": "must be integer >= 1"}], ctx, source="requestParameter"
            )
            return 0, 0, problem
    offset = 0
    token = _first(query, "nextToken")
    if token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except (ValueError, KeyError, TypeError):
            problem = _validation_problem(
                [{"name": "nextToken", "reason": "is not a valid token"}], ctx, source="requestParameter"
            )
            return 0, 0, problem
    return limit, offset, None


def _page(items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    token = (
        base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode() if more else None
    )
    return {"items": page, "nextToken": token}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ====================================================================== CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.aviv_emulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--openapi", default=None, help="OpenAPI path (default: $AVIV_OPENAPI or ../shared/aviv)"
    )
    parser.add_argument("--client-id", default="vitrine-test")
    parser.add_argument("--client-secret", default="vitrine-test-secret")
    parser.add_argument("--token-ttl", type=int, default=86400, help="token lifetime in seconds")
    parser.add_argument("--process-delay", type=float, default=0.0, help="seconds before processing a call")
    parser.add_argument(
        "--download-timeout", type=float, default=5.0, help="media download timeout (seconds)"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )

    emulator = AvivEmulator(
        args.host,
        args.port,
        openapi_path=args.openapi,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl_seconds=args.token_ttl,
        process_delay_seconds=args.process_delay,
        download_timeout_seconds=args.download_timeout,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with emulator:
        print(f"AVIV_BASE_URL={emulator.base_url}")
        print(f"AVIV_AUTH_URL={emulator.auth_url}")
        print(f"AVIV_CLIENT_ID={emulator.client_id}")
        print(f"AVIV_INSPECT_URL={emulator.root_url}{INSPECT_PREFIX}/state")
        print(f"schema validation: {'on' if emulator.schema_validation else 'off (fallback validator)'}")
        print("Serving until Ctrl-C.", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
