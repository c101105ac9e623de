"""The serve-in-a-thread lifecycle and the chunked-body reader the loopback stand-ins share."""

from __future__ import annotations

import io
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from devtools.loopback_server import AppHTTPServer, BodyTooLarge, ServedInThread, read_chunked_body


class _Hello(BaseHTTPRequestHandler):
    server: AppHTTPServer[_Greeter]

    def do_GET(self) -> None:
        body = self.server.app.greeting.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


class _Greeter(ServedInThread[AppHTTPServer["_Greeter"]]):
    greeting = "hello"

    def _create_server(self, address: tuple[str, int]) -> AppHTTPServer[_Greeter]:
        return AppHTTPServer(address, _Hello, self)


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
        return str(answer.read().decode())


def test_a_stand_in_serves_its_app_between_start_and_stop() -> None:
    with _Greeter("127.0.0.1", 0) as greeter:
        assert _get(greeter.port) == "hello"
        assert not greeter.stopping.is_set()
    assert greeter.stopping.is_set()
    with pytest.raises(OSError):
        _get(greeter.port)


def test_start_and_stop_are_idempotent_and_the_port_stays_known_after_stop() -> None:
    greeter = _Greeter("127.0.0.1", 0)
    with pytest.raises(RuntimeError, match="not started"):
        _ = greeter.port
    assert greeter.start() is greeter.start()
    port = greeter.port
    greeter.stop()
    greeter.stop()
    assert greeter.port == port
    assert greeter.bound_host == "127.0.0.1"


def test_a_chunked_body_is_joined_and_its_trailers_dropped() -> None:
    raw = io.BytesIO(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nnext request")
    assert read_chunked_body(raw) == b"hello world"
    assert raw.read() == b"next request"


def test_a_chunked_body_over_the_limit_is_refused() -> None:
    with pytest.raises(BodyTooLarge):
        read_chunked_body(io.BytesIO(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), limit=8)
