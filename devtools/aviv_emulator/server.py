"""The emulator's HTTP wiring: the loopback server that tracks its keep-alive connections, the request
handler that turns a request into ``Incoming`` and writes the ``Outgoing`` back, and the hang of an
injected timeout."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from devtools.aviv_emulator.messages import Incoming, Outgoing
from devtools.loopback_server import AppHTTPServer, read_chunked_body

logger = logging.getLogger(__name__)


class EmulatorApp(Protocol):
    """What the HTTP handler needs from the emulator."""

    def handle(self, incoming: Incoming) -> Outgoing: ...

    def hang(self, connection: socket.socket, seconds: float) -> None: ...


class EmulatorHTTPServer(AppHTTPServer[EmulatorApp]):
    """Tracks its keep-alive connections, so that stop() can end them at once."""

    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler, app)

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


def hold_unanswered(connection: socket.socket, seconds: float, still_waiting: Callable[[], bool]) -> None:
    """Keep the call unanswered until the client closes its side (its read timeout), ``seconds``
    pass, or ``still_waiting()`` turns false (stop/reset) — never answering, like a stuck upstream."""
    deadline = time.monotonic() + seconds
    while still_waiting():
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: vitrine's client reuses its session
    timeout = 60  # idle keep-alive connections are dropped after a minute
    server_version = "aviv-emulator/4.0"
    # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add ~40 ms per call.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        incoming = Incoming(
            method=self.command,
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=_HeaderView(self.headers),
            body=self._read_body(),
        )
        app = self.server.app
        response = app.handle(incoming)
        if response.unanswered:
            self._drop(response)
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

    def _drop(self, response: Outgoing) -> None:
        """Answer nothing: hang first (an injected timeout), or reset the connection (SO_LINGER 0)."""
        self.close_connection = True
        if response.reset:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            return
        if response.hang_seconds is not None:
            self.server.app.hang(self.connection, response.hang_seconds)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return read_chunked_body(self.rfile)
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

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> Any:
        return self._items.items()
