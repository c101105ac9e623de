"""sync_listing with an in-memory AVIV and the DynamoDB store on moto."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import dynamodb_client, make_tables, mocked_aws
from tests.support.listings import sample_desired, sample_media
from vitrine.adapters.dynamo.sent_item import sent_item
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.dynamo.table import SK_SENT
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.errors import (
    AvivDuplicatedClassified,
    AvivNotFound,
    AvivProblem,
    AvivRejected,
    AvivRetryable,
    ConcurrentModification,
    LeaseHeld,
)
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.ports import AvivAccepted, AvivClassifiedCopy
from vitrine.core.sync import SyncOutcome, sync_listing

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
DEFAULTS = ClassifiedDefaults(source_system="vitrine", source_system_version="0.1.0", default_portals=("SL",))


class FakeAviv:
    """AVIV in memory: classifieds by id, unique offererEstateId, every call recorded.

    ``fail_next(op, error)`` makes the next ``op`` call raise ``error`` without doing anything;
    ``lose_next_answer(op)`` makes it do its work and then raise AvivRetryable (the answer was lost).
    """

    def __init__(self, *, duplicate_names_id: bool = True) -> None:
        self.classifieds: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str | None, dict[str, Any] | None]] = []
        self.duplicate_names_id = duplicate_names_id
        self._ids = (f"c-{n}" for n in itertools.count(1))
        self._failures: dict[str, list[Exception]] = {}
        self._lost_answers: dict[str, int] = {}

    def fail_next(self, operation: str, error: Exception) -> None:
        self._failures.setdefault(operation, []).append(error)

    def lose_next_answer(self, operation: str) -> None:
        self._lost_answers[operation] = self._lost_answers.get(operation, 0) + 1

    def _before(self, operation: str, classified_id: str | None, body: dict[str, Any] | None) -> None:
        self.calls.append((operation, classified_id, copy.deepcopy(body)))
        failures = self._failures.get(operation)
        if failures:
            raise failures.pop(0)

    def _after(self, operation: str, classified_id: str) -> AvivAccepted:
        if self._lost_answers.get(operation):
            self._lost_answers[operation] -= 1
            raise AvivRetryable(f"{operation}: read timed out")
        return AvivAccepted(classified_id)

    @staticmethod
    def _offerer_estate_id(body: dict[str, Any]) -> str:
        return str(body["data"]["metaData"]["source"]["offererEstateId"])

    def create(self, body: dict[str, Any], *, intermediary_id: str | None = None) -> AvivAccepted:
        self._before("POST", None, body)
        for existing_id, existing in self.classifieds.items():
            if self._offerer_estate_id(existing) == self._offerer_estate_id(body):
                problem = AvivProblem(status=400, title="Bad Request", detail="Duplicated classified")
                raise AvivDuplicatedClassified(
                    "Duplicated classified", existing_id if self.duplicate_names_id else None, problem
                )
        classified_id = next(self._ids)
        self.classifieds[classified_id] = copy.deepcopy(body)
        return self._after("POST", classified_id)

    def update(
        self,
        classified_id: str,
        body: dict[str, Any],
        *,
        if_match: str | None = None,
        intermediary_id: str | None = None,
    ) -> AvivAccepted:
        self._before("PUT", classified_id, body)
        if classified_id not in self.classifieds:
            raise AvivNotFound(f"classified {classified_id} not found")
        self.classifieds[classified_id] = copy.deepcopy(body)
        return self._after("PUT", classified_id)

    def delete(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivAccepted:
        self._before("DELETE", classified_id, None)
        if self.classifieds.pop(classified_id, None) is None:
            raise AvivNotFound(f"classified {classified_id} not found")
        return self._after("DELETE", classified_id)

    def get(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivClassifiedCopy:
        self._before("GET", classified_id, None)
        if classified_id not in self.classifieds:
            raise AvivNotFound(classified_id)
        return AvivClassifiedCopy(classified_id, copy.deepcopy(self.classifieds[classified_id]), '"1"')

    def latest_status(
        self, classified_id: str, *, intermediary_id: str | None = None
    ) -> dict[str, Any] | None:
        return None

    def find_by_offerer_estate_id(
        self, offerer_estate_id: str, *, intermediary_id: str | None = None
    ) -> list[dict[str, Any]]:
        self.calls.append(("FIND", offerer_estate_id, None))
        return [
            {**copy.deepcopy(body), "classifiedId": cid}
            for cid, body in self.classifieds.items()
            if self._offerer_estate_id(body) == offerer_estate_id
        ]

    def operations(self) -> list[str]:
        return [operation for operation, _, _ in self.calls]


@pytest.fixture
def store() -> Iterator[DynamoStateStore]:
    with mocked_aws():
        tables = make_tables()
        yield DynamoStateStore(tables["StateTable"], dynamodb_client())


@pytest.fixture
def aviv() -> FakeAviv:
    return FakeAviv()


Sync = Callable[..., SyncOutcome]


@pytest.fixture
def sync(store: DynamoStateStore, aviv: FakeAviv) -> Sync:
    def run(
        listing_id: str = "L-1",
        *,
        now: datetime = T0,
        lease_owner: str = "worker-1",
        force: bool = False,
        adopt: bool = True,
    ) -> SyncOutcome:
        return sync_listing(
            listing_id,
            store=store,
            aviv=aviv,
            defaults=DEFAULTS,
            now=now,
            lease_owner=lease_owner,
            force=force,
            adopt_held_media=adopt,
        )

    return run


def save(store: DynamoStateStore, listing: DesiredListing, now: datetime = T0) -> DesiredListing:
    """Store ``listing`` as the next version (what ingestion does)."""
    current = store.load_desired(listing.listing_id)
    listing = replace(listing, version=1 if current is None else current.version + 1)
    store.save_desired(listing, None if current is None else current.version, now=now)
    return listing


def media_urls(body: dict[str, Any] | None) -> list[str]:
    return [item["url"] for item in (body or {}).get("media", [])]


def is_dirty(store: DynamoStateStore, listing_id: str = "L-1") -> bool:
    state = store.load_sync_state(listing_id)
    assert state is not None
    return state.dirty


# --------------------------------------------------------------------------- happy paths


def test_first_sync_posts_and_records_what_was_sent(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 4))
    outcome = sync()
    assert (outcome.status, outcome.operation, outcome.classified_id) == ("sent", "POST", "c-1")
    assert outcome.diff is not None and outcome.diff.first_send
    assert aviv.operations() == ["POST"]
    sent = store.load_last_sent("L-1")
    assert sent is not None
    assert sent.classified_id == "c-1"
    assert sent.body == aviv.classifieds["c-1"]
    assert [m.id for m in sent.media] == [f"L-1-m{i:04d}" for i in range(4)]
    assert all("timestamp=" in url for url in media_urls(sent.body))
    assert store.load_pending("L-1") is None
    assert not is_dirty(store)
    log = outcome.to_log()
    assert log["status"] == "sent" and log["operation"] == "POST" and log["diff"]["first_send"]


def test_an_identical_second_sync_sends_nothing(store: DynamoStateStore, aviv: FakeAviv, sync: Sync) -> None:
    save(store, sample_desired("L-1", 4))
    sync()
    save(store, sample_desired("L-1", 4), now=T0 + timedelta(minutes=5))  # same content, new version
    outcome = sync(now=T0 + timedelta(minutes=6))
    assert outcome.status == "skipped" and outcome.operation is None
    assert outcome.diff is not None and outcome.diff.is_noop
    assert aviv.operations() == ["POST"]
    assert not is_dirty(store)


def test_a_changed_photo_is_put_with_only_its_timestamp_changed(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, sample_desired("L-1", 4))
    sync()
    first_urls = media_urls(aviv.classifieds["c-1"])
    changed = replace(
        listing, media=[*listing.media[:2], replace(listing.media[2], version="v9"), listing.media[3]]
    )
    save(store, changed, now=T0 + timedelta(hours=1))
    outcome = sync(now=T0 + timedelta(hours=1, minutes=1))
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    assert outcome.diff is not None and outcome.diff.redownloaded == ("L-1-m0002",)
    new_urls = media_urls(aviv.classifieds["c-1"])
    assert [a == b for a, b in zip(first_urls, new_urls, strict=True)] == [True, True, False, True]


# --------------------------------------------------------------------------- recovery


def test_a_post_whose_answer_was_lost_is_recovered_by_reading_what_aviv_holds_and_sending_nothing(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 3))
    aviv.lose_next_answer("POST")
    with pytest.raises(AvivRetryable):
        sync()
    pending = store.load_pending("L-1")
    assert pending is not None and store.load_last_sent("L-1") is None

    outcome = sync(now=T0 + timedelta(minutes=3))  # the queue redelivers later
    assert (outcome.status, outcome.operation, outcome.classified_id) == ("skipped", None, "c-1")
    assert outcome.adopted == 3
    assert aviv.operations() == ["POST", "POST", "GET"], "AVIV already holds the body: no PUT"
    sent = store.load_last_sent("L-1")
    assert sent is not None and sent.body == aviv.classifieds["c-1"] == pending.body
    assert store.load_pending("L-1") is None and not is_dirty(store)


def test_without_adoption_a_post_whose_answer_was_lost_is_recovered_as_a_put_of_the_same_body(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 3))
    aviv.lose_next_answer("POST")
    with pytest.raises(AvivRetryable):
        sync(adopt=False)
    assert store.load_pending("L-1") is not None and store.load_last_sent("L-1") is None
    assert is_dirty(store)

    outcome = sync(now=T0 + timedelta(minutes=3), adopt=False)  # the queue redelivers later
    assert (outcome.status, outcome.operation, outcome.classified_id) == ("sent", "PUT", "c-1")
    assert aviv.operations() == ["POST", "POST", "PUT"]
    first_body, retried_body, put_body = (body for _, _, body in aviv.calls)
    assert first_body == retried_body == put_body, "pending timestamps were reused"
    assert len(aviv.classifieds) == 1
    assert store.load_last_sent("L-1") is not None and store.load_pending("L-1") is None
    assert not is_dirty(store)


@pytest.mark.parametrize(
    ("adopt", "expected"),
    [
        (True, ("skipped", None, ["POST", "POST", "FIND"])),
        (False, ("sent", "PUT", ["POST", "POST", "FIND", "PUT"])),
    ],
)
def test_duplicate_without_an_id_is_resolved_by_offerer_estate_id(
    store: DynamoStateStore, adopt: bool, expected: tuple[str, str | None, list[str]]
) -> None:
    aviv = FakeAviv(duplicate_names_id=False)
    save(store, sample_desired("L-1", 2))
    aviv.lose_next_answer("POST")

    def sync() -> SyncOutcome:
        return sync_listing(
            "L-1", store=store, aviv=aviv, defaults=DEFAULTS, now=T0, lease_owner="w", adopt_held_media=adopt
        )

    with pytest.raises(AvivRetryable):
        sync()
    outcome = sync()
    assert (outcome.status, outcome.operation, aviv.operations()) == expected
    assert outcome.classified_id == "c-1"


def test_put_answered_404_creates_the_classified_again(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, sample_desired("L-1", 2))
    sync()
    del aviv.classifieds["c-1"]  # removed on AVIV's side (expired, deleted by hand)
    save(store, replace(listing, specific={"note": "new"}), now=T0 + timedelta(hours=1))
    outcome = sync(now=T0 + timedelta(hours=1))
    assert (outcome.status, outcome.operation, outcome.classified_id) == ("sent", "POST", "c-2")
    assert aviv.operations() == ["POST", "PUT", "POST"]
    sent = store.load_last_sent("L-1")
    assert sent is not None and sent.classified_id == "c-2"


# --------------------------------------------------------------------------- forced (vitrine resync)


def test_a_forced_sync_puts_the_identical_body_again_without_moving_a_timestamp(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 3))
    sync()
    first = store.load_last_sent("L-1")
    aviv.classifieds["c-1"]["data"]["estateType"] = "HOUSE"  # changed on AVIV's side, outside vitrine
    outcome = sync(now=T0 + timedelta(hours=2), force=True)
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    assert outcome.diff is not None and outcome.diff.is_noop, "nothing changed on vitrine's side"
    assert aviv.operations() == ["POST", "PUT"]
    assert first is not None and aviv.classifieds["c-1"] == first.body
    again = store.load_last_sent("L-1")
    assert again is not None and [m.timestamp for m in again.media] == [m.timestamp for m in first.media]
    assert again.sent_at != first.sent_at and not is_dirty(store)


def test_a_forced_sync_creates_again_a_classified_deleted_outside_vitrine(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 2))
    sync()
    del aviv.classifieds["c-1"]
    outcome = sync(now=T0 + timedelta(hours=1), force=True)
    assert (outcome.status, outcome.operation, outcome.classified_id) == ("sent", "POST", "c-2")
    assert aviv.operations() == ["POST", "PUT", "POST"]


def test_without_force_an_unchanged_listing_is_still_not_sent(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 2))
    sync()
    assert sync(now=T0 + timedelta(hours=1)).status == "skipped"
    assert aviv.operations() == ["POST"]


def test_a_retryable_failure_propagates_and_the_retry_sends_an_identical_body(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, sample_desired("L-1", 3))
    sync()
    # a new photo: its timestamp is chosen now, and must not change when the send is retried
    save(store, replace(listing, media=[*listing.media, sample_media("L-1", 3)]), now=T0 + timedelta(hours=1))
    aviv.fail_next("PUT", AvivRetryable("503 Service Unavailable"))
    with pytest.raises(AvivRetryable):
        sync(now=T0 + timedelta(hours=1, seconds=1))
    pending = store.load_pending("L-1")
    assert pending is not None and is_dirty(store)
    outcome = sync(now=T0 + timedelta(hours=2, minutes=17, seconds=3))
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    failed_body, retried_body = (body for operation, _, body in aviv.calls if operation == "PUT")
    assert failed_body == retried_body == pending.body
    assert "timestamp=2026-03-02T10:00:01" in media_urls(retried_body)[3]


def test_a_lost_record_sent_is_repaired_by_the_retry(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, sample_desired("L-1", 3))
    sync()
    # reordered, plus a new photo whose timestamp is chosen by the first attempt
    media = [*reversed(listing.media), sample_media("L-1", 3)]
    save(store, replace(listing, media=media), now=T0 + timedelta(hours=1))
    original_record_sent = store.record_sent
    calls = {"n": 0}

    def record_sent_failing_once(sent: LastSent, lease_owner: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConcurrentModification("simulated crash after the AVIV call")
        original_record_sent(sent, lease_owner)

    store.record_sent = record_sent_failing_once  # type: ignore[method-assign]
    with pytest.raises(ConcurrentModification):
        sync(now=T0 + timedelta(hours=1, minutes=1))
    outcome = sync(now=T0 + timedelta(hours=1, minutes=9))
    assert outcome.status == "sent"
    bodies = [body for operation, _, body in aviv.calls if operation == "PUT"]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert not is_dirty(store)


# --------------------------------------------------------------------------- rejection


def test_an_aviv_rejection_is_recorded_and_not_retried(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 2))
    problem = AvivProblem(
        status=400,
        title="Bad Request",
        detail="Validation failed",
        errors=[{"name": "/data/prices/buy/price/amount", "reason": "must be greater than 0"}],
    )
    aviv.fail_next("POST", AvivRejected("400 Bad Request", problem))
    outcome = sync()
    assert outcome.status == "rejected" and outcome.detail == "Validation failed"
    assert [e.to_dict() for e in outcome.errors] == [
        {"pointer": "/data/prices/buy/price/amount", "reason": "must be greater than 0"}
    ]
    rejection = store.load_rejection("L-1")
    assert rejection is not None
    assert (rejection.desired_version, rejection.detail) == (1, "Validation failed")
    assert rejection.errors == outcome.errors
    assert not is_dirty(store) and list(store.dirty_listings()) == []
    assert store.load_last_sent("L-1") is None

    # a duplicate message that gets the lease afterwards neither calls AVIV nor re-records
    again = sync(now=T0 + timedelta(minutes=1))
    assert again.status == "skipped" and aviv.operations() == ["POST"]

    # the owner fixes the listing: the new version is sent normally
    save(store, sample_desired("L-1", 2, specific={"fixed": True}), now=T0 + timedelta(hours=1))
    assert sync(now=T0 + timedelta(hours=1)).status == "sent"
    assert aviv.operations() == ["POST", "POST"]


def test_an_invalid_classified_is_rejected_without_calling_aviv(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = sample_desired("L-1", 2)
    listing.data = {**(listing.data or {}), "estateType": "CASTLE_IN_THE_AIR"}
    save(store, listing)
    outcome = sync()
    assert outcome.status == "rejected" and outcome.errors
    assert aviv.calls == []
    rejection = store.load_rejection("L-1")
    assert rejection is not None and rejection.errors == outcome.errors
    assert not is_dirty(store)


# --------------------------------------------------------------------------- deletion, readiness, lease


def test_a_deleted_listing_is_deleted_on_aviv_once(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, sample_desired("L-1", 2))
    sync()
    save(store, replace(listing, deleted=True), now=T0 + timedelta(hours=1))
    outcome = sync(now=T0 + timedelta(hours=1))
    assert (outcome.status, outcome.operation, outcome.classified_id) == ("deleted", "DELETE", "c-1")
    assert aviv.classifieds == {}
    sent = store.load_last_sent("L-1")
    assert sent is not None and sent.deleted and sent.body == {} and sent.media == []
    assert not is_dirty(store)
    assert sync(now=T0 + timedelta(hours=2)).status == "skipped"
    assert aviv.operations() == ["POST", "DELETE"]


def test_a_delete_answered_404_counts_as_done(store: DynamoStateStore, aviv: FakeAviv, sync: Sync) -> None:
    listing = save(store, sample_desired("L-1", 2))
    sync()
    aviv.classifieds.clear()
    save(store, replace(listing, deleted=True), now=T0 + timedelta(hours=1))
    assert sync(now=T0 + timedelta(hours=1)).status == "deleted"
    assert not is_dirty(store)


def test_a_listing_never_sent_is_deleted_without_a_call(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, replace(sample_desired("L-1", 2), deleted=True))
    assert sync().status == "skipped"
    assert aviv.calls == []
    assert not is_dirty(store)


def test_a_deleted_listing_whose_first_post_answer_was_lost_is_found_and_deleted(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, sample_desired("L-1", 2))
    aviv.lose_next_answer("POST")
    with pytest.raises(AvivRetryable):
        sync()
    save(store, replace(listing, deleted=True), now=T0 + timedelta(minutes=1))
    outcome = sync(now=T0 + timedelta(minutes=2))
    assert (outcome.status, outcome.classified_id) == ("deleted", "c-1")
    assert aviv.classifieds == {}


def test_a_listing_without_data_is_not_ready_and_stays_dirty(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, replace(sample_desired("L-1", 2), data=None))
    outcome = sync()
    assert outcome.status == "not_ready" and outcome.desired_version == 1
    assert aviv.calls == []
    assert is_dirty(store)


def test_an_unknown_listing_is_missing(store: DynamoStateStore, aviv: FakeAviv, sync: Sync) -> None:
    assert sync("nobody").status == "missing"
    assert aviv.calls == []


def test_a_held_lease_raises_and_is_left_alone(store: DynamoStateStore, aviv: FakeAviv, sync: Sync) -> None:
    save(store, sample_desired("L-1", 2))
    assert store.acquire_lease("L-1", "worker-2", T0, 120)
    with pytest.raises(LeaseHeld):
        sync(lease_owner="worker-1")
    assert aviv.calls == []
    state = store.load_sync_state("L-1")
    assert state is not None and state.lease_owner == "worker-2"


def test_the_lease_is_released_after_success_and_after_failure(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    save(store, sample_desired("L-1", 2))
    aviv.fail_next("POST", AvivRetryable("boom"))
    with pytest.raises(AvivRetryable):
        sync(lease_owner="worker-1")
    state = store.load_sync_state("L-1")
    assert state is not None and state.lease_owner is None
    assert sync(lease_owner="worker-2").status == "sent"
    state = store.load_sync_state("L-1")
    assert state is not None and state.lease_owner is None


# --------------------------------------------------------------------------- agency moves


def test_a_changed_agency_deletes_under_the_old_one_then_posts_under_the_new_one(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, replace(sample_desired("L-1", 2), intermediary_id="agency-a"))
    sync()
    save(store, replace(listing, intermediary_id="agency-b"), now=T0 + timedelta(hours=1))
    outcome = sync(now=T0 + timedelta(hours=1))
    assert (outcome.status, outcome.operation, outcome.withdrawn) == ("sent", "POST", "c-1")
    assert aviv.operations() == ["POST", "DELETE", "POST"]
    sent = store.load_last_sent("L-1")
    assert sent is not None and (sent.classified_id, sent.intermediary_id) == ("c-2", "agency-b")
    assert not is_dirty(store)


def test_a_record_sent_before_agencies_were_recorded_is_never_taken_for_a_move(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, replace(sample_desired("L-1", 2), intermediary_id="agency-a"))
    sync()
    sent = store.load_last_sent("L-1")
    assert sent is not None
    legacy_item = sent_item(replace(sent, intermediary_recorded=False, intermediary_id=None), SK_SENT)
    dynamodb_client().put_item(TableName=store.table_name, Item=legacy_item)
    legacy = store.load_last_sent("L-1")
    assert legacy is not None and not legacy.intermediary_recorded
    save(store, replace(listing, specific={"note": "edited"}), now=T0 + timedelta(hours=1))
    outcome = sync(now=T0 + timedelta(hours=1))
    assert (outcome.status, outcome.operation, outcome.withdrawn) == ("sent", "PUT", None)
    assert aviv.operations() == ["POST", "PUT"]


def test_a_refused_delete_is_recorded_with_what_to_do(
    store: DynamoStateStore, aviv: FakeAviv, sync: Sync
) -> None:
    listing = save(store, sample_desired("L-1", 1))
    sync()
    save(store, replace(listing, deleted=True), now=T0 + timedelta(hours=1))
    aviv.fail_next(
        "DELETE", AvivRejected("400", AvivProblem(status=400, title="Bad request", detail="Cannot delete"))
    )
    outcome = sync(now=T0 + timedelta(hours=1))
    assert (outcome.status, outcome.detail) == ("rejected", "Cannot delete")
    rejection = store.load_rejection("L-1")
    assert rejection is not None and rejection.action is not None and "c-1" in rejection.action
    assert sync(now=T0 + timedelta(hours=2)).status == "skipped"
    assert aviv.operations() == ["POST", "DELETE"]
