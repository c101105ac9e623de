"""The API Gateway stand-in's own refusals (before any function runs) answer as API Gateway does:
JSON ``{"message": …}`` with ``application/json``, never the HTTP server's HTML error page."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

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


PUSH_ROUTE = "/aviv/{token}/classifieds/{classifiedId}/statuses"
TOKEN = "push-token-0123456789abcdefghijklmnopqrstuvwxyzAB"


def failing(event: Any, context: Any) -> Any:
    raise RuntimeError(f"boom on {event['path']}")


@pytest.mark.parametrize("token", [TOKEN, "a token with spaces"])
def test_the_push_token_is_never_logged_even_when_the_function_fails(
    caplog: pytest.LogCaptureFixture, token: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="devtools.apigw")
    raw_token = quote(token)
    with ApiGateway([("POST", PUSH_ROUTE, failing)]) as api:
        url = f"{api.base_url}/aviv/{raw_token}/classifieds/cl-1/statuses"
        answer = requests.post(url, json={}, timeout=10)
        refused = exchange(
            api, f"POST /aviv/{raw_token}/classifieds/cl-1/statuses HTTP/1.1 x\r\n\r\n".encode()
        )

    assert (answer.status_code, refused[0]) == (502, 400)
    lines = [record.getMessage() for record in caplog.records]
    assert any(record.levelno == logging.ERROR for record in caplog.records)
    assert any("/aviv/***/classifieds/cl-1/statuses" in line for line in lines)
    assert not [line for line in lines if token in line or raw_token in line]


def test_redaction_covers_the_raw_and_the_decoded_path_and_leaves_other_routes_alone() -> None:
    with ApiGateway([("POST", PUSH_ROUTE, failing), ("POST", "/webhooks/{token2}", failing)]) as api:
        assert api.redact('"POST /aviv/a%20b/classifieds/c/statuses HTTP/1.1" 502') == (
            '"POST /aviv/***/classifieds/c/statuses HTTP/1.1" 502'
        )
        assert api.redact("/aviv/token/classifieds/c/statuses") == "/aviv/***/classifieds/c/statuses"
        assert api.redact("failed for 'a b'", secrets=["a b"]) == "failed for '***'"
        assert api.redact("/webhooks/listings") == "/webhooks/listings"
