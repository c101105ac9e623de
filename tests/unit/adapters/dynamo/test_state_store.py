"""DynamoStateStore against moto, with the StateTable created from template.yaml."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools.template import create_tables
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.dynamo.table import DIRTY_SHARD_COUNT, dirty_shard, listing_pk
from vitrine.core.errors import ConcurrentModification, FieldError
from vitrine.core.model import DesiredListing, LastSent, Media, SentMedia, SyncFailure

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
DYNAMODB_ITEM_LIMIT = 400 * 1024


class RecordingClient:
    """Wraps the boto3 client and remembers the operations called (to prove no Scan happens)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute):
            self.calls.append(name)
        return attribute


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="eu-west-1")


@pytest.fixture
def client(dynamodb: Any) -> RecordingClient:
    create_tables(dynamodb)
    return RecordingClient(dynamodb)


@pytest.fixture
def store(client: RecordingClient) -> DynamoStateStore:
    return DynamoStateStore("vitrine-StateTable", client)


def desired(listing_id: str = "L1", version: int = 1, media_count: int = 2, **changes: Any) -> DesiredListing:
    listing = DesiredListing(
        listing_id=listing_id,
        owner_id="owner-7",
        intermediary_id="agency-1",
        portals=["SL"],
        data={
            "estateType": "APARTMENT",
            "distributionType": "BUY",
            "prices": {"buy": {"price": 250000}},
            "location": {
                "postalcode": "75011",
                "city": "Paris",
                "street": "Rue Oberkampf",
                "houseNumber": "12",
                "country": "FRA",
            },
            "metaData": {"source": {"offererEstateId": listing_id, "offererMarketingKey": "k"}},
            "title": "Appartement lumineux — 3 pièces",
        },
        specific={"rooms": 3},
        media=[
            Media(
                id=f"m{i}",
                url=f"https://crm.example/media/{listing_id}/{i}.jpg?size=large&sig=abc",
                media_type="PICTURE",
                category="LIVING_ROOM" if i == 0 else None,
                tags=("KITCHEN",) if i == 1 else (),
                title=f"Photo {i}",
                version=f"v{i}",
            )
            for i in range(media_count)
        ],
        version=version,
        last_sequence=41,
        updated_at="2026-03-02T08:59:00Z",
    )
    for name, value in changes.items():
        setattr(listing, name, value)
    return listing


def sent_record(
    listing_id: str = "L1", desired_version: int = 1, media_count: int = 2, **changes: Any
) -> LastSent:
    media = [
        SentMedia(
            id=f"m{i}",
            url=f"https://crm.example/media/{listing_id}/{i}.jpg",
            version=f"v{i}",
            timestamp="2026-03-02T09:00:00",
            position=i,
        )
        for i in range(media_count)
    ]
    record = LastSent(
        listing_id=listing_id,
        classified_id="c-123",
        body={
            "portals": ["SL"],
            "data": {"title": "x"},
            "media": [{"url": f"{m.url}?timestamp={m.timestamp}", "mediaType": "PICTURE"} for m in media],
        },
        media=media,
        desired_version=desired_version,
        sent_at="2026-03-02T09:00:05+00:00",
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def raw_item(dynamodb: Any, listing_id: str, sk: str) -> dict[str, Any] | None:
    answer = dynamodb.get_item(
        TableName="vitrine-StateTable", Key={"pk": {"S": listing_pk(listing_id)}, "sk": {"S": sk}}
    )
    item: dict[str, Any] | None = answer.get("Item")
    return item


def add_attribute(dynamodb: Any, listing_id: str, name: str, value: dict[str, Any]) -> None:
    """An attribute another writer keeps on the item (the store must leave it alone)."""
    dynamodb.update_item(
        TableName="vitrine-StateTable",
        Key={"pk": {"S": listing_pk(listing_id)}, "sk": {"S": "DESIRED"}},
        UpdateExpression="SET #name = :value",
        ExpressionAttributeNames={"#name": name},
        ExpressionAttributeValues={":value": value},
    )


# --------------------------------------------------------------------------- desired


def test_desired_round_trip(store: DynamoStateStore) -> None:
    listing = desired()
    store.save_desired(listing, None, now=T0)
    assert store.load_desired("L1") == listing


def test_desired_round_trip_of_a_listing_without_data_or_optional_fields(store: DynamoStateStore) -> None:
    listing = DesiredListing(
        listing_id="L2", owner_id="o", media=[Media("m1", "https://x/1.jpg", "PICTURE")], version=1
    )
    store.save_desired(listing, None, now=T0)
    assert store.load_desired("L2") == listing
    state = store.load_sync_state("L2")
    assert state is not None and not state.has_data and state.dirty


def test_the_owners_locale_survives_the_round_trip_and_is_removed_when_it_goes(
    store: DynamoStateStore,
) -> None:
    french = desired("L4", locale="fr")
    store.save_desired(french, None, now=T0)
    assert store.load_desired("L4") == french
    unsaid = replace(french, locale=None, version=french.version + 1)
    store.save_desired(unsaid, french.version, now=T0)
    loaded = store.load_desired("L4")
    assert loaded is not None and loaded.locale is None


def test_an_empty_portal_list_survives_the_round_trip_distinct_from_absent(store: DynamoStateStore) -> None:
    nowhere = desired("L3", portals=[])
    store.save_desired(nowhere, None, now=T0)
    assert store.load_desired("L3") == nowhere
    loaded = store.load_desired("L3")
    assert loaded is not None and loaded.portals == []
    defaulted = replace(nowhere, portals=None, version=nowhere.version + 1)
    store.save_desired(defaulted, nowhere.version, now=T0)
    loaded = store.load_desired("L3")
    assert loaded is not None and loaded.portals is None


def test_unknown_listing_loads_as_none(store: DynamoStateStore) -> None:
    assert store.load_desired("nope") is None
    assert store.load_last_sent("nope") is None
    assert store.load_pending("nope") is None
    assert store.load_sync_state("nope") is None
    assert store.load_rejection("nope") is None


def test_large_documents_are_compressed_binaries_and_scalars_plain(
    store: DynamoStateStore, dynamodb: Any
) -> None:
    store.save_desired(desired(), None, now=T0)
    item = raw_item(dynamodb, "L1", "DESIRED")
    assert item is not None
    for name in ("data", "specific", "media"):
        assert "B" in item[name]
    assert item["version"] == {"N": "1"}
    assert item["ownerId"] == {"S": "owner-7"}
    assert item["dirty"] == {"BOOL": True}


def test_creating_an_existing_listing_is_a_conflict(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    with pytest.raises(ConcurrentModification):
        store.save_desired(desired(), None, now=T0)


def test_stale_expected_version_is_a_conflict_and_changes_nothing(store: DynamoStateStore) -> None:
    store.save_desired(desired(version=1), None, now=T0)
    store.save_desired(desired(version=2, specific={"rooms": 4}), 1, now=T0)
    with pytest.raises(ConcurrentModification):
        store.save_desired(desired(version=2, specific={"rooms": 5}), 1, now=T0)
    loaded = store.load_desired("L1")
    assert loaded is not None and loaded.version == 2 and loaded.specific == {"rooms": 4}


def test_save_clears_optional_fields_that_became_none(store: DynamoStateStore) -> None:
    store.save_desired(desired(version=1), None, now=T0)
    store.save_desired(desired(version=2, specific=None, intermediary_id=None, portals=None), 1, now=T0)
    loaded = store.load_desired("L1")
    assert loaded is not None
    assert (loaded.specific, loaded.intermediary_id, loaded.portals) == (None, None, None)


def test_new_versions_keep_the_first_unsent_time_and_move_the_last_edit(store: DynamoStateStore) -> None:
    store.save_desired(desired(version=1), None, now=T0)
    store.save_desired(desired(version=2), 1, now=T0 + timedelta(seconds=30))
    state = store.load_sync_state("L1")
    assert state is not None
    assert state.dirty and state.version == 2 and state.sent_version == 0
    assert state.first_unsent_at == T0
    assert state.last_edit_at == T0 + timedelta(seconds=30)


def test_saving_the_same_version_leaves_the_dirty_state_alone(store: DynamoStateStore) -> None:
    store.save_desired(desired(version=1), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0, 60)
    store.record_skipped("L1", 1, "sync-a")
    store.save_desired(desired(version=1, last_sequence=42), 1, now=T0 + timedelta(seconds=5))
    state = store.load_sync_state("L1")
    assert state is not None and not state.dirty and state.last_edit_at == T0


def test_save_keeps_lease_rejection_and_extra_attributes(store: DynamoStateStore, dynamodb: Any) -> None:
    store.save_desired(desired(version=1), None, now=T0)
    add_attribute(dynamodb, "L1", "syncAttempts", {"N": "3"})
    assert store.acquire_lease("L1", "sync-a", T0, 60)
    store.record_rejection("L1", 1, [FieldError("/data/prices", "missing")], "invalid", T0, "sync-a")
    store.save_desired(desired(version=2), 1, now=T0)
    state = store.load_sync_state("L1")
    assert state is not None
    assert state.lease_owner == "sync-a"
    assert state.rejected_version == 1
    assert (raw_item(dynamodb, "L1", "DESIRED") or {})["syncAttempts"] == {"N": "3"}


# --------------------------------------------------------------------------- lease


def test_lease_is_exclusive_until_it_expires(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0, 120)
    assert not store.acquire_lease("L1", "sync-b", T0 + timedelta(seconds=119), 120)
    assert store.acquire_lease("L1", "sync-a", T0 + timedelta(seconds=60), 120), "own lease is renewed"
    assert not store.acquire_lease("L1", "sync-b", T0 + timedelta(seconds=179), 120)
    assert store.acquire_lease("L1", "sync-b", T0 + timedelta(seconds=180), 120), "expired lease is taken"
    state = store.load_sync_state("L1")
    assert state is not None and state.lease_owner == "sync-b"
    assert state.lease_expires_at == T0 + timedelta(seconds=300)


def test_release_only_by_the_owner(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0, 120)
    store.release_lease("L1", "sync-b")
    assert not store.acquire_lease("L1", "sync-b", T0, 120)
    store.release_lease("L1", "sync-a")
    assert store.acquire_lease("L1", "sync-b", T0, 120)


def test_lease_on_an_unknown_listing_writes_nothing(store: DynamoStateStore, dynamodb: Any) -> None:
    assert store.acquire_lease("ghost", "sync-a", T0, 120)
    store.release_lease("ghost", "sync-a")
    assert raw_item(dynamodb, "ghost", "DESIRED") is None
    store.save_desired(desired("ghost"), None, now=T0)  # creation is not blocked


def test_pending_needs_the_lease(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    with pytest.raises(ConcurrentModification):
        store.record_pending(sent_record(), "sync-a")
    assert store.load_pending("L1") is None
    assert store.acquire_lease("L1", "sync-a", T0, 120)
    store.record_pending(sent_record(), "sync-a")
    assert store.load_pending("L1") == sent_record()


# --------------------------------------------------------------------------- sent / skipped / rejected


def test_record_sent_replaces_pending_and_cleans_the_listing(store: DynamoStateStore, dynamodb: Any) -> None:
    store.save_desired(desired(), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0, 120)
    store.record_pending(sent_record(), "sync-a")
    sent = sent_record(etag='"e1"', revision=4)
    store.record_sent(sent, "sync-a")
    assert store.load_last_sent("L1") == sent
    assert store.load_pending("L1") is None
    state = store.load_sync_state("L1")
    assert state is not None
    assert (state.dirty, state.sent_version, state.first_unsent_at) == (False, 1, None)
    item = raw_item(dynamodb, "L1", "DESIRED")
    assert item is not None and not {"dirty", "dirtyShard", "dirtySince", "firstUnsentAt"} & set(item)
    assert list(store.dirty_listings()) == []


def test_record_sent_keeps_a_newer_version_dirty(store: DynamoStateStore) -> None:
    store.save_desired(desired(version=1), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0 + timedelta(seconds=60), 120)
    # ingestion stores version 2 while the sync of version 1 is under way (it takes no lease)
    store.save_desired(desired(version=2), 1, now=T0 + timedelta(seconds=61))
    store.record_sent(sent_record(desired_version=1), "sync-a")
    state = store.load_sync_state("L1")
    assert state is not None
    assert (state.dirty, state.version, state.sent_version) == (True, 2, 1)
    assert state.first_unsent_at == T0 + timedelta(seconds=61), "the unsent edits are the newer ones"
    assert list(store.dirty_listings()) == ["L1"]
    assert store.load_last_sent("L1") == sent_record(desired_version=1)
    # the next sync of version 2 cleans it
    store.record_sent(sent_record(desired_version=2), "sync-a")
    state = store.load_sync_state("L1")
    assert state is not None and not state.dirty and state.sent_version == 2


def test_record_sent_without_the_lease_writes_nothing(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0, 120)
    store.record_pending(sent_record(), "sync-a")
    assert store.acquire_lease("L1", "sync-b", T0 + timedelta(seconds=121), 120)
    with pytest.raises(ConcurrentModification):
        store.record_sent(sent_record(), "sync-a")
    assert store.load_last_sent("L1") is None
    assert store.load_pending("L1") == sent_record()
    state = store.load_sync_state("L1")
    assert state is not None and state.dirty


def test_record_skipped_cleans_but_keeps_pending(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0, 120)
    store.record_pending(sent_record(), "sync-a")
    store.record_skipped("L1", 1, "sync-a")
    state = store.load_sync_state("L1")
    assert state is not None and not state.dirty and state.sent_version == 1
    assert store.load_pending("L1") == sent_record()
    with pytest.raises(ConcurrentModification):
        store.record_skipped("L1", 1, "sync-b")


def test_rejection_is_kept_and_the_version_not_retried(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    assert store.acquire_lease("L1", "sync-a", T0, 120)
    errors = [FieldError("/data/prices/buy/price", "must be > 0"), FieldError("/media/0/url", "bad")]
    store.record_rejection("L1", 1, errors, "Validation failed", T0, "sync-a")
    rejection = store.load_rejection("L1")
    assert rejection is not None
    assert rejection.desired_version == 1
    assert rejection.errors == tuple(errors)
    assert rejection.detail == "Validation failed"
    assert rejection.at == T0
    state = store.load_sync_state("L1")
    assert state is not None and not state.dirty and state.sent_version == 1
    assert list(store.dirty_listings()) == []
    # a later version is dirty again (and synced normally)
    store.save_desired(desired(version=2), 1, now=T0 + timedelta(seconds=10))
    assert list(store.dirty_listings()) == ["L1"]


# --------------------------------------------------------------------------- dirty index


def test_dirty_listings_come_from_the_index_oldest_first(
    store: DynamoStateStore, client: RecordingClient
) -> None:
    for n in range(12):
        store.save_desired(desired(f"L{n}"), None, now=T0 + timedelta(seconds=n))
    for n in (1, 4, 7, 10):
        assert store.acquire_lease(f"L{n}", "sync-a", T0, 120)
        store.record_sent(sent_record(f"L{n}"), "sync-a")
    assert {dirty_shard(f"L{n}") for n in range(12)} <= {f"DIRTY#{i}" for i in range(DIRTY_SHARD_COUNT)}
    client.calls.clear()
    expected = [f"L{n}" for n in range(12) if n not in (1, 4, 7, 10)]
    assert list(store.dirty_listings()) == expected
    assert list(store.dirty_listings(limit=3)) == expected[:3]
    assert list(store.dirty_listings(dirty_before=T0 + timedelta(seconds=5))) == ["L0", "L2", "L3"]
    assert "scan" not in client.calls
    assert set(client.calls) == {"query"}


# --------------------------------------------------------------------------- sync scheduling claim


def test_sync_schedule_claim_is_single_until_released_or_expired(
    store: DynamoStateStore, dynamodb: Any
) -> None:
    store.save_desired(desired(), None, now=T0)
    assert store.claim_sync_schedule("L1", T0, 600)
    assert not store.claim_sync_schedule("L1", T0 + timedelta(seconds=599), 600)
    assert store.claim_sync_schedule("L1", T0 + timedelta(seconds=600), 600), "an expired claim is retaken"
    store.release_sync_schedule("L1")
    assert store.claim_sync_schedule("L1", T0 + timedelta(seconds=601), 600)
    state = store.load_sync_state("L1")
    assert state is not None and state.sync_scheduled_until == T0 + timedelta(seconds=1201)
    assert not store.claim_sync_schedule("ghost", T0, 600)
    store.release_sync_schedule("ghost")
    assert raw_item(dynamodb, "ghost", "DESIRED") is None


def test_sync_schedule_claims_only_dirty_syncable_listings(store: DynamoStateStore) -> None:
    no_data = desired("N1", data=None)
    store.save_desired(no_data, None, now=T0)
    assert not store.claim_sync_schedule("N1", T0, 600), "media before data: nothing AVIV can be told yet"
    store.save_desired(desired("N2"), None, now=T0)
    assert store.acquire_lease("N2", "w", T0, 60)
    store.record_skipped("N2", 1, "w")
    assert not store.claim_sync_schedule("N2", T0, 600), "a clean listing needs no message"
    deleted = desired("N3", data=None, deleted=True)
    store.save_desired(deleted, None, now=T0)
    assert store.claim_sync_schedule("N3", T0, 600), "a deletion is syncable without data"


def test_the_dirty_index_holds_only_listings_aviv_can_be_told_about(store: DynamoStateStore) -> None:
    early = desired("EARLY", data=None)
    store.save_desired(early, None, now=T0)
    assert list(store.dirty_listings()) == [], "media before data: nothing for the sweep to do yet"
    state = store.load_sync_state("EARLY")
    assert state is not None and state.dirty
    with_data = desired("EARLY", version=2)
    store.save_desired(with_data, 1, now=T0 + timedelta(seconds=5))
    assert list(store.dirty_listings()) == ["EARLY"]


# --------------------------------------------------------------------------- item sizes


def _attribute_size(value: dict[str, Any]) -> int:
    """DynamoDB's item size rules (names + values; numbers ~1 byte per 2 digits, +1; containers +3)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "B":
        return len(content)
    if kind == "N":
        return len(content.lstrip("-").replace(".", "")) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _attribute_size(v) for v in content)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + _attribute_size(v) for k, v in content.items())
    if kind in ("SS", "BS", "NS"):
        return sum(len(str(v)) for v in content)
    raise AssertionError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + _attribute_size(value) for name, value in item.items())


def _noise(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=length))


def test_a_300_media_listing_stays_far_below_the_item_limit(store: DynamoStateStore, dynamodb: Any) -> None:
    rng = random.Random(7)  # random tokens: compression must not be flattered by repetitive test data
    media = [
        Media(
            id=f"media-{_noise(rng, 24)}",
            url=f"https://cdn.crm.example/agencies/{_noise(rng, 12)}/listings/{_noise(rng, 16)}/photos/"
            f"{_noise(rng, 40)}.jpg?w=2048&h=1536&sig={_noise(rng, 64)}&exp=1767225600",
            media_type="PICTURE",
            category="LIVING_ROOM",
            tags=("KITCHEN", "INDOOR"),
            title=f"Séjour lumineux avec vue dégagée {_noise(rng, 40)}",
            version=_noise(rng, 32),
        )
        for _ in range(300)
    ]
    assert all(len(m.url) >= 190 for m in media)
    listing = desired("BIG", media_count=0, media=media)
    listing.data = {**(listing.data or {}), "description": _noise(rng, 4000)}
    store.save_desired(listing, None, now=T0)

    sent_media = [
        SentMedia(id=m.id, url=m.url, version=m.version, timestamp="2026-03-02T09:00:00", position=i)
        for i, m in enumerate(media)
    ]
    body = {
        "portals": ["SL"],
        "data": listing.data,
        "media": [
            {
                "url": f"{m.url}&timestamp=2026-03-02T09:00:00",
                "mediaType": m.media_type,
                "category": m.category,
                "tags": list(m.tags),
                "title": m.title,
            }
            for m in media
        ],
    }
    record = LastSent("BIG", "c-1", body, sent_media, 1, "2026-03-02T09:00:05+00:00")
    assert store.acquire_lease("BIG", "sync-a", T0, 120)
    store.record_pending(record, "sync-a")  # moto refuses items over its ~405 KB limit
    sizes = {"PENDING": item_size(raw_item(dynamodb, "BIG", "PENDING") or {})}
    store.record_sent(record, "sync-a")
    sizes["SENT"] = item_size(raw_item(dynamodb, "BIG", "SENT") or {})
    sizes["DESIRED"] = item_size(raw_item(dynamodb, "BIG", "DESIRED") or {})

    for kind, size in sizes.items():
        assert 0 < size < DYNAMODB_ITEM_LIMIT // 2, f"{kind} item is {size} bytes"
    assert store.load_desired("BIG") == listing
    assert store.load_last_sent("BIG") == record


def test_a_failed_attempt_is_kept_until_a_version_is_handled(store: DynamoStateStore) -> None:
    store.save_desired(desired(), None, now=T0)
    failure = SyncFailure(
        at="2026-03-02T09:01:00Z", attempts=3, error="AvivRetryable: 503", dead_lettered=False
    )
    store.record_sync_failure("L1", failure)
    assert store.load_sync_failure("L1") == failure
    assert store.acquire_lease("L1", "w", T0, 60)
    store.record_skipped("L1", 1, "w")
    assert store.load_sync_failure("L1") is None


def test_a_failure_of_an_unknown_listing_writes_nothing(store: DynamoStateStore) -> None:
    store.record_sync_failure("nobody", SyncFailure(at="", attempts=1, error="x"))
    assert store.load_sync_failure("nobody") is None and store.load_desired("nobody") is None
