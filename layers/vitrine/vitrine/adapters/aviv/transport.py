"""One HTTP request to AVIV, sent with AVIV's headers, bounded retries and an optional time limit.

AVIV blocks calls without its 3-token ``User-Agent``; each attempt carries a fresh W3C
``traceparent`` (logged with the one AVIV answers, which support asks for). 408/409/429/5xx and
transport errors are retried in the call with jittered backoff honouring ``Retry-After``; a longer
wait, or one that would outlive the caller's time limit, is handed back as ``AvivRetryable``.
Every attempt is reported to the client's observer (``observer``): answered, timed out, or not
connected.
"""

from __future__ import annotations

import email.utils
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
from aws_lambda_powertools import Logger
from requests.adapters import HTTPAdapter

from vitrine.adapters.aviv.answers import retryable_error
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.aviv.observer import NoObserver
from vitrine.core.errors import AvivRetryable
from vitrine.core.ports import AttemptFailure, AvivCallObserver, AvivOperation
from vitrine.core.tokens import IssuedToken

logger = Logger(service="vitrine", child=True)

# 409: AVIV is still busy with a conflicting operation on the classified; like 429, it passes.
_RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_TRANSPORT_ERRORS = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


def new_trace_id() -> str:
    """A W3C trace id, kept across the attempts (and the token refresh) of one logical call."""
    return _nonzero_hex(16)


def new_traceparent(trace_id: str | None = None) -> str:
    """W3C ``traceparent``: version 00, a trace id (kept across retries of one call), a new span id."""
    trace = trace_id or _nonzero_hex(16)
    return f"00-{trace}-{_nonzero_hex(8)}-01"


def _nonzero_hex(nbytes: int) -> str:
    while True:  # all-zero ids are invalid in W3C trace context
        value = secrets.token_hex(nbytes)
        if value.strip("0"):
            return value


class AvivTransport:
    """Sends requests on one pooled session; each thread may bound its calls with :meth:`time_limit`."""

    def __init__(
        self,
        config: AvivClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        observer: AvivCallObserver | None = None,
    ) -> None:
        self._config = config
        self._session = session if session is not None else _new_session()
        self._sleep = sleep
        self._clock = clock
        self._observer: AvivCallObserver = observer if observer is not None else NoObserver()
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._limits = threading.local()  # per thread: when its calls must end (see time_limit)

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Calls this thread makes inside the block end within ``seconds`` (see ``AvivClient.time_limit``)."""
        previous = getattr(self._limits, "ends_at", None)
        ends_at = time.monotonic() + seconds
        self._limits.ends_at = ends_at if previous is None else min(previous, ends_at)
        try:
            yield
        finally:
            self._limits.ends_at = previous

    @property
    def observer(self) -> AvivCallObserver:
        """Who hears about this transport's attempts (and the client's refused calls)."""
        return self._observer

    def _time_left(self) -> float | None:
        ends_at: float | None = getattr(self._limits, "ends_at", None)
        return None if ends_at is None else ends_at - time.monotonic()

    def send(
        self,
        method: str,
        url: str,
        path: str,
        token: IssuedToken | None,
        data: bytes | None,
        params: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None,
        trace_id: str,
        *,
        operation: AvivOperation,
    ) -> tuple[requests.Response, str]:
        """Send with bounded retries of transport errors and 408/409/429/5xx; the last answer otherwise."""
        attempt = 0
        while True:
            attempt += 1
            traceparent = new_traceparent(trace_id)
            headers = self._headers(traceparent, token, data, extra_headers)
            timeout = self._attempt_timeout(method, path, attempt, traceparent)
            started = time.monotonic()
            try:
                response = self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=timeout,
                    allow_redirects=False,
                )  # fmt: skip
            except _TRANSPORT_ERRORS as exc:
                self._log(method, path, None, started, attempt, traceparent, None, error=type(exc).__name__)
                self._observer.attempt(operation, None, _failure_of(exc))
                pause = self._backoff(attempt)
                if attempt >= self._config.max_attempts or not self._can_wait(pause):
                    raise AvivRetryable(
                        f"{method} {path}: {type(exc).__name__} after {attempt} attempt(s)",
                        traceparent=traceparent,
                    ) from exc
                self._sleep(pause)
                continue
            self._log(method, path, response.status_code, started, attempt, traceparent, response)
            self._observer.attempt(operation, response.status_code, None)
            if response.status_code not in _RETRYABLE_STATUSES:
                return response, traceparent
            self._sleep(self._pause_before_retry(method, path, response, traceparent, attempt))

    def _headers(
        self,
        traceparent: str,
        token: IssuedToken | None,
        data: bytes | None,
        extra_headers: Mapping[str, str] | None,
    ) -> dict[str, str]:
        headers = {
            "User-Agent": self._config.user_agent,
            "Accept": "application/json",
            "traceparent": traceparent,
        }
        if token is not None:
            headers["Authorization"] = f"{token.token_type or 'Bearer'} {token.access_token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        if extra_headers:
            headers.update(extra_headers)
        return headers

    def _attempt_timeout(self, method: str, path: str, attempt: int, traceparent: str) -> tuple[float, float]:
        """The connect and read timeouts of this attempt, cut to the time left; none left raises."""
        left = self._time_left()
        if left is None:
            return self._timeout
        if left <= 0:
            raise AvivRetryable(
                f"{method} {path}: out of time after {attempt - 1} attempt(s)", traceparent=traceparent
            )
        return (min(self._timeout[0], left), min(self._timeout[1], left))

    def _pause_before_retry(
        self, method: str, path: str, response: requests.Response, traceparent: str, attempt: int
    ) -> float:
        """How long to wait before retrying a 408/409/429/5xx; raises when no retry may be made."""
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"), self._clock())
        delay = self._backoff(attempt)
        pause = max(delay, retry_after) if retry_after is not None else delay
        if (
            attempt >= self._config.max_attempts
            or (retry_after is not None and retry_after > self._config.max_retry_after)
            or not self._can_wait(pause)
        ):
            raise retryable_error(method, path, response, traceparent, retry_after, attempt)
        return pause

    def _can_wait(self, pause: float) -> bool:
        """Whether pausing ``pause`` seconds still leaves time for another attempt (see time_limit)."""
        left = self._time_left()
        return left is None or pause < left

    def _backoff(self, attempt: int) -> float:
        """Equal-jitter exponential backoff: half fixed, half random, capped."""
        ceiling = min(self._config.backoff_cap, self._config.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _log(
        self,
        method: str,
        path: str,
        status: int | None,
        started: float,
        attempt: int,
        traceparent: str,
        response: requests.Response | None,
        error: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "attempt": attempt,
            "traceparent": traceparent,
        }
        if response is not None:
            fields["aviv_traceparent"] = response.headers.get("traceparent")
        if error is not None:
            fields["error"] = error
            logger.warning("aviv request failed", extra=fields)
        elif status is not None and status >= 400:
            logger.warning("aviv request", extra=fields)
        else:
            logger.info("aviv request", extra=fields)


def _failure_of(exc: Exception) -> AttemptFailure:
    """A connect timeout is both a Timeout and a ConnectionError in requests: it counts as a timeout."""
    return "timeout" if isinstance(exc, requests.exceptions.Timeout) else "connection"


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _retry_after_seconds(header: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not header:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
