"""The owner status page service over moto's StateTable (made from template.yaml): 403s and the page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import RecordingClient, dynamodb_client, make_tables, mocked_aws
from tests.support.listings import sample_desired
from vitrine.adapters.dynamo.owner_listings import OwnerListingsReader
from vitrine.adapters.dynamo.sent_item import sent_item
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.dynamo.table import SK_SENT
from vitrine.adapters.secrets import SecretError
from vitrine.adapters.status_store import StatusStore
from vitrine.core.model import LastSent
from vitrine.core.owner_links import link_expiry, sign_owner_link
from vitrine.core.reconcile.records import OpenProblem, StatusState
from vitrine.service.owner_links import SignedOwnerLinks
from vitrine.service.owner_page import OwnerPageService
from vitrine.settings import Settings, SettingsError

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = b"k" * 32
OWNER = "agence-7"


@pytest.fixture
def world() -> Iterator[tuple[DynamoStateStore, RecordingClient]]:
    with mocked_aws():
        table = make_tables()["StateTable"]
        client = dynamodb_client()
        yield DynamoStateStore(table, client), RecordingClient(client)


def save_listing(store: DynamoStateStore, listing_id: str, owner: str = OWNER, *, sent: bool = True) -> None:
    listing = replace(sample_desired(listing_id, media_count=3, owner_id=owner), version=1)
    store.save_desired(listing, None, now=NOW - timedelta(hours=2))
    if sent:
        record = LastSent(listing_id, "cl-" + listing_id, {"portals": ["SL"]}, [], 1, "2026-03-02T08:00:00Z")
        store._client.put_item(TableName=store.table_name, Item=sent_item(record, SK_SENT))


def service(client: RecordingClient, table: str, secrets: list[bytes] | None = None) -> OwnerPageService:
    return OwnerPageService(
        Settings.from_env(),
        listings=OwnerListingsReader(table, client),
        secrets=lambda: secrets if secrets is not None else [SECRET],
        clock=lambda: NOW,
    )


def signed(owner: str = OWNER, secret: bytes = SECRET, days: int = 30) -> dict[str, str]:
    expires = link_expiry(NOW, days)
    return {"expires": str(expires), "signature": sign_owner_link(secret, owner, expires)}


def event(owner: str | None, query: dict[str, str] | None, accept: str = "text/html") -> dict[str, Any]:
    return {
        "pathParameters": {"ownerId": owner} if owner else None,
        "queryStringParameters": query,
        "headers": {"Accept": accept},
    }


def test_a_signed_link_opens_the_owners_listings_and_only_them(world: Any) -> None:
    store, client = world
    for listing_id in ("ABC-2", "ABC-1"):
        save_listing(store, listing_id)
    save_listing(store, "OTHER-1", owner="agence-rivale")
    save_listing(store, "NEW-1", sent=False)
    answer = service(client, store.table_name).handle_event(event(OWNER, signed()))
    assert answer["statusCode"] == 200
    headers = answer["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert (headers["Cache-Control"], headers["Referrer-Policy"]) == ("no-store", "no-referrer")
    assert "script-src" not in headers["Content-Security-Policy"]
    html = answer["body"]
    assert [html.index(f"Listing {x}") for x in ("ABC-1", "ABC-2", "NEW-1")] == sorted(
        html.index(f"Listing {x}") for x in ("ABC-1", "ABC-2", "NEW-1")
    )
    assert "OTHER-1" not in html
    assert "Not sent yet" in html and "Sent, waiting for AVIV to confirm" in html
    assert set(client.calls) <= {"query", "batch_get_item"}, "the page only reads, and never scans"


def test_every_refusal_is_the_same_403_whoever_the_owner(world: Any) -> None:
    store, client = world
    save_listing(store, "ABC-1")
    page = service(client, store.table_name)
    good = signed()
    refusals = [
        event(OWNER, {**good, "signature": good["signature"][:-2] + "AA"}),
        event("agence-inconnue", good),
        event(OWNER, signed(secret=b"x" * 32)),
        event(OWNER, {"expires": good["expires"]}),
        event(OWNER, None),
        event(None, good),
    ]
    answers = [page.handle_event(e) for e in refusals]
    assert {a["statusCode"] for a in answers} == {403}
    assert len({a["body"] for a in answers}) == 1
    assert "agence" not in answers[0]["body"]
    assert client.calls == [], "a refused link reads nothing"


def test_an_expired_link_is_refused_and_a_machine_gets_problem_json(world: Any) -> None:
    store, client = world
    expired = signed(days=1)
    later = OwnerPageService(
        Settings.from_env(),
        listings=OwnerListingsReader(store.table_name, client),
        secrets=lambda: [SECRET],
        clock=lambda: NOW + timedelta(days=1, seconds=1),
    )
    answer = later.handle_event(event(OWNER, expired, accept="application/json"))
    assert answer["statusCode"] == 403
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(answer["body"])["status"] == 403


def test_a_link_signed_with_the_previous_secret_still_opens_during_a_rotation(world: Any) -> None:
    store, client = world
    old = b"o" * 32
    answer = service(client, store.table_name, [SECRET, old]).handle_event(event(OWNER, signed(secret=old)))
    assert answer["statusCode"] == 200
    assert "vitrine has no listing for you yet." in answer["body"]


def test_a_missing_signing_secret_is_a_clear_500(world: Any) -> None:
    store, client = world

    def broken() -> list[bytes]:
        raise SecretError("secret arn:x holds no secret")

    page = OwnerPageService(
        Settings.from_env(), listings=OwnerListingsReader(store.table_name, client), secrets=broken
    )
    answer = page.handle_event(event(OWNER, signed()))
    assert answer["statusCode"] == 500
    assert "holds no secret" in json.loads(answer["body"])["detail"]


def test_the_french_page_is_served_with_lang_fr(world: Any) -> None:
    store, client = world
    save_listing(store, "ABC-1")
    answer = service(client, store.table_name).handle_event(event(OWNER, {**signed(), "lang": "fr"}))
    assert '<html lang="fr">' in answer["body"]


def test_the_page_speaks_the_owners_stored_locale_unless_the_link_asks_otherwise(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, client = world
    save_listing(store, "ABC-1")
    page = service(client, store.table_name)
    assert '<html lang="en">' in page.handle_event(event(OWNER, signed()))["body"]
    french = replace(sample_desired("ABC-2", media_count=1, owner_id=OWNER), version=1, locale="fr")
    store.save_desired(french, None, now=NOW)
    assert '<html lang="fr">' in page.handle_event(event(OWNER, signed()))["body"]
    assert '<html lang="en">' in page.handle_event(event(OWNER, {**signed(), "lang": "en"}))["body"]
    monkeypatch.setenv("VITRINE_DEFAULT_LOCALE", "fr")
    assert (
        '<html lang="fr">'
        in service(client, store.table_name).handle_event(event("agence-neuve", signed("agence-neuve")))[
            "body"
        ]
    )


def test_the_reader_batches_many_listings_and_follows_an_owner_change(world: Any) -> None:
    store, client = world
    for n in range(40):  # 120 items: two BatchGetItem calls
        save_listing(store, f"L-{n:02}")
    status = StatusState(listing_id="L-00", owner_id=OWNER, last_status="UPDATED_WITH_MEDIA_ERROR")
    status.problems["aviv"] = OpenProblem("media_error", "media_error:1", "t", "s", True, media_ids=["x"])
    StatusStore(store.table_name, store._client).save(status, now=NOW)
    moved = replace(sample_desired("L-39", media_count=3, owner_id="agence-8"), version=2)
    store.save_desired(moved, 1, now=NOW)
    reader = OwnerListingsReader(store.table_name, client)
    ids, more = reader.owner_listing_ids(OWNER, limit=30)
    assert (ids[0], len(ids), more) == ("L-00", 30, 9), "the STATUS item's ownerId does not count twice"
    listings = reader.load_owner_listings(OWNER, [*ids, "L-39"])
    assert len(listings) == 30 and client.calls.count("batch_get_item") == 1
    assert listings[0].status.last_status == "UPDATED_WITH_MEDIA_ERROR"
    assert listings[0].sent is not None and listings[0].sent.desired_version == 1
    all_ids, _ = reader.owner_listing_ids(OWNER, limit=100)
    assert len(reader.load_owner_listings(OWNER, all_ids)) == 39


def test_links_in_notifications_open_the_page_and_a_broken_secret_only_drops_the_link(world: Any) -> None:
    store, client = world
    links = SignedOwnerLinks(secrets=lambda: [SECRET], base_url=lambda: "https://api.example/v1", days=30)
    url = links.url_for(OWNER, NOW)
    assert url is not None and url.startswith(f"https://api.example/v1/owners/{OWNER}/listings?expires=")
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert service(client, store.table_name).handle_event(event(OWNER, query))["statusCode"] == 200
    assert links.url_for("", NOW) is None

    def unreadable() -> list[bytes]:
        raise SettingsError("no secret")

    assert (
        SignedOwnerLinks(secrets=unreadable, base_url=lambda: "https://x", days=30).url_for(OWNER, NOW)
        is None
    )
