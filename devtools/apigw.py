"""A loopback stand-in for API Gateway (REST API, Lambda proxy integration, payload format 1.0).

Each HTTP request becomes the event API Gateway would build, the matching handler is invoked,
and its proxy response is written back. Header names reach the handler exactly as sent (API
Gateway does not lower-case them for REST APIs), in plain dicts: a handler that looks a header up
case-sensitively breaks here as it would on AWS. Use :func:`header_value` for a case-insensitive
lookup in tests.

Behaviour copied from API Gateway: unknown route → 404 JSON, function error or malformed
response → 502 ``{"message": "Internal server error"}``, request over 10 MB → 413. Bodies between
1 MB and 10 MB reach the handler, which enforces its own 1 MB limit. ``GET /health`` is answered
here: 503 until :attr:`ApiGateway.ready` is set, then 200.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devtools.lambda_runtime import DEFAULT_ACCOUNT_ID, Handler, LambdaFunction, as_lambda_function
from devtools.loopback_server import LoopbackHTTPServer

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""API Gateway's request payload quota (REST APIs): bigger requests get 413 before any function runs."""

DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_TIMEOUT_SECONDS = 5.0

HEALTH_PATH = "/health"
STAGE = "local"

log = logging.getLogger(__name__)

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


def header_value(event: Mapping[str, Any], name: str) -> str | None:
    """A header of a proxy event, whatever the case it was sent in (test helper)."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def build_event(
    *,
    method: str,
    raw_path: str,
    resource: str,
    path_parameters: Mapping[str, str] | None,
    header_pairs: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
    stage: str = STAGE,
    now: float | None = None,
) -> dict[str, Any]:
    """The REST API (v1) proxy event for one request; ``raw_path`` may carry a query string."""
    now = time.time() if now is None else now
    split = urlsplit(raw_path)
    path = unquote(split.path) or "/"

    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        headers[name] = value  # API Gateway keeps the last value in the single-value map
        multi_headers.setdefault(name, []).append(value)

    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query[name] = value
        multi_query.setdefault(name, []).append(value)

    body_text: str | None
    if not body:
        body_text, is_base64 = None, False
    else:
        try:
            body_text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            body_text, is_base64 = base64.b64encode(body).decode("ascii"), True

    request_id = str(uuid.uuid4())
    user_agent = next((v for k, v in header_pairs if k.lower() == "user-agent"), None)
    host = next((v for k, v in header_pairs if k.lower() == "host"), "127.0.0.1")
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": DEFAULT_ACCOUNT_ID,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": body_text,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True)
class ProxyResponse:
    """What API Gateway would send back for a handler's result."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


_INTERNAL_ERROR = ProxyResponse(
    HTTPStatus.BAD_GATEWAY,
    [("Content-Type", "application/json")],
    b'{"message": "Internal server error"}',
)


def map_response(result: Any) -> ProxyResponse:
    """A Lambda proxy result → HTTP answer; anything malformed is a 502, as on API Gateway."""
    if not isinstance(result, Mapping):
        log.error("malformed Lambda proxy response (not an object): %r", result)
        return _INTERNAL_ERROR
    try:
        status = int(result["statusCode"])
    except (KeyError, TypeError, ValueError):
        log.error("malformed Lambda proxy response (statusCode): %r", result)
        return _INTERNAL_ERROR
    if not 100 <= status <= 599:
        log.error("malformed Lambda proxy response (statusCode %s)", status)
        return _INTERNAL_ERROR

    # Both maps merge; for a name in multiValueHeaders its values win over headers'.
    multi = {
        str(k): [str(v) for v in (vs or [])] for k, vs in (result.get("multiValueHeaders") or {}).items()
    }
    pairs: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        if str(name) not in multi:
            pairs.append((str(name), str(value)))
    for name, values in multi.items():
        pairs.extend((name, value) for value in values)

    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif result.get("isBase64Encoded"):
        try:
            body = base64.b64decode(str(raw_body), validate=True)
        except ValueError:
            log.error("malformed Lambda proxy response (body is not base64)")
            return _INTERNAL_ERROR
    else:
        body = (raw_body if isinstance(raw_body, str) else json.dumps(raw_body)).encode("utf-8")
    return ProxyResponse(status, pairs, body)


class _RequestTooLarge(Exception):
    pass


class ApiGateway:
    """Serve ``routes`` on ``http://host:port`` until :meth:`stop`; port 0 picks a free one."""

    def __init__(
        self,
        routes: Sequence[Route] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        stage: str = STAGE,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self.routes: list[_CompiledRoute] = []
        self.set_routes(routes)
        self.stage = stage
        self.max_payload_bytes = max_payload_bytes
        self.ready = threading.Event()
        self._server = LoopbackHTTPServer((host, port), self._request_handler_class())
        self._thread: threading.Thread | None = None

    def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace the routes (the server may already be answering ``/health``)."""
        compiled = [_compile(method, resource, handler) for method, resource, handler in routes]
        # Most specific first, as API Gateway prefers /listings/mine over /listings/{id}.
        self.routes = sorted(
            compiled, key=lambda r: (-r.literal_segments, "+" in r.resource, r.method == "ANY")
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    @property
    def health_url(self) -> str:
        return self.base_url + HEALTH_PATH

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="apigw", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.ready.clear()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ApiGateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
                return _json(HTTPStatus.OK, {"status": "ok"})
            return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "starting"})
        found = self.find_route(method, path)
        if found is None:
            return _json(HTTPStatus.NOT_FOUND, {"message": "Not Found"})
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
            log.error("%s %s: function error\n%s", method, path, traceback.format_exc())
            return _INTERNAL_ERROR
        return map_response(result)

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "vitrine-local-apigw"
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle + the client's delayed
            # ACK hold the body back ~40 ms on every response.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                try:
                    body = self._read_body()
                except _RequestTooLarge:
                    self.close_connection = True
                    self._send(_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request Too Long"}))
                    return
                except ValueError:
                    self.close_connection = True
                    self._send(_json(HTTPStatus.BAD_REQUEST, {"message": "Bad Request"}))
                    return
                response = gateway.handle(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
                self._send(response)

            def _read_body(self) -> bytes:
                limit = gateway.max_payload_bytes
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    return self._read_chunked(limit)
                length = self._declared_length()
                if length > limit:
                    self._drain(length)
                    raise _RequestTooLarge
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
                    too_large = self._declared_length() > gateway.max_payload_bytes
                except ValueError:
                    too_large = False  # reported as 400 once the request is handled
                if too_large:
                    self.close_connection = True
                    self._send(_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request Too Long"}))
                    return False
                return super().handle_expect_100()

            def _read_chunked(self, limit: int) -> bytes:
                chunks: list[bytes] = []
                total = 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    total += size
                    if total > limit:
                        raise _RequestTooLarge
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

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

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s - %s", self.address_string(), format % args)

        return _Handler


def _json(status: int, payload: Any) -> ProxyResponse:
    return ProxyResponse(status, [("Content-Type", "application/json")], json.dumps(payload).encode())
