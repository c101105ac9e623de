"""The ingest use case: apply one verified webhook event to the listing's desired state.

Ingest never talks to AVIV. It records what the CRM wants (a conditional, versioned write, so
concurrent webhooks on one listing never lose an update) and makes sure one sync message is
pending for the listing. Re-applying an event is harmless: the state it produces is the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vitrine.core.errors import ConcurrentModification, VitrineError
from vitrine.core.events import ListingEvent, apply_event
from vitrine.core.model import DesiredListing

logger = logging.getLogger(__name__)

# Concurrent webhooks on one listing each re-read and re-apply on a lost race; 30 concurrent
# writers converge well within this budget.
MAX_WRITE_ATTEMPTS = 64


class SyncSchedulingFailed(VitrineError):
    """The desired state is stored but no sync message could be sent: the caller must retry."""


class DesiredStore(Protocol):
    """The part of the state store ingest needs."""

    def load_desired(self, listing_id: str) -> DesiredListing | None: ...

    def save_desired(
        self, desired: DesiredListing, expected_version: int | None, *, now: datetime
    ) -> None: ...

    def claim_sync_schedule(self, listing_id: str, now: datetime, hold_seconds: int) -> bool:
        """Atomically mark "a sync message is pending" unless one already is; True = caller must send it."""
        ...

    def release_sync_schedule(self, listing_id: str) -> None: ...


class SyncScheduler(Protocol):
    """Sends the (single) pending sync message of a listing."""

    def schedule(self, listing_id: str, delay_seconds: int) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestResult:
    listing_id: str
    version: int
    changed: bool
    ignored_reason: str | None
    sync_scheduled: bool

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"accepted": True, "listingId": self.listing_id, "version": self.version}
        if self.ignored_reason:
            body["ignored"] = self.ignored_reason
        elif not self.changed:
            body["unchanged"] = True
        return body


def schedule_hold_seconds(consolidation_window: int, max_delay: int, visibility_timeout: int) -> int:
    """How long a schedule claim stays valid: past it, a lost message no longer blocks re-scheduling."""
    return max_delay + visibility_timeout + 60


def ingest_event(
    event: ListingEvent,
    *,
    store: DesiredStore,
    scheduler: SyncScheduler,
    clock: Callable[[], datetime],
    consolidation_window: int,
    hold_seconds: int,
) -> IngestResult:
    """Apply ``event`` (ValidationFailed propagates: nothing is written), then ensure a sync is pending.

    The clock is read on every attempt: a write that lost races for a while must still stamp its
    real time as the listing's last edit, or the consolidation window would close too early.
    """
    for _attempt in range(MAX_WRITE_ATTEMPTS):
        now = clock()
        current = store.load_desired(event.listing_id)
        result = apply_event(current, event, now)
        if not result.changed:
            desired = result.desired
            break
        try:
            store.save_desired(result.desired, None if current is None else current.version, now=now)
        except ConcurrentModification:
            logger.info("lost a write race on listing %s; re-applying", event.listing_id)
            continue
        desired = result.desired
        break
    else:
        raise ConcurrentModification(f"listing {event.listing_id}: too many concurrent writers")

    # A changed listing needs a sync; an unchanged one may still be dirty from earlier (e.g. a
    # redelivered webhook whose first attempt failed before scheduling), so always ensure.
    scheduled = ensure_sync_scheduled(
        event.listing_id,
        store=store,
        scheduler=scheduler,
        now=clock(),
        delay_seconds=consolidation_window,
        hold_seconds=hold_seconds,
    )
    return IngestResult(
        listing_id=event.listing_id,
        version=desired.version,
        changed=result.changed,
        ignored_reason=result.ignored_reason,
        sync_scheduled=scheduled,
    )


def ensure_sync_scheduled(
    listing_id: str,
    *,
    store: DesiredStore,
    scheduler: SyncScheduler,
    now: datetime,
    delay_seconds: int,
    hold_seconds: int,
) -> bool:
    """Send a sync message unless one is already pending. If sending fails, release the claim and raise."""
    if not store.claim_sync_schedule(listing_id, now, hold_seconds):
        return False
    try:
        scheduler.schedule(listing_id, delay_seconds)
    except Exception as exc:
        store.release_sync_schedule(listing_id)
        raise SyncSchedulingFailed(f"listing {listing_id}: could not schedule its sync: {exc}") from exc
    return True
