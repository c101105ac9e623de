"""Ports: what the core needs from the outside world, as Protocols the adapters implement.

The use cases only see these; tests can pass fakes, production passes the DynamoDB stores, the
SQS scheduler and the AVIV HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    # Annotations only: a handler that imports its ports does not load every other use case's
    # records (the ingest function's cold start pays for what it runs, not for reconcile's).
    from vitrine.core.errors import FieldError
    from vitrine.core.model import DesiredListing, IngestSnapshot, IngestWrite, LastSent, Rejection, SyncState
    from vitrine.core.owner_page.view import OwnerListing
    from vitrine.core.reconcile.records import Notification, StatusState
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

    def record_withdrawn(self, tombstone: LastSent, lease_owner: str) -> None:
        """Commit the DELETE half of an agency move: last-sent := ``tombstone``, pending cleared, the
        version *not* marked handled (its POST under the new agency is still to come)."""
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
        *,
        action: str | None = None,
    ) -> None:
        """AVIV (or pre-send validation) refused this version: keep the errors (and what to do),
        stop retrying it."""
        ...


class SyncStore(StateStore, Protocol):
    """The state store as sync uses it: the port plus the listing's bookkeeping.

    ``load_sync_state`` tells, inside the lease, whether the version about to be sent was already
    handled by another worker (e.g. rejected a moment ago): then it is neither sent nor rejected
    (and notified) a second time.
    """

    def load_sync_state(self, listing_id: str) -> SyncState | None: ...


class IngestStore(Protocol):
    """The part of the state store ingest needs."""

    def load_ingest_snapshot(self, listing_id: str) -> IngestSnapshot | None: ...

    def commit_ingest(self, write: IngestWrite) -> IngestSnapshot:
        """Apply ``write`` atomically or raise ConcurrentModification; returns the listing after it."""
        ...

    def undo_ingest(self, listing_id: str, delivery_key: str, claim_until: datetime) -> None:
        """The sync message could not be sent: forget the delivery and the claim, so a retry redoes both."""
        ...


class ScheduleClaims(Protocol):
    """The schedule claim alone (the sync follow-up and the reconcile sweep use it)."""

    def claim_sync_schedule(self, listing_id: str, now: datetime, hold_seconds: int) -> bool:
        """Atomically mark "a sync message is pending" unless one already is; True = caller must send it."""
        ...

    def release_sync_schedule(self, listing_id: str) -> None: ...


class SyncScheduler(Protocol):
    """Sends the (single) pending sync message of a listing."""

    def schedule(self, listing_id: str, delay_seconds: int) -> None: ...


# -- reconciliation ----------------------------------------------------------------------------


class AvivPatience(Protocol):
    """How long the AVIV client may spend on one call: a reconcile run's budget is computed from it."""

    @property
    def connect_timeout(self) -> float: ...

    @property
    def read_timeout(self) -> float: ...

    @property
    def max_attempts(self) -> int: ...

    @property
    def backoff_cap(self) -> float: ...

    @property
    def max_retry_after(self) -> float:
        """The longest ``Retry-After`` the client waits out between two attempts."""
        ...


class AvivStatusPort(Protocol):
    """The part of the AVIV client reconciliation needs: statuses, a classified's owner, its limits."""

    @property
    def config(self) -> AvivPatience: ...

    def latest_status(
        self, classified_id: str, *, intermediary_id: str | None = None
    ) -> dict[str, Any] | None: ...

    def get(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivClassifiedCopy: ...

    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        """Calls this thread makes inside the block end within ``seconds`` (a late listing cannot
        outlive the Lambda)."""
        ...


class UrlProbeAnswer(Protocol):
    """What a media URL answered: ``usable`` now, and why ("answers 404")."""

    @property
    def usable(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class UrlProbePort(Protocol):
    """Checks a failed media's URL before an automatic retry; never raises for what the URL does."""

    @property
    def timeout_seconds(self) -> float:
        """The longest one check takes (a run's budget counts it)."""
        ...

    def probe(self, url: str) -> UrlProbeAnswer: ...


class NotifierPort(Protocol):
    """Tells owners; raising leaves the notification in the outbox for the next attempt."""

    def publish(self, notification: Notification) -> str: ...


class OwnerListingsPort(Protocol):
    """An owner's listings as stored, for the owner status page (reads only)."""

    def owner_listing_ids(self, owner_id: str, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` of the owner's listing ids, and how many more there are."""
        ...

    def load_owner_listings(self, owner_id: str, listing_ids: Sequence[str]) -> list[OwnerListing]: ...


class OwnerPageLinks(Protocol):
    """Signed links to an owner's status page, for the notifications."""

    def url_for(self, owner_id: str, now: datetime) -> str | None:
        """The owner's link, valid for a while from ``now``; None when no link can be made."""
        ...


class WatchedListing(Protocol):
    """One due entry of the watch set: a send to confirm, or a rejection not over yet."""

    @property
    def listing_id(self) -> str: ...

    @property
    def watches_sent(self) -> bool: ...

    @property
    def watches_rejection(self) -> bool: ...


class ReconcileStateStore(ScheduleClaims, Protocol):
    """The part of the listing state store reconciliation reads and writes."""

    def dirty_listings(
        self, *, limit: int | None = None, dirty_before: datetime | None = None
    ) -> Iterator[str]:
        """Listings still dirty since before ``dirty_before`` (the sweep's work set), from the index."""
        ...

    def load_desired(self, listing_id: str) -> DesiredListing | None: ...

    def load_last_sent(self, listing_id: str) -> LastSent | None: ...

    def load_sync_state(self, listing_id: str) -> SyncState | None: ...

    def load_rejection(self, listing_id: str) -> Rejection | None: ...

    def save_desired(self, desired: DesiredListing, expected_version: int | None, *, now: datetime) -> None:
        """Store ``desired`` if the stored version is still ``expected_version``, else raise
        ConcurrentModification."""
        ...


class ReconcileStatusStore(Protocol):
    """Reconciliation's own state: the STATUS item with its outbox, the watch set, classified aliases.

    Watch-set writes return False when the entry moved meanwhile (a newer send, already unwatched).
    """

    def load(self, listing_id: str) -> StatusState: ...

    def save(self, state: StatusState, *, now: datetime) -> StatusState: ...

    def without_outbox(self, state: StatusState, published: set[str], *, now: datetime) -> StatusState: ...

    def due_watches(self, now: datetime) -> Iterator[WatchedListing]:
        """Entries due at ``now``, longest-waiting first, read lazily (a run may stop early)."""
        ...

    def reschedule_sent_watch(self, listing_id: str, sent_at: str, due: datetime) -> bool: ...

    def stop_sent_watch(self, listing_id: str, sent_at: str) -> bool: ...

    def watch_rejection(self, listing_id: str, desired_version: int, due: datetime) -> bool: ...

    def finish_rejection(self, listing_id: str, desired_version: int) -> bool: ...

    def stop_desired_watch(self, listing_id: str) -> bool: ...

    def remember_classified(self, classified_id: str, listing_id: str) -> None: ...

    def listing_for_classified(self, classified_id: str) -> str | None: ...

    def open_problem_count(self) -> int:
        """Problems open across all listings, read without a scan (the OpenProblems gauge)."""
        ...


class TokenCache(Protocol):
    """Where the AVIV client gets its bearer token from."""

    def get_token(self, key: TokenKey, fetch: Callable[[], IssuedToken], now: float) -> IssuedToken:
        """A fresh token for ``key``: cached, or ``fetch()``-ed (at most once across waiting callers)."""
        ...

    def invalidate(self, key: TokenKey, token: str) -> None:
        """Forget ``token`` (AVIV answered 401) unless a newer token already replaced it."""
        ...


# -- what the AVIV client reports of its calls (the services measure them) ----------------------

AvivOperation = Literal[
    "token", "create", "update", "delete", "get", "find", "statuses", "subscribe", "unsubscribe"
]
"""The AVIV calls vitrine makes, as dashboards name them."""

AttemptFailure = Literal["timeout", "connection"]
"""An attempt that got no answer: no response in time, or no connection (refused, reset, cut short)."""


class AvivCallObserver(Protocol):
    def attempt(self, operation: AvivOperation, status: int | None, failure: AttemptFailure | None) -> None:
        """One HTTP attempt ended: with AVIV's ``status``, or without an answer (``failure``)."""
        ...

    def refused(self, operation: AvivOperation, status: int) -> None:
        """A call ended refused: 401 after its token refresh, 403, or the token endpoint said no."""
        ...
