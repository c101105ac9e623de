"""Contract: what vitrine builds validates against AVIV's official OpenAPI schema, and vitrine's own
validation agrees with it (same enums, same limits, same verdict on broken bodies).

The OpenAPI file is read from ``$AVIV_OPENAPI`` or the repo's parent folder; if it is missing these
tests fail -- they never skip.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.aviv_schema import OPENAPI_PATH, load_openapi, schema_errors, schema_of
from tests.support.listings import last_sent_of, varied_listings
from vitrine.core import validation
from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.model import MEDIA_CATEGORIES, MEDIA_TYPES, PORTALS, DesiredListing
from vitrine.core.plan import plan_sync
from vitrine.core.timestamps import assign_timestamps
from vitrine.core.validation import validate_classified

T0 = datetime(2026, 2, 13, 9, 25, 57)
DEFAULTS = ClassifiedDefaults("vitrine", "0.1.0", ("SL",))
LISTINGS = varied_listings()


def body_of(desired: DesiredListing) -> dict[str, Any]:
    return build_classified(desired, assign_timestamps(desired.media, {}, {}, T0), DEFAULTS)


def test_openapi_file_is_there():
    assert OPENAPI_PATH.is_file(), f"missing {OPENAPI_PATH}: set AVIV_OPENAPI"
    assert load_openapi()["openapi"].startswith("3.")


# --- vitrine's constants are the schema's -----------------------------------------------------------


def constraints(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's schema without its annotations."""
    return {k: v for k, v in schema.items() if k not in ("description", "example", "title")}


def real_estate() -> dict[str, Any]:
    return schema_of("RealEstate")


def test_media_enums_match():
    media = schema_of("Media")
    assert set(MEDIA_TYPES) == set(schema_of("MediaType")["enum"])
    assert set(MEDIA_CATEGORIES) == set(schema_of("MediaCategory")["enum"])
    assert set(MEDIA_CATEGORIES) == set(media["properties"]["tags"]["items"]["enum"])
    assert set(media["properties"]) == validation.AVIV_MEDIA_PROPERTIES
    assert set(media["required"]) == {"url", "mediaType"}
    assert media["additionalProperties"] is False


def test_title_pattern_is_the_one_validation_implements():
    assert schema_of("MediaTitle")["pattern"] == r"(?!(^\s+$))^.+$"


def test_envelope_matches():
    classified = schema_of("AvivClassified")
    assert set(classified["properties"]) == validation.CLASSIFIED_PROPERTIES
    assert set(classified["required"]) == {"portals", "data"}
    portals = classified["properties"]["portals"]
    assert set(PORTALS) == set(portals["items"]["enum"])
    assert portals["maxItems"] == validation.MAX_PORTALS
    assert portals["uniqueItems"] is True


def test_real_estate_matches():
    schema = real_estate()
    assert set(schema["properties"]) == validation.REAL_ESTATE_PROPERTIES
    assert set(schema["required"]) == {"estateType", "distributionType", "prices", "location", "metaData"}
    assert set(schema_of("EstateType")["enum"]) == validation.ESTATE_TYPES
    assert set(schema["properties"]["distributionType"]["enum"]) == validation.DISTRIBUTION_TYPES


def test_location_matches():
    location = real_estate()["properties"]["location"]
    assert set(location["properties"]) == validation.LOCATION_PROPERTIES
    assert set(location["required"]) == set(validation.LOCATION_REQUIRED)
    for key, max_length in validation.LOCATION_REQUIRED.items():
        assert constraints(location["properties"][key]) == {"type": "string", "maxLength": max_length}, key


def test_meta_data_source_matches():
    meta_data = real_estate()["properties"]["metaData"]
    assert set(meta_data["properties"]) == validation.META_DATA_PROPERTIES
    source = meta_data["properties"]["source"]
    assert set(source["properties"]) == validation.SOURCE_PROPERTIES
    assert set(source["required"]) == set(validation.SOURCE_REQUIRED)
    assert source["additionalProperties"] is False
    for key, spec in source["properties"].items():
        assert constraints(spec) == {"type": "string", "maxLength": validation.SOURCE_MAX_LENGTH}, key


# --- built bodies are valid ---------------------------------------------------------------------------


def test_varied_listings_cover_what_bodies_vary_in():
    assert len(LISTINGS) >= 20
    media = [m for listing in LISTINGS for m in listing.media]
    assert {m.media_type for m in media} == set(MEDIA_TYPES)
    assert {m.category for m in media} >= set(MEDIA_CATEGORIES)
    assert {tag for m in media for tag in m.tags} == set(MEDIA_CATEGORIES)
    assert any(m.title and re.search(r"[éèàçôü]", m.title) for m in media)
    assert {len(listing.media) for listing in LISTINGS} >= {0, 300}
    assert {listing.data["distributionType"] for listing in LISTINGS if listing.data} == {"BUY", "RENT"}
    assert {listing.data["estateType"] for listing in LISTINGS if listing.data} == validation.ESTATE_TYPES
    assert (
        any("?" in m.url for m in media)
        and any("#" in m.url for m in media)
        and any("%" in m.url for m in media)
    )


@pytest.mark.parametrize("desired", LISTINGS, ids=[listing.listing_id for listing in LISTINGS])
def test_built_bodies_validate_against_the_official_schema(desired):
    body = body_of(desired)
    assert schema_errors(body) == []
    assert validate_classified(body) == []


@pytest.mark.parametrize("desired", LISTINGS[:6], ids=[listing.listing_id for listing in LISTINGS[:6]])
def test_updated_bodies_stay_valid(desired):
    """After a send and an edit (kept and renewed timestamps mixed), the body is still valid."""
    first = plan_sync(desired, None, None, DEFAULTS, T0)
    last = last_sent_of(desired, first.body, first.sent_media)
    edited = copy.copy(desired)
    edited.media = list(reversed(desired.media))[: max(0, len(desired.media) - 1)]
    plan = plan_sync(edited, last, None, DEFAULTS, T0 + timedelta(seconds=1))
    assert schema_errors(plan.body) == []
    assert plan.is_valid


# --- broken bodies are caught by both -------------------------------------------------------------------


def put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[int(last) if isinstance(node, list) else last]
        else:
            node[int(last) if isinstance(node, list) else last] = value

    return change


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "extra top-level property": (put("/displayOrder", 1), "/displayOrder"),
    "unknown portal": (put("/portals", ["SL", "LEBONCOIN"]), "/portals/1"),
    "duplicated portal": (put("/portals", ["SL", "SL"]), "/portals/1"),
    "missing data": (put("/data", None), "/data"),
    "unknown estate type": (put("/data/estateType", "CASTLE"), "/data/estateType"),
    "unknown distribution type": (put("/data/distributionType", "LEASE"), "/data/distributionType"),
    "missing prices": (put("/data/prices", None), "/data/prices"),
    "missing city": (put("/data/location/city", None), "/data/location/city"),
    "postal code too long": (put("/data/location/postalcode", "9" * 33), "/data/location/postalcode"),
    "missing offererEstateId": (
        put("/data/metaData/source/offererEstateId", None),
        "/data/metaData/source/offererEstateId",
    ),
    "marketing key too long": (
        put("/data/metaData/source/offererMarketingKey", "k" * 513),
        "/data/metaData/source/offererMarketingKey",
    ),
    "media without url": (put("/media/1/url", None), "/media/1/url"),
    "unknown media type": (put("/media/1/mediaType", "PHOTO"), "/media/1/mediaType"),
    "unknown category": (put("/media/1/category", "ROOF"), "/media/1/category"),
    "unknown tag": (put("/media/1/tags", ["INDOOR", "ROOF"]), "/media/1/tags/1"),
    "blank title": (put("/media/1/title", "   "), "/media/1/title"),
    "empty title": (put("/media/1/title", ""), "/media/1/title"),
    "two-line title": (put("/media/1/title", "Séjour\nCuisine"), "/media/1/title"),
    "media id sent": (put("/media/1/id", "m-1"), "/media/1/id"),
    "media displayOrder sent": (put("/media/1/displayOrder", 2), "/media/1/displayOrder"),
    "media mimeType sent": (put("/media/1/mimeType", "image/jpeg"), "/media/1/mimeType"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_bodies_are_caught_by_both(name):
    change, pointer = BROKEN[name]
    body = body_of(LISTINGS[5])  # every media type, tags and titles
    change(body)
    assert schema_errors(body), f"the official schema accepts a body with {name}"
    assert pointer in [e.pointer for e in validate_classified(body)]


def test_duplicated_media_is_caught_although_the_schema_cannot_say_it():
    body = body_of(LISTINGS[5])
    body["media"][2]["url"] = body["media"][0]["url"].replace("2026", "2031")
    assert schema_errors(body) == []  # AVIV's "Duplicated media" is a rule beyond the schema
    assert [e.pointer for e in validate_classified(body)] == ["/media/2/url"]
