"""A loopback stand-in for API Gateway (REST API, Lambda proxy integration, payload format 1.0).

Each HTTP request becomes the event API Gateway would build, the matching handler is invoked,
and its proxy response is written back. Header names reach the handler exactly as sent (API
Gateway does not lower-case them for REST APIs), in plain dicts: a handler that looks a header up
case-sensitively breaks here as it would on AWS. Use ``devtools.proxy_event.header_value`` for a
case-insensitive lookup in tests. The event and response formats live in ``devtools.proxy_event``.

Behaviour copied from API Gateway: unknown route → 404 JSON, function error or malformed
response → 502 ``{"message": "Internal server error"}``, request over 10 MB → 413; every refusal
of its own (431, 414, 400…) is JSON ``{"message": …}``, like API Gateway's. Bodies between
1 MB and 10 MB reach the handler, which enforces its own 1 MB limit. ``GET /health`` is answered
here: 503 until :attr:`ApiGateway.ready` is set, then 200.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from devtools.lambda_runtime import Handler, LambdaFunction, as_lambda_function
from devtools.loopback_server import AppHTTPServer, BodyTooLarge, ServedInThread, read_chunked_body
from devtools.proxy_event import (
    INTERNAL_ERROR,
    STAGE,
    ProxyResponse,
    build_event,
    json_response,
    map_response,
)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""API Gateway's request payload quota (REST APIs): bigger requests get 413 before any function runs."""

DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_TIMEOUT_SECONDS = 5.0

HEALTH_PATH = "/health"

log = logging.getLogger(__name__)

SECRET_PATH_PARAMETERS = frozenset({"token"})
"""Path parameters that are secrets (AVIV's push URL carries one): ``***`` in every log line."""
REDACTED = "***"

Route = tuple[str, str, Handler | LambdaFunction]
"""(HTTP method or ``ANY``, path template such as ``/listings/{listingId}``, handler)."""


@dataclass(frozen=True)
class _CompiledRoute:
    method: str
    resource: str
    pattern: re.Pattern[str]
    function: LambdaFunction
    literal_segments: int

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


def _secret_segments(resource: str) -> re.Pattern[str] | None:
    """Where a route's secret path parameters sit in a logged path, raw or decoded; None: no secret."""
    parts = []
    for segment in resource.strip("/").split("/"):
        param = re.fullmatch(r"\{(\w+)\+?\}", segment)
        if param is None:
            parts.append(re.escape(segment))
        elif param.group(1) in SECRET_PATH_PARAMETERS:
            parts.append(f'(?P<{param.group(1)}>[^/\\s"?#]+)')
        else:
            parts.append(r'[^/\s"?#]+')
    pattern = re.compile("/" + "/".join(parts))
    return pattern if pattern.groupindex else None


def _masked(found: re.Match[str]) -> str:
    pieces, cursor = [], found.start()
    for name in found.re.groupindex:
        start, end = found.span(name)
        pieces += [found.string[cursor:start], REDACTED]
        cursor = end
    pieces.append(found.string[cursor : found.end()])
    return "".join(pieces)


def _compile(method: str, resource: str, handler: Handler | LambdaFunction) -> _CompiledRoute:
    """``/a/{id}`` matches one segment per parameter; ``{name+}`` (greedy) matches the rest."""
    parts = []
    literal = 0
    for segment in resource.strip("/").split("/"):
        param = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if param is None:
            parts.append(re.escape(segment))
            literal += 1
        elif param.group(2):
            parts.append(f"(?P<{param.group(1)}>.+)")
        else:
            parts.append(f"(?P<{param.group(1)}>[^/]+)")
    pattern = re.compile("/" + "/".join(parts) if parts != [""] else "/")
    function = as_lambda_function(handler, name=f"{method} {resource}")
    return _CompiledRoute(method.upper(), resource, pattern, function, literal)


class ApiGateway(ServedInThread["AppHTTPServer[ApiGateway]"]):
    """Serve ``routes`` on ``http://host:port`` until :meth:`stop`; port 0 picks a free one."""

    thread_name = "apigw"

    def __init__(
        self,
        routes: Sequence[Route] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        stage: str = STAGE,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        super().__init__(host, port)
        self.routes: list[_CompiledRoute] = []
        self.set_routes(routes)
        self.stage = stage
        self.max_payload_bytes = max_payload_bytes
        self.ready = threading.Event()
        self._bind()  # a port in use fails here, before anything else starts

    def _create_server(self, address: tuple[str, int]) -> AppHTTPServer[ApiGateway]:
        return AppHTTPServer(address, _GatewayHandler, self)

    def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace the routes (the server may already be answering ``/health``)."""
        compiled = [_compile(method, resource, handler) for method, resource, handler in routes]
        secrets = (_secret_segments(route.resource) for route in compiled)
        self.secret_paths = [pattern for pattern in secrets if pattern is not None]
        # Most specific first, as API Gateway prefers /listings/mine over /listings/{id}.
        self.routes = sorted(
            compiled, key=lambda r: (-r.literal_segments, "+" in r.resource, r.method == "ANY")
        )

    def redact(self, text: str, secrets: Iterable[str] = ()) -> str:
        """``text`` with every secret path parameter (the push token) replaced by ``***``: the
        ``secrets`` already known, then whatever sits in a secret segment of a route's path."""
        for secret in secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        for pattern in self.secret_paths:
            text = pattern.sub(_masked, text)
        return text

    @property
    def base_url(self) -> str:
        return f"http://{self.bound_host}:{self.port}"

    @property
    def health_url(self) -> str:
        return self.base_url + HEALTH_PATH

    def stop(self) -> None:
        self.ready.clear()
        super().stop()

    def find_route(self, method: str, path: str) -> tuple[_CompiledRoute, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            params = route.match(path)
            if params is not None:
                return route, params
        return None

    def handle(
        self, method: str, raw_path: str, header_pairs: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> ProxyResponse:
        """Route one request and build the answer (the HTTP plumbing is in the request handler)."""
        path = unquote(urlsplit(raw_path).path) or "/"
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            if self.ready.is_set():
                return json_response(HTTPStatus.OK, {"status": "ok"})
            return json_response(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "starting"})
        found = self.find_route(method, path)
        if found is None:
            return json_response(HTTPStatus.NOT_FOUND, {"message": "Not Found"})
        route, params = found
        event = build_event(
            method=method,
            raw_path=raw_path,
            resource=route.resource,
            path_parameters=params,
            header_pairs=header_pairs,
            body=body,
            source_ip=source_ip,
            stage=self.stage,
        )
        try:
            result = route.function.invoke(event)
        except Exception:
            secrets = [value for name, value in params.items() if name in SECRET_PATH_PARAMETERS]
            log.error(self.redact(f"{method} {raw_path}: function error\n{traceback.format_exc()}", secrets))
            return INTERNAL_ERROR
        return map_response(result)


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vitrine-local-apigw"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle + the client's delayed
    # ACK hold the body back ~40 ms on every response.
    disable_nagle_algorithm = True
    server: AppHTTPServer[ApiGateway]

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except BodyTooLarge:
            self.close_connection = True
            self._send(json_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request Too Long"}))
            return
        except ValueError:
            self.close_connection = True
            self._send(json_response(HTTPStatus.BAD_REQUEST, {"message": "Bad Request"}))
            return
        response = self.server.app.handle(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        limit = self.server.app.max_payload_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return read_chunked_body(self.rfile, limit)
        length = self._declared_length()
        if length > limit:
            self._drain(length)
            raise BodyTooLarge
        return self.rfile.read(length) if length else b""

    def _drain(self, length: int) -> None:
        """Read (and drop) what the client is sending, so it gets to read our 413."""
        remaining = min(length, DRAIN_LIMIT_BYTES)
        self.connection.settimeout(DRAIN_TIMEOUT_SECONDS)
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    return
                remaining -= len(chunk)
        except OSError:
            return

    def _declared_length(self) -> int:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return length

    def handle_expect_100(self) -> bool:
        """Refuse an oversized upload before the client sends it (curl asks first above 1 MB)."""
        try:
            too_large = self._declared_length() > self.server.app.max_payload_bytes
        except ValueError:
            too_large = False  # reported as 400 once the request is handled
        if too_large:
            self.close_connection = True
            self._send(json_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request Too Long"}))
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The HTTP layer's own refusals (431, 414, 400, 505…) worded as API Gateway words its own:
        JSON ``{"message": …}``, not the standard library's HTML page."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            # The request line could not be read: answer in HTTP/1.1 anyway, as API Gateway does.
            self.request_version = self.protocol_version
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = message or "Error"
        log.info(self.server.app.redact(f"refused before routing: {code} {message or phrase}"))
        self._send(json_response(code, {"message": phrase}))

    def _send(self, response: ProxyResponse) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names and response.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(self.server.app.redact(f"{self.address_string()} - {format % args}"))
