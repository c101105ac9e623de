"""The AvivClassified body: defaults that never override the CRM, media items AVIV accepts, determinism."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from tests.support.listings import sample_desired, sample_media
from vitrine.core.builder import ClassifiedDefaults, build_classified, copy_json
from vitrine.core.timestamps import assign_timestamps

NOW = datetime(2026, 2, 13, 9, 25, 57)
DEFAULTS = ClassifiedDefaults(
    source_system="vitrine", source_system_version="1.2.3", default_portals=("SL", "BD")
)


def build(desired, defaults=DEFAULTS):
    return build_classified(desired, assign_timestamps(desired.media, {}, {}, NOW), defaults)


def test_source_defaults_fill_a_missing_meta_data():
    body = build(sample_desired("L-42", 1))
    assert body["data"]["metaData"] == {
        "source": {
            "sourceSystem": "vitrine",
            "sourceSystemVersion": "1.2.3",
            "offererEstateId": "L-42",
            "offererMarketingKey": "L-42",
        }
    }


def test_crm_source_values_are_never_overwritten():
    source = {
        "sourceSystem": "AgenceSoft",
        "sourceSystemVersion": "12",
        "offererEstateId": "CRM-7",
        "offererMarketingKey": "MK-7",
        "offererEstateGroupId": "G-1",
    }
    body = build(sample_desired("L-42", 1, source=source))
    assert body["data"]["metaData"]["source"] == source


def test_marketing_key_defaults_to_the_crm_estate_id():
    body = build(sample_desired("L-42", 1, source={"offererEstateId": "CRM-7"}))
    source = body["data"]["metaData"]["source"]
    assert source["offererEstateId"] == "CRM-7"
    assert source["offererMarketingKey"] == "CRM-7"
    assert source["sourceSystem"] == "vitrine"


def test_other_meta_data_is_kept():
    desired = sample_desired("L-42", 1)
    assert desired.data is not None
    desired.data["metaData"] = {"projectId": "P-1"}
    body = build(desired)
    assert body["data"]["metaData"]["projectId"] == "P-1"
    assert body["data"]["metaData"]["source"]["offererEstateId"] == "L-42"


def test_portals_default_only_when_the_crm_names_none():
    assert build(sample_desired("L-1", 0))["portals"] == ["SL", "BD"]
    assert build(sample_desired("L-1", 0, portals=["SLN"]))["portals"] == ["SLN"]


def test_an_explicit_empty_portal_list_is_sent_as_on_no_portal():
    assert build(sample_desired("L-1", 0, portals=[]))["portals"] == []


def test_specific_only_when_set():
    assert "specific" not in build(sample_desired("L-1", 0))
    assert build(sample_desired("L-1", 0, specific={"iwt": {}}))["specific"] == {"iwt": {}}


def test_top_level_keys_and_empty_media_list():
    body = build(sample_desired("L-1", 0))
    assert list(body) == ["portals", "data", "media"]
    assert body["media"] == []  # a PUT replaces everything: "no media" must be said


def test_media_items_in_order_with_only_aviv_properties():
    media = [
        sample_media("L-1", 0, title="Séjour", tags=("INDOOR", "LIVING_ROOM")),
        sample_media("L-1", 1, "VIDEO", title=None, category=None, tags=()),
        sample_media(
            "L-1", 2, "PANORAMA", category="VIEW_FROM_PROPERTY", tags=("OUTDOOR",), title="Vue", version=None
        ),
    ]
    desired = sample_desired("L-1", media=media)
    stamped = assign_timestamps(media, {}, {}, NOW)
    body = build_classified(desired, stamped, DEFAULTS)
    assert body["media"] == [
        {
            "url": stamped[0].aviv_url,
            "mediaType": "PICTURE",
            "category": "COVER_PICTURE",
            "tags": ["INDOOR", "LIVING_ROOM"],
            "title": "Séjour",
        },
        {"url": stamped[1].aviv_url, "mediaType": "VIDEO"},
        {
            "url": stamped[2].aviv_url,
            "mediaType": "PANORAMA",
            "category": "VIEW_FROM_PROPERTY",
            "tags": ["OUTDOOR"],
            "title": "Vue",
        },
    ]
    for item in body["media"]:
        assert not {"id", "version", "displayOrder", "mimeType"} & set(item)


def test_data_is_a_deep_copy():
    desired = sample_desired("L-1", 1, specific={"iwt": {}})
    body = build(desired)
    body["data"]["location"]["city"] = "Changed"
    body["data"]["prices"]["currency"] = "CHF"
    body["specific"]["iwt"]["x"] = 1
    assert desired.data is not None and desired.specific is not None
    assert desired.data["location"]["city"] != "Changed"
    assert desired.data["prices"]["currency"] == "EUR"
    assert desired.specific == {"iwt": {}}
    assert "metaData" not in desired.data  # defaults are filled in the copy only


def test_same_inputs_give_identical_bodies():
    desired = sample_desired("L-1", 20, "RENT", url_style="mixed", media_types=("PICTURE", "VIDEO"))
    twin = replace(desired, data=json.loads(json.dumps(desired.data)), media=list(desired.media))
    first, second = build(desired), build(twin)
    assert first == second
    assert json.dumps(first) == json.dumps(second)
    assert json.dumps(build(desired)) == json.dumps(first)


def test_tuples_in_data_become_lists():
    desired = sample_desired("L-1", 0)
    assert desired.data is not None
    desired.data["location"]["geometry"] = {"type": "Point", "coordinates": (4.85, 45.76)}
    body = build(desired)
    assert body["data"]["location"]["geometry"]["coordinates"] == [4.85, 45.76]
    assert copy_json({"a": ({"b": (1,)},)}) == {"a": [{"b": [1]}]}


def test_listing_without_data_still_builds_a_body_for_validation_to_reject():
    desired = replace(sample_desired("L-1", 0), data=None)
    body = build(desired)
    assert body["data"] == {
        "metaData": {
            "source": {
                "sourceSystem": "vitrine",
                "sourceSystemVersion": "1.2.3",
                "offererEstateId": "L-1",
                "offererMarketingKey": "L-1",
            }
        }
    }
