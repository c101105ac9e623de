"""sync_listing end to end over real HTTP: the real AvivClient against the AVIV emulator, which
really downloads each new or re-stamped media from a MediaServer; state in DynamoDB on moto.

What is asserted is what AVIV's portals would do: how many media downloads each sync causes.
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
from vitrine.adapters.aviv.client import AvivClient
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.errors import ConcurrentModification
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.sync import SyncOutcome, sync_listing

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
DEFAULTS = ClassifiedDefaults(source_system="vitrine", source_system_version="0.1.0", default_portals=("SL",))
LISTING = "L-emu-1"


@pytest.fixture
def aviv(emulator: AvivEmulator, media_server: MediaServer) -> AvivClient:
    emulator.reset()
    media_server.reset()
    return emulator_client(emulator)


@pytest.fixture
def store() -> Iterator[DynamoStateStore]:
    with mocked_aws():
        yield DynamoStateStore(make_tables()["StateTable"], dynamodb_client())


Sync = Callable[[datetime], SyncOutcome]


@pytest.fixture
def sync(store: DynamoStateStore, aviv: AvivClient, emulator: AvivEmulator) -> Sync:
    def run(now: datetime) -> SyncOutcome:
        try:
            return sync_listing(
                LISTING, store=store, aviv=aviv, defaults=DEFAULTS, now=now, lease_owner="worker"
            )
        finally:
            emulator.wait_idle()  # AVIV has fetched whatever the call made it fetch, even if sync failed

    return run


def photo_path(index: int) -> str:
    return f"/crm/{LISTING}/photo-{index:03d}.jpg"


def listing_with_photos(media_server: MediaServer, count: int) -> DesiredListing:
    return sample_desired(
        LISTING,
        media=[sample_media(LISTING, i, url=media_server.url(photo_path(i))) for i in range(count)],
    )


def save(store: DynamoStateStore, listing: DesiredListing, now: datetime) -> DesiredListing:
    """Store ``listing`` as the next version, as ingestion does."""
    current = store.load_desired(LISTING)
    listing = replace(listing, version=1 if current is None else current.version + 1)
    store.save_desired(listing, None if current is None else current.version, now=now)
    return listing


def writes(emulator: AvivEmulator) -> list[tuple[str, Any]]:
    """The POST/PUT/DELETE calls AVIV received on classifieds, with their bodies."""
    return [
        (r.method, r.body)
        for r in emulator.requests()
        if r.method in ("POST", "PUT", "DELETE") and r.path.startswith("/classifieds")
    ]


def downloaded_paths(emulator: AvivEmulator, media_server: MediaServer) -> list[str]:
    """Media paths AVIV fetched (successfully), in order."""
    found = []
    for download in emulator.downloads():
        assert download.ok, download
        found.append(download.url.removeprefix(media_server.base_url).split("?")[0])
    return found


def test_first_sync_posts_and_every_media_is_downloaded_once(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    save(store, listing_with_photos(media_server, 5), T0)
    outcome = sync(T0)
    assert (outcome.status, outcome.operation) == ("sent", "POST")
    assert outcome.classified_id is not None
    assert sorted(downloaded_paths(emulator, media_server)) == [photo_path(i) for i in range(5)]
    sent = store.load_last_sent(LISTING)
    assert sent is not None and emulator.classified(outcome.classified_id) == sent.body
    latest = emulator.latest_status(outcome.classified_id)
    assert latest is not None and latest["status"] == "CREATED"


def test_an_explicit_empty_portal_list_reaches_aviv_as_on_no_portal(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    listing = save(store, replace(listing_with_photos(media_server, 2), portals=[]), T0)
    outcome = sync(T0)
    assert (outcome.status, outcome.operation) == ("sent", "POST")
    assert outcome.classified_id is not None
    [(_, posted)] = writes(emulator)
    assert posted["portals"] == []  # not the default ["SL"]
    stored = emulator.classified(outcome.classified_id)
    assert stored is not None and stored["portals"] == []
    save(store, replace(listing, portals=None), T0 + timedelta(minutes=5))  # the CRM drops the field
    outcome = sync(T0 + timedelta(minutes=6))
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    assert writes(emulator)[-1][1]["portals"] == ["SL"]
    assert len(emulator.downloads()) == 2  # changing where it is shown fetches nothing again


def test_an_identical_second_sync_sends_nothing(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    listing = save(store, listing_with_photos(media_server, 4), T0)
    sync(T0)
    before = (len(writes(emulator)), len(emulator.downloads()))
    save(store, listing, T0 + timedelta(minutes=5))  # a webhook that changes nothing visible
    outcome = sync(T0 + timedelta(minutes=6))
    assert outcome.status == "skipped"
    assert (len(writes(emulator)), len(emulator.downloads())) == before


def test_one_changed_photo_is_the_only_download(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    listing = save(store, listing_with_photos(media_server, 5), T0)
    sync(T0)
    done = len(emulator.downloads())
    media = list(listing.media)
    media[3] = replace(media[3], version="v-new-bytes")
    save(store, replace(listing, media=media), T0 + timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=1, minutes=1))
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    assert downloaded_paths(emulator, media_server)[done:] == [photo_path(3)]


def test_a_reorder_is_sent_but_downloads_nothing(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    listing = save(store, listing_with_photos(media_server, 5), T0)
    first = sync(T0)
    done = len(emulator.downloads())
    reordered = [listing.media[i] for i in (4, 0, 1, 3, 2)]
    save(store, replace(listing, media=reordered), T0 + timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=1, minutes=1))
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    assert outcome.diff is not None and outcome.diff.moved and not outcome.diff.redownloaded
    assert len(emulator.downloads()) == done
    assert first.classified_id is not None
    stored = emulator.classified(first.classified_id)
    assert stored is not None
    assert [item["url"].split("?")[0] for item in stored["media"]] == [m.url for m in reordered]


def test_a_title_change_downloads_nothing(
    store: DynamoStateStore, emulator: AvivEmulator, media_server: MediaServer, sync: Sync
) -> None:
    listing = save(store, listing_with_photos(media_server, 4), T0)
    sync(T0)
    done = len(emulator.downloads())
    media = list(listing.media)
    media[1] = replace(media[1], title="Séjour refait à neuf")
    save(store, replace(listing, media=media), T0 + timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=1, minutes=1))
    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    assert outcome.diff is not None and outcome.diff.metadata_changed == (media[1].id,)
    assert len(emulator.downloads()) == done


def _fail_record_sent_once(store: DynamoStateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a crash after AVIV accepted the call but before the state was written."""
    original = store.record_sent
    failed: list[bool] = []

    def record_sent(sent: LastSent, lease_owner: str) -> None:
        if not failed:
            failed.append(True)
            raise ConcurrentModification("simulated crash between the AVIV call and the state write")
        original(sent, lease_owner)

    monkeypatch.setattr(store, "record_sent", record_sent)


def test_a_crash_after_a_put_is_retried_with_the_identical_body_and_no_extra_download(
    store: DynamoStateStore,
    emulator: AvivEmulator,
    media_server: MediaServer,
    sync: Sync,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = save(store, listing_with_photos(media_server, 4), T0)
    sync(T0)
    added = sample_media(LISTING, 4, url=media_server.url(photo_path(4)))
    save(store, replace(listing, media=[*listing.media, added]), T0 + timedelta(hours=1))
    done = len(emulator.downloads())
    _fail_record_sent_once(store, monkeypatch)

    with pytest.raises(ConcurrentModification):
        sync(T0 + timedelta(hours=1, minutes=1))
    assert downloaded_paths(emulator, media_server)[done:] == [photo_path(4)]
    outcome = sync(T0 + timedelta(hours=3))  # redelivered much later: new timestamps would differ

    assert (outcome.status, outcome.operation) == ("sent", "PUT")
    crashed_put, retried_put = writes(emulator)[-2:]
    assert crashed_put == retried_put
    assert downloaded_paths(emulator, media_server)[done:] == [photo_path(4)], "no extra download"
    state = store.load_sync_state(LISTING)
    assert state is not None and not state.dirty


def test_a_crash_after_the_first_post_is_recovered_without_a_second_write_or_download(
    store: DynamoStateStore,
    emulator: AvivEmulator,
    media_server: MediaServer,
    sync: Sync,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    save(store, listing_with_photos(media_server, 3), T0)
    _fail_record_sent_once(store, monkeypatch)
    with pytest.raises(ConcurrentModification):
        sync(T0)
    assert len(emulator.downloads()) == 3

    outcome = sync(T0 + timedelta(hours=2))
    # POST answered "Duplicated classified" naming the first one; reading it shows AVIV already
    # holds the very body (the pending timestamps were reused): nothing more is written
    assert (outcome.status, outcome.operation) == ("skipped", None)
    assert [method for method, _ in writes(emulator)] == ["POST", "POST"]
    bodies = [body for _, body in writes(emulator)]
    assert bodies[0] == bodies[1]
    assert len(emulator.downloads()) == 3
    assert outcome.classified_id == emulator.classified_id_for(LISTING, intermediary_id="agency-test")
    sent = store.load_last_sent(LISTING)
    assert sent is not None and sent.body == emulator.classified(outcome.classified_id)
