"""Validation names the field to fix (JSON pointer) for every rule AVIV or the CRM contract sets."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from tests.support.listings import sample_desired
from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.errors import FieldError
from vitrine.core.timestamps import assign_timestamps, strip_timestamp
from vitrine.core.validation import (
    duplicated_media_ids,
    validate_classified,
    validate_media_list,
)

NOW = datetime(2026, 2, 13, 9, 25, 57)
DEFAULTS = ClassifiedDefaults("vitrine", "1.0.0", ("SL",))


def valid_body(media_count: int = 3) -> dict[str, Any]:
    desired = sample_desired("L-1", media_count, media_types=("PICTURE", "VIDEO", "PANORAMA"))
    return build_classified(desired, assign_timestamps(desired.media, {}, {}, NOW), DEFAULTS)


def pointers(errors: list[FieldError]) -> list[str]:
    return [e.pointer for e in errors]


def errors_after(change: Callable[[dict[str, Any]], object]) -> list[FieldError]:
    body = valid_body()
    change(body)
    return validate_classified(body)


def test_valid_body_has_no_errors():
    assert validate_classified(valid_body()) == []
    assert validate_classified(valid_body(0)) == []
    assert validate_classified(valid_body(300)) == []


def test_not_an_object():
    assert pointers(validate_classified([])) == [""]  # type: ignore[arg-type]


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or with value=DELETE, remove) the JSON-pointer ``path`` in a body."""

    def change(body: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value

    return change


DELETE = object()
LONG = "x" * 513


@pytest.mark.parametrize(
    ("path", "value", "expected_pointer", "reason_part"),
    [
        # envelope
        ("/displayOrder", 1, "/displayOrder", "unknown property"),
        ("/portals", DELETE, "/portals", "required"),
        ("/portals", "SL", "/portals", "list"),
        ("/portals", ["SL", "XX"], "/portals/1", "SL|BUCOM"),
        ("/portals", ["SL", "SL"], "/portals/1", "duplicated"),
        ("/portals", [3], "/portals/0", "one of"),
        ("/specific", [], "/specific", "object"),
        ("/data", DELETE, "/data", "required"),
        ("/data", "x", "/data", "object"),
        # data
        ("/data/rooms", 3, "/data/rooms", "unknown property"),
        ("/data/estateType", DELETE, "/data/estateType", "required"),
        ("/data/estateType", "CASTLE", "/data/estateType", "one of"),
        ("/data/distributionType", DELETE, "/data/distributionType", "required"),
        ("/data/distributionType", "LEASE", "/data/distributionType", "BUY|RENT"),
        ("/data/distributionType", ["BUY"], "/data/distributionType", "BUY|RENT"),
        ("/data/prices", DELETE, "/data/prices", "required"),
        ("/data/prices", 100, "/data/prices", "object"),
        ("/data/location", DELETE, "/data/location", "required"),
        ("/data/location", "Lyon", "/data/location", "object"),
        ("/data/location/city", DELETE, "/data/location/city", "required"),
        ("/data/location/street", 12, "/data/location/street", "string"),
        ("/data/location/houseNumber", DELETE, "/data/location/houseNumber", "required"),
        ("/data/location/country", DELETE, "/data/location/country", "required"),
        ("/data/location/postalcode", "6" * 33, "/data/location/postalcode", "at most 32"),
        ("/data/location/zip", "69003", "/data/location/zip", "unknown property"),
        ("/data/metaData", DELETE, "/data/metaData", "required"),
        ("/data/metaData", [], "/data/metaData", "object"),
        ("/data/metaData/owner", "x", "/data/metaData/owner", "unknown property"),
        ("/data/metaData/source", DELETE, "/data/metaData/source", "required"),
        (
            "/data/metaData/source/offererEstateId",
            DELETE,
            "/data/metaData/source/offererEstateId",
            "required",
        ),
        ("/data/metaData/source/sourceSystem", DELETE, "/data/metaData/source/sourceSystem", "required"),
        (
            "/data/metaData/source/sourceSystemVersion",
            1,
            "/data/metaData/source/sourceSystemVersion",
            "string",
        ),
        (
            "/data/metaData/source/offererMarketingKey",
            LONG,
            "/data/metaData/source/offererMarketingKey",
            "512",
        ),
        (
            "/data/metaData/source/offererEstateGroupId",
            LONG,
            "/data/metaData/source/offererEstateGroupId",
            "512",
        ),
        ("/data/metaData/source/agency", "x", "/data/metaData/source/agency", "unknown property"),
        # media
        ("/media", {}, "/media", "list"),
        ("/media/1", "http://a.com/a.jpg", "/media/1", "object"),
        ("/media/0/url", DELETE, "/media/0/url", "required"),
        ("/media/0/url", "/photos/a.jpg", "/media/0/url", "absolute http"),
        ("/media/0/url", "ftp://a.com/a.jpg", "/media/0/url", "absolute http"),
        ("/media/0/url", "https:///a.jpg", "/media/0/url", "absolute http"),
        ("/media/0/url", "https://a.com/a b.jpg", "/media/0/url", "absolute http"),
        ("/media/0/url", "https://a.com/a\x00.jpg", "/media/0/url", "absolute http"),
        ("/media/0/url", 42, "/media/0/url", "absolute http"),
        ("/media/0/mediaType", DELETE, "/media/0/mediaType", "required"),
        ("/media/0/mediaType", "PHOTO", "/media/0/mediaType", "PICTURE|VIDEO"),
        ("/media/0/mediaType", ["PICTURE"], "/media/0/mediaType", "PICTURE|VIDEO"),
        ("/media/0/category", "ROOF", "/media/0/category", "categories"),
        ("/media/0/category", None, "/media/0/category", "categories"),
        ("/media/2/tags", "INDOOR", "/media/2/tags", "list"),
        ("/media/2/tags", ["INDOOR", "ROOF"], "/media/2/tags/1", "categories"),
        ("/media/2/tags", [["INDOOR"]], "/media/2/tags/0", "categories"),
        ("/media/0/title", "", "/media/0/title", "blank"),
        ("/media/0/title", "   \t ", "/media/0/title", "blank"),
        ("/media/0/title", "\ufeff", "/media/0/title", "blank"),
        ("/media/0/title", "Séjour\nCuisine", "/media/0/title", "single line"),
        ("/media/0/title", "Séjour\r", "/media/0/title", "single line"),
        ("/media/0/title", "Séjour\u2028Cuisine", "/media/0/title", "single line"),
        ("/media/0/title", 7, "/media/0/title", "string"),
        ("/media/0/id", "m-1", "/media/0/id", "unknown property"),
        ("/media/0/displayOrder", 1, "/media/0/displayOrder", "unknown property"),
        ("/media/0/mimeType", "image/jpeg", "/media/0/mimeType", "unknown property"),
    ],
)
def test_each_rule_names_the_field(path, value, expected_pointer, reason_part):
    errors = errors_after(setter(path, value))
    assert pointers(errors) == [expected_pointer], errors
    assert reason_part in errors[0].reason


def test_at_most_five_portals():
    # only five portals exist, so six always repeat one: both rules speak
    errors = errors_after(setter("/portals", ["SL", "BUCOM", "BD", "SLC", "SLN", "SL"]))
    assert pointers(errors) == ["/portals", "/portals/5"]
    assert "at most 5" in errors[0].reason


def test_pointer_tokens_are_escaped():
    errors = errors_after(setter("/data/a~b", 1))
    assert pointers(errors_after(lambda body: body["data"].__setitem__("a/b", 1))) == ["/data/a~1b"]
    assert pointers(errors) == ["/data/a~0b"]


@pytest.mark.parametrize(
    "title",
    ["Séjour", "  espaces autour  ", "tab\tinside", "zero\u200bwidth", "x" * 2000, "☀", "a"],
)
def test_valid_titles(title):
    assert errors_after(setter("/media/0/title", title)) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://a.com/a.jpg",
        "HTTPS://A.COM/A.JPG",
        "https://a.com:8443/p/s%C3%A9jour.jpg?sig=a%2Fb#x",
        "https://user@a.com/a.jpg",
        "https://a.com/é.jpg",
    ],
)
def test_valid_urls(url):
    assert errors_after(setter("/media/0/url", url)) == []


def test_duplicated_media_url_ignoring_timestamps():
    body = valid_body(3)
    first_url = body["media"][0]["url"]
    body["media"][2]["url"] = first_url.replace("2026-02-13T09:25:57", "2030-01-01T00:00:00")
    errors = validate_classified(body)
    assert pointers(errors) == ["/media/2/url"]
    assert "duplicated media URL, same as /media/0" in errors[0].reason


def test_several_errors_are_all_reported():
    body = valid_body(3)
    del body["data"]["estateType"]
    body["media"][1]["mediaType"] = "GIF"
    body["media"][2]["title"] = " "
    assert pointers(validate_classified(body)) == ["/data/estateType", "/media/1/mediaType", "/media/2/title"]


def test_validation_does_not_change_the_body():
    body = valid_body(5)
    before = copy.deepcopy(body)
    validate_classified(body)
    assert body == before


# --- the CRM's media list (webhooks) ------------------------------------------------------------


def crm_media(count: int = 3) -> list[dict[str, Any]]:
    return [m.to_dict() for m in sample_desired("L-1", count, media_types=("PICTURE", "VIDEO")).media]


def test_valid_crm_media():
    assert validate_media_list(crm_media(10)) == []
    assert validate_media_list([]) == []


def test_crm_media_optional_fields_may_be_null():
    media = crm_media(1)
    media[0].update(category=None, tags=None, title=None, version=None)
    assert validate_media_list(media) == []
    media[0]["version"] = 3
    assert validate_media_list(media) == []


@pytest.mark.parametrize(
    ("change", "expected_pointer", "reason_part"),
    [
        ({"id": None}, "/media/1/id", "required"),
        ({"id": ""}, "/media/1/id", "non-empty"),
        ({"id": 12}, "/media/1/id", "string"),
        ({"url": None}, "/media/1/url", "required"),
        ({"url": "media/1.jpg"}, "/media/1/url", "absolute"),
        ({"mediaType": "AUDIO"}, "/media/1/mediaType", "PICTURE"),
        ({"category": "ROOF"}, "/media/1/category", "categories"),
        ({"tags": ["INDOOR", 3]}, "/media/1/tags/1", "categories"),
        ({"title": "a\nb"}, "/media/1/title", "single line"),
        ({"title": ""}, "/media/1/title", "blank"),
        ({"version": True}, "/media/1/version", "string or an integer"),
        ({"version": 1.5}, "/media/1/version", "string or an integer"),
        ({"mimeType": "image/jpeg"}, "/media/1/mimeType", "unknown property"),
        ({"displayOrder": 2}, "/media/1/displayOrder", "unknown property"),
    ],
)
def test_crm_media_rules(change, expected_pointer, reason_part):
    media = crm_media(3)
    media[1].update(change)
    media[1] = {k: v for k, v in media[1].items() if not (k in ("id", "url") and v is None)}
    errors = validate_media_list(media)
    assert pointers(errors) == [expected_pointer], errors
    assert reason_part in errors[0].reason


def test_crm_media_duplicated_id_and_url():
    media = crm_media(4)
    media[2]["id"] = media[0]["id"]
    media[3]["url"] = media[1]["url"] + "?"  # the same URL once vitrine adds its timestamp
    errors = validate_media_list(media)
    assert pointers(errors) == ["/media/2/id", "/media/3/url"]
    assert "same as /media/0" in errors[0].reason
    assert "duplicated media URL, same as /media/1" in errors[1].reason


def test_crm_media_pointer_prefix_and_shape():
    assert pointers(validate_media_list(["x"], "/payload/media")) == ["/payload/media/0"]  # type: ignore[list-item]
    assert pointers(validate_media_list("abc", "/payload/media")) == ["/payload/media"]  # type: ignore[arg-type]
    errors = validate_media_list([{"url": "https://a.com/a.jpg", "mediaType": "PICTURE"}], "/payload/media")
    assert pointers(errors) == ["/payload/media/0/id"]


def test_duplicated_media_ids():
    media = sample_desired("L-1", 4).media
    media[3] = replace(media[3], id=media[1].id)
    errors = duplicated_media_ids(media)
    assert pointers(errors) == ["/media/3/id"]
    assert "same as /media/1" in errors[0].reason


def test_media_identities_hint_gives_the_same_verdict():
    desired = sample_desired("L-1", 6, url_style="mixed")
    desired.media[4] = replace(desired.media[4], url=desired.media[1].url)
    stamped = assign_timestamps(desired.media, {}, {}, NOW)
    body = build_classified(desired, stamped, DEFAULTS)
    hint = [strip_timestamp(m.url) for m in desired.media]
    assert validate_classified(body, media_identities=hint) == validate_classified(body)
    assert pointers(validate_classified(body)) == ["/media/4/url"]
    # a hint of the wrong length is ignored rather than trusted
    assert validate_classified(body, media_identities=hint[:2]) == validate_classified(body)
