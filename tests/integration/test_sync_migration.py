"""Migration, agency moves and reserved ids, over real HTTP: the real AvivClient against the AVIV
emulator (which really downloads each new or re-stamped media from a MediaServer), state on moto.

* adoption: a first send onto a classified another sender created keeps AVIV's media URLs, so the
  portals download only what the CRM added;
* agency move: DELETE under the old agency's token, POST under the new one, convergent after a crash;
* refusals vitrine cannot fix (a reserved offererEstateId, a 400 on DELETE) end as one recorded
  rejection and no more AVIV calls for that version, with the emulator's reserved-id mode on and off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer
from tests.support.aws import dynamodb_client, make_tables, mocked_aws
from tests.support.emulator import emulator_client
from tests.support.listings import sample_desired, sample_media
from tests.support.migration import PREVIOUS_TIMESTAMP, other_sender_body
from vitrine.adapters.aviv.client import AvivClient
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.errors import AvivRetryable, ConcurrentModification
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.refusals import OFFERER_ESTATE_ID_POINTER
from vitrine.core.sync import SyncOutcome, sync_listing
from vitrine.core.timestamps import strip_timestamp

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
DEFAULTS = ClassifiedDefaults("vitrine", "0.1.0", ("SL",), default_intermediary_id="agency-test")
LISTING = "L-mig-1"


@pytest.fixture
def aviv(emulator: AvivEmulator, media_server: MediaServer) -> Iterator[AvivClient]:
    emulator.reset()
    media_server.reset()
    yield emulator_client(emulator)
    emulator.reserve_deleted_ids = False
    emulator.clear_faults()


@pytest.fixture
def store() -> Iterator[DynamoStateStore]:
    with mocked_aws():
        yield DynamoStateStore(make_tables()["StateTable"], dynamodb_client())


Sync = Callable[..., SyncOutcome]


@pytest.fixture
def sync(store: DynamoStateStore, aviv: AvivClient, emulator: AvivEmulator) -> Sync:
    def run(now: datetime = T0, *, adopt: bool = True) -> SyncOutcome:
        try:
            return sync_listing(
                LISTING, store=store, aviv=aviv, defaults=DEFAULTS, now=now, lease_owner="worker",
                adopt_held_media=adopt,
            )  # fmt: skip
        finally:
            emulator.wait_idle()

    return run


def listing(media_server: MediaServer, count: int, **fields: Any) -> DesiredListing:
    media = [
        sample_media(LISTING, i, url=media_server.url(f"/crm/{LISTING}/photo-{i:03d}.jpg"))
        for i in range(count)
    ]
    return replace(sample_desired(LISTING, media=media), **fields)


def save(store: DynamoStateStore, desired: DesiredListing, now: datetime = T0) -> DesiredListing:
    """Store ``desired`` as the next version, as ingestion does."""
    current = store.load_desired(LISTING)
    desired = replace(desired, version=1 if current is None else current.version + 1)
    store.save_desired(desired, None if current is None else current.version, now=now)
    return desired


def aviv_calls(emulator: AvivEmulator) -> list[str]:
    return [f"{r.method} {r.status}" for r in emulator.requests() if r.path.startswith("/classifieds")]


def live_classifieds(emulator: AvivEmulator) -> list[dict[str, Any]]:
    return [
        c for c in emulator.state()["classifieds"] if not c["deleted"] and c["offererEstateId"] == LISTING
    ]


# --------------------------------------------------------------------------- adoption


def test_a_classified_another_sender_created_is_adopted_and_nothing_is_downloaded(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    desired = save(store, listing(media_server, 6))
    held_id = emulator.preload_classified(other_sender_body(desired), intermediary_id="agency-test")
    held_urls = [m["url"] for m in emulator.classified(held_id)["media"]]  # type: ignore[index]

    outcome = sync()

    assert (outcome.status, outcome.operation, outcome.classified_id) == ("sent", "PUT", held_id)
    assert outcome.adopted == 6
    assert aviv_calls(emulator) == ["POST 400", "GET 200", "PUT 202"]
    assert emulator.downloads() == [], "every photo kept AVIV's URL: nothing to fetch again"
    assert [m["url"] for m in emulator.classified(held_id)["media"]] == held_urls  # type: ignore[index]
    assert emulator.classified(held_id)["data"]["metaData"]["source"]["sourceSystem"] == "vitrine"  # type: ignore[index]
    sent = store.load_last_sent(LISTING)
    assert sent is not None and sent.classified_id == held_id
    assert {m.timestamp for m in sent.media} == {PREVIOUS_TIMESTAMP}
    put = next(r for r in emulator.requests() if r.method == "PUT")
    assert put.headers.get("If-Match") == '"1"', "the PUT is conditional on what was read"


def test_only_the_media_the_crm_added_or_changed_are_downloaded(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    desired = listing(media_server, 8)
    changed = replace(desired.media[3], url=media_server.url(f"/crm/{LISTING}/photo-003-retouched.jpg"))
    held = other_sender_body(desired, desired.media[:6])  # the CRM added photos 6 and 7 since
    emulator.preload_classified(held, intermediary_id="agency-test")
    save(store, replace(desired, media=[*desired.media[:3], changed, *desired.media[4:]]))

    outcome = sync()

    assert (outcome.status, outcome.operation, outcome.adopted) == ("sent", "PUT", 5)
    fetched = sorted(strip_timestamp(d.url).removeprefix(media_server.base_url) for d in emulator.downloads())
    assert fetched == [f"/crm/{LISTING}/photo-003-retouched.jpg", f"/crm/{LISTING}/photo-006.jpg",
                       f"/crm/{LISTING}/photo-007.jpg"]  # fmt: skip
    assert all(d.ok for d in emulator.downloads())


def test_an_adopted_url_is_kept_byte_for_byte_however_the_other_sender_spelled_it(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    desired = listing(media_server, 3)
    desired = replace(desired, media=[replace(m, url=m.url + "?w=800") for m in desired.media])
    spelled = {
        m.url: m.url.replace("?w=800", f"?timestamp={PREVIOUS_TIMESTAMP}Z&w=800") for m in desired.media
    }
    held_id = emulator.preload_classified(
        other_sender_body(desired, spell=spelled.__getitem__), intermediary_id="agency-test"
    )
    desired = save(store, desired)
    sync()
    assert [m["url"] for m in emulator.classified(held_id)["media"]] == list(spelled.values())  # type: ignore[index]

    retitled = [replace(desired.media[0], title="Salon refait"), *desired.media[1:]]
    save(store, replace(desired, media=retitled), T0 + timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=1))
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    assert [m["url"] for m in emulator.classified(held_id)["media"]] == list(spelled.values())  # type: ignore[index]
    assert emulator.downloads() == []


def test_nothing_is_written_when_aviv_already_holds_exactly_what_vitrine_would_send(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, aviv: AvivClient
) -> None:
    """The state table was lost (a new stack): AVIV holds vitrine's own last body."""
    desired = save(store, listing(media_server, 4))
    first = sync_listing(LISTING, store=store, aviv=aviv, defaults=DEFAULTS, now=T0, lease_owner="old-stack")
    emulator.wait_idle()
    new_table = make_tables(prefix="vitrine-new-")["StateTable"]
    fresh = DynamoStateStore(new_table, dynamodb_client())
    fresh.save_desired(desired, None, now=T0)
    calls_before = len(aviv_calls(emulator))

    outcome = sync_listing(
        LISTING, store=fresh, aviv=emulator_client(emulator), defaults=DEFAULTS, now=T0 + timedelta(days=3),
        lease_owner="new-stack",
    )  # fmt: skip
    emulator.wait_idle()

    assert (outcome.status, outcome.operation, outcome.classified_id) == (
        "skipped",
        None,
        first.classified_id,
    )
    assert aviv_calls(emulator)[calls_before:] == ["POST 400", "GET 200"]
    sent = fresh.load_last_sent(LISTING)
    assert sent is not None and sent.body == emulator.classified(first.classified_id or "")
    assert len(emulator.downloads()) == 4, "only the first send downloaded"


def test_with_adoption_off_every_media_is_stamped_anew_and_downloaded(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    desired = save(store, listing(media_server, 5))
    emulator.preload_classified(other_sender_body(desired), intermediary_id="agency-test")
    outcome = sync(adopt=False)
    assert (outcome.status, outcome.operation, outcome.adopted) == ("sent", "PUT", None)
    assert aviv_calls(emulator) == ["POST 400", "PUT 202"]
    assert len(emulator.downloads()) == 5


# --------------------------------------------------------------------------- agency move


def test_a_listing_moved_to_another_agency_ends_with_one_live_classified_under_the_new_one(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    desired = save(store, listing(media_server, 3, intermediary_id="agency-a"))
    old_id = sync().classified_id
    save(store, replace(desired, intermediary_id="agency-b"), T0 + timedelta(hours=1))

    outcome = sync(T0 + timedelta(hours=1))

    assert (outcome.status, outcome.operation, outcome.withdrawn) == ("sent", "POST", old_id)
    assert [(c["intermediaryId"], c["classifiedId"]) for c in live_classifieds(emulator)] == [
        ("agency-b", outcome.classified_id)
    ]
    assert emulator.classified(old_id or "") is None
    sent = store.load_last_sent(LISTING)
    assert sent is not None and (sent.intermediary_id, sent.classified_id) == (
        "agency-b",
        outcome.classified_id,
    )
    assert sync(T0 + timedelta(hours=2)).status == "skipped", "settled: nothing more to do"


def test_an_agency_move_whose_post_fails_once_converges_on_the_retry(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync, aviv: AvivClient
) -> None:
    desired = save(store, listing(media_server, 2, intermediary_id="agency-a"))
    old_id = sync().classified_id
    save(store, replace(desired, intermediary_id="agency-b"), T0 + timedelta(hours=1))
    emulator.inject_faults(aviv.config.max_attempts, status=503, method="POST")

    with pytest.raises(AvivRetryable):
        sync(T0 + timedelta(hours=1))
    tombstone = store.load_last_sent(LISTING)
    assert tombstone is not None and tombstone.deleted and tombstone.intermediary_id == "agency-a"
    state = store.load_sync_state(LISTING)
    assert state is not None and state.dirty, "the move is not done: the listing stays dirty"
    assert live_classifieds(emulator) == []

    outcome = sync(T0 + timedelta(hours=1, minutes=2))
    assert (outcome.status, outcome.operation) == ("sent", "POST")
    assert [c["intermediaryId"] for c in live_classifieds(emulator)] == ["agency-b"]
    assert [r.method for r in emulator.requests() if r.method == "DELETE"] == ["DELETE"]
    assert emulator.classified(old_id or "") is None


def test_an_agency_move_that_crashed_before_recording_its_delete_deletes_again_and_converges(
    store: DynamoStateStore,
    emulator: AvivEmulator,
    media_server: MediaServer,
    sync: Sync,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desired = save(store, listing(media_server, 2, intermediary_id="agency-a"))
    sync()
    save(store, replace(desired, intermediary_id="agency-b"), T0 + timedelta(hours=1))
    original = store.record_withdrawn

    def crash(tombstone: LastSent, lease_owner: str) -> None:
        monkeypatch.setattr(store, "record_withdrawn", original)
        raise ConcurrentModification("simulated crash after the DELETE")

    monkeypatch.setattr(store, "record_withdrawn", crash)
    with pytest.raises(ConcurrentModification):
        sync(T0 + timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=1, minutes=2))
    assert (outcome.status, outcome.operation) == ("sent", "POST")
    assert [f"{r.method} {r.status}" for r in emulator.requests() if r.method == "DELETE"] == [
        "DELETE 202",
        "DELETE 404",
    ]
    assert [c["intermediaryId"] for c in live_classifieds(emulator)] == ["agency-b"]


# --------------------------------------------------------------------------- refusals vitrine cannot fix


def delete_then_republish(store: DynamoStateStore, desired: DesiredListing, sync: Sync) -> DesiredListing:
    sync()
    save(store, replace(desired, deleted=True), T0 + timedelta(hours=1))
    assert sync(T0 + timedelta(hours=1)).status == "deleted"
    return save(store, replace(desired, deleted=False), T0 + timedelta(hours=2))


@pytest.mark.parametrize("adopt", [True, False])
def test_with_reserved_ids_republishing_a_deleted_listing_is_one_recorded_rejection(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync, adopt: bool
) -> None:
    emulator.reserve_deleted_ids = True
    desired = save(store, listing(media_server, 2))
    republished = delete_then_republish(store, desired, sync)
    deleted_id = emulator.classified_id_for(LISTING, intermediary_id="agency-test")
    calls_before = len(aviv_calls(emulator))

    outcome = sync(T0 + timedelta(hours=2), adopt=adopt)

    assert outcome.status == "rejected"
    assert aviv_calls(emulator)[calls_before:] == ["POST 400", "PUT 404"]
    rejection = store.load_rejection(LISTING)
    assert rejection is not None and rejection.desired_version == republished.version
    assert "Duplicated" in rejection.detail or deleted_id in rejection.detail  # AVIV's words
    assert [e.pointer for e in rejection.errors] == [OFFERER_ESTATE_ID_POINTER]
    assert rejection.action is not None and "release offererEstateId" in rejection.action
    calls_after = len(aviv_calls(emulator))
    assert sync(T0 + timedelta(hours=3), adopt=adopt).status == "skipped"
    assert len(aviv_calls(emulator)) == calls_after, "no more AVIV calls until the listing changes"


def test_a_first_send_meeting_an_id_aviv_keeps_for_a_deleted_classified_is_one_recorded_rejection(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync, aviv: AvivClient
) -> None:
    """The previous software deleted its classified; AVIV keeps its offererEstateId."""
    emulator.reserve_deleted_ids = True
    desired = save(store, listing(media_server, 2))
    held_id = emulator.preload_classified(other_sender_body(desired), intermediary_id="agency-test")
    aviv.delete(held_id)
    emulator.wait_idle()
    calls_before = len(aviv_calls(emulator))

    outcome = sync()

    assert outcome.status == "rejected"
    assert aviv_calls(emulator)[calls_before:] == ["POST 400", "GET 404"]
    rejection = store.load_rejection(LISTING)
    assert rejection is not None and held_id in rejection.detail and held_id in (rejection.action or "")
    assert sync(T0 + timedelta(minutes=5)).status == "skipped"
    assert len(aviv_calls(emulator)) == calls_before + 2


def test_without_reserved_ids_republishing_a_deleted_listing_creates_it_again(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    desired = save(store, listing(media_server, 2))
    delete_then_republish(store, desired, sync)
    outcome = sync(T0 + timedelta(hours=2))
    assert (outcome.status, outcome.operation) == ("sent", "POST")
    assert len(live_classifieds(emulator)) == 1
    assert store.load_rejection(LISTING) is None


def test_a_put_answered_404_whose_id_aviv_keeps_is_one_recorded_rejection(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    """The classified was deleted at AVIV by hand; the re-creation meets the reserved id."""
    emulator.reserve_deleted_ids = True
    desired = save(store, listing(media_server, 2))
    classified_id = sync().classified_id
    emulator_client(emulator).delete(classified_id or "")
    emulator.wait_idle()
    save(store, replace(desired, specific=None, portals=["SL", "BD"]), T0 + timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=1))
    assert outcome.status == "rejected"
    assert aviv_calls(emulator)[-3:] == ["PUT 404", "POST 400", "PUT 404"]
    assert store.load_rejection(LISTING) is not None


def test_a_400_on_delete_is_one_recorded_rejection_and_is_not_retried(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    desired = save(store, listing(media_server, 2))
    classified_id = sync().classified_id
    save(store, replace(desired, deleted=True), T0 + timedelta(hours=1))
    emulator.inject_faults(1, status=400, method="DELETE")

    outcome = sync(T0 + timedelta(hours=1))

    assert outcome.status == "rejected"
    rejection = store.load_rejection(LISTING)
    assert rejection is not None and rejection.action is not None
    assert classified_id in rejection.action and "still online" in rejection.action
    calls = len(aviv_calls(emulator))
    assert sync(T0 + timedelta(hours=2)).status == "skipped"
    assert len(aviv_calls(emulator)) == calls
    assert len(live_classifieds(emulator)) == 1
