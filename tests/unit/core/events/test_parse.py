"""Webhook events: parsing (every bad field reported with its pointer) and decoding the body."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import (
    DATA,
    SAMPLES,
    media,
    pointers,
    raw,
    sample,
)
from vitrine.core.errors import ValidationFailed
from vitrine.core.events.parse import MalformedBody, decode_body, parse_event
from vitrine.core.events.vocabulary import EVENT_TYPES, MAX_SEQUENCE

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
    ("listingId past DynamoDB's 2,048-byte key in UTF-8", {"listingId": "\U0001f3e0" * 511}, ["/listingId"]),
    ("ownerId too long (found by fuzzing: a 600 KB one was a 502)", {"ownerId": "☃" * 513}, ["/ownerId"]),
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
    # "?" adds nothing: once vitrine appends its timestamp, AVIV is sent the same URL twice.
    ("two media share a URL", {"media": with_media(1, url="https://photos.agence-marais.fr/0042/m-1.jpg?")},
     ["/listing/media/1/url"]),
    ("a URL with its own timestamp parameter",
     {"media": with_media(1, url="https://cdn.agence-marais.fr/m-2.jpg?sig=ab12&Timestamp=1770971157")},
     ["/listing/media/1/url"]),
]  # fmt: skip


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
        b'{"a": 1, "a": 2}',
        '{"a": "é"}'.encode("latin-1"),
    ],
)
def test_decode_body_refuses_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        decode_body(body)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e99999"])
def test_decode_body_refuses_numbers_that_are_not_finite_naming_their_field(literal: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_body(b'{"a": [0, ' + literal.encode() + b"]}")
    assert [error.pointer for error in caught.value.errors] == ["/a/1"]


def test_a_listing_id_of_512_characters_is_refused_only_when_its_key_passes_2048_bytes() -> None:
    # "LISTING#" + the id is the partition key: 2,040 bytes of id at most.
    assert parse_event(raw("listing.deleted", 1, listingId="é" * 512)).listing_id == "é" * 512  # 1,024 B
    with pytest.raises(ValidationFailed) as refused:
        parse_event(raw("listing.deleted", 1, listingId="\U0001f3e0" * 511))  # 2,044 bytes
    assert [(e.pointer, e.reason) for e in refused.value.errors] == [
        ("/listingId", "must be at most 2040 bytes in UTF-8")
    ]
