"""The AVIV emulator over real HTTP: what every other test of vitrine relies on AVIV doing.

Each test gets its own emulator (port 0) and shares one media server (reset per test). Waiting on
asynchronous processing goes through ``wait_idle()``, never sleeps.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.aviv_emulator.records import media_key
from devtools.media_server import MediaServer
from tests.support.aviv_schema import load_openapi

USER_AGENT = "vitrine/1.0.0 python-requests/2.32.3 linux/6.1"
TS1 = "2026-02-13T09:25:57"
TS2 = "2026-02-14T10:00:00"
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TRACEPARENT_PATTERN = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01")
REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture
def media(media_server: MediaServer) -> MediaServer:
    media_server.reset()
    return media_server


@pytest.fixture
def emulator() -> Iterator[AvivEmulator]:
    """A fresh emulator per test (these tests exercise it, so none may see another's state)."""
    with AvivEmulator() as emu:
        yield emu


def token_body(emu: AvivEmulator, intermediary_id: str = "agency-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "grant_type": "client_credentials",
        "audience": "https://api.aviv-group.com/caas/v4",
        "intermediary_id": intermediary_id,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def get_token(emu: AvivEmulator, intermediary_id: str = "agency-1") -> str:
    answer = requests.post(emu.auth_url, json=token_body(emu, intermediary_id), timeout=5)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


class Api:
    """A minimal AVIV client, enough to drive the emulator the way vitrine's client will."""

    def __init__(self, emu: AvivEmulator, intermediary_id: str = "agency-1", token: str | None = None):
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Authorization"] = f"Bearer {token or get_token(emu, intermediary_id)}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.emu.base_url + path, **kwargs)

    def create(self, body: dict[str, Any]) -> str:
        answer = self.call("POST", "/classifieds", json=body)
        assert answer.status_code == 202, answer.text
        classified_id: str = answer.json()["classifiedId"]
        return classified_id

    def update(self, classified_id: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.call("PUT", f"/classifieds/{classified_id}", json=body, **kwargs)

    def latest(self, classified_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/classifieds/{classified_id}/statuses", params={"filter": "latest"})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        assert len(items) == 1
        return items[0]


@pytest.fixture
def api(emulator: AvivEmulator) -> Api:
    return Api(emulator)


def classified_body(offerer_estate_id: str = "L-1", media_urls: list[str] | None = None) -> dict[str, Any]:
    """A minimal valid AvivClassified, written by hand (estateType enum: HOUSE, APARTMENT, ...)."""
    return {
        "portals": ["SL"],
        "data": {
            "estateType": "APARTMENT",
            "distributionType": "BUY",
            "prices": {"currency": "EUR", "buy": {"price": {"amount": 250000}}},
            "location": {
                "postalcode": "75011",
                "city": "Paris",
                "street": "Rue Oberkampf",
                "houseNumber": "12",
                "country": "FRA",
            },
            "metaData": {
                "source": {
                    "sourceSystem": "vitrine",
                    "sourceSystemVersion": "1.0.0",
                    "offererMarketingKey": f"MK-{offerer_estate_id}",
                    "offererEstateId": offerer_estate_id,
                }
            },
        },
        "media": [{"url": url, "mediaType": "PICTURE"} for url in media_urls or []],
    }


def stamped(media: MediaServer, path: str, timestamp: str = TS1) -> str:
    return media.url(f"{path}?timestamp={timestamp}")


def downloaded_urls(emu: AvivEmulator) -> list[str]:
    return sorted(d.url for d in emu.downloads())


def assert_problem(answer: requests.Response, status: int, title: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json+problem"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["instance"] == answer.headers["traceparent"]
    assert {"type", "title", "detail", "instance", "status"} <= body.keys()
    if title is not None:
        assert body["title"] == title
    return body


# ---------------------------------------------------------------------------- authentication and headers
def test_token_flow_issues_an_opaque_bearer_token(emulator: AvivEmulator) -> None:
    answer = requests.post(emulator.auth_url, json=token_body(emulator), timeout=5)

    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 32
    assert emulator.token_requests() == 1
    api = Api(emulator, token=body["access_token"])
    assert api.call("GET", "/classifieds").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"client_secret": "wrong"}, 401),
        ({"client_id": "someone-else"}, 401),
        ({"grant_type": "password"}, 401),
        ({"audience": None}, 400),
    ],
)
def test_token_endpoint_refuses_bad_requests(
    emulator: AvivEmulator, overrides: dict[str, Any], status: int
) -> None:
    answer = requests.post(emulator.auth_url, json=token_body(emulator, **overrides), timeout=5)

    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/json"
    assert "access_token" not in answer.json()
    assert emulator.token_requests() == 1


def test_token_endpoint_wants_json(emulator: AvivEmulator) -> None:
    answer = requests.post(emulator.auth_url, data=token_body(emulator), timeout=5)  # form-encoded

    assert answer.status_code == 400


@pytest.mark.parametrize(
    "user_agent",
    [
        None,  # requests' default "python-requests/x.y" is a single token
        "vitrine/1.0.0 python-requests/2.32.3",
        "vitrine/1.0.0  python-requests/2.32.3 linux/6.1",
        "vitrine 1.0.0 python-requests/2.32.3 linux/6.1",
        "vitrine/1.0.0 python-requests/2.32.3 linux/6.1 extra/1",
    ],
)
def test_calls_without_a_valid_user_agent_are_blocked(emulator: AvivEmulator, user_agent: str | None) -> None:
    headers = {"Authorization": f"Bearer {get_token(emulator)}"}
    if user_agent is not None:
        headers["User-Agent"] = user_agent

    answer = requests.get(emulator.base_url + "/classifieds", headers=headers, timeout=5)

    assert_problem(answer, 403, "Forbidden")


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dml0cmluZTp4", "Bearer "])
def test_missing_or_unknown_token_gets_plain_json_401(
    emulator: AvivEmulator, authorization: str | None
) -> None:
    headers = {"User-Agent": USER_AGENT}
    if authorization is not None:
        headers["Authorization"] = authorization

    answer = requests.post(
        emulator.base_url + "/classifieds", json=classified_body(), headers=headers, timeout=5
    )

    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["title"] == "Unauthorized"
    assert answer.json()["instance"] == answer.headers["traceparent"]
    assert emulator.state()["classifieds"] == []


def test_expired_tokens_get_401_until_a_new_one_is_fetched(emulator: AvivEmulator) -> None:
    api = Api(emulator)
    assert api.call("GET", "/classifieds").status_code == 200

    emulator.expire_tokens()

    assert api.call("GET", "/classifieds").status_code == 401
    fresh = Api(emulator)
    assert fresh.call("GET", "/classifieds").status_code == 200
    assert emulator.token_requests() == 2


def test_tokens_expire_after_their_lifetime() -> None:
    with AvivEmulator(token_ttl_seconds=0) as emu:
        answer = requests.post(emu.auth_url, json=token_body(emu), timeout=5)
        assert answer.json()["expires_in"] == 0

        assert Api(emu, token=answer.json()["access_token"]).call("GET", "/classifieds").status_code == 401


def test_every_answer_carries_a_traceparent_reusing_the_callers_trace_id(api: Api) -> None:
    theirs = "00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01"

    echoed = api.call("GET", "/classifieds", headers={"traceparent": theirs}).headers["traceparent"]
    fresh = api.call("GET", "/classifieds").headers["traceparent"]
    refused = api.call("GET", "/classifieds", headers={"User-Agent": "x"}).headers["traceparent"]

    assert TRACEPARENT_PATTERN.fullmatch(echoed) and TRACEPARENT_PATTERN.fullmatch(fresh)
    assert TRACEPARENT_PATTERN.fullmatch(refused)
    assert echoed.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert echoed != theirs  # a new span id
    assert fresh.split("-")[1] != "0af7651916cd43dd8448eb211c80319c"


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
    assert [s["status"] for s in emulator.statuses(classified_id)] == ["RECEIVED", "CREATED"]
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
    assert [s["status"] for s in items] == ["DELETED", "RECEIVED", "CREATED_WITH_MEDIA_ERROR", "RECEIVED"]
    for item in items:
        assert list(validator.iter_errors(item)) == []
    assert items[-1]["subStatus"] == "RECEIVED_POST" and items[1]["subStatus"] == "RECEIVED_DELETE"


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


# ---------------------------------------------------------------------------- media semantics on PUT
def test_put_with_unchanged_media_downloads_nothing(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    body = classified_body("L-1", [stamped(media, "/a.jpg"), stamped(media, "/b.jpg")])
    classified_id = api.create(body)
    emulator.wait_idle()
    body["data"]["prices"]["buy"]["price"]["amount"] = 240000

    assert api.update(classified_id, body).status_code == 202
    emulator.wait_idle()

    assert len(emulator.downloads()) == 2  # the POST's
    latest = api.latest(classified_id)
    assert latest["status"] == "UPDATED"
    assert latest["revision"] == 2
    assert [m["status"] for m in latest["mediaStatuses"]] == ["UPDATED", "UPDATED"]
    assert media.all_hits() == {"/a.jpg": 1, "/b.jpg": 1}


def test_put_with_one_changed_timestamp_downloads_exactly_that_media(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    classified_id = api.create(classified_body("L-1", [stamped(media, "/a.jpg"), stamped(media, "/b.jpg")]))
    emulator.wait_idle()
    before = len(emulator.downloads())

    api.update(
        classified_id, classified_body("L-1", [stamped(media, "/a.jpg"), stamped(media, "/b.jpg", TS2)])
    )
    emulator.wait_idle()

    new_downloads = emulator.downloads()[before:]
    assert [d.url for d in new_downloads] == [stamped(media, "/b.jpg", TS2)]
    assert media.hits("/a.jpg") == 1 and media.hits("/b.jpg") == 2
    assert api.latest(classified_id)["status"] == "UPDATED"


def test_reordering_media_downloads_nothing(emulator: AvivEmulator, api: Api, media: MediaServer) -> None:
    urls = [stamped(media, f"/{name}.jpg") for name in "abc"]
    classified_id = api.create(classified_body("L-1", urls))
    emulator.wait_idle()

    reordered = classified_body("L-1", [urls[2], urls[0], urls[1]])
    api.update(classified_id, reordered)
    emulator.wait_idle()

    assert len(emulator.downloads()) == 3
    assert emulator.classified(classified_id) == reordered
    assert [m["url"] for m in api.latest(classified_id)["mediaStatuses"]] == [urls[2], urls[0], urls[1]]


def test_new_media_are_downloaded_and_removed_media_dropped(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    classified_id = api.create(classified_body("L-1", [stamped(media, "/a.jpg"), stamped(media, "/b.jpg")]))
    emulator.wait_idle()

    api.update(classified_id, classified_body("L-1", [stamped(media, "/b.jpg"), stamped(media, "/c.mp4")]))
    emulator.wait_idle()

    assert [d.url for d in emulator.downloads()[2:]] == [stamped(media, "/c.mp4")]
    assert api.latest(classified_id)["mediaStatuses"] == [
        {"url": stamped(media, "/b.jpg"), "status": "UPDATED"},
        {"url": stamped(media, "/c.mp4"), "status": "CREATED"},
    ]
    assert [m["url"] for m in emulator.state()["classifieds"][0]["media"]] == [
        stamped(media, "/b.jpg"),
        stamped(media, "/c.mp4"),
    ]


def test_unreachable_media_fails_and_stays_failed_until_its_timestamp_changes(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    media.set_status("/broken.jpg", 404)
    good, broken = stamped(media, "/good.jpg"), stamped(media, "/broken.jpg")
    classified_id = api.create(classified_body("L-1", [good, broken]))
    emulator.wait_idle()

    created = api.latest(classified_id)
    assert created["status"] == "CREATED_WITH_MEDIA_ERROR"
    assert created["mediaStatuses"] == [
        {"url": good, "status": "CREATED"},
        {"url": broken, "status": "DOWNLOADING_FAILED"},
    ]
    failed_download = next(d for d in emulator.downloads() if d.url == broken)
    assert failed_download.status_code == 404 and not failed_download.ok

    # Fixed at the source but sent again unchanged: AVIV does not retry it.
    media.set_status("/broken.jpg", 200)
    api.update(classified_id, classified_body("L-1", [good, broken]))
    emulator.wait_idle()
    still = api.latest(classified_id)
    assert still["status"] == "UPDATED_WITH_MEDIA_ERROR"
    assert still["mediaStatuses"][1] == {"url": broken, "status": "DOWNLOADING_FAILED"}
    assert len(emulator.downloads()) == 2

    # A new timestamp makes AVIV fetch it again.
    refreshed = stamped(media, "/broken.jpg", TS2)
    api.update(classified_id, classified_body("L-1", [good, refreshed]))
    emulator.wait_idle()
    fixed = api.latest(classified_id)
    assert fixed["status"] == "UPDATED"
    assert fixed["mediaStatuses"] == [
        {"url": good, "status": "UPDATED"},
        {"url": refreshed, "status": "UPDATED"},
    ]
    assert [d.url for d in emulator.downloads()[2:]] == [refreshed]


def test_media_failing_on_put_gives_updated_with_media_error(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    classified_id = api.create(classified_body("L-1", [stamped(media, "/a.jpg")]))
    emulator.wait_idle()
    media.set_status("/new.jpg", 404)

    api.update(classified_id, classified_body("L-1", [stamped(media, "/a.jpg"), stamped(media, "/new.jpg")]))
    emulator.wait_idle()

    latest = api.latest(classified_id)
    assert latest["status"] == "UPDATED_WITH_MEDIA_ERROR"
    assert latest["mediaStatuses"] == [
        {"url": stamped(media, "/a.jpg"), "status": "UPDATED"},
        {"url": stamped(media, "/new.jpg"), "status": "DOWNLOADING_FAILED"},
    ]
    assert latest["subStatusDetails"] == "1 media could not be downloaded"


def test_download_timeouts_and_connection_errors_are_failures(media: MediaServer) -> None:
    with socket_without_listener() as dead_url, AvivEmulator(download_timeout_seconds=0.3) as emu:
        media.set_delay("/slow.jpg", 3)
        api = Api(emu)
        slow = stamped(media, "/slow.jpg")
        classified_id = api.create(classified_body("L-1", [slow, dead_url]))
        emu.wait_idle()

        latest = api.latest(classified_id)
        assert latest["status"] == "CREATED_WITH_MEDIA_ERROR"
        assert [m["status"] for m in latest["mediaStatuses"]] == ["DOWNLOADING_FAILED", "DOWNLOADING_FAILED"]
        by_url = {d.url: d for d in emu.downloads()}
        assert by_url[slow].status_code is None and "Timeout" in (by_url[slow].error or "")
        assert by_url[dead_url].status_code is None and by_url[dead_url].error


class socket_without_listener:
    """A loopback URL nobody listens on (a port bound then released)."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}/gone.jpg?timestamp={TS1}"

    def __exit__(self, *exc: object) -> None:
        return None


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
        "RECEIVED",
        "CREATED",
        "RECEIVED",
        "DELETED",
    ]


def test_status_filters_and_pagination(emulator: AvivEmulator, api: Api) -> None:
    classified_id = api.create(classified_body("L-1"))
    emulator.wait_idle()  # CREATED is recorded by the processing thread: before the update's RECEIVED
    api.update(classified_id, classified_body("L-1"))
    emulator.wait_idle()
    path = f"/classifieds/{classified_id}/statuses"

    everything = api.call("GET", path).json()
    only_updated = api.call("GET", path, params={"status[]": ["UPDATED", "CREATED"]}).json()
    other_portal = api.call("GET", path, params={"portal": "BD"}).json()
    first_page = api.call("GET", path, params={"limit": 3}).json()
    second_page = api.call("GET", path, params={"limit": 3, "nextToken": first_page["nextToken"]}).json()

    assert [s["status"] for s in everything["items"]] == ["UPDATED", "RECEIVED", "CREATED", "RECEIVED"]
    assert everything["nextToken"] is None
    assert [s["status"] for s in only_updated["items"]] == ["UPDATED", "CREATED"]
    assert other_portal["items"] == []
    assert first_page["items"] == everything["items"][:3] and first_page["nextToken"]
    assert second_page == {"items": everything["items"][3:], "nextToken": None}
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


def test_processing_waits_for_the_configured_delay() -> None:
    emu = AvivEmulator(process_delay_seconds=60).start()
    try:
        api = Api(emu)
        classified_id = api.create(classified_body("L-1"))

        latest = api.latest(classified_id)

        assert latest["status"] == "RECEIVED" and latest["subStatus"] == "RECEIVED_POST"
        with pytest.raises(TimeoutError):
            emu.wait_idle(timeout=0.1)
    finally:
        emu.stop()  # interrupts the delay


# ---------------------------------------------------------------------------- fault injection
@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (503, 2.0), (429, 1.0), (429, 0.5)])
def test_injected_faults_fail_the_next_calls(
    emulator: AvivEmulator, api: Api, status: int, retry_after: float | None
) -> None:
    emulator.inject_faults(2, status=status, retry_after=retry_after)

    first = api.call("POST", "/classifieds", json=classified_body("L-1"))
    second = api.call("POST", "/classifieds", json=classified_body("L-1"))
    third = api.call("POST", "/classifieds", json=classified_body("L-1"))

    for failed in (first, second):
        assert_problem(failed, status)
        expected = None if retry_after is None else f"{retry_after:g}"
        assert failed.headers.get("Retry-After") == expected
    assert third.status_code == 202
    assert [r.status for r in emulator.requests() if r.path == "/classifieds"] == [status, status, 202]
    assert len(emulator.state()["classifieds"]) == 1


def test_faults_only_hit_matching_paths_and_methods(emulator: AvivEmulator, api: Api) -> None:
    classified_id = api.create(classified_body("L-1"))
    emulator.inject_faults(1, status=503, paths="/classifieds", method="PUT")

    assert requests.post(emulator.auth_url, json=token_body(emulator), timeout=5).status_code == 200
    assert api.call("GET", f"/classifieds/{classified_id}").status_code == 200
    assert api.update(classified_id, classified_body("L-1")).status_code == 503
    assert api.update(classified_id, classified_body("L-1")).status_code == 202


def test_token_endpoint_faults_only_when_targeted(emulator: AvivEmulator) -> None:
    emulator.inject_faults(1, status=503, retry_after=1, paths="/oauth/token")

    failed = requests.post(emulator.auth_url, json=token_body(emulator), timeout=5)
    granted = requests.post(emulator.auth_url, json=token_body(emulator), timeout=5)

    assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
    assert granted.status_code == 200
    assert emulator.token_requests() == 2


def test_injected_timeout_hangs_until_the_client_gives_up(emulator: AvivEmulator, api: Api) -> None:
    emulator.inject_faults(1, timeout=True)

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.call("POST", "/classifieds", json=classified_body("L-1"), timeout=0.3)
    after = api.call("POST", "/classifieds", json=classified_body("L-1"))

    assert after.status_code == 202
    assert [r.status for r in emulator.requests() if r.path == "/classifieds"] == [None, 202]


def test_injected_hang_ends_with_a_dropped_connection(emulator: AvivEmulator, api: Api) -> None:
    emulator.inject_faults(1, timeout=True, hang_seconds=0.2)

    with pytest.raises(requests.exceptions.ConnectionError):
        api.call("GET", "/classifieds", timeout=5)


# ---------------------------------------------------------------------------- webhooks
class WebhookReceiver:
    """What a vitrine webhook endpoint would be: records pushes, answers 201."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.received.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.close()


def test_webhook_pushes_subscribed_statuses(
    emulator: AvivEmulator, api: Api, media: MediaServer, receiver: WebhookReceiver
) -> None:
    subscribed = api.call(
        "PUT", "/webhooks", json={"url": receiver.url, "statuses": ["RECEIVED", "CREATED", "DELETED"]}
    )
    assert subscribed.status_code == 200 and subscribed.json() == "success"
    media.set_status("/broken.jpg", 404)

    good = api.create(classified_body("L-1", [stamped(media, "/a.jpg")]))
    emulator.wait_idle()
    bad = api.create(classified_body("L-2", [stamped(media, "/broken.jpg")]))
    emulator.wait_idle()
    api.update(good, classified_body("L-1"))  # UPDATED: not subscribed
    emulator.wait_idle()

    pushed = [(path, body["status"]) for path, body in receiver.received]
    assert pushed == [
        (f"/hooks/classifieds/{good}/statuses", "RECEIVED"),
        (f"/hooks/classifieds/{good}/statuses", "CREATED"),
        (f"/hooks/classifieds/{bad}/statuses", "RECEIVED"),  # *_WITH_MEDIA_ERROR is never pushed
        (f"/hooks/classifieds/{good}/statuses", "RECEIVED"),
    ]
    assert receiver.received[1][1] == emulator.statuses(good)[1]
    assert all(p.ok and p.status_code == 201 for p in emulator.webhook_pushes())

    assert api.call("DELETE", "/webhooks").status_code == 200
    api.call("DELETE", f"/classifieds/{good}")
    emulator.wait_idle()
    assert len(receiver.received) == 4


def test_webhooks_cannot_subscribe_to_media_errors(api: Api, receiver: WebhookReceiver) -> None:
    answer = api.call(
        "PUT", "/webhooks", json={"url": receiver.url, "statuses": ["CREATED_WITH_MEDIA_ERROR"]}
    )

    problem = assert_problem(answer, 400)
    assert problem["errors"][0]["name"] == "/statuses/0"
    assert_problem(api.call("PUT", "/webhooks", json={"statuses": ["CREATED"]}), 400)


def test_webhook_failures_are_recorded_not_fatal(emulator: AvivEmulator, api: Api) -> None:
    with socket_without_listener() as dead_url:
        api.call("PUT", "/webhooks", json={"url": dead_url.split("?")[0], "statuses": ["CREATED"]})
        classified_id = api.create(classified_body("L-1"))
        emulator.wait_idle()

    assert api.latest(classified_id)["status"] == "CREATED"
    (push,) = emulator.webhook_pushes()
    assert not push.ok and push.status_code is None and push.error


# ---------------------------------------------------------------------------- inspection over HTTP
def test_inspection_endpoints(emulator: AvivEmulator, api: Api, media: MediaServer) -> None:
    root = emulator.root_url + "/_emulator"
    classified_id = api.create(classified_body("L-1", [stamped(media, "/a.jpg")]))
    emulator.wait_idle()

    recorded = requests.get(root + "/requests", timeout=5).json()
    downloads = requests.get(root + "/downloads", timeout=5).json()
    state = requests.get(root + "/state", timeout=5).json()

    assert [(r["method"], r["path"], r["status"]) for r in recorded] == [
        ("POST", "/oauth/token", 200),
        ("POST", "/classifieds", 202),
    ]
    assert recorded[1]["body"] == classified_body("L-1", [stamped(media, "/a.jpg")])
    assert recorded[1]["headers"]["User-Agent"] == USER_AGENT
    assert [(d["url"], d["classified_id"], d["ok"]) for d in downloads] == [
        (stamped(media, "/a.jpg"), classified_id, True)
    ]
    assert state["token_requests"] == 1
    assert state["classifieds"][0]["classifiedId"] == classified_id
    assert [s["status"] for s in state["statuses"][classified_id]] == ["RECEIVED", "CREATED"]

    fault = {"count": 1, "status": 429, "retry_after": 3, "paths": "/classifieds"}
    assert requests.post(root + "/faults", json=fault, timeout=5).status_code == 200
    limited = api.call("GET", "/classifieds")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert requests.post(root + "/faults", json={"count": 1, "bogus": True}, timeout=5).status_code == 400

    assert requests.post(root + "/reset", timeout=5).status_code == 200
    assert emulator.requests() == [] and emulator.downloads() == [] and emulator.token_requests() == 0
    assert requests.get(root + "/state", timeout=5).json()["classifieds"] == []
    assert api.call("GET", "/classifieds").status_code == 200  # issued tokens survive a reset


# ---------------------------------------------------------------------------- robustness
def test_concurrent_posts_are_serialised_on_offerer_estate_id(emulator: AvivEmulator) -> None:
    token = get_token(emulator)
    results: list[int] = []
    lock = threading.Lock()

    def post(offerer_estate_id: str) -> None:
        session = Api(emulator, token=token)
        status = session.call("POST", "/classifieds", json=classified_body(offerer_estate_id)).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=post, args=(f"L-{n % 5}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emulator.wait_idle()

    assert sorted(results) == [202] * 5 + [400] * 15
    assert len(emulator.state()["classifieds"]) == 5


def test_fallback_validation_without_the_openapi_file(tmp_path: Path, media: MediaServer) -> None:
    with AvivEmulator(openapi_path=tmp_path / "missing.json") as emu:
        assert emu.schema_validation is False
        api = Api(emu)
        valid = classified_body("L-1", [stamped(media, "/a.jpg")])
        assert api.call("POST", "/classifieds", json=valid).status_code == 202

        invalid = classified_body("L-2")
        del invalid["data"]["estateType"]
        invalid["media"] = [{"url": stamped(media, "/b.jpg"), "mediaType": "PICTURE", "displayOrder": 1}]
        problem = assert_problem(api.call("POST", "/classifieds", json=invalid), 400)

        assert problem["errorSource"] == "body"
        named = [e["name"] for e in problem["errors"]]
        assert "/data/estateType" in named
        assert any(name.startswith("/media/0") for name in named)
        duplicated = classified_body("L-3", [stamped(media, "/c.jpg", TS1), stamped(media, "/c.jpg", TS2)])
        assert_problem(api.call("POST", "/classifieds", json=duplicated), 400, "Duplicated media")


def test_default_spec_location_is_the_shared_folder(emulator: AvivEmulator) -> None:
    assert emulator.schema_validation is True


def test_cli_prints_its_urls_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.aviv_emulator", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_line = process.stdout.readline().strip()
        auth_line = process.stdout.readline().strip()
        assert re.fullmatch(r"AVIV_BASE_URL=http://127\.0\.0\.1:\d+/caas/v4", base_line)
        assert re.fullmatch(r"AVIV_AUTH_URL=http://127\.0\.0\.1:\d+/oauth/token", auth_line)
        auth_url = auth_line.split("=", 1)[1]
        token = requests.post(
            auth_url,
            json={
                "client_id": "vitrine-test",
                "client_secret": "vitrine-test-secret",
                "grant_type": "client_credentials",
                "audience": "https://api.aviv-group.com/caas/v4",
            },
            timeout=5,
        )
        assert token.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_media_key_ignores_only_the_timestamp() -> None:
    assert media_key("http://a.com/a.jpg?timestamp=2026-02-13T09:25:57") == ("http://a.com/a.jpg", TS1)
    assert media_key("http://a.com/a.jpg?w=1&timestamp=2026-02-13T09:25:57&h=2") == (
        "http://a.com/a.jpg?w=1&h=2",
        TS1,
    )
    assert media_key("http://a.com/a.jpg?b=%2F&a=1") == ("http://a.com/a.jpg?b=%2F&a=1", None)
    assert media_key("http://a.com/a.jpg?timestamp=x#frag") == ("http://a.com/a.jpg#frag", "x")


# ---------------------------------------------------------------------------- the media server
def test_media_server_serves_images_and_videos(media: MediaServer) -> None:
    jpg = requests.get(media.url("/x/a.jpg?timestamp=1"), timeout=5)
    png = requests.get(media.url("/x/a.png"), timeout=5)
    mp4 = requests.get(media.url("/x/v.mp4"), timeout=5)
    other = requests.get(media.url("/x/readme.txt"), timeout=5)

    assert (jpg.status_code, jpg.headers["Content-Type"], jpg.content[:3]) == (
        200,
        "image/jpeg",
        b"\xff\xd8\xff",
    )
    assert jpg.content.endswith(b"\xff\xd9")
    assert (png.status_code, png.headers["Content-Type"], png.content[:8]) == (
        200,
        "image/png",
        b"\x89PNG\r\n\x1a\n",
    )
    assert (mp4.status_code, mp4.headers["Content-Type"], mp4.content[4:8]) == (200, "video/mp4", b"ftyp")
    assert other.status_code == 404
    assert requests.get(media.url("/x/b.jpg"), timeout=5).content != jpg.content
    assert media.hits("/x/a.jpg") == 1
    assert media.all_hits() == {
        "/x/a.jpg": 1,
        "/x/a.png": 1,
        "/x/v.mp4": 1,
        "/x/readme.txt": 1,
        "/x/b.jpg": 1,
    }


def test_media_server_status_head_and_ranges(media: MediaServer) -> None:
    full = requests.get(media.url("/r.jpg"), timeout=5).content

    head = requests.head(media.url("/r.jpg"), timeout=5)
    ranged = requests.get(media.url("/r.jpg"), headers={"Range": "bytes=2-5"}, timeout=5)
    suffix = requests.get(media.url("/r.jpg"), headers={"Range": "bytes=-4"}, timeout=5)
    beyond = requests.get(media.url("/r.jpg"), headers={"Range": f"bytes={len(full)}-"}, timeout=5)
    media.set_status("/r.jpg", 404)
    missing = requests.get(media.url("/r.jpg"), timeout=5)
    media.set_status("/r.jpg", 200)
    back = requests.get(media.url("/r.jpg"), timeout=5)

    assert (
        head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) == len(full)
    )
    assert ranged.status_code == 206 and ranged.content == full[2:6]
    assert ranged.headers["Content-Range"] == f"bytes 2-5/{len(full)}"
    assert suffix.status_code == 206 and suffix.content == full[-4:]
    assert beyond.status_code == 416
    assert missing.status_code == 404
    assert back.status_code == 200 and back.content == full
    assert media.hits("/r.jpg") == 7
