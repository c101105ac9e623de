"""schemas/webhook-event.schema.json and parse_event describe one contract: same yes, same no."""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from vitrine.core.errors import ValidationFailed
from vitrine.core.events.parse import parse_event
from vitrine.core.events.vocabulary import (
    EVENT_TYPES,
    MAX_LISTING_ID_LENGTH,
    MAX_PORTALS,
    MAX_SEQUENCE,
    RFC3339_DATE_TIME,
)
from vitrine.core.model import MEDIA_CATEGORIES, MEDIA_TYPES, PORTALS
from vitrine.core.strict_json import MAX_DEPTH
from vitrine.core.validation import validate_media_list

REPO_ROOT = Path(__file__).resolve().parents[4]
SCHEMA_PATH = REPO_ROOT / "schemas" / "webhook-event.schema.json"
SAMPLES = sorted((REPO_ROOT / "events" / "webhooks").glob("*.json"))
OPENAPI_PATH = Path(
    os.environ.get("AVIV_OPENAPI") or REPO_ROOT.parent / "shared" / "aviv" / "classifieds-v4.openapi.json"
)


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def validator() -> Draft202012Validator:
    return Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_accepts(body: Any) -> bool:
    return validator().is_valid(body)


def parser_pointers(body: Any) -> list[str] | None:
    """None when parse_event accepts ``body``, else the pointers it names."""
    try:
        parse_event(body)
    except ValidationFailed as exc:
        return [error.pointer for error in exc.errors]
    return None


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def sample(stem: str) -> dict[str, Any]:
    return load(REPO_ROOT / "events" / "webhooks" / f"{stem}.json")


# --------------------------------------------------------------------------------------------------
# The schema itself
# --------------------------------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema())


def test_schema_enums_and_limits_follow_the_code() -> None:
    root = schema()["properties"]
    defs = schema()["$defs"]
    assert root["type"]["enum"] == list(EVENT_TYPES)
    assert [branch["$ref"].rsplit("/", 1)[1] for branch in schema()["oneOf"]] == [
        "listingUpserted", "mediaAdded", "mediaUpdated", "mediaRemoved", "mediaReordered", "listingDeleted",
    ]  # fmt: skip
    consts = [defs[b["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"] for b in schema()["oneOf"]]
    assert consts == list(EVENT_TYPES)
    assert root["listingId"]["maxLength"] == MAX_LISTING_ID_LENGTH
    assert root["sequence"]["maximum"] == MAX_SEQUENCE
    assert root["occurredAt"]["pattern"] == "^" + RFC3339_DATE_TIME.pattern + r"(?![\s\S])"
    assert defs["listing"]["properties"]["portals"]["items"]["enum"] == list(PORTALS)
    assert defs["listing"]["properties"]["portals"]["maxItems"] == MAX_PORTALS
    assert defs["media"]["properties"]["mediaType"]["enum"] == list(MEDIA_TYPES)
    assert defs["mediaCategory"]["enum"] == list(MEDIA_CATEGORIES)
    assert f"nested more than {MAX_DEPTH} levels deep" in schema()["description"]


# --------------------------------------------------------------------------------------------------
# Samples: accepted by both, and realistic
# --------------------------------------------------------------------------------------------------


def test_there_is_one_sample_per_type() -> None:
    assert sorted(load(p)["type"] for p in SAMPLES) == sorted(EVENT_TYPES)
    assert {p.name for p in SAMPLES} == {
        "listing-upserted.json", "media-added.json", "media-updated.json",
        "media-removed.json", "media-reordered.json", "listing-deleted.json",
    }  # fmt: skip


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_is_accepted_by_schema_and_parser(path: Path) -> None:
    body = load(path)
    assert [e.message for e in validator().iter_errors(body)] == []
    assert parser_pointers(body) is None


def test_an_empty_portal_list_is_accepted_by_schema_and_parser_as_on_no_portal() -> None:
    body = sample("listing-upserted")
    body["listing"]["portals"] = []
    assert schema_accepts(body) and parser_pointers(body) is None
    assert parse_event(body).payload["listing"]["portals"] == []
    del body["listing"]["portals"]
    assert schema_accepts(body) and "portals" not in parse_event(body).payload["listing"]


def test_the_owners_locale_is_accepted_by_schema_and_parser_on_every_event() -> None:
    for path in SAMPLES:
        body = {**load(path), "locale": "en"}
        assert schema_accepts(body) and parse_event(body).locale == "en"
    assert parse_event(sample("listing-upserted")).locale == "fr"
    assert parse_event(sample("listing-deleted")).locale is None


def test_upserted_sample_is_a_valid_aviv_classified() -> None:
    """The sample's data is what AVIV would accept, so demos built on it reach the portals."""
    if not OPENAPI_PATH.is_file():
        raise FileNotFoundError(f"AVIV OpenAPI file not found at {OPENAPI_PATH}; set AVIV_OPENAPI")
    spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    aviv = Draft7Validator({"$ref": "#/components/schemas/AvivClassified", "components": spec["components"]})
    listing = sample("listing-upserted")["listing"]
    body = {
        "portals": listing["portals"],
        "data": listing["data"],
        "media": [{k: v for k, v in m.items() if k not in ("id", "version")} for m in listing["media"]],
    }
    assert [e.message for e in aviv.iter_errors(body)] == []
    assert listing["data"]["metaData"]["source"]["offererEstateId"] == sample("listing-upserted")["listingId"]


def test_samples_are_french_with_accents_and_http_urls() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in SAMPLES)
    assert any(ch in text for ch in "éèàçô")
    urls = [m["url"] for m in sample("listing-upserted")["listing"]["media"]]
    assert all(url.startswith(("http://", "https://")) for url in urls)


# --------------------------------------------------------------------------------------------------
# Invalid events: refused by both, with the pointer the parser names
# --------------------------------------------------------------------------------------------------


UPSERT = "listing-upserted"


def edit(stem: str, *edits: tuple[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """The sample with each (path, value) applied; value ``...`` deletes the key."""
    body = copy.deepcopy(sample(stem))
    for path, value in edits:
        parent: Any = body
        for token in path[:-1]:
            parent = parent[token]
        if value is ...:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return body


INVALID: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown type", edit("listing-deleted", (("type",), "listing.archived")), ["/type"]),
    ("listingId missing", edit("media-removed", (("listingId",), ...)), ["/listingId"]),
    ("listingId too long", edit("listing-deleted", (("listingId",), "x" * 513)), ["/listingId"]),
    ("ownerId empty", edit("media-removed", (("ownerId",), "")), ["/ownerId"]),
    ("occurredAt without zone", edit("listing-deleted", (("occurredAt",), "2026-03-28T17:45:00")),
     ["/occurredAt"]),
    ("occurredAt impossible", edit("listing-deleted", (("occurredAt",), "2026-02-30T17:45:00Z")),
     ["/occurredAt"]),
    ("occurredAt newline", edit("listing-deleted", (("occurredAt",), "2026-03-28T17:45:00Z\n")),
     ["/occurredAt"]),
    ("sequence negative", edit("media-removed", (("sequence",), -4)), ["/sequence"]),
    ("sequence as text", edit("media-removed", (("sequence",), "44")), ["/sequence"]),
    ("intermediaryId empty", edit("media-removed", (("intermediaryId",), "")), ["/intermediaryId"]),
    ("locale unknown", edit("media-removed", (("locale",), "de")), ["/locale"]),
    ("locale regional", edit("media-removed", (("locale",), "fr-FR")), ["/locale"]),
    ("locale not a string", edit("listing-deleted", (("locale",), ["fr"])), ["/locale"]),
    ("unknown envelope property", edit("listing-deleted", (("reason",), "vendu")), ["/reason"]),
    ("another type's property", edit("media-removed", (("order",), ["med-1"])), ["/order"]),
    ("listing missing", edit(UPSERT, (("listing",), ...)), ["/listing"]),
    ("data missing", edit(UPSERT, (("listing", "data"), ...)), ["/listing/data"]),
    ("data not an object", edit(UPSERT, (("listing", "data"), "APPARTEMENT")), ["/listing/data"]),
    ("specific not an object", edit(UPSERT, (("listing", "specific"), [])), ["/listing/specific"]),
    ("unknown listing property", edit(UPSERT, (("listing", "prix"), 685000)), ["/listing/prix"]),
    ("unknown portal", edit(UPSERT, (("listing", "portals", 1), "LEBONCOIN")),
     ["/listing/portals/1"]),
    ("portal twice", edit(UPSERT, (("listing", "portals", 1), "SL")), ["/listing/portals/1"]),
    ("six portals", edit(UPSERT, (("listing", "portals"), ["SL", "BUCOM", "BD", "SLC", "SLN", "BD"])),
     ["/listing/portals", "/listing/portals/5"]),
    ("media missing", edit(UPSERT, (("listing", "media"), ...)), ["/listing/media"]),
    ("unknown mediaType", edit(UPSERT, (("listing", "media", 2, "mediaType"), "PHOTO")),
     ["/listing/media/2/mediaType"]),
    ("unknown category", edit(UPSERT, (("listing", "media", 0, "category"), "FACADE")),
     ["/listing/media/0/category"]),
    ("unknown tag", edit(UPSERT, (("listing", "media", 1, "tags"), ["INDOOR", "SALON"])),
     ["/listing/media/1/tags/1"]),
    ("blank title", edit(UPSERT, (("listing", "media", 3, "title"), " \t ")),
     ["/listing/media/3/title"]),
    ("two-line title", edit("media-updated", (("media", "title"), "Séjour\r\nretouché")), ["/media/title"]),
    ("url not http", edit("media-added", (("media", "url"), "ftp://photos.agence-presquile.fr/a.jpg")),
     ["/media/url"]),
    ("url with a space", edit("media-added", (("media", "url"), "https://photos.fr/chambre parentale.jpg")),
     ["/media/url"]),
    ("media id missing", edit("media-updated", (("media", "id"), ...)), ["/media/id"]),
    ("displayOrder", edit("media-added", (("media", "displayOrder"), 3)), ["/media/displayOrder"]),
    ("negative position", edit("media-added", (("position",), -1)), ["/position"]),
    ("mediaId missing", edit("media-removed", (("mediaId",), ...)), ["/mediaId"]),
    ("order not a list", edit("media-reordered", (("order",), "med-5502,med-5501")), ["/order"]),
    ("order repeats an id", edit("media-reordered", (("order", 4), "med-5502")), ["/order/4"]),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_event_is_refused_by_schema_and_parser(body: dict[str, Any], expected: list[str]) -> None:
    assert not schema_accepts(body)
    assert parser_pointers(body) == expected


def test_not_an_object_is_refused_by_both() -> None:
    for body in ([], "listing.deleted", None):
        assert not schema_accepts(body)
        assert parser_pointers(body) == [""]


def test_what_only_the_server_can_check() -> None:
    """Uniqueness by id or by URL as AVIV is sent it is beyond JSON Schema: the parser alone refuses it."""
    same_id = edit(UPSERT, (("listing", "media", 1, "id"), "med-5501"))
    url = sample("listing-upserted")["listing"]["media"][0]["url"] + "?"  # the same once stamped
    same_url = edit(UPSERT, (("listing", "media", 1, "url"), url))
    for body, pointer in ((same_id, "/listing/media/1/id"), (same_url, "/listing/media/1/url")):
        assert schema_accepts(body)
        assert parser_pointers(body) == [pointer]


# --------------------------------------------------------------------------------------------------
# The schema's media patterns agree with validate_media_list, value by value
# --------------------------------------------------------------------------------------------------

URLS = [
    "https://photos.agence-presquile.fr/a.jpg",
    "http://a.fr",
    "HTTPS://A.FR/x?y=1&timestamp=2026-02-13T09:25:57",
    "https://a.fr/x.jpg?timestamp",
    "https://a.fr/x.jpg?TimeStamp=1&sig=x",
    "https://a.fr/x.jpg?%74ime%53tamp=1",
    "https://a.fr/x.jpg?%74ime%73tamp%3D1",
    "https://a.fr/x.jpg?timestamps=1&my_timestamp=2&timestamp_=3",
    "https://a.fr/x.jpg?a=1#timestamp=1",
    "https://a.fr/x.jpg#?timestamp=1",
    "https://a.fr/timestamp=1/x.jpg",
    "https://a.fr/é.jpg",
    "https://a.fr:8443/p#frag",
    "ftp://a.fr/a.jpg",
    "//a.fr/a.jpg",
    "/a.jpg",
    "https://",
    "https:///a.jpg",
    "https://?q",
    "https://a.fr/a b.jpg",
    " https://a.fr/a.jpg",
    "https://a.fr/a.jpg\n",
    "https://a.fr/a.jpg\t",
    "https://a.fr/\x00.jpg",
    "https://a.fr/\x7f.jpg",
    "https://a.fr/\u00a0.jpg",
    "",
]

TITLES = [
    "Séjour lumineux",
    " x ",
    "a",
    "",
    "   ",
    "\t",
    "\u00a0",
    "\ufeff",
    "Séjour\nlumineux",
    "Séjour lumineux\n",
    "\nSéjour",
    "Séjour\r",
    "Séjour\u2028suite",
    "Séjour\x85suite",
    "Vue\u00a0mer",
]


def media_schema_accepts(item: dict[str, Any]) -> bool:
    body = edit("media-added", (("media",), item))
    return schema_accepts(body)


@pytest.mark.parametrize("url", URLS)
def test_url_rule_is_the_same(url: str) -> None:
    item = {"id": "m-1", "url": url, "mediaType": "PICTURE"}
    assert media_schema_accepts(item) == (validate_media_list([item]) == [])


@pytest.mark.parametrize("title", TITLES)
def test_title_rule_is_the_same(title: str) -> None:
    item = {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": "PICTURE", "title": title}
    assert media_schema_accepts(item) == (validate_media_list([item]) == [])


@pytest.mark.parametrize(
    "item",
    [
        {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": "PICTURE", "version": 3},
        {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": "PICTURE", "version": True},
        {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": "PICTURE", "version": None, "title": None},
        {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": "PICTURE", "tags": None, "category": None},
        {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": "PICTURE", "tags": []},
        {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": "PICTURE", "tags": "INDOOR"},
        {"id": "m-1", "url": "https://a.fr/a.jpg", "mediaType": None},
        {"id": "m-1", "url": None, "mediaType": "PICTURE"},
        {"id": 1, "url": "https://a.fr/a.jpg", "mediaType": "PICTURE"},
    ],
)
def test_other_media_rules_are_the_same(item: dict[str, Any]) -> None:
    assert media_schema_accepts(item) == (validate_media_list([item]) == [])
