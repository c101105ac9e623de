"""AVIV Classifieds Management V4 over HTTP (requests): the production ``AvivPort``.

What this adapter owns, so the core does not have to:
- the OAuth2 client-credentials token, cached and shared (``token_cache``), refreshed once on 401;
- AVIV's mandatory 3-token ``User-Agent``, a fresh W3C ``traceparent`` per request (logged with
  the one AVIV answers, which support asks for);
- bounded in-call retries of 429/5xx/timeouts with jittered backoff honouring ``Retry-After``;
- turning AVIV's problem bodies into the typed errors of ``vitrine.core.errors``.

POST is not idempotent at AVIV: a POST retried after a lost answer may meet "Duplicated
classified", raised as ``AvivDuplicatedClassified`` with the existing classifiedId for the caller.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import secrets as _secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from aws_lambda_powertools import Logger
from requests.adapters import HTTPAdapter

from vitrine.adapters.secrets import AvivCredentials, aviv_credentials_from_secret
from vitrine.adapters.token_cache import DynamoTokenCache
from vitrine.core.errors import (
    AvivDuplicatedClassified,
    AvivDuplicatedMedia,
    AvivError,
    AvivNotFound,
    AvivPreconditionFailed,
    AvivProblem,
    AvivRejected,
    AvivRetryable,
    AvivUnauthorized,
    FieldError,
)
from vitrine.core.ports import AvivAccepted, AvivClassifiedCopy, AvivPort, TokenCache
from vitrine.core.tokens import IssuedToken, TokenKey
from vitrine.settings import USER_AGENT_PATTERN, Settings, SettingsError

__all__ = [
    "SUBSCRIBABLE_STATUSES",
    "AvivClient",
    "AvivClientConfig",
    "AvivCredentials",
    "build_aviv_client",
    "new_traceparent",
    "problem_field_errors",
]

logger = Logger(service="vitrine", child=True)

# PUT /webhooks accepts these only: both *_WITH_MEDIA_ERROR values cannot be subscribed to.
SUBSCRIBABLE_STATUSES: frozenset[str] = frozenset(
    {
        "RECEIVED", "RECEIVING", "RECEIVING_FAILED", "CREATING", "CREATED", "CREATING_FAILED",
        "UPDATING", "UPDATED", "UPDATING_FAILED", "DELETING", "DELETED", "DELETING_FAILED",
    }
)  # fmt: skip

_RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_TRANSPORT_ERRORS = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
_DUPLICATED_CLASSIFIED_ID = re.compile(r"classifiedId\s*:\s*([A-Za-z0-9][A-Za-z0-9_-]*)")
_MAX_PAGES = 1000  # a runaway nextToken loop must end
# Used when the token endpoint omits expires_in: short enough to be safe, long enough to be cached.
_DEFAULT_TOKEN_LIFETIME_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class AvivClientConfig:
    """Where AVIV is and how patient to be with it."""

    api_url: str
    auth_url: str
    audience: str
    user_agent: str
    default_intermediary_id: str | None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    refresh_margin_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> AvivClientConfig:
        return cls(
            api_url=settings.aviv_api_url,
            auth_url=settings.aviv_auth_url,
            audience=settings.aviv_audience,
            user_agent=settings.user_agent,
            default_intermediary_id=settings.default_intermediary_id,
        )

    @property
    def max_retry_after(self) -> float:
        """Longest ``Retry-After`` waited inside a call; a longer one is handed to the queue instead."""
        return self.backoff_cap * 4

    def check(self) -> None:
        """Raise ValueError at start-up rather than have AVIV block every call."""
        if not USER_AGENT_PATTERN.match(self.user_agent or ""):
            raise ValueError(
                f"User-Agent {self.user_agent!r} does not match AVIV's 3-token name/version pattern"
            )
        for name in ("api_url", "auth_url", "audience"):
            if urlsplit(getattr(self, name)).scheme not in ("http", "https"):
                raise ValueError(
                    f"AvivClientConfig.{name} must be an http(s) URL, got {getattr(self, name)!r}"
                )
        if self.max_attempts < 1:
            raise ValueError("AvivClientConfig.max_attempts must be >= 1")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("AvivClientConfig timeouts must be > 0")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.refresh_margin_seconds < 0:
            raise ValueError("AvivClientConfig backoff and refresh margin must be >= 0")


def new_traceparent(trace_id: str | None = None) -> str:
    """W3C ``traceparent``: version 00, a trace id (kept across retries of one call), a new span id."""
    trace = trace_id or _nonzero_hex(16)
    return f"00-{trace}-{_nonzero_hex(8)}-01"


def _nonzero_hex(nbytes: int) -> str:
    while True:  # all-zero ids are invalid in W3C trace context
        value = _secrets.token_hex(nbytes)
        if value.strip("0"):
            return value


def problem_field_errors(problem: AvivProblem | None) -> list[FieldError]:
    """AVIV's ``errors: [{name, reason}]`` as FieldErrors (``name`` is a JSON pointer or a dotted path)."""
    if problem is None:
        return []
    return [
        FieldError(pointer=str(e.get("name") or e.get("pointer") or ""), reason=str(e.get("reason") or ""))
        for e in problem.errors
    ]


class AvivClient:
    """AVIV V4 client; implements ``vitrine.core.ports.AvivPort`` plus webhooks and status listing.

    Build one per Lambda instance (module level) so the token and connections are reused.
    Safe to share between threads: the token caches are thread-safe and requests' connection
    pool is sized for a handful of concurrent calls.
    """

    def __init__(
        self,
        config: AvivClientConfig,
        credentials: Callable[[], AvivCredentials],
        token_cache: TokenCache,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config.check()
        self._config = config
        self._api_url = config.api_url.rstrip("/")
        self._credentials = credentials
        self._tokens = token_cache
        self._session = session if session is not None else _new_session()
        self._sleep = sleep
        self._clock = clock
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._limits = threading.local()  # per thread: when its calls must end (see time_limit)

    def __repr__(self) -> str:
        return f"AvivClient(api_url={self._api_url!r})"

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Calls this thread makes inside the block end within ``seconds``, token fetch included.

        Each attempt's connect and read timeouts are cut to the time left, and a retry whose wait
        would reach the limit is not made: the call raises AvivRetryable as when its attempts run
        out. Reconciliation uses it so a listing started late in a run cannot outlive the Lambda.
        """
        previous = getattr(self._limits, "ends_at", None)
        ends_at = time.monotonic() + seconds
        self._limits.ends_at = ends_at if previous is None else min(previous, ends_at)
        try:
            yield
        finally:
            self._limits.ends_at = previous

    def _time_left(self) -> float | None:
        ends_at: float | None = getattr(self._limits, "ends_at", None)
        return None if ends_at is None else ends_at - time.monotonic()

    @property
    def config(self) -> AvivClientConfig:
        return self._config

    # -- AvivPort ----------------------------------------------------------------------------

    def create(self, body: dict[str, Any], *, intermediary_id: str | None = None) -> AvivAccepted:
        """POST /classifieds → 202. Raises AvivDuplicatedClassified (with the existing id) on a repeat."""
        answer = self._call("POST", "/classifieds", intermediary_id, body=body, expected=(200, 201, 202))
        classified_id = _classified_id_of(answer.json)
        if not classified_id:
            raise AvivRetryable(
                "POST /classifieds was accepted without a classifiedId", traceparent=answer.traceparent
            )
        return AvivAccepted(classified_id=classified_id, traceparent=answer.traceparent)

    def update(
        self,
        classified_id: str,
        body: dict[str, Any],
        *,
        if_match: str | None = None,
        intermediary_id: str | None = None,
    ) -> AvivAccepted:
        """PUT /classifieds/{id} (full replacement, media included) → 202; stale ``if_match`` → 412."""
        headers = {"If-Match": if_match} if if_match else None
        answer = self._call(
            "PUT", _classified_path(classified_id), intermediary_id, body=body, headers=headers,
            expected=(200, 202, 204),
        )  # fmt: skip
        return AvivAccepted(
            classified_id=_classified_id_of(answer.json) or classified_id, traceparent=answer.traceparent
        )

    def delete(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivAccepted:
        """DELETE /classifieds/{id} → 202."""
        answer = self._call(
            "DELETE", _classified_path(classified_id), intermediary_id, expected=(200, 202, 204)
        )
        return AvivAccepted(
            classified_id=_classified_id_of(answer.json) or classified_id, traceparent=answer.traceparent
        )

    def get(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivClassifiedCopy:
        """GET /classifieds/{id}: the stored classified (without its ``classifiedId``) and its ETag."""
        answer = self._call("GET", _classified_path(classified_id), intermediary_id, expected=(200,))
        if not isinstance(answer.json, dict):
            raise AvivRetryable(f"GET {_classified_path(classified_id)} answered no JSON object",
                                traceparent=answer.traceparent)  # fmt: skip
        body = {k: v for k, v in answer.json.items() if k != "classifiedId"}
        return AvivClassifiedCopy(
            classified_id=str(answer.json.get("classifiedId") or classified_id),
            body=body,
            etag=answer.headers.get("ETag"),
        )

    def latest_status(
        self, classified_id: str, *, intermediary_id: str | None = None
    ) -> dict[str, Any] | None:
        """GET /classifieds/{id}/statuses?filter=latest → the latest status object, or None if none yet."""
        path = _classified_path(classified_id) + "/statuses"
        return next(self._pages(path, {"filter": "latest"}, intermediary_id, limit=None), None)

    def find_by_offerer_estate_id(
        self, offerer_estate_id: str, *, intermediary_id: str | None = None
    ) -> list[dict[str, Any]]:
        """GET /classifieds?offererEstateId=… (all pages): classifieds with their ``classifiedId``."""
        return list(
            self._pages("/classifieds", {"offererEstateId": offerer_estate_id}, intermediary_id, limit=None)
        )

    # -- beyond the port ---------------------------------------------------------------------

    def statuses(
        self,
        classified_id: str,
        *,
        filter_latest: bool = False,
        limit: int | None = None,
        intermediary_id: str | None = None,
        page_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """GET /classifieds/{id}/statuses (newest first at AVIV), following ``nextToken`` until
        ``limit`` items (None = all). AVIV's ``limit`` query parameter (its page size) is
        ``page_size``, else what is left of ``limit``, else AVIV's default (250)."""
        if limit is not None and limit < 1:
            raise ValueError("limit must be >= 1")
        params: dict[str, Any] = {"filter": "latest"} if filter_latest else {}
        path = _classified_path(classified_id) + "/statuses"
        return list(self._pages(path, params, intermediary_id, limit=limit, page_size=page_size))

    def subscribe_status_webhook(
        self, url: str, statuses: Sequence[str], *, intermediary_id: str | None = None
    ) -> None:
        """PUT /webhooks: AVIV will POST status objects to ``{url}/classifieds/{id}/statuses``."""
        unknown = sorted(set(statuses) - SUBSCRIBABLE_STATUSES)
        if unknown:
            raise ValueError(
                f"AVIV cannot push statuses {unknown}; subscribable: {sorted(SUBSCRIBABLE_STATUSES)}"
            )
        self._call(
            "PUT", "/webhooks", intermediary_id, body={"url": url, "statuses": list(statuses)},
            expected=(200, 201, 202, 204),
        )  # fmt: skip

    def unsubscribe_status_webhook(self, *, intermediary_id: str | None = None) -> None:
        """DELETE /webhooks."""
        self._call("DELETE", "/webhooks", intermediary_id, expected=(200, 202, 204))

    # -- plumbing ----------------------------------------------------------------------------

    def _pages(
        self,
        path: str,
        params: Mapping[str, Any],
        intermediary_id: str | None,
        *,
        limit: int | None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of every page (``nextToken``), stopping at ``limit`` items or a repeated token."""
        returned = 0
        seen_tokens: set[str] = set()
        next_token: str | None = None
        for _ in range(_MAX_PAGES):
            query = dict(params)
            if page_size is not None:
                query["limit"] = page_size
            elif limit is not None:
                query["limit"] = limit - returned
            if next_token:
                query["nextToken"] = next_token
            answer = self._call("GET", path, intermediary_id, params=query, expected=(200,))
            page = answer.json if isinstance(answer.json, dict) else {}
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    yield item
                    returned += 1
                    if limit is not None and returned >= limit:
                        return
            next_token = page.get("nextToken") or None
            if not next_token or next_token in seen_tokens:
                return
            seen_tokens.add(next_token)
        logger.warning("aviv pagination stopped after too many pages", extra={"path": path})

    def _call(
        self,
        method: str,
        path: str,
        intermediary_id: str | None,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: tuple[int, ...],
    ) -> _Answer:
        """One logical AVIV call: token, retries, a single token refresh on 401, typed errors."""
        intermediary = (
            intermediary_id if intermediary_id is not None else self._config.default_intermediary_id
        )
        credentials = self._credentials()
        key = TokenKey(credentials.client_id, self._config.audience, intermediary)
        data = None if body is None else _encode(body)
        url = self._api_url + path
        trace_id = _nonzero_hex(16)

        token = self._token(key)
        response, sent = self._exchange(method, url, path, token, data, params, headers, trace_id)
        if response.status_code == 401:
            logger.info(
                "aviv answered 401; refreshing the token once", extra={"token_fingerprint": token.fingerprint}
            )
            self._tokens.invalidate(key, token.access_token)
            token = self._token(key)
            response, sent = self._exchange(method, url, path, token, data, params, headers, trace_id)
        if response.status_code in expected:
            return _Answer(
                status=response.status_code,
                json=_json_of(response),
                headers=response.headers,
                traceparent=response.headers.get("traceparent") or sent,
            )
        raise _error_for(method, path, response, sent)

    def _token(self, key: TokenKey) -> IssuedToken:
        return self._tokens.get_token(key, lambda: self._fetch_token(key), self._clock())

    def _fetch_token(self, key: TokenKey) -> IssuedToken:
        """POST auth_url with AVIV's JSON client-credentials body."""
        credentials = self._credentials()
        payload: dict[str, Any] = {
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "grant_type": "client_credentials",
            "audience": key.audience,
        }
        if key.intermediary_id is not None:
            payload["intermediary_id"] = key.intermediary_id
        asked_at = self._clock()
        path = urlsplit(self._config.auth_url).path or "/"
        response, sent = self._exchange(
            "POST", self._config.auth_url, path, None, _encode(payload), None, None, _nonzero_hex(16)
        )
        if response.status_code >= 400:
            problem = AvivProblem.from_response(response.status_code, _json_of(response))
            raise AvivUnauthorized(
                f"AVIV token endpoint refused: {response.status_code} {problem.title}".rstrip(),
                problem,
                response.headers.get("traceparent") or sent,
            )
        answer = _json_of(response)
        if (
            not isinstance(answer, dict)
            or not isinstance(answer.get("access_token"), str)
            or not answer["access_token"]
        ):
            raise AvivRetryable(
                f"AVIV token endpoint answered {response.status_code} without an access_token",
                traceparent=response.headers.get("traceparent") or sent,
            )
        access_token: str = answer["access_token"]
        expires_in = _positive_number(answer.get("expires_in")) or _DEFAULT_TOKEN_LIFETIME_SECONDS
        token = IssuedToken.issue(
            access_token,
            expires_in,
            now=asked_at,
            refresh_margin=self._config.refresh_margin_seconds,
            token_type=str(answer.get("token_type") or "Bearer"),
        )
        logger.info(
            "aviv token issued",
            extra={
                "token_fingerprint": token.fingerprint,
                "expires_in": expires_in,
                "intermediary_id": key.intermediary_id,
            },
        )
        return token

    def _exchange(
        self,
        method: str,
        url: str,
        path: str,
        token: IssuedToken | None,
        data: bytes | None,
        params: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None,
        trace_id: str,
    ) -> tuple[requests.Response, str]:
        """Send with bounded retries of transport errors and 408/429/5xx; the last answer otherwise."""
        attempt = 0
        while True:
            attempt += 1
            traceparent = new_traceparent(trace_id)
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
            left = self._time_left()
            if left is not None and left <= 0:
                raise AvivRetryable(
                    f"{method} {path}: out of time after {attempt - 1} attempt(s)", traceparent=traceparent
                )
            timeout = (
                self._timeout if left is None else (min(self._timeout[0], left), min(self._timeout[1], left))
            )
            started = time.monotonic()
            try:
                response = self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=timeout,
                    allow_redirects=False,
                )  # fmt: skip
            except _TRANSPORT_ERRORS as exc:
                self._log(method, path, None, started, attempt, traceparent, None, error=type(exc).__name__)
                pause = self._backoff(attempt)
                if attempt >= self._config.max_attempts or not self._can_wait(pause):
                    raise AvivRetryable(
                        f"{method} {path}: {type(exc).__name__} after {attempt} attempt(s)",
                        traceparent=traceparent,
                    ) from exc
                self._sleep(pause)
                continue
            self._log(method, path, response.status_code, started, attempt, traceparent, response)
            if response.status_code not in _RETRYABLE_STATUSES:
                return response, traceparent
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"), self._clock())
            delay = self._backoff(attempt)
            pause = max(delay, retry_after) if retry_after is not None else delay
            if (
                attempt >= self._config.max_attempts
                or (retry_after is not None and retry_after > self._config.max_retry_after)
                or not self._can_wait(pause)
            ):
                raise _retryable_error(method, path, response, traceparent, retry_after, attempt)
            self._sleep(pause)

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


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    json: Any
    headers: Mapping[str, str]
    traceparent: str


def build_aviv_client(settings: Settings, *, dynamodb_client: Any = None) -> AvivClient:
    """Production wiring: credentials from Secrets Manager (or AVIV_CLIENT_ID/SECRET locally) and the
    DynamoDB token cache. Call once per Lambda instance."""
    credentials: Callable[[], AvivCredentials]
    if settings.aviv_client_id and settings.aviv_client_secret:
        local = AvivCredentials(settings.aviv_client_id, settings.aviv_client_secret)

        def credentials() -> AvivCredentials:
            return local

    elif settings.aviv_secret_arn:
        secret_arn = settings.aviv_secret_arn

        def credentials() -> AvivCredentials:
            return aviv_credentials_from_secret(secret_arn)

    else:
        raise SettingsError("set VITRINE_AVIV_SECRET_ARN (or AVIV_CLIENT_ID and AVIV_CLIENT_SECRET locally)")
    cache = DynamoTokenCache(settings.token_table, dynamodb_client=dynamodb_client)
    return AvivClient(AvivClientConfig.from_settings(settings), credentials, cache)


# -- helpers ---------------------------------------------------------------------------------


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _classified_path(classified_id: str) -> str:
    if not classified_id:
        raise ValueError("classified_id must not be empty")
    return "/classifieds/" + quote(classified_id, safe="")


def _encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_of(response: requests.Response) -> Any:
    """JSON whatever the declared content type (AVIV says ``application/json+problem``); else text."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text


def _classified_id_of(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("classifiedId"):
        return str(body["classifiedId"])
    return None


def _positive_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


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


def _traceparent_of(response: requests.Response, problem: AvivProblem | None, sent: str) -> str:
    return response.headers.get("traceparent") or (problem.instance if problem else None) or sent


def _retryable_error(
    method: str, path: str, response: requests.Response, sent: str, retry_after: float | None, attempts: int
) -> AvivRetryable:
    problem = AvivProblem.from_response(response.status_code, _json_of(response))
    return AvivRetryable(
        f"{method} {path}: {response.status_code} {problem.title or problem.detail}".rstrip()
        + f" after {attempts} attempt(s)",
        problem,
        _traceparent_of(response, problem, sent),
        retry_after=retry_after,
    )


def _error_for(method: str, path: str, response: requests.Response, sent: str) -> AvivError:
    """Map a final non-success answer to vitrine's typed errors (by status code, then title)."""
    status = response.status_code
    problem = AvivProblem.from_response(status, _json_of(response))
    traceparent = _traceparent_of(response, problem, sent)
    summary = f"{method} {path}: {status} {problem.title}: {problem.detail}".strip().rstrip(":")
    if status == 400 or (400 <= status < 500 and status not in (401, 403, 404, 412)):
        title = problem.title.strip().lower()
        if title == "duplicated classified" or "duplicated-classifieds" in problem.type.lower():
            match = _DUPLICATED_CLASSIFIED_ID.search(problem.detail)
            return AvivDuplicatedClassified(summary, match.group(1) if match else None, problem, traceparent)
        if title == "duplicated media" or "duplicated-media" in problem.type.lower():
            return AvivDuplicatedMedia(summary, problem, traceparent)
        pointers = "; ".join(f"{e.pointer}: {e.reason}" for e in problem_field_errors(problem))
        return AvivRejected(summary + (f" [{pointers}]" if pointers else ""), problem, traceparent)
    if status in (401, 403):
        return AvivUnauthorized(summary, problem, traceparent)
    if status == 404:
        return AvivNotFound(summary, problem, traceparent)
    if status == 412:
        return AvivPreconditionFailed(summary, problem, traceparent)
    if status >= 500:
        return AvivRetryable(summary, problem, traceparent)
    return AvivError(f"{method} {path}: unexpected status {status}", problem, traceparent)


def _implements_port(client: AvivClient) -> AvivPort:
    """Never called: mypy checks here that AvivClient satisfies the core's AvivPort."""
    return client
