"""``AvivClient``: AVIV Classifieds Management V4 as the services use it (the core's ``AvivPort`` and more).

One logical call = a token from the shared cache, the request (retried by the transport), a
single token refresh on 401, and AVIV's answer or its typed error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from aws_lambda_powertools import Logger

from vitrine.adapters.aviv.alerts import report_refusal
from vitrine.adapters.aviv.answers import classified_id_of, encode_json, error_for, json_of
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.aviv.oauth import fetch_token
from vitrine.adapters.aviv.paging import items_of_pages
from vitrine.adapters.aviv.transport import AvivTransport, new_trace_id
from vitrine.adapters.secrets import AvivCredentials
from vitrine.core.errors import AvivRetryable
from vitrine.core.ports import (
    AvivAccepted,
    AvivCallObserver,
    AvivClassifiedCopy,
    AvivOperation,
    AvivPort,
    TokenCache,
)
from vitrine.core.tokens import IssuedToken, TokenKey

logger = Logger(service="vitrine", child=True)

# PUT /webhooks accepts these only: both *_WITH_MEDIA_ERROR values cannot be subscribed to.
SUBSCRIBABLE_STATUSES: frozenset[str] = frozenset(
    {
        "RECEIVED", "RECEIVING", "RECEIVING_FAILED", "CREATING", "CREATED", "CREATING_FAILED",
        "UPDATING", "UPDATED", "UPDATING_FAILED", "DELETING", "DELETED", "DELETING_FAILED",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Answer:
    """One AVIV answer with the status the caller expected."""

    status: int
    json: Any
    headers: Mapping[str, str]
    traceparent: str


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
        observer: AvivCallObserver | None = None,
    ) -> None:
        """``observer`` hears of every attempt and refused call (the Lambda services measure them)."""
        config.check()
        self._config = config
        self._api_url = config.api_url.rstrip("/")
        self._credentials = credentials
        self._tokens = token_cache
        self._clock = clock
        self._transport = AvivTransport(config, session=session, sleep=sleep, clock=clock, observer=observer)

    def __repr__(self) -> str:
        return f"AvivClient(api_url={self._api_url!r})"

    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        """Calls this thread makes inside the block end within ``seconds``, token fetch included.

        Each attempt's connect and read timeouts are cut to the time left, and a retry whose wait
        would reach the limit is not made: the call raises AvivRetryable as when its attempts run
        out. Reconciliation uses it so a listing started late in a run cannot outlive the Lambda.
        """
        return self._transport.time_limit(seconds)

    @property
    def config(self) -> AvivClientConfig:
        return self._config

    # -- AvivPort ----------------------------------------------------------------------------

    def create(self, body: dict[str, Any], *, intermediary_id: str | None = None) -> AvivAccepted:
        """POST /classifieds → 202. Raises AvivDuplicatedClassified (with the existing id) on a repeat."""
        answer = self._call(
            "create", "POST", "/classifieds", intermediary_id, body=body, expected=(200, 201, 202)
        )
        classified_id = classified_id_of(answer.json)
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
            "update", "PUT", _classified_path(classified_id), intermediary_id, body=body, headers=headers,
            expected=(200, 202, 204),
        )  # fmt: skip
        return AvivAccepted(
            classified_id=classified_id_of(answer.json) or classified_id, traceparent=answer.traceparent
        )

    def delete(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivAccepted:
        """DELETE /classifieds/{id} → 202."""
        answer = self._call(
            "delete", "DELETE", _classified_path(classified_id), intermediary_id, expected=(200, 202, 204)
        )
        return AvivAccepted(
            classified_id=classified_id_of(answer.json) or classified_id, traceparent=answer.traceparent
        )

    def get(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivClassifiedCopy:
        """GET /classifieds/{id}: the stored classified (without its ``classifiedId``) and its ETag."""
        answer = self._call("get", "GET", _classified_path(classified_id), intermediary_id, expected=(200,))
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
        return next(self._pages("statuses", path, {"filter": "latest"}, intermediary_id, limit=None), None)

    def find_by_offerer_estate_id(
        self, offerer_estate_id: str, *, intermediary_id: str | None = None
    ) -> list[dict[str, Any]]:
        """GET /classifieds?offererEstateId=… (all pages): classifieds with their ``classifiedId``."""
        query = {"offererEstateId": offerer_estate_id}
        return list(self._pages("find", "/classifieds", query, intermediary_id, limit=None))

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
        return list(self._pages("statuses", path, params, intermediary_id, limit=limit, page_size=page_size))

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
            "subscribe", "PUT", "/webhooks", intermediary_id, body={"url": url, "statuses": list(statuses)},
            expected=(200, 201, 202, 204),
        )  # fmt: skip

    def unsubscribe_status_webhook(self, *, intermediary_id: str | None = None) -> None:
        """DELETE /webhooks."""
        self._call("unsubscribe", "DELETE", "/webhooks", intermediary_id, expected=(200, 202, 204))

    # -- plumbing ----------------------------------------------------------------------------

    def _pages(
        self,
        operation: AvivOperation,
        path: str,
        params: Mapping[str, Any],
        intermediary_id: str | None,
        *,
        limit: int | None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of every page of ``GET path`` (see :func:`~vitrine.adapters.aviv.paging.items_of_pages`)."""

        def fetch(query: Mapping[str, Any]) -> Any:
            return self._call(operation, "GET", path, intermediary_id, params=query, expected=(200,)).json

        return items_of_pages(fetch, path, params, limit=limit, page_size=page_size)

    def _call(
        self,
        operation: AvivOperation,
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
        data = None if body is None else encode_json(body)
        url = self._api_url + path
        trace_id = new_trace_id()

        token = self._token(key)
        response, sent = self._send(operation, method, url, path, token, data, params, headers, trace_id)
        if response.status_code == 401:
            logger.info(
                "aviv answered 401; refreshing the token once", extra={"token_fingerprint": token.fingerprint}
            )
            self._tokens.invalidate(key, token.access_token)
            token = self._token(key)
            response, sent = self._send(operation, method, url, path, token, data, params, headers, trace_id)
        if response.status_code in expected:
            return _Answer(
                status=response.status_code,
                json=json_of(response),
                headers=response.headers,
                traceparent=response.headers.get("traceparent") or sent,
            )
        error = error_for(method, path, response, sent)
        if response.status_code in (401, 403):
            self._transport.observer.refused(operation, response.status_code)
        report_refusal(response.status_code, method, path, intermediary, error)
        raise error

    def _send(
        self,
        operation: AvivOperation,
        method: str,
        url: str,
        path: str,
        token: IssuedToken,
        data: bytes | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        trace_id: str,
    ) -> tuple[requests.Response, str]:
        return self._transport.send(
            method, url, path, token, data, params, headers, trace_id, operation=operation
        )

    def _token(self, key: TokenKey) -> IssuedToken:
        return self._tokens.get_token(key, lambda: self._fetch_token(key), self._clock())

    def _fetch_token(self, key: TokenKey) -> IssuedToken:
        return fetch_token(self._transport, self._config, self._credentials(), key, self._clock)


def _classified_path(classified_id: str) -> str:
    if not classified_id:
        raise ValueError("classified_id must not be empty")
    return "/classifieds/" + quote(classified_id, safe="")


def _implements_port(client: AvivClient) -> AvivPort:
    """Never called: mypy checks here that AvivClient satisfies the core's AvivPort."""
    return client
