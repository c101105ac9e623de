"""MediaProbe over real HTTP on loopback: what a media URL answers, and what it is never allowed to reach.

Behaviour tests use ``allow_private=True`` (the servers are on 127.0.0.1). The SSRF tests use the
production policy; "public" hosts are simulated by a patched resolver plus a patched connect that
sends the vetted public address to a loopback server, so nothing leaves the machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devtools.media_server import MediaServer
from vitrine.adapters import media_probe
from vitrine.adapters.media_probe import MediaProbe

PUBLIC_IP = "93.184.216.34"

Route = Callable[[BaseHTTPRequestHandler], None]


class ScriptedServer:
    """A loopback HTTP server whose answer per (method, path) is a function; records requests."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                server.requests.append((self.command, self.path, dict(self.headers.items())))
                route = server.routes.get((self.command, self.path.split("?")[0]))
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route(self)

            do_GET = _serve
            do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def answer(
    status: int, content_type: str = "image/jpeg", body: bytes = b"", headers: dict[str, str] | None = None
) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Route:
    return answer(status, "text/plain", headers={"Location": location})


def endless_image(handler: BaseHTTPRequestHandler) -> None:
    """200 image/jpeg that ignores Range and never ends (chunked): only a read limit stops a reader."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    if handler.command == "HEAD":
        return
    chunk = b"\xff" * 65536
    try:
        while True:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        return


class DripServer:
    """A raw loopback server: per request method, some bytes at once, then more one byte at a time.

    Each connection's ``outcomes`` entry says how it ended: ``sent`` (everything), ``hung up`` (the
    client closed first) or ``gave up`` (the server stopped dripping after ``max_seconds``, so a
    probe without a total bound still ends and its test fails instead of hanging).
    """

    def __init__(
        self, answers: dict[str, tuple[bytes, bytes]], interval: float = 0.2, max_seconds: float = 3.0
    ) -> None:
        self.answers = answers
        self.interval = interval
        self.max_seconds = max_seconds
        self.outcomes: list[str] = []
        self._connections: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._answer, args=(connection,), daemon=True)
            self._connections.append(thread)
            thread.start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(4096)
                if not chunk:
                    self.outcomes.append("hung up")
                    return
                request += chunk
            at_once, dripped = self.answers[request.split(b" ", 1)[0].decode()]
            gives_up_at = time.monotonic() + self.max_seconds
            try:
                connection.sendall(at_once)
                for byte in dripped:
                    if time.monotonic() > gives_up_at:
                        self.outcomes.append("gave up")
                        return
                    time.sleep(self.interval)
                    connection.sendall(bytes([byte]))
            except OSError:
                self.outcomes.append("hung up")  # a send after the client closed fails
                return
            self.outcomes.append("sent")

    def stop(self) -> None:
        """Let every connection end by itself (at most ``max_seconds``), then stop listening."""
        for thread in list(self._connections):
            thread.join(self.max_seconds + 1)
        self._stopped.set()
        self._thread.join(1)
        self._listener.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def media() -> Iterator[MediaServer]:
    with MediaServer() as running:
        yield running


@pytest.fixture
def local_probe() -> MediaProbe:
    return MediaProbe(allow_private=True, timeout_seconds=2.0)


# ------------------------------------------------------------------------------ what a URL answers


def test_an_image_answering_200_is_usable(media: MediaServer, local_probe: MediaProbe) -> None:
    result = local_probe.probe(media.url("/crm/a/photo-1.jpg") + "?timestamp=2026-03-02T09:00:00")
    assert result.usable
    assert (result.status_code, result.content_type) == (200, "image/jpeg")
    assert result.reason == "answers 200 with content-type image/jpeg"


def test_a_video_is_usable(media: MediaServer, local_probe: MediaProbe) -> None:
    assert local_probe.probe(media.url("/crm/a/tour.mp4")).usable


def test_a_404_says_so(media: MediaServer, local_probe: MediaProbe) -> None:
    media.set_status("/crm/a/gone.jpg", 404)
    result = local_probe.probe(media.url("/crm/a/gone.jpg"))
    assert not result.usable and not result.refused
    assert result.reason == "answers 404"


def test_an_html_page_is_not_a_media(media: MediaServer, local_probe: MediaProbe) -> None:
    media.set_content("/crm/a/login.jpg", b"<html>please log in</html>", "text/html; charset=utf-8")
    result = local_probe.probe(media.url("/crm/a/login.jpg"))
    assert not result.usable
    assert result.reason == "answers 200 with content-type text/html"


def test_head_refused_falls_back_to_a_ranged_get(scripted: ScriptedServer, local_probe: MediaProbe) -> None:
    for status in (405, 501, 403):
        path = f"/no-head-{status}.jpg"
        scripted.routes[("HEAD", path)] = answer(status, "text/plain")
        scripted.routes[("GET", path)] = answer(206, "image/png", b"\x89PNG....")
        result = local_probe.probe(scripted.url(path))
        assert result.usable, result
        assert result.status_code == 206
    gets = [headers for method, _path, headers in scripted.requests if method == "GET"]
    assert len(gets) == 3
    assert all(headers.get("Range") == "bytes=0-1023" for headers in gets)


def closing_image(handler: BaseHTTPRequestHandler) -> None:
    """200 image/jpeg with ``Connection: close`` and no length: the body ends when the socket does."""
    handler.close_connection = True
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(b"\xff\xd8\xff" + b"\x00" * 4096)


def test_a_get_answered_with_connection_close_is_read_to_its_end(
    scripted: ScriptedServer, local_probe: MediaProbe
) -> None:
    # http.client closes the connection when the answer says "Connection: close" and reads the body
    # from the socket it handed to the response: closing it under the reader was "Bad file descriptor".
    scripted.routes[("HEAD", "/closing.jpg")] = answer(405, "text/plain")
    scripted.routes[("GET", "/closing.jpg")] = closing_image
    result = local_probe.probe(scripted.url("/closing.jpg"))
    assert result.usable, result.reason
    assert (result.status_code, result.content_type) == (200, "image/jpeg")


def test_an_http_1_0_answer_with_a_body_is_usable(scripted: ScriptedServer, local_probe: MediaProbe) -> None:
    def http_1_0_image(handler: BaseHTTPRequestHandler) -> None:
        handler.protocol_version = "HTTP/1.0"
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()
        handler.wfile.write(b"\x89PNG" + b"\x00" * 2048)

    scripted.routes[("HEAD", "/old.png")] = answer(501, "text/plain")
    scripted.routes[("GET", "/old.png")] = http_1_0_image
    result = local_probe.probe(scripted.url("/old.png"))
    assert result.usable, result.reason


def test_a_body_is_read_at_most_up_to_the_limit(scripted: ScriptedServer) -> None:
    scripted.routes[("HEAD", "/endless.jpg")] = answer(405, "text/plain")
    scripted.routes[("GET", "/endless.jpg")] = endless_image
    probe = MediaProbe(allow_private=True, timeout_seconds=5.0, max_read_bytes=256 * 1024)
    result = probe.probe(scripted.url("/endless.jpg"))
    # Without the read limit this would end with "does not answer within 5 s".
    assert result.usable, result.reason


def test_a_slow_url_times_out(media: MediaServer) -> None:
    media.set_delay("/crm/a/slow.jpg", 3.0)
    result = MediaProbe(allow_private=True, timeout_seconds=0.3).probe(media.url("/crm/a/slow.jpg"))
    assert not result.usable
    assert result.reason == "does not answer within 0.3 s"
    media.set_delay("/crm/a/slow.jpg", 0)


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xe0"


def test_headers_dripped_slowly_cannot_hold_the_probe_past_its_timeout() -> None:
    """Each byte comes well within the timeout; the status line and headers do not."""
    server = DripServer({"HEAD": (b"", HEADERS)})
    try:
        result = MediaProbe(allow_private=True, timeout_seconds=0.5).probe(server.url("/photo.jpg"))
    finally:
        server.stop()
    assert (result.usable, result.reason) == (False, "does not answer within 0.5 s")
    assert server.outcomes == ["hung up"]  # the probe gave up first, not the 3 s server


def test_a_body_dripped_slowly_cannot_hold_the_probe_past_its_timeout() -> None:
    refused = b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"
    partial = b"HTTP/1.1 206 Partial Content\r\nContent-Type: image/jpeg\r\nContent-Length: 1024\r\n\r\n"
    server = DripServer({"HEAD": (refused, b""), "GET": (partial, b"\xff" * 1024)})
    try:
        result = MediaProbe(allow_private=True, timeout_seconds=0.5).probe(server.url("/photo.jpg"))
    finally:
        server.stop()
    assert (result.usable, result.reason) == (False, "does not answer within 0.5 s")
    assert server.outcomes == ["sent", "hung up"]


def test_a_closed_port_refuses_the_connection(local_probe: MediaProbe) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = local_probe.probe(f"http://127.0.0.1:{port}/photo.jpg")
    assert not result.usable
    assert result.reason == "refuses the connection"


def test_redirects_are_followed_up_to_three(scripted: ScriptedServer, local_probe: MediaProbe) -> None:
    scripted.routes[("HEAD", "/r1")] = redirect("/r2", 301)
    scripted.routes[("HEAD", "/r2")] = redirect(scripted.url("/r3"), 307)
    scripted.routes[("HEAD", "/r3")] = redirect("/final.jpg", 308)
    scripted.routes[("HEAD", "/final.jpg")] = answer(200, "image/jpeg")
    result = local_probe.probe(scripted.url("/r1"))
    assert result.usable
    assert result.final_url == scripted.url("/final.jpg")

    scripted.routes[("HEAD", "/r0")] = redirect("/r1")
    too_many = local_probe.probe(scripted.url("/r0"))
    assert not too_many.usable
    assert too_many.reason == "redirects more than 3 times"


# ------------------------------------------------------------------------------ SSRF


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/photo.jpg", "points to a loopback address (127.0.0.1)"),
        ("http://10.0.0.1/photo.jpg", "points to a private address (10.0.0.1)"),
        ("http://169.254.169.254/latest/meta-data/", "points to a link-local address (169.254.169.254)"),
        ("http://[::1]/photo.jpg", "points to a loopback address (::1)"),
        ("ftp://media.example.com/photo.jpg", "uses ftp scheme, not http or https"),
    ],
)
def test_forbidden_addresses_are_refused_without_connecting(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*args: Any, **kwargs: Any) -> socket.socket:
        raise AssertionError(f"the probe tried to connect: {args}")

    monkeypatch.setattr(media_probe.socket, "create_connection", no_connection)
    result = MediaProbe().probe(url)
    assert (result.usable, result.refused, result.reason) == (False, True, reason)


def _resolve_as(table: dict[str, list[str]]) -> Callable[..., list[tuple[Any, ...]]]:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host == "127.0.0.1":  # the test's own loopback connections (socket.create_connection)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = []
        for address in table[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr: tuple[Any, ...] = (
                (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            )
            answers.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return answers

    return getaddrinfo


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_as({"photos.evil.example": ["10.0.0.7"]}))
    result = MediaProbe().probe("https://photos.evil.example/photo.jpg")
    assert (result.refused, result.reason) == (True, "resolves to a private address (10.0.0.7)")


def test_a_name_with_one_private_answer_among_public_ones_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"photos.mixed.example": [PUBLIC_IP, "169.254.169.254"]}
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_as(table))
    result = MediaProbe().probe("http://photos.mixed.example/photo.jpg")
    assert result.refused
    assert result.reason == "resolves to a link-local address (169.254.169.254)"


def test_a_hanging_name_lookup_cannot_hold_the_probe_past_its_timeout() -> None:
    """The system resolver takes no timeout; the probe stops waiting for it at its deadline."""
    released = threading.Event()

    def hanging(*_args: Any) -> list[tuple[Any, ...]]:
        released.wait(10)
        return []

    started = time.monotonic()
    try:
        result = MediaProbe(timeout_seconds=0.5, resolver=hanging).probe("https://slow-dns.example/a.jpg")
    finally:
        released.set()
    assert (result.usable, result.reason) == (False, "does not answer within 0.5 s")
    assert time.monotonic() - started < 3


def test_an_unknown_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_as({}))
    result = MediaProbe().probe("http://nowhere.example/photo.jpg")
    assert result.refused and "does not resolve" in result.reason


@pytest.fixture
def public_host(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """``photos.crm.example`` resolves to a public address; connections to it reach ``scripted``.

    Returns the (address, port) pairs the probe connected to.
    """
    real_connect = socket.create_connection
    connected: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append((address[0], address[1]))
        if address[0] == PUBLIC_IP:
            return real_connect(("127.0.0.1", scripted.port), *args, **kwargs)
        raise AssertionError(f"the probe connected to a non-vetted address {address}")

    table = {"photos.crm.example": [PUBLIC_IP], "metadata.internal.example": ["169.254.169.254"]}
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_as(table))
    monkeypatch.setattr(media_probe.socket, "create_connection", connect)
    return connected


def test_a_public_host_is_checked_through_its_vetted_address(
    scripted: ScriptedServer, public_host: list[tuple[str, int]]
) -> None:
    scripted.routes[("HEAD", "/photo.jpg")] = answer(200, "image/webp")
    result = MediaProbe().probe("http://photos.crm.example/photo.jpg")
    assert result.usable
    assert public_host == [(PUBLIC_IP, 80)]
    host_headers = [headers.get("Host") for _m, _p, headers in scripted.requests]
    assert host_headers == ["photos.crm.example"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://10.0.0.1/photo.jpg", "points to a private address (10.0.0.1) after a redirect"),
        ("http://127.0.0.1:8080/photo.jpg", "points to a loopback address (127.0.0.1) after a redirect"),
        ("http://[::1]/photo.jpg", "points to a loopback address (::1) after a redirect"),
        (
            "http://metadata.internal.example/latest/meta-data/",
            "resolves to a link-local address (169.254.169.254) after a redirect",
        ),
        ("file:///etc/passwd", "uses file scheme, not http or https after a redirect"),
    ],
)
def test_a_public_url_redirecting_to_a_private_one_is_refused(
    scripted: ScriptedServer, public_host: list[tuple[str, int]], location: str, reason: str
) -> None:
    scripted.routes[("HEAD", "/photo.jpg")] = redirect(location)
    result = MediaProbe().probe("http://photos.crm.example/photo.jpg")
    assert (result.usable, result.refused, result.reason) == (False, True, reason)
    assert public_host == [(PUBLIC_IP, 80)]  # the private target was never contacted


def test_dns_rebinding_cannot_swap_in_a_private_address(
    scripted: ScriptedServer, public_host: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once per hop and the vetted address is the one connected to."""
    answers = iter([[PUBLIC_IP], ["127.0.0.1"], ["127.0.0.1"]])

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return _resolve_as({host: next(answers)})(host, port)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    scripted.routes[("HEAD", "/photo.jpg")] = answer(405, "text/plain")
    scripted.routes[("GET", "/photo.jpg")] = answer(206, "image/jpeg", b"\xff\xd8")
    result = MediaProbe().probe("http://photos.crm.example/photo.jpg")
    assert result.usable
    assert public_host == [(PUBLIC_IP, 80), (PUBLIC_IP, 80)]  # HEAD and GET, both to the vetted address
