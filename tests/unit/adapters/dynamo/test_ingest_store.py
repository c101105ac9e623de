"""The ingest use case over the real DynamoDB store (moto): one conditional write per webhook.

It carries the new desired state, the delivery record (webhook-id dedupe) and the sync claim;
every race (another writer, a sync cleaning the listing or releasing its claim, a stale cache)
makes the write fail and the event be re-applied on fresh state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.moto_atomic import make_moto_dynamodb_writes_atomic
from tests.support.aws import dynamodb_client, make_tables, mocked_aws
from tests.support.classified_samples import DEFAULTS
from tests.support.listings import sample_data
from vitrine.adapters.dynamo.ingest_store import pack_delivery_log, unpack_delivery_log
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.errors import ConcurrentModification, ValidationFailed
from vitrine.core.events.parse import parse_event
from vitrine.core.ingest import (
    DELIVERY_RETENTION,
    MAX_DELIVERIES,
    DeliveryConflict,
    IngestResult,
    RecentListings,
    expired_deliveries,
    ingest_event,
)
from vitrine.core.model import Delivery, body_digest, delivery_key
from vitrine.core.scheduling import SyncSchedulingFailed, ensure_sync_scheduled

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HOLD = 900


class RecordingClient:
    """Wraps the boto3 client to count calls and keep the update expressions."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.updates: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if name == "update_item":
                self.updates.append(kwargs)
            return target(*args, **kwargs)

        return call


class Scheduler:
    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[str, int]] = []
        self.failures = failures

    def schedule(self, listing_id: str, delay_seconds: int) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("SQS unavailable")
        self.sent.append((listing_id, delay_seconds))


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=10)
        return self.now


@pytest.fixture
def client() -> Iterator[RecordingClient]:
    make_moto_dynamodb_writes_atomic()
    with mocked_aws():
        make_tables()
        yield RecordingClient(dynamodb_client())


@pytest.fixture
def store(client: RecordingClient) -> DynamoStateStore:
    return DynamoStateStore("vitrine-StateTable", client)


def media(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"m{n}",
        "url": f"https://img.example/{n}.jpg",
        "mediaType": "PICTURE",
        "version": "1",
        **extra,
    }


def event(kind: str = "listing.upserted", listing_id: str = "L1", **fields: Any) -> Any:
    raw: dict[str, Any] = {
        "type": kind,
        "listingId": listing_id,
        "ownerId": "owner",
        "occurredAt": "2026-11-27T10:00:00Z",
    }
    if kind == "listing.upserted" and "listing" not in fields:
        raw["listing"] = {"data": sample_data(listing_id), "media": [media(0), media(1)]}
    raw.update(fields)
    return parse_event(raw)


def delivery(webhook_id: str, digest: str = "d", at: datetime = T0) -> Delivery:
    return Delivery(webhook_id=webhook_id, body_digest=digest, received_at=at)


def ingest(
    store: DynamoStateStore,
    scheduler: Scheduler,
    ev: Any,
    webhook_id: str,
    *,
    clock: Clock | None = None,
    recent: RecentListings | None = None,
    digest: str = "",
) -> IngestResult:
    return ingest_event(
        ev,
        delivery(webhook_id, digest or body_digest(b"the body")),
        store=store,
        scheduler=scheduler,
        clock=clock or Clock(),
        consolidation_window=60,
        hold_seconds=HOLD,
        defaults=DEFAULTS,
        recent=recent,
    )


def test_first_event_is_stored_with_its_delivery_and_one_sync_is_scheduled(store: DynamoStateStore) -> None:
    scheduler = Scheduler()
    result = ingest(store, scheduler, event(), "w1")
    assert (result.version, result.changed, result.sync_scheduled) == (1, True, True)
    assert scheduler.sent == [("L1", 60)]
    snapshot = store.load_ingest_snapshot("L1")
    assert snapshot is not None and snapshot.dirty and snapshot.indexed
    assert snapshot.deliveries is not None and set(snapshot.deliveries) == {delivery_key("w1")}
    assert snapshot.sync_scheduled_until == T0 + timedelta(milliseconds=10, seconds=HOLD)
    assert list(store.dirty_listings()) == ["L1"]


def test_a_burst_on_one_instance_is_one_write_per_webhook_and_one_message(
    store: DynamoStateStore, client: RecordingClient
) -> None:
    scheduler, recent, clock = Scheduler(), RecentListings(), Clock()
    ingest(store, scheduler, event(), "w1", clock=clock, recent=recent)
    client.calls.clear()
    for n in range(5):
        ev = event("media.updated", media=media(1, title=f"Titre {n}"))
        result = ingest(store, scheduler, ev, f"w-burst-{n}", clock=clock, recent=recent)
        assert result.changed and not result.sync_scheduled
    assert client.calls == ["update_item"] * 5, "no read (cache), no separate claim or dedupe writes"
    assert scheduler.sent == [("L1", 60)]
    desired = store.load_desired("L1")
    assert desired is not None and desired.version == 6 and desired.media[1].title == "Titre 4"


def test_a_small_edit_writes_only_what_changed(store: DynamoStateStore, client: RecordingClient) -> None:
    recent = RecentListings()
    ingest(store, Scheduler(), event(), "w1", recent=recent)
    client.updates.clear()
    ingest(store, Scheduler(), event("media.updated", media=media(0, title="Façade")), "w2", recent=recent)
    written = set(client.updates[-1]["ExpressionAttributeNames"].values())
    assert {"media", "version", "lastEditAt"} <= written
    assert not written & {"data", "portals", "listingId", "ownerId", "hasData", "dirtyShard"}


def test_a_repeated_delivery_is_a_duplicate_and_changes_nothing(store: DynamoStateStore) -> None:
    scheduler = Scheduler()
    ev = event("listing.upserted")
    ingest(store, scheduler, ev, "w1")
    again = ingest(store, scheduler, event("media.added", media=media(5)), "w1")
    assert again.duplicate and again.version == 1
    assert again.to_body()["duplicate"] is True
    desired = store.load_desired("L1")
    assert desired is not None and len(desired.media) == 2
    with pytest.raises(DeliveryConflict):
        ingest(store, scheduler, ev, "w1", digest=body_digest(b"another body"))


def test_a_concurrent_writer_makes_the_cached_write_fail_and_the_event_is_reapplied(
    store: DynamoStateStore,
) -> None:
    mine, theirs = RecentListings(), RecentListings()
    ingest(store, Scheduler(), event(), "w1", recent=mine)
    ingest(store, Scheduler(), event("media.added", media=media(2)), "w2", recent=theirs)
    result = ingest(store, Scheduler(), event("media.added", media=media(3)), "w3", recent=mine)
    assert result.version == 3
    desired = store.load_desired("L1")
    assert desired is not None and [m.id for m in desired.media] == ["m0", "m1", "m2", "m3"]


def test_a_listing_cleaned_by_a_sync_since_it_was_cached_becomes_dirty_and_scheduled_again(
    store: DynamoStateStore,
) -> None:
    recent, scheduler = RecentListings(), Scheduler()
    ingest(store, scheduler, event(), "w1", recent=recent)
    # The sync ran meanwhile: sent version 1, released its claim.
    assert store.acquire_lease("L1", "sync-1", T0, 60)
    store.record_skipped("L1", 1, "sync-1")
    store.release_lease("L1", "sync-1")
    store.release_sync_schedule("L1")
    result = ingest(store, scheduler, event("media.added", media=media(9)), "w2", recent=recent)
    assert result.sync_scheduled
    assert len(scheduler.sent) == 2
    state = store.load_sync_state("L1")
    assert state is not None and state.dirty and state.version == 2


def test_a_claim_released_since_it_was_seen_is_taken_again(store: DynamoStateStore) -> None:
    recent, scheduler = RecentListings(), Scheduler()
    ingest(store, scheduler, event(), "w1", recent=recent)
    store.release_sync_schedule("L1")  # the message was consumed, the listing is still dirty
    result = ingest(store, scheduler, event("media.added", media=media(9)), "w2", recent=recent)
    assert result.sync_scheduled and len(scheduler.sent) == 2


def test_media_before_data_schedule_nothing_until_the_data_arrives(store: DynamoStateStore) -> None:
    scheduler = Scheduler()
    early = ingest(store, scheduler, event("media.added", media=media(0)), "w1")
    assert early.changed and not early.sync_scheduled and scheduler.sent == []
    assert list(store.dirty_listings()) == []
    upsert = ingest(store, scheduler, event(), "w2")
    assert upsert.sync_scheduled and scheduler.sent == [("L1", 60)]
    assert list(store.dirty_listings()) == ["L1"]


def test_an_unchanged_event_records_its_delivery_and_schedules_nothing_on_a_clean_listing(
    store: DynamoStateStore,
) -> None:
    scheduler = Scheduler()
    ingest(store, scheduler, event(), "w1")
    assert store.acquire_lease("L1", "s", T0, 60)
    store.record_skipped("L1", 1, "s")
    store.release_sync_schedule("L1")
    same = ingest(store, scheduler, event(), "w2")
    assert not same.changed and not same.sync_scheduled
    assert same.to_body()["unchanged"] is True
    snapshot = store.load_ingest_snapshot("L1")
    assert snapshot is not None and snapshot.deliveries is not None
    assert delivery_key("w2") in snapshot.deliveries
    assert ingest(store, scheduler, event(), "w2").duplicate


def test_when_the_message_cannot_be_sent_nothing_is_recorded_as_delivered(store: DynamoStateStore) -> None:
    scheduler = Scheduler(failures=1)
    with pytest.raises(SyncSchedulingFailed):
        ingest(store, scheduler, event(), "w1")
    snapshot = store.load_ingest_snapshot("L1")
    assert snapshot is not None and snapshot.sync_scheduled_until is None
    assert snapshot.deliveries == {}
    retry = ingest(store, scheduler, event(), "w1")
    assert not retry.duplicate and retry.sync_scheduled and scheduler.sent == [("L1", 60)]


def test_lost_races_are_reapplied_and_stamped_with_the_time_of_the_winning_attempt(
    store: DynamoStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(store, Scheduler(), event(), "w1")
    original = store.commit_ingest
    losses = {"left": 3}

    def lose(write: Any) -> Any:
        if losses["left"]:
            losses["left"] -= 1
            raise ConcurrentModification("lost")
        return original(write)

    monkeypatch.setattr(store, "commit_ingest", lose)
    clock = Clock(T0 + timedelta(seconds=5))
    ingest(store, Scheduler(), event("media.added", media=media(7)), "w2", clock=clock)
    state = store.load_sync_state("L1")
    assert state is not None and state.last_edit_at == T0 + timedelta(seconds=5, milliseconds=40)


def test_endless_races_give_up_with_concurrent_modification(
    store: DynamoStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_lose(write: Any) -> Any:
        raise ConcurrentModification("lost")

    monkeypatch.setattr(store, "commit_ingest", always_lose)
    with pytest.raises(ConcurrentModification):
        ingest(store, Scheduler(), event(), "w1")


def test_state_dependent_errors_write_nothing(store: DynamoStateStore) -> None:
    ingest(store, Scheduler(), event(), "w1")
    with pytest.raises(ValidationFailed):
        ingest(store, Scheduler(), event("media.updated", media=media(42)), "w2")
    snapshot = store.load_ingest_snapshot("L1")
    assert snapshot is not None and snapshot.desired.version == 1
    assert snapshot.deliveries is not None and delivery_key("w2") not in snapshot.deliveries


def test_concurrent_webhooks_on_one_listing_all_land_with_one_message(store: DynamoStateStore) -> None:
    scheduler = Scheduler()
    titles = [f"Titre {n}" for n in range(10)]
    ingest(
        store,
        scheduler,
        event(listing={"data": sample_data("L1"), "media": [media(n) for n in range(10)]}),
        "w",
    )

    def post(n: int) -> None:
        ingest(
            store,
            scheduler,
            event("media.updated", media=media(n, title=titles[n])),
            f"w{n}",
            recent=RecentListings(),
        )

    threads = [threading.Thread(target=post, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    desired = store.load_desired("L1")
    assert desired is not None and desired.version == 11
    assert [m.title for m in desired.media] == titles
    assert scheduler.sent == [("L1", 60)]


def test_old_deliveries_are_pruned_and_their_number_is_capped() -> None:
    now = T0 + DELIVERY_RETENTION + timedelta(hours=1)
    old = {f"old{n}": (T0, "d") for n in range(3)}
    fresh = {f"new{n}": (now - timedelta(minutes=n), "d") for n in range(3)}
    assert set(expired_deliveries({**old, **fresh}, now)) == set(old)
    crowded = {f"w{n}": (now - timedelta(seconds=n), "d") for n in range(MAX_DELIVERIES)}
    assert expired_deliveries(crowded, now) == (f"w{MAX_DELIVERIES - 1}",), "the oldest goes first"


def test_expired_deliveries_leave_the_item(store: DynamoStateStore) -> None:
    ingest(store, Scheduler(), event(), "w-old", clock=Clock(T0))
    later = Clock(T0 + DELIVERY_RETENTION + timedelta(minutes=1))
    ingest(store, Scheduler(), event("media.added", media=media(4)), "w-new", clock=later)
    snapshot = store.load_ingest_snapshot("L1")
    assert snapshot is not None and snapshot.deliveries is not None
    assert set(snapshot.deliveries) == {delivery_key("w-new")}


class MemoryClaims:
    def __init__(self) -> None:
        self.claimed: set[str] = set()
        self.released: list[str] = []

    def claim_sync_schedule(self, listing_id: str, now: datetime, hold_seconds: int) -> bool:
        if listing_id in self.claimed:
            return False
        self.claimed.add(listing_id)
        return True

    def release_sync_schedule(self, listing_id: str) -> None:
        self.claimed.discard(listing_id)
        self.released.append(listing_id)


def test_ensure_sync_scheduled_releases_the_claim_when_sending_fails() -> None:
    claims = MemoryClaims()
    with pytest.raises(SyncSchedulingFailed):
        ensure_sync_scheduled(
            "L1", store=claims, scheduler=Scheduler(failures=1), now=T0, delay_seconds=5, hold_seconds=60
        )
    assert claims.released == ["L1"] and "L1" not in claims.claimed
    scheduler = Scheduler()
    assert ensure_sync_scheduled(
        "L1", store=claims, scheduler=scheduler, now=T0, delay_seconds=5, hold_seconds=60
    )
    assert not ensure_sync_scheduled(
        "L1", store=claims, scheduler=scheduler, now=T0, delay_seconds=5, hold_seconds=60
    )
    assert scheduler.sent == [("L1", 5)]


def test_a_300_media_listing_with_a_full_delivery_map_stays_far_below_the_item_limit(
    store: DynamoStateStore, client: RecordingClient
) -> None:
    """DynamoDB refuses items over 400 KB: the biggest listing plus the capped delivery records fit."""
    long_url = "https://photos.agence-exemple.fr/annonces/" + "x" * 150
    listing = {
        "data": {**sample_data("L1"), "texts": {"headline": {"fr": "Très bel appartement " * 20}}},
        "media": [
            media(n, url=f"{long_url}/{n}.jpg", title=f"Pièce n°{n} — vue dégagée sur le jardin " * 3)
            for n in range(300)
        ],
    }
    clock = Clock()
    ingest(store, Scheduler(), event(listing=listing), "w0", clock=clock, recent=RecentListings())
    full_log = {
        delivery_key(f"msg_{n:032x}"): (T0 + timedelta(seconds=n), f"{n:016x}") for n in range(MAX_DELIVERIES)
    }
    client.inner.update_item(
        TableName="vitrine-StateTable",
        Key={"pk": {"S": "LISTING#L1"}, "sk": {"S": "DESIRED"}},
        UpdateExpression="SET deliveryLog = :d",
        ExpressionAttributeValues={":d": {"B": pack_delivery_log(full_log)}},
    )
    item = client.inner.get_item(
        TableName="vitrine-StateTable", Key={"pk": {"S": "LISTING#L1"}, "sk": {"S": "DESIRED"}}
    )["Item"]

    def size(value: Any) -> int:
        if isinstance(value, dict):
            return sum(len(k) + size(v) for k, v in value.items())
        if isinstance(value, list):
            return sum(size(v) for v in value)
        return len(value) if isinstance(value, (bytes, str)) else 8

    assert size(item) < 250_000, size(item)
    assert len(item["deliveryLog"]["B"]) == 1 + 24 * MAX_DELIVERIES, "a delivery costs the item 24 bytes"


def test_the_delivery_log_round_trips_through_its_binary_form() -> None:
    log = {
        delivery_key("msg_1"): (T0, "0123456789abcdef"),
        delivery_key("a webhook-id of any length " * 20): (T0 + timedelta(hours=30), body_digest(b"{}")),
        delivery_key("w"): (T0 + timedelta(days=1), body_digest(b"")),
    }
    packed = pack_delivery_log(log)
    assert unpack_delivery_log(packed) == log
    assert len(packed) == 1 + 3 * 24
    assert unpack_delivery_log(pack_delivery_log({})) == {}
    for unknown in (b"", b"\x07", packed[:-1]):
        with pytest.raises(ValueError, match="format"):
            unpack_delivery_log(unknown)


def test_the_item_grows_by_a_few_bytes_per_delivery_not_by_a_map_entry(
    store: DynamoStateStore, client: RecordingClient
) -> None:
    """Every write to an item costs write units in proportion to its size, so the dedupe records
    of a busy listing must stay small: one binary log, 24 bytes a delivery."""
    recent, clock = RecentListings(), Clock()
    ingest(store, Scheduler(), event(), "msg_0", clock=clock, recent=recent)
    for n in range(1, 200):
        ev = event("media.updated", media=media(n % 2, title=f"Titre {n}"))
        digest = body_digest(str(n).encode())
        ingest(store, Scheduler(), ev, f"msg_{uuid_like(n)}", clock=clock, recent=recent, digest=digest)
    item = client.inner.get_item(
        TableName="vitrine-StateTable", Key={"pk": {"S": "LISTING#L1"}, "sk": {"S": "DESIRED"}}
    )["Item"]
    assert "deliveries" not in item
    assert len(item["deliveryLog"]["B"]) == 1 + 200 * 24
    snapshot = store.load_ingest_snapshot("L1")
    assert snapshot is not None and snapshot.deliveries is not None and len(snapshot.deliveries) == 200
    assert snapshot.ingest_seq == 200


def uuid_like(n: int) -> str:
    return f"{n:08x}-aaaa-4bbb-8ccc-{n:012x}"


def test_a_stale_cache_cannot_miss_a_delivery_recorded_by_another_instance(store: DynamoStateStore) -> None:
    """A delivery recorded without a new version (the event changed nothing) still moves the
    ingest sequence: another instance's cached snapshot, which has not seen it, cannot record the
    same webhook-id as new."""
    first_instance, second_instance = RecentListings(), RecentListings()
    ingest(store, Scheduler(), event(), "w1", recent=first_instance)
    unchanged = ingest(store, Scheduler(), event(), "w2", recent=second_instance)
    assert not unchanged.changed
    retried = ingest(store, Scheduler(), event(), "w2", recent=first_instance)
    assert retried.duplicate
