"""The threaded HTTP server every local stand-in (API Gateway, AVIV emulator, media server) runs on,
and the serve-in-a-thread lifecycle they share."""

from __future__ import annotations

import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

logger = logging.getLogger(__name__)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that takes bursts of parallel clients the way real endpoints do.

    The standard library listens with a backlog of 5: a burst of parallel connections (30 CRM webhooks,
    several Lambdas downloading media) overflows it and, with SYN cookies on, the kernel answers the
    overflow with a reset the client sees as ``Connection reset by peer``. API Gateway, AVIV and a media
    CDN never refuse a connection that way, so neither may their stand-ins.
    """

    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout) closes its socket: not worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)


AppT = TypeVar("AppT")


class AppHTTPServer(LoopbackHTTPServer, Generic[AppT]):
    """A loopback server that hands its handlers the stand-in they serve, as ``self.server.app``."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: AppT) -> None:
        self.app = app
        super().__init__(address, handler)


ServerT = TypeVar("ServerT", bound=LoopbackHTTPServer)


class ServedInThread(Generic[ServerT]):
    """A stand-in served in a daemon thread: ``start()`` (idempotent), ``stop()``, context manager.

    Subclasses build their server in :meth:`_create_server`. Binding happens at the first ``start()``
    unless the subclass calls :meth:`_bind` earlier (to fail at once on a port in use). ``stopping`` is
    set from ``stop()`` until the next ``start()``, so handlers sleeping on a delay end early instead of
    holding the shutdown.
    """

    thread_name = "loopback-server"

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._requested_port = port
        self._server: ServerT | None = None
        self._thread: threading.Thread | None = None
        self._bound_address: tuple[str, int] | None = None
        self.stopping = threading.Event()

    def _create_server(self, address: tuple[str, int]) -> ServerT:
        """The server to serve on ``address`` (port 0 = any free port)."""
        raise NotImplementedError

    def _after_shutdown(self, server: ServerT) -> None:
        """Runs once the serving loop has ended, before the socket closes (e.g. to drop keep-alives)."""

    def _bind(self) -> ServerT:
        """Create (and so bind) the server when not done yet."""
        if self._server is None:
            server = self._create_server((self._host, self._requested_port))
            host, port = server.server_address[:2]
            self._bound_address = (host.decode() if isinstance(host, bytes) else str(host), int(port))
            self._server = server
        return self._server

    def start(self) -> Self:
        """Bind when needed and serve in a daemon thread. Idempotent."""
        if self._thread is not None:
            return self
        self.stopping.clear()
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake sleeping handlers, end the serving loop and close the socket. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            server.shutdown()
        self._after_shutdown(server)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (still known after stop(), for log lines)."""
        return self._address()[1]

    @property
    def bound_host(self) -> str:
        """The address the socket is bound to (``localhost`` resolved)."""
        return self._address()[0]

    def _address(self) -> tuple[str, int]:
        if self._bound_address is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._bound_address


class BodyTooLarge(Exception):
    """A request body over the stand-in's payload limit."""


def read_chunked_body(rfile: BufferedIOBase, limit: int | None = None) -> bytes:
    """A ``Transfer-Encoding: chunked`` request body; trailers are read and dropped."""
    chunks: list[bytes] = []
    total = 0
    while True:
        size = int(rfile.readline(65537).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        total += size
        if limit is not None and total > limit:
            raise BodyTooLarge
        chunks.append(rfile.read(size))
        rfile.readline(65537)
