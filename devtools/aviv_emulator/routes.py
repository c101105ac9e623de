"""The front door of AVIV's API: injected faults, the token endpoint, the User-Agent and bearer checks,
then one route per endpoint (in ``classified_routes``); every call is recorded."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from devtools.aviv_emulator.classified_routes import ClassifiedRoutes
from devtools.aviv_emulator.messages import (
    BadBody,
    Context,
    Incoming,
    Outgoing,
    is_json,
    parse_json_quietly,
    problem,
    traceparent_for,
)
from devtools.aviv_emulator.processing import Processing
from devtools.aviv_emulator.records import (
    API_PREFIX,
    TOKEN_PATH,
    Fault,
    RecordedRequest,
    Token,
    now,
)
from devtools.aviv_emulator.settings import EmulatorSettings
from devtools.aviv_emulator.state import EmulatorState
from devtools.aviv_emulator.validation import BodyValidation

logger = logging.getLogger(__name__)

USER_AGENT_PATTERN = re.compile(
    r"^[^\/\s]+\/[^\/\s]+\s{1}[^\/\s]+\/[^\/\s]+\s{1}[^\/\s]+\/[^\/\s]+$"  # verbatim from the OpenAPI
)
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


class ApiRoutes:
    """Answers the token endpoint and ``/caas/v4`` (never raises: a bug answers 500 and is logged)."""

    def __init__(
        self,
        state: EmulatorState,
        settings: EmulatorSettings,
        validation: BodyValidation,
        processing: Processing,
    ) -> None:
        self._state = state
        self._settings = settings
        self._classifieds = ClassifiedRoutes(state, validation, processing, settings)

    def handle(self, incoming: Incoming) -> Outgoing:
        kind, path = _classify_path(incoming.path)
        ctx = Context(traceparent=traceparent_for(incoming.headers.get("traceparent")))
        body = parse_json_quietly(incoming.body)
        try:
            fault = self._state.take_fault(kind, path, incoming.method)
            response = self._fault_answer(fault, kind, ctx)
            if response is None:
                response = self._route(kind, path, incoming, body, ctx)
                if fault is not None:  # processed, then the answer is lost
                    response = _lost(fault)
        except Exception as exc:
            logger.exception("AVIV emulator failed on %s %s", incoming.method, incoming.path)
            response = problem(
                500, "Internal Server Error", f"emulator bug: {type(exc).__name__}: {exc}", ctx
            )
        response.headers.setdefault("traceparent", ctx.traceparent)
        self._record(incoming, path, body, None if response.unanswered else response.status, ctx)
        return response

    def _route(self, kind: str, path: str, incoming: Incoming, body: Any, ctx: Context) -> Outgoing:
        if kind == "token":
            return self._token(incoming, body)
        if kind == "api":
            return self._api(incoming, path, ctx)
        return problem(404, "Not found", f"No such resource: {incoming.path}", ctx)

    def _record(self, incoming: Incoming, path: str, body: Any, status: int | None, ctx: Context) -> None:
        recorded = RecordedRequest(
            method=incoming.method,
            path=path,
            query=incoming.query,
            headers=dict(incoming.headers.items()),
            body=body,
            status=status,
            at=now(),
            traceparent=ctx.traceparent,
        )
        with self._state.lock:
            self._state.recorded.append(recorded)

    def _fault_answer(self, fault: Fault | None, kind: str, ctx: Context) -> Outgoing | None:
        """The injected answer that replaces handling the call; None to handle it (no fault, or a
        fault that loses the answer only after processing)."""
        if fault is None or (fault.after_processing and fault.loses_answer):
            return None
        if kind == "token":
            self._state.count_token_request()
        if fault.loses_answer:
            return _lost(fault)
        title = _REASON_TITLES.get(fault.status, "Error")
        response = problem(fault.status, title, f"Injected fault: {fault.status} {title}", ctx)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response

    def _token(self, incoming: Incoming, body: Any) -> Outgoing:
        self._state.count_token_request()
        if not is_json(incoming):  # choice: the documented token request is JSON, and only JSON
            return _oauth_error(400, "invalid_request", "Content-Type must be application/json")
        refused = self._refused_token_request(body)
        if refused is not None:
            return refused
        settings = self._settings
        access_token = secrets.token_urlsafe(32)
        with self._state.lock:
            self._state.tokens[access_token] = Token(
                client_id=settings.client_id,
                audience=body["audience"],
                intermediary_id=body.get("intermediary_id") or None,
                expires_at=time.monotonic() + settings.token_ttl_seconds,
            )
        return Outgoing(
            200,
            {"access_token": access_token, "expires_in": settings.token_ttl_seconds, "token_type": "Bearer"},
            headers={"Cache-Control": "no-store"},
        )

    def _refused_token_request(self, body: Any) -> Outgoing | None:
        """AVIV's OAuth error for a token request it refuses, or None when it grants one."""
        if not isinstance(body, dict):
            return _oauth_error(400, "invalid_request", "Expected a JSON object body")
        settings = self._settings
        if body.get("client_id") != settings.client_id or body.get("client_secret") != settings.client_secret:
            return _oauth_error(401, "access_denied", "Unauthorized")
        if body.get("grant_type") != "client_credentials":
            return _oauth_error(401, "unauthorized_client", "Grant type not allowed for the client.")
        audience = body.get("audience")
        if not isinstance(audience, str) or not audience:
            return _oauth_error(400, "invalid_request", "audience is required")
        intermediary_id = body.get("intermediary_id")
        if intermediary_id is not None and not isinstance(intermediary_id, str):
            return _oauth_error(400, "invalid_request", "intermediary_id must be a string")
        return None

    def _api(self, incoming: Incoming, path: str, ctx: Context) -> Outgoing:
        # choice: the User-Agent is checked first, as an edge filter would, and "blocked" calls get
        # 403 with a problem body (AVIV documents the header as mandatory but not the refusal).
        user_agent = incoming.headers.get("User-Agent") or ""
        if not USER_AGENT_PATTERN.fullmatch(user_agent):
            return problem(
                403,
                "Forbidden",
                "Missing or invalid User-Agent header: expected "
                "'<crm-software-name>/<version> <tool-name>/<version> <operating-system>/<version>'.",
                ctx,
            )
        token = self._authenticate(incoming.headers.get("Authorization"))
        if token is None:
            return Outgoing(  # AVIV's 401 is plain JSON
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
        try:
            return self._classifieds.route(incoming, path, ctx)
        except BadBody as bad:
            return bad.response

    def _authenticate(self, authorization: str | None) -> Token | None:
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return self._state.token(value.strip())


def _oauth_error(status: int, error: str, description: str) -> Outgoing:
    return Outgoing(status, {"error": error, "error_description": description})


def _classify_path(path: str) -> tuple[str, str]:
    if path.rstrip("/") == TOKEN_PATH:
        return "token", TOKEN_PATH
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        relative = path[len(API_PREFIX) :].rstrip("/")
        return "api", relative or "/"
    return "other", path


def _lost(fault: Fault) -> Outgoing:
    """No answer at all: a reset connection, or a hang until the client gives up."""
    if fault.reset:
        return Outgoing(0, reset=True)
    return Outgoing(0, hang_seconds=fault.hang_seconds)
