"""The local stand-ins take a burst of parallel connections the way the real endpoints do.

With the standard library's listen backlog of 5, 30 CRM webhooks posted at once got
``Connection reset by peer`` from the API Gateway stand-in (the kernel resets the overflow when SYN
cookies are on), which a real API Gateway never does.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devtools.apigw import ApiGateway
from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.loopback_server import LoopbackHTTPServer
from devtools.media_server import MediaServer

BURST = 200


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _burst_answers(server: ThreadingHTTPServer) -> list[bytes]:
    """Open BURST connections and send a request on each *before* the server accepts any, then serve."""
    port = server.server_address[1]
    with ExitStack() as stack:
        clients: list[socket.socket | OSError] = []
        for _ in range(BURST):
            try:
                client = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=2))
                client.sendall(b"GET / HTTP/1.1\r\nHost: loopback\r\nConnection: close\r\n\r\n")
                client.settimeout(10)
                clients.append(client)
            except OSError as refused:  # the overflow: connect timed out or was reset
                clients.append(refused)
                break
        with _serving(server):
            answers = []
            for queued in clients:
                try:
                    if isinstance(queued, OSError):
                        raise queued
                    answers.append(queued.recv(12))
                except OSError as error:
                    answers.append(repr(error).encode())
    return answers


def test_a_burst_of_connections_queued_before_the_first_accept_is_answered_in_full() -> None:
    answers = _burst_answers(LoopbackHTTPServer(("127.0.0.1", 0), _Ok))
    assert answers == [b"HTTP/1.1 200"] * BURST


@pytest.mark.parametrize("stand_in", ["api gateway", "aviv emulator", "media server"])
def test_every_local_stand_in_serves_on_the_loopback_server(stand_in: str) -> None:
    with ExitStack() as stack:
        server: object
        if stand_in == "api gateway":
            server = stack.enter_context(ApiGateway())._server
        elif stand_in == "aviv emulator":
            server = stack.enter_context(AvivEmulator())._server
        else:
            server = stack.enter_context(MediaServer())._server
        assert isinstance(server, LoopbackHTTPServer)
