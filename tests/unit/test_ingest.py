"""The ingest use case: conditional writes under races, a fresh clock per attempt, one pending sync."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from vitrine.core.errors import ConcurrentModification, ValidationFailed
from vitrine.core.events import parse_event
from vitrine.core.ingest import SyncSchedulingFailed, ensure_sync_scheduled, ingest_event
from vitrine.core.model import DesiredListing

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class FakeStore:
    """In-memory DesiredStore; ``lose_races`` makes the next N saves fail as if another writer won."""

    def __init__(self) -> None:
        self.desired: dict[str, DesiredListing] = {}
        self.saved_at: list[datetime] = []
        self.claimed: set[str] = set()
        self.lose_races = 0
        self.released: list[str] = []

    def load_desired(self, listing_id: str) -> DesiredListing | None:
        current = self.desired.get(listing_id)
        return None if current is None else replace(current)

    def save_desired(self, desired: DesiredListing, expected_version: int | None, *, now: datetime) -> None:
        if self.lose_races:
            self.lose_races -= 1
            raise ConcurrentModification("lost")
        current = self.desired.get(desired.listing_id)
        if (current.version if current else None) != expected_version:
            raise ConcurrentModification("version moved")
        self.desired[desired.listing_id] = desired
        self.saved_at.append(now)

    def claim_sync_schedule(self, listing_id: str, now: datetime, hold_seconds: int) -> bool:
        if listing_id in self.claimed:
            return False
        self.claimed.add(listing_id)
        return True

    def release_sync_schedule(self, listing_id: str) -> None:
        self.claimed.discard(listing_id)
        self.released.append(listing_id)


class FakeScheduler:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, int]] = []
        self.fail = fail

    def schedule(self, listing_id: str, delay_seconds: int) -> None:
        if self.fail:
            raise RuntimeError("SQS unavailable")
        self.sent.append((listing_id, delay_seconds))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def event(**fields: object):
    raw = {
        "type": "listing.upserted",
        "listingId": "L1",
        "ownerId": "owner",
        "occurredAt": "2026-11-27T10:00:00Z",
        "listing": {
            "data": {"estateType": "APARTMENT"},
            "media": [{"id": "m1", "url": "https://img.example/1.jpg", "mediaType": "PICTURE"}],
        },
    }
    raw.update(fields)
    return parse_event(raw)


def run(store: FakeStore, scheduler: FakeScheduler, clock: Clock, ev=None):
    return ingest_event(
        ev or event(),
        store=store,
        scheduler=scheduler,
        clock=clock,
        consolidation_window=60,
        hold_seconds=900,
    )


def test_first_event_is_stored_and_one_sync_scheduled_with_the_window_delay():
    store, scheduler = FakeStore(), FakeScheduler()
    result = run(store, scheduler, Clock())
    assert result.changed and result.version == 1 and result.sync_scheduled
    assert scheduler.sent == [("L1", 60)]
    assert result.to_body() == {"accepted": True, "listingId": "L1", "version": 1}


def test_a_second_event_while_a_sync_is_pending_sends_no_second_message():
    store, scheduler, clock = FakeStore(), FakeScheduler(), Clock()
    run(store, scheduler, clock)
    second = run(store, scheduler, clock, event(listing={"data": {"estateType": "HOUSE"}, "media": []}))
    assert second.changed and not second.sync_scheduled
    assert len(scheduler.sent) == 1


def test_lost_races_are_reapplied_and_stamped_with_the_time_of_the_winning_attempt():
    store, scheduler, clock = FakeStore(), FakeScheduler(), Clock()
    store.lose_races = 3
    result = run(store, scheduler, clock)
    assert result.version == 1
    assert store.saved_at == [T0 + timedelta(seconds=4)], "the 4th attempt's clock, not the 1st"


def test_endless_races_give_up_with_concurrent_modification():
    store = FakeStore()
    store.lose_races = 10_000
    with pytest.raises(ConcurrentModification):
        run(store, FakeScheduler(), Clock())


def test_state_dependent_errors_write_nothing():
    store, scheduler, clock = FakeStore(), FakeScheduler(), Clock()
    run(store, scheduler, clock)
    bad = parse_event(
        {
            "type": "media.updated",
            "listingId": "L1",
            "ownerId": "owner",
            "occurredAt": "2026-11-27T10:00:00Z",
            "media": {"id": "nope", "url": "https://img.example/2.jpg", "mediaType": "PICTURE"},
        }
    )
    with pytest.raises(ValidationFailed):
        run(store, scheduler, clock, bad)
    assert store.desired["L1"].version == 1


def test_an_unchanged_event_still_makes_sure_a_sync_is_pending():
    store, scheduler, clock = FakeStore(), FakeScheduler(), Clock()
    run(store, scheduler, clock)
    store.claimed.clear()  # e.g. the first delivery's message was lost
    again = run(store, scheduler, clock)
    assert not again.changed and again.sync_scheduled
    assert again.to_body()["unchanged"] is True


def test_a_failed_send_releases_the_claim_and_raises():
    store = FakeStore()
    with pytest.raises(SyncSchedulingFailed):
        ensure_sync_scheduled(
            "L1", store=store, scheduler=FakeScheduler(fail=True), now=T0, delay_seconds=5, hold_seconds=60
        )
    assert store.released == ["L1"] and "L1" not in store.claimed
