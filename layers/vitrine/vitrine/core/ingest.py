"""The ingest use case: apply one verified webhook event to the listing's desired state.

Ingest never talks to AVIV. It checks the listing the event produces against AVIV's schema (a
listing AVIV would refuse is refused now, not hours later: ``core.events.review``), records what the
CRM wants and makes sure one sync message is pending for the listing — in **one conditional write**
per webhook, because the CRM is waiting:

* the new desired state, conditional on the version that was read (concurrent webhooks on one
  listing never lose an update: the loser re-reads and re-applies);
* the webhook's delivery record (a key of its ``webhook-id`` → when, body digest) in the listing's
  delivery log, conditional on the log being the one read: a repeated delivery is answered as a
  duplicate and changes nothing, for at least 24 hours;
* the sync-schedule claim (``syncScheduledUntil``) when no sync message is pending yet, after
  which the one message is sent.

A per-instance cache of the listings this instance wrote last saves the read in a burst of edits:
every write is conditional, so a stale cache entry only costs a failed write and a re-read.

A stored item that cannot be read (a partial write, a corrupt document) never blocks its listing:
the event is applied to a blank listing and its state replaces the whole item, with a new version.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.errors import ConcurrentModification, RefusedByAvivSchema, VitrineError
from vitrine.core.events.apply import ApplyResult, apply_event
from vitrine.core.events.review import ListingReview, review_listing
from vitrine.core.events.vocabulary import ListingEvent
from vitrine.core.model import Delivery, DesiredListing, IngestSnapshot, IngestWrite
from vitrine.core.quality import QualityWarning
from vitrine.core.scheduling import SyncSchedulingFailed

if TYPE_CHECKING:  # Protocols named in annotations only: not loaded on the ingest function's cold start
    from vitrine.core.ports import IngestStore, SyncScheduler

logger = logging.getLogger(__name__)

# Concurrent webhooks on one listing each re-read and re-apply on a lost race; 30 concurrent
# writers converge well within this budget.
MAX_WRITE_ATTEMPTS = 64
# Delivery records are kept this long (Standard Webhooks senders retry for about a day).
DELIVERY_RETENTION = timedelta(hours=48)
# Bound on the delivery records one listing keeps (24 bytes each), so its item stays small:
# expired ones are dropped on the next write, and past the cap the oldest go first (only a listing
# edited more than ~20 times an hour for two days would dedupe over less than 48 h).
MAX_DELIVERIES = 1000


class DeliveryConflict(VitrineError):
    """The same ``webhook-id`` arrived again with a different body: a sender bug, refused."""


class RecentListings:
    """Per-instance LRU of the listings this instance wrote last (saves the read in a burst)."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, IngestSnapshot] = OrderedDict()

    def get(self, listing_id: str) -> IngestSnapshot | None:
        snapshot = self._entries.get(listing_id)
        if snapshot is not None:
            self._entries.move_to_end(listing_id)
        return snapshot

    def put(self, listing_id: str, snapshot: IngestSnapshot) -> None:
        self._entries[listing_id] = snapshot
        self._entries.move_to_end(listing_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def forget(self, listing_id: str) -> None:
        self._entries.pop(listing_id, None)


@dataclass(frozen=True, slots=True)
class IngestResult:
    listing_id: str
    version: int
    changed: bool
    ignored_reason: str | None
    sync_scheduled: bool
    duplicate: bool = False
    # Of the listing the event produced, pointing into the webhook body (see core.events.review).
    warnings: tuple[QualityWarning, ...] = ()
    # Why the stored item was unreadable (an error to log), or None. ``changed``: this event's state
    # replaced it; else it is left for the next event that gives the listing a state.
    unreadable: str | None = None

    def to_body(self) -> dict[str, object]:
        """The 202 body; ``warnings`` only when the event was applied (not a duplicate, not ignored)."""
        body: dict[str, object] = {"accepted": True, "listingId": self.listing_id, "version": self.version}
        if self.duplicate:
            body["duplicate"] = True
            return body
        if self.ignored_reason:
            body["ignored"] = self.ignored_reason
            return body
        if not self.changed:
            body["unchanged"] = True
        body["warnings"] = [
            {"code": w.code, "pointer": w.pointer, "reason": w.message} for w in self.warnings
        ]
        return body


def expired_deliveries(deliveries: Mapping[str, tuple[datetime, str]], now: datetime) -> tuple[str, ...]:
    """Delivery keys to drop in this write: expired ones, then the oldest past the cap."""
    horizon = now - DELIVERY_RETENTION
    by_age = sorted(deliveries.items(), key=lambda item: item[1][0])
    over_cap = max(0, len(by_age) + 1 - MAX_DELIVERIES)
    return tuple(key for index, (key, (at, _)) in enumerate(by_age) if at < horizon or index < over_cap)


def ingest_event(
    event: ListingEvent,
    delivery: Delivery,
    *,
    store: IngestStore,
    scheduler: SyncScheduler,
    clock: Callable[[], datetime],
    consolidation_window: int,
    hold_seconds: int,
    defaults: ClassifiedDefaults,
    recent: RecentListings | None = None,
) -> IngestResult:
    """Apply ``event`` once (ValidationFailed propagates: nothing is written), then ensure a sync is pending.

    The listing the event produces is reviewed as the next sync would send it (``defaults`` fill
    what the CRM left out): :class:`RefusedByAvivSchema` when AVIV's schema refuses it, nothing
    written; otherwise its quality warnings come back in the result.

    The clock is read on every attempt: a write that lost races for a while must still stamp its
    real time as the listing's last edit, or the consolidation window would close too early.
    """
    recent = recent if recent is not None else RecentListings(capacity=0)
    for attempt in range(MAX_WRITE_ATTEMPTS):
        now = clock()
        snapshot = _snapshot(event.listing_id, store, recent, first_attempt=attempt == 0)
        if snapshot is not None and _already_delivered(snapshot, delivery):
            return IngestResult(
                event.listing_id, snapshot.desired.version, False, None, False, duplicate=True
            )
        current = snapshot.desired if snapshot is not None else None
        result = apply_event(current, event, now)
        review = _reviewed(event, result, defaults, now)
        unreadable = snapshot.unreadable if snapshot is not None else None
        if (current is None or unreadable) and not result.changed:
            # Nothing known and nothing to record (e.g. removing a media of an unknown listing);
            # an unreadable item waits for an event that gives the listing a state again.
            reason = result.ignored_reason
            return IngestResult(event.listing_id, 0, False, reason, False, unreadable=unreadable)
        write = plan_write(snapshot, result.desired if result.changed else None, delivery, now, hold_seconds)
        try:
            after = store.commit_ingest(write)
        except ConcurrentModification:
            recent.forget(event.listing_id)
            logger.info("lost a write race on listing %s; re-applying", event.listing_id)
            continue
        recent.put(event.listing_id, after)
        if write.claim_until is not None:
            _schedule_or_undo(write, delivery, store, scheduler, recent, consolidation_window)
        return IngestResult(
            listing_id=event.listing_id,
            version=after.desired.version,
            changed=result.changed,
            ignored_reason=result.ignored_reason,
            sync_scheduled=write.claim_until is not None,
            warnings=review.warnings,
            unreadable=unreadable,
        )
    raise ConcurrentModification(f"listing {event.listing_id}: too many concurrent writers")


def _snapshot(
    listing_id: str, store: IngestStore, recent: RecentListings, *, first_attempt: bool
) -> IngestSnapshot | None:
    """The listing as last seen by this instance (first attempt only: a lost race means it is stale),
    else as stored."""
    snapshot = recent.get(listing_id) if first_attempt else None
    return snapshot if snapshot is not None else store.load_ingest_snapshot(listing_id)


def _reviewed(
    event: ListingEvent, result: ApplyResult, defaults: ClassifiedDefaults, now: datetime
) -> ListingReview:
    """The review of the listing the event produces; RefusedByAvivSchema (nothing written) when
    AVIV's schema refuses it."""
    review = _review(event, result, defaults, now)
    if review.errors:
        raise RefusedByAvivSchema(list(review.errors), "AVIV's schema refuses the listing")
    return review


def _review(
    event: ListingEvent, result: ApplyResult, defaults: ClassifiedDefaults, now: datetime
) -> ListingReview:
    """An ignored event (stale, or removing an unknown media) produced nothing new to review."""
    if result.ignored_reason is not None:
        return ListingReview()
    return review_listing(event, result.desired, defaults, now)


def _already_delivered(snapshot: IngestSnapshot, delivery: Delivery) -> bool:
    """True for a repeated ``webhook-id`` with the same body; the same id with another body is refused."""
    if not snapshot.deliveries or delivery.key not in snapshot.deliveries:
        return False
    if snapshot.deliveries[delivery.key][1] != delivery.body_digest:
        raise DeliveryConflict(f"webhook-id {delivery.webhook_id} was already used for a different body")
    return True


def _schedule_or_undo(
    write: IngestWrite,
    delivery: Delivery,
    store: IngestStore,
    scheduler: SyncScheduler,
    recent: RecentListings,
    consolidation_window: int,
) -> None:
    """Send the sync message this write claimed; if it cannot go, undo the delivery and the claim."""
    assert write.claim_until is not None
    try:
        scheduler.schedule(write.listing_id, consolidation_window)
    except Exception as exc:
        recent.forget(write.listing_id)
        store.undo_ingest(write.listing_id, delivery.key, write.claim_until)
        raise SyncSchedulingFailed(f"listing {write.listing_id}: could not schedule its sync: {exc}") from exc


def plan_write(
    snapshot: IngestSnapshot | None,
    desired: DesiredListing | None,
    delivery: Delivery,
    now: datetime,
    hold_seconds: int,
) -> IngestWrite:
    """Decide the write: a new version makes the listing dirty; a dirty listing AVIV can be told
    about (data known, or deleted) needs a pending sync — claimed here unless one is live."""
    after = desired if desired is not None else snapshot.desired if snapshot is not None else None
    assert after is not None, "nothing to write"
    dirty_after = desired is not None or (snapshot is not None and snapshot.dirty)
    syncable_after = after.is_syncable
    live_claim = (
        snapshot.sync_scheduled_until
        if snapshot is not None
        and snapshot.sync_scheduled_until is not None
        and snapshot.sync_scheduled_until > now
        else None
    )
    needs_sync = dirty_after and syncable_after
    return IngestWrite(
        listing_id=after.listing_id,
        previous=snapshot,
        desired=desired,
        delivery=delivery,
        expired_deliveries=expired_deliveries(snapshot.deliveries, now)
        if snapshot and snapshot.deliveries
        else (),
        claim_until=now + timedelta(seconds=hold_seconds) if needs_sync and live_claim is None else None,
        expect_claim=live_claim if needs_sync else None,
        now=now,
    )
