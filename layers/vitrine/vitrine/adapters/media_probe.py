"""Ask a media URL whether it answers with an image or a video, without becoming an SSRF proxy.

Used by the automatic media retry: a ``DOWNLOADING_FAILED`` media is re-stamped only when its URL
answers ``2xx`` with an ``image/*`` or ``video/*`` content type. The request goes to an address
chosen by a webhook, so (see ``vitrine.core.url_safety``):

* only ``http``/``https``; the host is resolved with ``socket.getaddrinfo`` and refused when *any*
  address is private, loopback, link-local (169.254.169.254 included), multicast, reserved, ...;
* the connection goes to the vetted address itself (the Host header and TLS SNI/certificate still
  name the host), so a second DNS answer cannot swap in a private address (DNS rebinding);
* redirects are followed by hand, each hop checked the same way, at most 3;
* ``HEAD`` first, then ``GET`` with ``Range: bytes=0-1023`` if ``HEAD`` is refused (405/501/403);
* one overall deadline (5 s by default) and at most 1 MB read. The deadline is a real total
  bound: before every blocking socket operation (connect, TLS handshake, send, each read of the
  status line, headers and body) the socket's timeout is set to the time left, so a server
  answering one byte at a time cannot hold a probe past it. Name resolution (the system resolver
  takes no timeout) runs in a daemon thread the probe waits for only until the deadline.

The result says, in words an owner understands, what the URL answered ("answers 404").
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from vitrine.core.url_safety import IPAddress, UrlRefused, UrlTarget, check_resolved, check_url, parse_address

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_READ_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
HEAD_REFUSED = frozenset({403, 405, 501})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
RANGE_HEADER = "bytes=0-1023"
ACCEPTED_TYPES: tuple[str, ...] = ("image/", "video/")

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a media URL answered.

    ``usable``: 2xx with an image/video content type (AVIV should be able to download it now).
    ``refused``: vitrine would not even ask (policy), as opposed to the URL failing to answer.
    ``reason``: completes "the URL ..." ("answers 404", "resolves to a private address (10.0.0.1)").
    """

    url: str
    usable: bool
    reason: str
    status_code: int | None = None
    content_type: str | None = None
    final_url: str | None = None
    refused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "usable": self.usable,
            "reason": self.reason,
            "statusCode": self.status_code,
            "contentType": self.content_type,
            "refused": self.refused,
        }


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


class _DeadlineReader(io.RawIOBase):
    """The response side of a socket for http.client: each read may wait only for the time left."""

    def __init__(self, owner: _DeadlineSocket) -> None:
        super().__init__()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        sock = self._owner.sock
        sock.settimeout(self._owner.deadline.remaining())
        return sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._owner.reader_closed()
        super().close()


class _DeadlineSocket:
    """What http.client uses of a connected socket, with the timeout of every send and read set to
    the time left before the probe's deadline (a per-operation timeout alone lets a server that
    drips bytes hold the probe for ever)."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self._open_readers = 0
        self._close_requested = False

    def sendall(self, data: Any) -> None:
        self.sock.settimeout(self.deadline.remaining())
        self.sock.sendall(data)

    def makefile(self, mode: str = "rb", *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"only binary reading is supported, not {mode!r}")
        self._open_readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        """Like ``socket.close`` with a file open: the descriptor lives until the last reader closes.

        http.client closes the connection as soon as a response says ``Connection: close`` (or is
        HTTP/1.0) and hands the socket to the response, which still reads the body from it.
        """
        self._close_requested = True
        if self._open_readers == 0:
            self.sock.close()

    def reader_closed(self) -> None:
        self._open_readers -= 1
        if self._close_requested and self._open_readers == 0:
            self.sock.close()


def _connect(address: IPAddress, port: int, deadline: _Deadline) -> socket.socket:
    """TCP connection to the vetted address, within the time left."""
    return socket.create_connection((str(address), port), deadline.remaining())


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a vetted address; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, address: IPAddress, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.remaining())
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self._deadline)
        self.sock = _DeadlineSocket(sock, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a vetted address; SNI and certificate verification use the URL's host name."""

    def __init__(
        self, host: str, port: int, address: IPAddress, deadline: _Deadline, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=deadline.remaining(), context=context)
        self._address = address
        self._deadline = deadline
        self._tls_context = context

    def connect(self) -> None:
        raw = _connect(self._address, self.port, self._deadline)
        try:
            raw.settimeout(self._deadline.remaining())  # the handshake: one call, one timeout
            tls = self._tls_context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.sock = _DeadlineSocket(tls, self._deadline)


class MediaProbe:
    """Probe media URLs under the address policy. One instance can be shared by threads."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_read_bytes: int = MAX_READ_BYTES,
        max_redirects: int = MAX_REDIRECTS,
        resolver: Resolver | None = None,
        user_agent: str = "vitrine-media-check/1.0",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout_seconds = timeout_seconds
        self.max_read_bytes = max_read_bytes
        self.max_redirects = max_redirects
        # Looked up at call time by default so tests can monkeypatch socket.getaddrinfo.
        self._resolver = resolver
        self.user_agent = user_agent
        self._tls_context = tls_context or ssl.create_default_context()

    # ------------------------------------------------------------------ public

    def probe(self, url: str) -> ProbeResult:
        """Check ``url`` (never raises for anything the URL or the network does)."""
        deadline = _Deadline(self.timeout_seconds)
        current = url
        try:
            for _hop in range(self.max_redirects + 1):
                target = check_url(current, allow_private=self.allow_private)
                addresses = self._vetted_addresses(target, deadline)
                status, headers = self._ask(target, addresses, deadline)
                if status in REDIRECTS:
                    location = headers.get("location")
                    if not location:
                        return ProbeResult(url, False, f"answers {status} without a Location", status)
                    current = urljoin(current, location)
                    continue
                return self._verdict(url, current, status, headers.get("content-type"))
            return ProbeResult(
                url, False, f"redirects more than {self.max_redirects} times", final_url=current
            )
        except UrlRefused as refusal:
            where = "" if current == url else " after a redirect"
            return ProbeResult(url, False, f"{refusal.reason}{where}", final_url=current, refused=True)
        except TimeoutError:
            return ProbeResult(
                url, False, f"does not answer within {self.timeout_seconds:g} s", final_url=current
            )
        except ssl.SSLError as exc:
            return ProbeResult(url, False, f"fails its TLS check ({_short(exc)})", final_url=current)
        except ConnectionRefusedError:
            return ProbeResult(url, False, "refuses the connection", final_url=current)
        except (OSError, http.client.HTTPException) as exc:
            return ProbeResult(url, False, f"cannot be reached ({_short(exc)})", final_url=current)

    # ------------------------------------------------------------------ steps

    def _resolve(self, host: str, port: int, deadline: _Deadline) -> Sequence[tuple[Any, ...]]:
        """``getaddrinfo`` within the deadline: a resolver that hangs is left to finish on its own."""
        resolver = self._resolver or socket.getaddrinfo
        outcome: list[Sequence[tuple[Any, ...]] | BaseException] = []
        done = threading.Event()

        def resolve() -> None:
            try:
                outcome.append(resolver(host, port, 0, socket.SOCK_STREAM))
            except BaseException as exc:  # handed to the waiting thread
                outcome.append(exc)
            finally:
                done.set()

        threading.Thread(target=resolve, name=f"resolve {host}", daemon=True).start()
        if not done.wait(deadline.remaining()):
            raise TimeoutError
        answer = outcome[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def _vetted_addresses(self, target: UrlTarget, deadline: _Deadline) -> list[IPAddress]:
        """Every address of the host, all checked; a literal needs no resolution."""
        if target.literal_address is not None:
            return [target.literal_address]
        try:
            answers = self._resolve(target.host, target.port, deadline)
        except socket.gaierror:
            raise UrlRefused(f"has a host that does not resolve ({target.host})") from None
        addresses: list[IPAddress] = []
        for family, _type, _proto, _name, sockaddr in answers:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            raw = str(sockaddr[0])
            try:
                address = parse_address(raw)
            except ValueError:
                raise UrlRefused(f"resolves to an unparsable address ({raw})") from None
            if address not in addresses:
                addresses.append(address)
        check_resolved(addresses, allow_private=self.allow_private)
        return addresses

    def _ask(
        self, target: UrlTarget, addresses: list[IPAddress], deadline: _Deadline
    ) -> tuple[int, dict[str, str]]:
        """HEAD, or a ranged GET when HEAD is refused; answers (status, lower-cased headers)."""
        status, headers = self._request("HEAD", target, addresses, deadline)
        if status in HEAD_REFUSED or (200 <= status < 300 and not headers.get("content-type")):
            status, headers = self._request("GET", target, addresses, deadline)
        return status, headers

    def _request(
        self, method: str, target: UrlTarget, addresses: list[IPAddress], deadline: _Deadline
    ) -> tuple[int, dict[str, str]]:
        split = urlsplit(target.url)
        path = split.path or "/"
        if split.query:
            path += "?" + split.query
        last_error: OSError | None = None
        for address in addresses:
            connection = self._connection(target, address, deadline)
            try:
                headers = {"User-Agent": self.user_agent, "Accept": "image/*, video/*;q=0.9, */*;q=0.1"}
                if method == "GET":
                    headers["Range"] = RANGE_HEADER
                connection.request(method, path, headers=headers)
                response = connection.getresponse()
                if method == "GET":
                    self._drain(response, deadline)
                return response.status, {k.lower(): v for k, v in response.getheaders()}
            except ConnectionRefusedError as exc:
                last_error = exc  # try the host's next (vetted) address
            finally:
                connection.close()
        assert last_error is not None
        raise last_error

    def _connection(
        self, target: UrlTarget, address: IPAddress, deadline: _Deadline
    ) -> http.client.HTTPConnection:
        if target.scheme == "https":
            return _PinnedHTTPSConnection(target.host, target.port, address, deadline, self._tls_context)
        return _PinnedHTTPConnection(target.host, target.port, address, deadline)

    def _drain(self, response: http.client.HTTPResponse, deadline: _Deadline) -> None:
        """Read at most ``max_read_bytes`` (a server may ignore Range and send the whole file)."""
        left = self.max_read_bytes
        while left > 0:
            deadline.remaining()
            chunk = response.read(min(65536, left))
            if not chunk:
                return
            left -= len(chunk)

    def _verdict(self, url: str, final_url: str, status: int, content_type: str | None) -> ProbeResult:
        media_type = (content_type or "").split(";")[0].strip().lower()
        if not 200 <= status < 300:
            return ProbeResult(url, False, f"answers {status}", status, media_type or None, final_url)
        if not media_type.startswith(ACCEPTED_TYPES):
            shown = media_type or "none"
            return ProbeResult(
                url, False, f"answers {status} with content-type {shown}", status, shown, final_url
            )
        return ProbeResult(
            url, True, f"answers {status} with content-type {media_type}", status, media_type, final_url
        )


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."
