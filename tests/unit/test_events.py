"""Webhook events: parsing (every bad field reported with its pointer) and applying to the desired state."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from vitrine.core.errors import ValidationFailed
from vitrine.core.events import (
    EVENT_TYPES,
    MAX_SEQUENCE,
    STALE_SEQUENCE,
    UNKNOWN_MEDIA,
    ApplyResult,
    ListingEvent,
    MalformedBody,
    apply_event,
    decode_body,
    parse_event,
)
from vitrine.core.model import DesiredListing, Media
from vitrine.core.moments import format_moment

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "webhooks"
NOW = datetime(2026, 2, 13, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
LISTING_ID = "AGC-PARIS-0042"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def media(media_id: str, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": media_id,
        "url": f"https://photos.agence-marais.fr/0042/{media_id}.jpg",
        "mediaType": "PICTURE",
    }
    item.update(fields)
    return item


def raw(event_type: str, sequence: int | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": event_type,
        "listingId": LISTING_ID,
        "ownerId": "agence-marais",
        "occurredAt": "2026-02-13T10:15:00+01:00",
    }
    if sequence is not None:
        body["sequence"] = sequence
    body.update(fields)
    return body


DATA: dict[str, Any] = {
    "estateType": "APARTMENT",
    "distributionType": "RENT",
    "prices": {"currency": "EUR", "rent": {"price": {"amount": 2150}}},
    "location": {"postalcode": "75004", "city": "Paris", "street": "Rue des Francs-Bourgeois",
                 "houseNumber": "12", "country": "FR"},
    "metaData": {"source": {"sourceSystem": "CRM", "sourceSystemVersion": "1", "offererMarketingKey": "k",
                            "offererEstateId": LISTING_ID}},
}  # fmt: skip


def upsert(
    sequence: int | None = None, media_items: list[dict[str, Any]] | None = None, **listing: Any
) -> ListingEvent:
    """A parsed listing.upserted; a field given as ``...`` is left out."""
    state: dict[str, Any] = {"portals": ["SL"], "data": DATA, "media": media_items or []}
    for key, value in listing.items():
        if value is ...:
            state.pop(key, None)
        else:
            state[key] = value
    return parse_event(raw("listing.upserted", sequence, listing=state))


def event(event_type: str, sequence: int | None = None, **fields: Any) -> ListingEvent:
    return parse_event(raw(event_type, sequence, **fields))


def pointers(body: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_event(body)
    return [error.pointer for error in caught.value.errors]


def state_pointers(current: DesiredListing | None, listing_event: ListingEvent) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        apply_event(current, listing_event, LATER)
    return [error.pointer for error in caught.value.errors]


def listing_with(*media_ids: str, sequence: int | None = None) -> DesiredListing:
    return apply_event(None, upsert(sequence, [media(i) for i in media_ids]), NOW).desired


def ids(listing: DesiredListing) -> list[str]:
    return [m.id for m in listing.media]


# --------------------------------------------------------------------------------------------------
# Parsing: valid events
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_sample_parses(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    parsed = parse_event(body)
    assert parsed.type == body["type"]
    assert parsed.listing_id == body["listingId"]
    assert parsed.owner_id == body["ownerId"]
    assert parsed.sequence == body["sequence"]
    assert parsed.intermediary_id == body["intermediaryId"]
    assert parsed.occurred_at.tzinfo is not None


def test_samples_cover_every_type() -> None:
    assert {json.loads(p.read_text(encoding="utf-8"))["type"] for p in SAMPLES.glob("*.json")} == set(
        EVENT_TYPES
    )


def test_envelope_fields_are_mapped() -> None:
    parsed = parse_event(sample("listing-upserted"))
    assert parsed.listing_id == "AGC-LYON-2026-00417"
    assert parsed.occurred_at == datetime(2026, 2, 13, 8, 25, 57, tzinfo=UTC)
    assert parsed.payload["listing"]["portals"] == ["SL", "BD"]
    assert parsed.payload["listing"]["media"][0]["title"].startswith("Façade")


def test_optional_envelope_fields_may_be_absent() -> None:
    parsed = parse_event(raw("listing.deleted"))
    assert (parsed.sequence, parsed.intermediary_id, dict(parsed.payload)) == (None, None, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-13T09:25:57Z", datetime(2026, 2, 13, 9, 25, 57, tzinfo=UTC)),
        ("2026-02-13t09:25:57z", datetime(2026, 2, 13, 9, 25, 57, tzinfo=UTC)),
        ("2026-02-13T09:25:57.123456789+02:00", datetime(2026, 2, 13, 7, 25, 57, 123456, tzinfo=UTC)),
        ("2026-02-13T09:25:57.5-03:30", datetime(2026, 2, 13, 12, 55, 57, 500000, tzinfo=UTC)),
        ("2024-02-29T00:00:00+00:00", datetime(2024, 2, 29, tzinfo=UTC)),
    ],
)
def test_occurred_at_accepts_rfc3339(text: str, expected: datetime) -> None:
    assert parse_event(raw("listing.deleted", occurredAt=text)).occurred_at == expected


def test_payload_is_a_copy_and_read_only() -> None:
    body = raw("media.added", media=media("m-1", tags=["INDOOR"]), position=0)
    parsed = parse_event(body)
    body["media"]["tags"].append("POOL")
    body["media"]["url"] = "https://elsewhere.example/x.jpg"
    assert parsed.payload["media"]["tags"] == ["INDOOR"]
    assert parsed.payload["media"]["url"].endswith("/m-1.jpg")
    with pytest.raises(TypeError):
        parsed.payload["position"] = 3  # type: ignore[index]


def test_integral_float_counts_as_integer_like_json_schema() -> None:
    assert parse_event(raw("listing.deleted", sequence=7.0)).sequence == 7
    assert parse_event(raw("media.added", media=media("m-1"), position=2.0)).payload["position"] == 2


def test_limits_are_inclusive() -> None:
    assert parse_event(raw("listing.deleted", MAX_SEQUENCE, listingId="x" * 512)).sequence == MAX_SEQUENCE
    assert parse_event(raw("listing.deleted", 0)).sequence == 0


def test_data_content_is_not_judged_here() -> None:
    """AVIV's rules on data are checked when the listing is built and sent, not at ingest."""
    parsed = parse_event(raw("listing.upserted", listing={"data": {"anything": True}, "media": []}))
    assert parsed.payload["listing"] == {"data": {"anything": True}, "media": []}


def test_null_optional_media_fields_are_accepted() -> None:
    body = raw("media.added", media=media("m-1", category=None, tags=None, title=None, version=None))
    assert parse_event(body).payload["media"]["category"] is None


# --------------------------------------------------------------------------------------------------
# Parsing: every error with its pointer
# --------------------------------------------------------------------------------------------------


def test_not_an_object() -> None:
    for body in ([], "listing.deleted", None, 42):
        assert pointers(body) == [""]


def test_all_errors_are_reported_at_once() -> None:
    body = {
        "type": "media.added",
        "listingId": "",
        "ownerId": 7,
        "occurredAt": "2026-02-13 09:25",
        "sequence": -1,
        "intermediaryId": "",
        "colour": "blue",
        "position": -2,
        "media": {"id": "m-1", "url": "ftp://x/y.jpg", "mediaType": "PHOTO", "tags": ["INDOOR", "SAUNA"]},
    }
    assert sorted(pointers(body)) == sorted([
        "/listingId", "/ownerId", "/occurredAt", "/sequence", "/intermediaryId", "/colour", "/position",
        "/media/url", "/media/mediaType", "/media/tags/1",
    ])  # fmt: skip


ENVELOPE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("type missing", {"type": None}, ["/type"]),
    ("unknown type", {"type": "listing.archived"}, ["/type"]),
    ("type not a string", {"type": ["listing.deleted"]}, ["/type"]),
    ("listingId missing", {"listingId": None}, ["/listingId"]),
    ("listingId empty", {"listingId": ""}, ["/listingId"]),
    ("listingId too long", {"listingId": "x" * 513}, ["/listingId"]),
    ("listingId not a string", {"listingId": 42}, ["/listingId"]),
    ("ownerId missing", {"ownerId": None}, ["/ownerId"]),
    ("ownerId empty", {"ownerId": ""}, ["/ownerId"]),
    ("occurredAt missing", {"occurredAt": None}, ["/occurredAt"]),
    ("occurredAt without zone", {"occurredAt": "2026-02-13T09:25:57"}, ["/occurredAt"]),
    ("occurredAt date only", {"occurredAt": "2026-02-13"}, ["/occurredAt"]),
    ("occurredAt impossible date", {"occurredAt": "2026-02-30T09:25:57Z"}, ["/occurredAt"]),
    ("occurredAt leap second", {"occurredAt": "2026-06-30T23:59:60Z"}, ["/occurredAt"]),
    ("occurredAt trailing newline", {"occurredAt": "2026-02-13T09:25:57Z\n"}, ["/occurredAt"]),
    ("occurredAt epoch number", {"occurredAt": 1770974757}, ["/occurredAt"]),
    ("sequence negative", {"sequence": -1}, ["/sequence"]),
    ("sequence string", {"sequence": "12"}, ["/sequence"]),
    ("sequence boolean", {"sequence": True}, ["/sequence"]),
    ("sequence fraction", {"sequence": 1.5}, ["/sequence"]),
    ("sequence null", {"sequence": None}, ["/sequence"]),
    ("sequence too large", {"sequence": MAX_SEQUENCE + 1}, ["/sequence"]),
    ("intermediaryId empty", {"intermediaryId": ""}, ["/intermediaryId"]),
    ("intermediaryId null", {"intermediaryId": None}, ["/intermediaryId"]),
    ("unknown property", {"priority": "high"}, ["/priority"]),
    ("unknown property escaped", {"a/b~c": 1}, ["/a~1b~0c"]),
    ("another type's property", {"mediaId": "m-1"}, ["/mediaId"]),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in ENVELOPE_CASES], ids=[c[0] for c in ENVELOPE_CASES]
)
def test_envelope_errors(change: dict[str, Any], expected: list[str]) -> None:
    body = raw("listing.deleted")
    for key, value in change.items():
        if value is None and key in ("type", "listingId", "ownerId", "occurredAt"):
            del body[key]
        else:
            body[key] = value
    assert pointers(body) == expected


def upsert_body(**listing: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "portals": ["SL"],
        "data": DATA,
        "media": [media("m-1"), media("m-2"), media("m-3")],
    }
    for key, value in listing.items():
        if value is ...:
            del state[key]
        else:
            state[key] = value
    return raw("listing.upserted", listing=state)


def with_media(index: int, **fields: Any) -> list[dict[str, Any]]:
    items = [media("m-1"), media("m-2"), media("m-3")]
    for key, value in fields.items():
        if value is ...:
            del items[index][key]
        else:
            items[index][key] = value
    return items


UPSERT_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("portals not a list", {"portals": "SL"}, ["/listing/portals"]),
    ("unknown portal", {"portals": ["SL", "LEBONCOIN"]}, ["/listing/portals/1"]),
    ("portal twice", {"portals": ["SL", "BD", "SL"]}, ["/listing/portals/2"]),
    (
        "six portals",
        {"portals": ["SL", "BUCOM", "BD", "SLC", "SLN", "SL"]},
        ["/listing/portals", "/listing/portals/5"],
    ),
    ("data missing", {"data": ...}, ["/listing/data"]),
    ("data not an object", {"data": ["APARTMENT"]}, ["/listing/data"]),
    ("specific not an object", {"specific": "gsl"}, ["/listing/specific"]),
    ("media missing", {"media": ...}, ["/listing/media"]),
    ("media not a list", {"media": {"id": "m-1"}}, ["/listing/media"]),
    ("media item not an object", {"media": [media("m-1"), "https://x.fr/a.jpg"]}, ["/listing/media/1"]),
    ("unknown listing property", {"classifiedId": "abc"}, ["/listing/classifiedId"]),
    ("unknown mediaType", {"media": with_media(2, mediaType="PHOTO")}, ["/listing/media/2/mediaType"]),
    ("mediaType missing", {"media": with_media(0, mediaType=...)}, ["/listing/media/0/mediaType"]),
    ("unknown category", {"media": with_media(1, category="SAUNA")}, ["/listing/media/1/category"]),
    ("unknown tag", {"media": with_media(0, tags=["INDOOR", "ATTIC"])}, ["/listing/media/0/tags/1"]),
    ("blank title", {"media": with_media(0, title="   ")}, ["/listing/media/0/title"]),
    ("two-line title", {"media": with_media(0, title="Séjour\nlumineux")}, ["/listing/media/0/title"]),
    ("url not http", {"media": with_media(0, url="ftp://photos.fr/a.jpg")}, ["/listing/media/0/url"]),
    ("url relative", {"media": with_media(0, url="/photos/a.jpg")}, ["/listing/media/0/url"]),
    ("url missing", {"media": with_media(1, url=...)}, ["/listing/media/1/url"]),
    ("id missing", {"media": with_media(1, id=...)}, ["/listing/media/1/id"]),
    ("unknown media property", {"media": with_media(0, displayOrder=1)}, ["/listing/media/0/displayOrder"]),
    ("two media share an id", {"media": with_media(2, id="m-1")}, ["/listing/media/2/id"]),
    (
        "two media share a URL",
        {
            "media": with_media(
                1, url="https://photos.agence-marais.fr/0042/m-1.jpg?timestamp=2026-01-01T00:00:00"
            )
        },
        ["/listing/media/1/url"],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in UPSERT_CASES], ids=[c[0] for c in UPSERT_CASES]
)
def test_listing_upserted_errors(change: dict[str, Any], expected: list[str]) -> None:
    assert pointers(upsert_body(**change)) == expected


def test_listing_upserted_without_listing() -> None:
    assert pointers(raw("listing.upserted")) == ["/listing"]
    assert pointers(raw("listing.upserted", listing=[])) == ["/listing"]


SINGLE_MEDIA_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("media.added without media", raw("media.added"), ["/media"]),
    ("media.added media not an object", raw("media.added", media=[media("m-1")]), ["/media"]),
    ("media.added bad mediaType",
     raw("media.added", media=media("m-1", mediaType="AUDIO")), ["/media/mediaType"]),
    ("media.added unknown key",
     raw("media.added", media=media("m-1", mimeType="image/jpeg")), ["/media/mimeType"]),
    ("media.added negative position", raw("media.added", media=media("m-1"), position=-1), ["/position"]),
    ("media.added position as text", raw("media.added", media=media("m-1"), position="2"), ["/position"]),
    ("media.added empty id", raw("media.added", media=media("")), ["/media/id"]),
    ("media.updated without id",
     raw("media.updated", media={"url": "https://a.fr/b.jpg", "mediaType": "PICTURE"}), ["/media/id"]),
    ("media.updated with position", raw("media.updated", media=media("m-1"), position=0), ["/position"]),
    ("media.updated bad category",
     raw("media.updated", media=media("m-1", category="cuisine")), ["/media/category"]),
    ("media.removed without mediaId", raw("media.removed"), ["/mediaId"]),
    ("media.removed empty mediaId", raw("media.removed", mediaId=""), ["/mediaId"]),
    ("media.removed numeric mediaId", raw("media.removed", mediaId=12), ["/mediaId"]),
    ("media.reordered without order", raw("media.reordered"), ["/order"]),
    ("media.reordered order not a list", raw("media.reordered", order="m-1,m-2"), ["/order"]),
    ("media.reordered bad id", raw("media.reordered", order=["m-1", 2, ""]), ["/order/1", "/order/2"]),
    ("media.reordered id twice", raw("media.reordered", order=["m-1", "m-2", "m-1"]), ["/order/2"]),
    ("listing.deleted with a listing",
     raw("listing.deleted", listing={"data": {}, "media": []}), ["/listing"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "expected"), [c[1:] for c in SINGLE_MEDIA_CASES], ids=[c[0] for c in SINGLE_MEDIA_CASES]
)
def test_media_event_errors(body: dict[str, Any], expected: list[str]) -> None:
    assert pointers(body) == expected


def test_validation_failed_message_names_the_fields() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_event(raw("media.removed", mediaId=""))
    assert "/mediaId" in str(caught.value)
    assert caught.value.errors[0].to_dict()["reason"]


# --------------------------------------------------------------------------------------------------
# decode_body: what counts as malformed JSON (400)
# --------------------------------------------------------------------------------------------------


def test_decode_body_accepts_utf8_json() -> None:
    assert decode_body('{"title": "Séjour"}'.encode()) == {"title": "Séjour"}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": 1, "a": 2}',
        '{"a": "é"}'.encode("latin-1"),
    ],
)
def test_decode_body_refuses_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        decode_body(body)


# --------------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------------


def test_upsert_creates_the_listing() -> None:
    result = apply_event(None, upsert(3, [media("m-1", title="Séjour", version="v1"), media("m-2")]), NOW)
    desired = result.desired
    assert (result.changed, result.needs_sync, result.ignored_reason) == (True, True, None)
    assert (desired.listing_id, desired.owner_id, desired.version, desired.last_sequence) == (
        LISTING_ID, "agence-marais", 1, 3,
    )  # fmt: skip
    assert desired.portals == ["SL"]
    assert desired.data == DATA and desired.data is not DATA
    assert desired.specific is None
    assert desired.media[0] == Media("m-1", "https://photos.agence-marais.fr/0042/m-1.jpg", "PICTURE",
                                     title="Séjour", version="v1")  # fmt: skip
    assert desired.updated_at == format_moment(NOW)
    assert desired.is_publishable


def test_upsert_replaces_everything() -> None:
    current = apply_event(None, upsert(1, [media("m-1"), media("m-2")], specific={"gsl": {}}), NOW).desired
    result = apply_event(current, upsert(2, [media("m-3")], portals=["BD", "SLN"], specific=...), LATER)
    assert ids(result.desired) == ["m-3"]
    assert result.desired.portals == ["BD", "SLN"]
    assert result.desired.specific is None and current.specific == {"gsl": {}}
    assert result.desired.version == 2


def test_portals_absent_means_default() -> None:
    assert apply_event(None, upsert(portals=...), NOW).desired.portals is None


def test_apply_never_mutates_current() -> None:
    current = listing_with("m-1", "m-2", "m-3", sequence=1)
    snapshot = copy.deepcopy(current)
    for listing_event in (
        upsert(2, [media("m-9")]),
        event("media.added", 2, media=media("m-4"), position=0),
        event("media.updated", 2, media=media("m-2", title="Nouveau titre")),
        event("media.removed", 2, mediaId="m-1"),
        event("media.reordered", 2, order=["m-3", "m-2", "m-1"]),
        event("listing.deleted", 2),
    ):
        result = apply_event(current, listing_event, LATER)
        assert result.changed and result.desired is not current
        assert current == snapshot


def test_same_upsert_twice_is_idempotent() -> None:
    once = apply_event(None, upsert(None, [media("m-1")]), NOW)
    twice = apply_event(once.desired, upsert(None, [media("m-1")]), LATER)
    assert (twice.changed, twice.needs_sync, twice.ignored_reason) == (False, False, None)
    assert twice.desired == once.desired and twice.desired is not once.desired
    assert twice.desired.version == 1 and twice.desired.updated_at == format_moment(NOW)


def test_same_sequenced_upsert_twice_is_stale() -> None:
    once = apply_event(None, upsert(5, [media("m-1")]), NOW)
    twice = apply_event(once.desired, upsert(5, [media("m-1")]), LATER)
    assert (twice.changed, twice.ignored_reason) == (False, STALE_SEQUENCE)
    assert twice.desired == once.desired


def test_stale_sequence_is_ignored() -> None:
    current = listing_with("m-1", "m-2", sequence=10)
    for older in (
        upsert(9, [media("m-9")]),
        event("listing.deleted", 10),
        event("media.removed", 3, mediaId="m-1"),
    ):
        result = apply_event(current, older, LATER)
        assert (result.changed, result.needs_sync, result.ignored_reason) == (False, False, STALE_SEQUENCE)
        assert result.desired == current


def test_stale_event_is_ignored_before_state_checks() -> None:
    """A superseded event is judged against a state that no longer exists: drop it, do not refuse it."""
    current = listing_with("m-1", sequence=10)
    result = apply_event(current, event("media.updated", 4, media=media("m-gone")), LATER)
    assert result.ignored_reason == STALE_SEQUENCE


def test_newer_sequence_with_same_content_stores_the_watermark_without_sync() -> None:
    current = listing_with("m-1", sequence=5)
    result = apply_event(current, upsert(7, [media("m-1")]), LATER)
    assert (result.changed, result.needs_sync, result.ignored_reason) == (True, False, None)
    assert (result.desired.last_sequence, result.desired.version) == (7, current.version + 1)
    # ...so a late event 6 cannot overwrite what 7 said.
    late = apply_event(result.desired, upsert(6, [media("m-other")]), LATER)
    assert late.ignored_reason == STALE_SEQUENCE


def test_event_without_sequence_keeps_the_watermark() -> None:
    current = listing_with("m-1", sequence=5)
    result = apply_event(current, event("media.added", None, media=media("m-2")), LATER)
    assert result.changed and result.desired.last_sequence == 5


def test_owner_of_latest_event_wins_and_intermediary_is_kept_when_absent() -> None:
    current = apply_event(
        None, parse_event(raw("listing.deleted", 1, intermediaryId="agency-1")), NOW
    ).desired
    moved = parse_event(raw("media.removed", 2, mediaId="m-x", ownerId="agence-bastille"))
    result = apply_event(current, moved, LATER)
    assert (result.desired.owner_id, result.desired.intermediary_id) == ("agence-bastille", "agency-1")
    assert (result.changed, result.needs_sync, result.ignored_reason) == (True, False, UNKNOWN_MEDIA)
    switched = apply_event(
        result.desired, parse_event(raw("listing.deleted", 3, intermediaryId="agency-2")), LATER
    )
    assert switched.desired.intermediary_id == "agency-2"
    assert switched.needs_sync  # another agency: AVIV calls change


# media.added


def test_media_added_appends_without_position() -> None:
    result = apply_event(listing_with("m-1", "m-2"), event("media.added", media=media("m-3")), LATER)
    assert ids(result.desired) == ["m-1", "m-2", "m-3"]
    assert (result.changed, result.needs_sync, result.desired.version) == (True, True, 2)


@pytest.mark.parametrize(("position", "expected"), [(0, ["new", "m-1", "m-2"]), (1, ["m-1", "new", "m-2"]),
                                                    (2, ["m-1", "m-2", "new"])])  # fmt: skip
def test_media_added_at_position(position: int, expected: list[str]) -> None:
    result = apply_event(
        listing_with("m-1", "m-2"), event("media.added", media=media("new"), position=position), LATER
    )
    assert ids(result.desired) == expected


def test_media_added_position_out_of_range() -> None:
    assert state_pointers(
        listing_with("m-1", "m-2"), event("media.added", media=media("new"), position=3)
    ) == ["/position"]


def test_media_added_with_existing_id() -> None:
    current = listing_with("m-1", "m-2")
    added = event("media.added", media=media("m-2", url="https://photos.agence-marais.fr/0042/autre.jpg"))
    assert state_pointers(current, added) == ["/media/id"]


def test_media_added_with_existing_url_ignoring_timestamp() -> None:
    current = listing_with("m-1")
    url = "https://photos.agence-marais.fr/0042/m-1.jpg?timestamp=2026-02-13T09:25:57"
    assert state_pointers(current, event("media.added", media=media("m-2", url=url))) == ["/media/url"]


def test_media_added_reports_every_state_error() -> None:
    current = listing_with("m-1", "m-2")
    clash = event("media.added", media=media("m-1", url=media("m-2")["url"]), position=9)
    assert state_pointers(current, clash) == ["/media/id", "/media/url", "/position"]


def test_media_added_retried_is_unchanged() -> None:
    current = apply_event(
        listing_with("m-1"), event("media.added", media=media("m-2"), position=0), NOW
    ).desired
    for retry in (
        event("media.added", media=media("m-2"), position=0),
        event("media.added", media=media("m-2")),
    ):
        result = apply_event(current, retry, LATER)
        assert (result.changed, result.ignored_reason) == (False, None)
    assert state_pointers(current, event("media.added", media=media("m-2"), position=1)) == ["/media/id"]


def test_media_added_to_a_new_listing_waits_for_data() -> None:
    result = apply_event(None, event("media.added", 1, media=media("m-1")), NOW)
    assert result.changed and result.desired.data is None and not result.desired.is_publishable
    assert ids(result.desired) == ["m-1"] and result.desired.version == 1


def test_media_events_before_data_then_upsert() -> None:
    desired = apply_event(None, event("media.added", 1, media=media("m-1")), NOW).desired
    desired = apply_event(desired, event("media.added", 2, media=media("m-2"), position=0), NOW).desired
    desired = apply_event(
        desired, event("media.updated", 3, media=media("m-1", title="Vue dégagée")), NOW
    ).desired
    desired = apply_event(desired, event("media.reordered", 4, order=["m-1", "m-2"]), NOW).desired
    assert desired.data is None and ids(desired) == ["m-1", "m-2"] and desired.version == 4
    assert desired.media[0].title == "Vue dégagée"
    synced = apply_event(desired, upsert(5, [media("m-1", title="Vue dégagée"), media("m-2")]), LATER)
    assert synced.desired.data == DATA and synced.desired.is_publishable and synced.desired.version == 5


# media.updated


def test_media_updated_replaces_in_place() -> None:
    new = media(
        "m-2", url="https://photos.agence-marais.fr/0042/m-2-retouche.jpg", category="KITCHEN", version="2"
    )
    result = apply_event(listing_with("m-1", "m-2", "m-3"), event("media.updated", media=new), LATER)
    assert ids(result.desired) == ["m-1", "m-2", "m-3"]
    assert result.desired.media[1] == Media.from_dict(new)
    assert result.needs_sync


def test_media_updated_unknown_media() -> None:
    assert state_pointers(listing_with("m-1"), event("media.updated", media=media("m-9"))) == ["/media/id"]
    assert state_pointers(None, event("media.updated", media=media("m-9"))) == ["/media/id"]


def test_media_updated_url_of_another_media() -> None:
    clash = event("media.updated", media=media("m-2", url=media("m-1")["url"] + "?timestamp=x"))
    assert state_pointers(listing_with("m-1", "m-2"), clash) == ["/media/url"]


def test_media_updated_identical_is_unchanged() -> None:
    result = apply_event(listing_with("m-1"), event("media.updated", media=media("m-1")), LATER)
    assert (result.changed, result.needs_sync, result.ignored_reason) == (False, False, None)


# media.removed


def test_media_removed() -> None:
    result = apply_event(listing_with("m-1", "m-2", "m-3"), event("media.removed", mediaId="m-2"), LATER)
    assert ids(result.desired) == ["m-1", "m-3"] and result.changed and result.needs_sync


def test_media_removed_unknown_changes_nothing() -> None:
    current = listing_with("m-1")
    result = apply_event(current, event("media.removed", mediaId="m-9"), LATER)
    assert (result.changed, result.needs_sync, result.ignored_reason) == (False, False, UNKNOWN_MEDIA)
    assert result.desired == current
    assert apply_event(None, event("media.removed", mediaId="m-9"), LATER).changed is False


# media.reordered


def test_media_reordered() -> None:
    current = listing_with("m-1", "m-2", "m-3")
    result = apply_event(current, event("media.reordered", order=["m-3", "m-1", "m-2"]), LATER)
    assert ids(result.desired) == ["m-3", "m-1", "m-2"] and result.needs_sync
    assert result.desired.media[0] == current.media[2]


def test_media_reordered_same_order_is_unchanged() -> None:
    result = apply_event(listing_with("m-1", "m-2"), event("media.reordered", order=["m-1", "m-2"]), LATER)
    assert result.changed is False


def test_media_reordered_unknown_id() -> None:
    order = ["m-1", "m-9", "m-2"]
    assert state_pointers(listing_with("m-1", "m-2"), event("media.reordered", order=order)) == ["/order/1"]


def test_media_reordered_missing_id() -> None:
    current = listing_with("m-1", "m-2", "m-3")
    with pytest.raises(ValidationFailed) as caught:
        apply_event(current, event("media.reordered", order=["m-3", "m-1"]), LATER)
    assert [(e.pointer, "m-2" in e.reason) for e in caught.value.errors] == [("/order", True)]


def test_media_reordered_unknown_and_missing() -> None:
    current = listing_with("m-1", "m-2")
    assert state_pointers(current, event("media.reordered", order=["m-1", "m-7"])) == ["/order/1", "/order"]


def test_media_reordered_empty_listing() -> None:
    assert apply_event(listing_with(), event("media.reordered", order=[]), LATER).changed is False
    assert state_pointers(listing_with("m-1"), event("media.reordered", order=[])) == ["/order"]


# listing.deleted


def test_listing_deleted_keeps_the_last_state() -> None:
    current = listing_with("m-1", "m-2", sequence=1)
    result = apply_event(current, event("listing.deleted", 2), LATER)
    assert result.desired.deleted and not result.desired.is_publishable
    assert (result.changed, result.needs_sync) == (True, True)
    assert result.desired.data == DATA and ids(result.desired) == ["m-1", "m-2"]
    again = apply_event(result.desired, event("listing.deleted"), LATER)
    assert again.changed is False


def test_deleted_then_upserted_comes_back() -> None:
    deleted = apply_event(listing_with("m-1", sequence=1), event("listing.deleted", 2), NOW).desired
    media_event = apply_event(deleted, event("media.added", 3, media=media("m-2")), NOW).desired
    assert media_event.deleted and ids(media_event) == ["m-1", "m-2"]
    back = apply_event(media_event, upsert(4, [media("m-1")]), LATER)
    assert back.changed and back.needs_sync and not back.desired.deleted and back.desired.is_publishable
    assert back.desired.version == 4


def test_delete_of_an_unknown_listing_leaves_a_tombstone() -> None:
    """The tombstone holds the sequence, so an older upsert arriving late cannot resurrect the listing."""
    result = apply_event(None, event("listing.deleted", 8), NOW)
    assert result.changed and result.desired.deleted and result.desired.last_sequence == 8
    assert apply_event(result.desired, upsert(7), LATER).ignored_reason == STALE_SEQUENCE


# programming errors and the sample chain


def test_wrong_listing_or_naive_clock_is_a_programming_error() -> None:
    other = DesiredListing(listing_id="other", owner_id="o")
    with pytest.raises(ValueError):
        apply_event(other, event("listing.deleted"), NOW)
    with pytest.raises(ValueError):
        apply_event(None, event("listing.deleted"), datetime(2026, 2, 13, 9, 30))


def test_updated_at_is_the_one_utc_moment_format() -> None:
    paris = datetime(2026, 2, 13, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert (
        apply_event(None, event("listing.deleted"), paris).desired.updated_at == "2026-02-13T09:30:00.000000Z"
    )


def test_sample_chain() -> None:
    desired: DesiredListing | None = None
    results: list[ApplyResult] = []
    for name in ("listing-upserted", "media-added", "media-updated", "media-removed", "media-reordered"):
        results.append(apply_event(desired, parse_event(sample(name)), NOW))
        desired = results[-1].desired
    assert desired is not None
    assert all(r.changed and r.needs_sync for r in results)
    assert ids(desired) == ["med-5502", "med-5501", "med-5506", "med-5503", "med-5505"]
    assert desired.media[0].title == "Séjour retouché : lumière de fin d'après-midi"
    assert (desired.version, desired.last_sequence, desired.intermediary_id) == (
        5, 45, "8f3c2a71-5b4e-4d0a-9c61-2e7f1a9b0c44",
    )  # fmt: skip
    deleted = apply_event(desired, parse_event(sample("listing-deleted")), NOW).desired
    assert deleted.deleted and deleted.data == desired.data
    # Replaying the whole chain changes nothing: every event is stale.
    for name in ("listing-upserted", "media-added", "media-removed", "listing-deleted"):
        assert apply_event(deleted, parse_event(sample(name)), NOW).ignored_reason == STALE_SEQUENCE


def test_a_crm_resend_keeps_the_automatic_retry_version_of_an_unchanged_media() -> None:
    """Reconcile re-stamps a failed photo by versioning it ``v1#retry1``; the CRM re-sending the same
    photo at ``v1`` must not undo that (one more download), while a real new version wins."""
    from dataclasses import replace as dc_replace

    from vitrine.core.events import apply_event, parse_event

    def upsert(version: str) -> Any:
        return parse_event(
            {
                "type": "listing.upserted",
                "listingId": "R1",
                "ownerId": "o",
                "occurredAt": "2026-11-27T10:00:00Z",
                "listing": {
                    "data": {"estateType": "HOUSE"},
                    "media": [
                        {
                            "id": "m1",
                            "url": "https://img.example/1.jpg",
                            "mediaType": "PICTURE",
                            "version": version,
                        }
                    ],
                },
            }
        )

    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    first = apply_event(None, upsert("v1"), now).desired
    retried = dc_replace(first, media=[dc_replace(first.media[0], version="v1#retry1")])
    again = apply_event(retried, upsert("v1"), now)
    assert again.desired.media[0].version == "v1#retry1"
    assert not again.needs_sync
    newer = apply_event(retried, upsert("v2"), now)
    assert newer.desired.media[0].version == "v2"
