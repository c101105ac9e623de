"""Creating, reading, updating, listing and deleting classifieds, with AVIV's answers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft7Validator

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer
from tests.integration.aviv_emulator.support import (
    TS1,
    TS2,
    UUID_PATTERN,
    Api,
    assert_problem,
    classified_body,
    downloaded_urls,
    stamped,
)
from tests.support.aviv_schema import load_openapi


# ---------------------------------------------------------------------------- creating classifieds
def test_post_valid_body_is_accepted_then_created(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    urls = [stamped(media, "/l1/a.jpg"), stamped(media, "/l1/b.png")]
    body = classified_body("L-1", urls)

    answer = api.call("POST", "/classifieds", json=body)

    assert answer.status_code == 202
    classified_id = answer.json()["classifiedId"]
    assert re.fullmatch(UUID_PATTERN, classified_id)
    assert answer.json() == {
        "classifiedId": classified_id,
        "links": [{"statuses": f"/classifieds/{classified_id}/statuses"}],
    }
    emulator.wait_idle()
    got = api.call("GET", f"/classifieds/{classified_id}")
    assert got.status_code == 200
    assert got.headers["ETag"] == '"1"'
    assert got.json() == {**body, "classifiedId": classified_id}
    assert emulator.classified(classified_id) == body
    assert emulator.classified_id_for("L-1") == classified_id
    assert [s["status"] for s in emulator.statuses(classified_id)] == [
        "RECEIVING",
        "RECEIVED",
        "CREATING",
        "CREATED",
    ]
    latest = api.latest(classified_id)
    assert latest["status"] == "CREATED"
    assert latest["revision"] == 1
    assert latest["customerId"] == "agency-1"
    assert latest["mediaStatuses"] == [{"url": url, "status": "CREATED"} for url in urls]
    assert downloaded_urls(emulator) == sorted(urls)
    assert all(d.ok and d.status_code == 200 and d.bytes_read > 0 for d in emulator.downloads())
    assert media.hits("/l1/a.jpg") == 1 and media.hits("/l1/b.png") == 1


def test_status_items_follow_the_openapi_schema(emulator: AvivEmulator, api: Api, media: MediaServer) -> None:
    media.set_status("/bad.jpg", 404)
    classified_id = api.create(
        classified_body("L-1", [stamped(media, "/ok.jpg"), stamped(media, "/bad.jpg")])
    )
    emulator.wait_idle()
    api.call("DELETE", f"/classifieds/{classified_id}")
    emulator.wait_idle()

    answer = api.call("GET", f"/classifieds/{classified_id}/statuses")

    spec = load_openapi()
    schema = {"$ref": "#/components/schemas/ClassifiedStatusInternal", "components": spec["components"]}
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    items = answer.json()["items"]
    assert [s["status"] for s in items] == [
        "DELETED",
        "DELETING",
        "RECEIVED",
        "RECEIVING",
        "CREATED_WITH_MEDIA_ERROR",
        "CREATING",
        "RECEIVED",
        "RECEIVING",
    ]
    for item in items:
        assert list(validator.iter_errors(item)) == []
    assert [s.get("subStatus") for s in items] == [
        None,
        None,
        "RECEIVED_DELETE",
        "RECEIVING_DELETE",
        None,
        None,
        "RECEIVED_POST",
        "RECEIVING_POST",
    ]


def test_schema_invalid_body_is_refused_with_json_pointers(emulator: AvivEmulator, api: Api) -> None:
    body = classified_body()
    del body["data"]["estateType"]
    body["data"]["distributionType"] = "SWAP"
    body["data"]["location"]["floor"] = 3

    problem = assert_problem(api.call("POST", "/classifieds", json=body), 400, "Bad request")

    assert problem["errorSource"] == "body"
    by_name = {e["name"]: e["reason"] for e in problem["errors"]}
    assert by_name["/data/estateType"] == "must have required property 'estateType'"
    assert by_name["/data/distributionType"].startswith("must be equal to one of the allowed values: BUY")
    assert by_name["/data/location/floor"] == "must NOT have additional properties: floor."
    assert emulator.state()["classifieds"] == []


@pytest.mark.parametrize(("extra", "value"), [("displayOrder", 1), ("mimeType", "image/jpeg")])
def test_display_order_and_mime_type_do_not_exist_in_v4(
    api: Api, media: MediaServer, extra: str, value: Any
) -> None:
    body = classified_body("L-1", [stamped(media, "/a.jpg"), stamped(media, "/b.jpg")])
    body["media"][1][extra] = value

    problem = assert_problem(api.call("POST", "/classifieds", json=body), 400)

    assert problem["errors"] == [
        {"name": f"/media/1/{extra}", "reason": f"must NOT have additional properties: {extra}."}
    ]


@pytest.mark.parametrize(
    ("data", "content_type", "detail"),
    [
        (b"", "application/json", "Body is not defined"),
        (b'{"portals": [', "application/json", "Validator could not parse body"),
        (b"\xff\xfe", "application/json", "Validator could not parse body"),
    ],
)
def test_unparsable_bodies_are_refused(api: Api, data: bytes, content_type: str, detail: str) -> None:
    answer = api.call("POST", "/classifieds", data=data, headers={"Content-Type": content_type})

    assert assert_problem(answer, 400)["detail"] == detail


def test_non_json_content_type_is_refused(api: Api) -> None:
    answer = api.call(
        "POST", "/classifieds", data=json.dumps(classified_body()), headers={"Content-Type": "text/plain"}
    )

    assert assert_problem(answer, 400)["errorSource"] == "contentType"


def test_duplicated_media_ignoring_timestamps_is_refused(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    body = classified_body(
        "L-1", [stamped(media, "/a.jpg", TS1), stamped(media, "/b.jpg"), stamped(media, "/a.jpg", TS2)]
    )

    problem = assert_problem(api.call("POST", "/classifieds", json=body), 400, "Duplicated media")

    assert problem["type"].endswith("#section/Errors/Duplicated-Media-Error")
    assert "Media must have unique url." in problem["detail"]
    assert emulator.state()["classifieds"] == []


def test_duplicated_classified_names_the_existing_classified_id(emulator: AvivEmulator, api: Api) -> None:
    first = api.create(classified_body("L-1"))

    problem = assert_problem(
        api.call("POST", "/classifieds", json=classified_body("L-1")), 400, "Duplicated classified"
    )

    assert problem["detail"] == (
        "This offererEstateId: L-1 is already associated with an existing classified identified by "
        f"classifiedId: {first}. Classifieds must have unique offerEstateId."
    )
    recovered = re.search(rf"classifiedId: ({UUID_PATTERN})", problem["detail"])
    assert recovered is not None and recovered.group(1) == first
    listed = api.call("GET", "/classifieds", params={"offererEstateId": "L-1"}).json()
    assert [item["classifiedId"] for item in listed["items"]] == [first]


def test_put_cannot_take_the_offerer_estate_id_of_another_classified(api: Api) -> None:
    first = api.create(classified_body("L-1"))
    second = api.create(classified_body("L-2"))

    problem = assert_problem(api.update(second, classified_body("L-1")), 400, "Duplicated classified")

    assert f"classifiedId: {first}." in problem["detail"]
    assert api.update(second, classified_body("L-2-renamed")).status_code == 202


def test_a_deleted_classifieds_offerer_estate_id_can_be_used_again(emulator: AvivEmulator, api: Api) -> None:
    first = api.create(classified_body("L-1"))
    assert api.call("DELETE", f"/classifieds/{first}").status_code == 202

    second = api.create(classified_body("L-1"))

    assert second != first
    assert emulator.classified_id_for("L-1") == second


def test_classifieds_are_scoped_by_intermediary(emulator: AvivEmulator) -> None:
    agency_a = Api(emulator, "agency-a")
    agency_b = Api(emulator, "agency-b")
    mine = agency_a.create(classified_body("L-1"))

    theirs = agency_b.create(classified_body("L-1"))  # same offererEstateId, another offerer: fine

    assert theirs != mine
    assert assert_problem(agency_b.call("GET", f"/classifieds/{mine}"), 404)
    assert agency_b.update(mine, classified_body("L-1")).status_code == 404
    assert agency_b.call("GET", f"/classifieds/{mine}/statuses").status_code == 404
    assert [i["classifiedId"] for i in agency_a.call("GET", "/classifieds").json()["items"]] == [mine]
    assert emulator.classified_id_for("L-1", intermediary_id="agency-b") == theirs


# ---------------------------------------------------------------------------- PUT preconditions, GET, DELETE
def test_stale_if_match_gets_412_and_the_current_etag_passes(emulator: AvivEmulator, api: Api) -> None:
    classified_id = api.create(classified_body("L-1"))
    etag = api.call("GET", f"/classifieds/{classified_id}").headers["ETag"]
    assert api.update(classified_id, classified_body("L-1"), headers={"If-Match": etag}).status_code == 202

    stale = api.update(classified_id, classified_body("L-1"), headers={"If-Match": etag})

    assert assert_problem(stale, 412, "Precondition Failed")
    current = api.call("GET", f"/classifieds/{classified_id}").headers["ETag"]
    assert current == '"2"' != etag
    assert api.update(classified_id, classified_body("L-1"), headers={"If-Match": current}).status_code == 202
    assert emulator.etag(classified_id) == '"3"'


def test_unknown_classifieds_are_404(api: Api) -> None:
    unknown = "5c597a63-6932-4b0c-a2a0-2fd935be1755"

    assert (
        "doesn't exists: " + unknown in assert_problem(api.update(unknown, classified_body()), 404)["detail"]
    )
    assert_problem(api.call("GET", f"/classifieds/{unknown}"), 404)
    assert_problem(api.call("DELETE", f"/classifieds/{unknown}"), 404)
    assert_problem(api.call("GET", f"/classifieds/{unknown}/statuses"), 404)


def test_delete_gives_deleted_and_hides_the_classified(emulator: AvivEmulator, api: Api) -> None:
    classified_id = api.create(classified_body("L-1"))
    emulator.wait_idle()  # the DELETE's RECEIVING comes after the POST's CREATED

    answer = api.call("DELETE", f"/classifieds/{classified_id}")
    emulator.wait_idle()

    assert answer.status_code == 202
    assert answer.json()["classifiedId"] == classified_id
    latest = api.latest(classified_id)
    assert latest["status"] == "DELETED"
    assert latest["revision"] == 2
    assert_problem(api.call("GET", f"/classifieds/{classified_id}"), 404)
    assert_problem(api.call("DELETE", f"/classifieds/{classified_id}"), 404)
    assert_problem(api.update(classified_id, classified_body("L-1")), 404)
    assert api.call("GET", "/classifieds").json()["items"] == []
    assert emulator.classified(classified_id) is None
    assert [s["status"] for s in emulator.statuses(classified_id)] == [
        "RECEIVING",
        "RECEIVED",
        "CREATING",
        "CREATED",
        "RECEIVING",
        "RECEIVED",
        "DELETING",
        "DELETED",
    ]


def test_status_filters_and_pagination(emulator: AvivEmulator, api: Api) -> None:
    classified_id = api.create(classified_body("L-1"))
    emulator.wait_idle()  # the PUT's RECEIVING comes after the POST's CREATED
    api.update(classified_id, classified_body("L-1"))
    emulator.wait_idle()
    path = f"/classifieds/{classified_id}/statuses"

    everything = api.call("GET", path).json()
    only_updated = api.call("GET", path, params={"status[]": ["UPDATED", "CREATED"]}).json()
    other_portal = api.call("GET", path, params={"portal": "BD"}).json()
    first_page = api.call("GET", path, params={"limit": 5}).json()
    second_page = api.call("GET", path, params={"limit": 5, "nextToken": first_page["nextToken"]}).json()

    assert [s["status"] for s in everything["items"]] == [
        "UPDATED",
        "UPDATING",
        "RECEIVED",
        "RECEIVING",
        "CREATED",
        "CREATING",
        "RECEIVED",
        "RECEIVING",
    ]
    assert everything["nextToken"] is None
    assert [s["status"] for s in only_updated["items"]] == ["UPDATED", "CREATED"]
    assert other_portal["items"] == []
    assert first_page["items"] == everything["items"][:5] and first_page["nextToken"]
    assert second_page == {"items": everything["items"][5:], "nextToken": None}
    assert api.call("GET", path, params={"filter": "latest"}).json() == {
        "items": everything["items"][:1],
        "nextToken": None,
    }
    assert (
        assert_problem(api.call("GET", path, params={"filter": "oldest"}), 400)["errorSource"]
        == "requestParameter"
    )
    assert_problem(api.call("GET", path, params={"status": "NOPE"}), 400)


def test_listing_classifieds_pages_newest_first(api: Api) -> None:
    ids = [api.create(classified_body(f"L-{n}")) for n in range(5)]

    first = api.call("GET", "/classifieds", params={"limit": 2}).json()
    rest = api.call("GET", "/classifieds", params={"nextToken": first["nextToken"]}).json()
    one = api.call("GET", "/classifieds", params={"offererEstateId": "L-3"}).json()

    assert [i["classifiedId"] for i in first["items"] + rest["items"]] == list(reversed(ids))
    assert rest["nextToken"] is None
    assert [
        (i["classifiedId"], i["data"]["metaData"]["source"]["offererEstateId"]) for i in one["items"]
    ] == [(ids[3], "L-3")]


def test_unknown_routes_and_methods(api: Api) -> None:
    assert_problem(api.call("GET", "/nothing-here"), 404)
    assert_problem(api.call("PATCH", "/classifieds"), 405)
    assert_problem(api.call("GET", "/webhooks"), 405)
