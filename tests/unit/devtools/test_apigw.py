"""The API Gateway stand-in's own refusals (before any function runs) answer as API Gateway does:
JSON ``{"message": …}`` with ``application/json``, never the HTTP server's HTML error page."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.apigw import ApiGateway


def answered(answer: dict[str, Any]) -> Any:
    return lambda event, context: answer


@pytest.fixture
def api() -> Iterator[ApiGateway]:
    with ApiGateway([("POST", "/webhooks/listings", answered({"statusCode": 202, "body": "{}"}))]) as gateway:
        yield gateway


def exchange(api: ApiGateway, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the stand-in closes after a refusal)."""
    with socket.create_connection((api.bound_host, api.port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)
    }
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /webhooks/listings HTTP/1.1\r\nHost: a\r\n" + b"X-H: 1\r\n" * 150 + b"\r\n", 431),
        (b"POST /webhooks/listings HTTP/1.1\r\nHost: a\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"POST /webhooks/listings HTTP/9.9\r\nHost: a\r\n\r\n", 505),
        (b"POST /webhooks/listings HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400),
        (b"POST /webhooks/listings HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
    ],
    ids=["too many headers", "header line too long", "uri too long", "bad version", "bad request line",
         "negative length"],
)  # fmt: skip
def test_a_request_refused_before_any_function_gets_api_gateways_json_message(
    api: ApiGateway, request_bytes: bytes, status: int
) -> None:
    got, headers, body = exchange(api, request_bytes)

    assert got == status
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)) == {"message"}
    assert int(headers["content-length"]) == len(body)
