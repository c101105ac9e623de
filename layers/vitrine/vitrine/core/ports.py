"""Ports: what the core needs from the outside world, as Protocols the adapters implement.

The sync use case only sees these; tests can pass fakes, production passes the DynamoDB
store and the AVIV HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from vitrine.core.errors import FieldError
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.tokens import IssuedToken, TokenKey


@dataclass(frozen=True, slots=True)
class AvivAccepted:
    """AVIV's 202 answer to POST/PUT/DELETE."""

    classified_id: str
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class AvivClassifiedCopy:
    """GET /classifieds/{id}: the stored body and its ETag (for If-Match)."""

    classified_id: str
    body: dict[str, Any]
    etag: str | None


class AvivPort(Protocol):
    """AVIV Classifieds Management V4, as the core uses it. ``intermediary_id=None`` = configured default."""

    def create(self, body: dict[str, Any], *, intermediary_id: str | None = None) -> AvivAccepted: ...

    def update(
        self,
        classified_id: str,
        body: dict[str, Any],
        *,
        if_match: str | None = None,
        intermediary_id: str | None = None,
    ) -> AvivAccepted: ...

    def delete(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivAccepted: ...

    def get(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivClassifiedCopy: ...

    def latest_status(
        self, classified_id: str, *, intermediary_id: str | None = None
    ) -> dict[str, Any] | None: ...

    def find_by_offerer_estate_id(
        self, offerer_estate_id: str, *, intermediary_id: str | None = None
    ) -> list[dict[str, Any]]: ...


class StateStore(Protocol):
    """Durable listing state. Every write is conditional; a lost race raises ConcurrentModification."""

    def load_desired(self, listing_id: str) -> DesiredListing | None: ...

    def load_last_sent(self, listing_id: str) -> LastSent | None: ...

    def load_pending(self, listing_id: str) -> LastSent | None:
        """The write-ahead record of a send whose answer was never recorded (crash, timeout)."""
        ...

    def acquire_lease(self, listing_id: str, owner: str, now: datetime, ttl_seconds: int) -> bool:
        """True when ``owner`` now holds the listing's sync lease (free, expired or already its own)."""
        ...

    def release_lease(self, listing_id: str, owner: str) -> None: ...

    def record_pending(self, pending: LastSent, lease_owner: str) -> None:
        """Write-ahead: remember the exact body (and its timestamps) before it goes to AVIV."""
        ...

    def record_sent(self, sent: LastSent, lease_owner: str) -> None:
        """Commit a send AVIV accepted: last-sent := ``sent``, pending cleared, clean if nothing newer."""
        ...

    def record_skipped(self, listing_id: str, desired_version: int, lease_owner: str) -> None:
        """Nothing to send for ``desired_version``: mark clean if nothing newer arrived."""
        ...

    def record_rejection(
        self,
        listing_id: str,
        desired_version: int,
        errors: list[FieldError],
        detail: str,
        now: datetime,
        lease_owner: str,
    ) -> None:
        """AVIV (or pre-send validation) refused this version: keep the errors, stop retrying it."""
        ...


class TokenCache(Protocol):
    """Where the AVIV client gets its bearer token from."""

    def get_token(self, key: TokenKey, fetch: Callable[[], IssuedToken], now: float) -> IssuedToken:
        """A fresh token for ``key``: cached, or ``fetch()``-ed (at most once across waiting callers)."""
        ...

    def invalidate(self, key: TokenKey, token: str) -> None:
        """Forget ``token`` (AVIV answered 401) unless a newer token already replaced it."""
        ...
