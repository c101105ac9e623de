"""What AVIV refuses and the emulator must refuse too: formats, Content-Type, another agency's
classifieds, and an emulator started without AVIV's own contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.aviv_emulator.validation import MissingContract, default_openapi_path
from devtools.media_server import MediaServer
from tests.integration.aviv_emulator.support import (
    Api,
    WebhookReceiver,
    assert_problem,
    classified_body,
    stamped,
    token_body,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


# ---------------------------------------------------------------------------- formats
@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "photos/a.jpg",
        "//cdn.example.com/a.jpg",
        "mailto:agency@example.com",
        "https://cdn.example.com/a b.jpg",
        "https:///a.jpg",
    ],
)
def test_media_urls_must_be_urls(emulator: AvivEmulator, api: Api, url: str) -> None:
    body = classified_body("L-1")
    body["media"] = [{"url": url, "mediaType": "PICTURE"}]

    problem = assert_problem(api.call("POST", "/classifieds", json=body), 400)

    assert problem["errors"] == [{"name": "/media/0/url", "reason": 'must match format "url"'}]
    assert emulator.state()["classifieds"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/a.jpg?timestamp=2026-02-13T09:25:57",
        "http://127.0.0.1:8123/a.jpg",
        "http://localhost:8123/x/a.jpg?w=1&h=2#top",
        "https://user:secret@cdn.example.com/a.jpg",
        "ftp://files.example.com/a.jpg",
    ],
)
def test_absolute_urls_are_accepted(api: Api, url: str) -> None:
    body = classified_body("L-1")
    body["media"] = [{"url": url, "mediaType": "PICTURE"}]

    assert api.call("POST", "/classifieds", json=body).status_code == 202


def test_other_url_and_uuid_fields_are_checked(api: Api) -> None:
    body = classified_body("L-1")
    body["data"]["metaData"]["classifiedId"] = "not-a-uuid"
    body["data"]["contact"] = {"userHomepage": "www.agency.example"}

    problem = assert_problem(api.call("POST", "/classifieds", json=body), 400)

    assert problem["errors"] == [
        {"name": "/data/contact/userHomepage", "reason": 'must match format "url"'},
        {"name": "/data/metaData/classifiedId", "reason": 'must match format "uuid"'},
    ]
    body["data"]["metaData"]["classifiedId"] = "5C597A63-6932-4B0C-A2A0-2FD935BE1755"
    body["data"]["contact"] = {"userHomepage": "https://www.agency.example"}
    assert api.call("POST", "/classifieds", json=body).status_code == 202


def test_webhook_url_must_be_a_url(api: Api) -> None:
    problem = assert_problem(api.call("PUT", "/webhooks", json={"url": "hooks.example.com/aviv"}), 400)

    assert problem["errors"] == [{"name": "/url", "reason": 'must match format "url"'}]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_classified_ids_in_paths_must_be_uuids(api: Api, method: str) -> None:
    kwargs: dict[str, Any] = {"json": classified_body()} if method == "PUT" else {}

    problem = assert_problem(api.call(method, "/classifieds/c-1", **kwargs), 400)

    assert problem["errorSource"] == "requestParameter"
    assert problem["errors"] == [{"name": "classifiedId", "reason": 'must match format "uuid"'}]


# ---------------------------------------------------------------------------- Content-Type
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/problem+json"]
)
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/classifieds"), ("PUT", "/classifieds/{id}"), ("PUT", "/webhooks")]
)
def test_bodies_without_a_json_content_type_are_refused(
    emulator: AvivEmulator,
    api: Api,
    receiver: WebhookReceiver,
    method: str,
    path: str,
    content_type: str | None,
) -> None:
    classified_id = api.create(classified_body("L-0"))
    body = {"url": receiver.url} if path == "/webhooks" else classified_body("L-0")
    request = requests.Request(
        method, emulator.base_url + path.format(id=classified_id), data=json.dumps(body)
    )
    prepared = api.session.prepare_request(request)
    prepared.headers.pop("Content-Type", None)
    if content_type is not None:
        prepared.headers["Content-Type"] = content_type

    problem = assert_problem(api.session.send(prepared, timeout=5), 400, "Bad request")

    assert problem["errorSource"] == "contentType"
    assert problem["errors"] == [
        {"name": "Content-Type", "reason": "must be equal to one of the allowed values: application/json."}
    ]
    assert emulator.state()["webhooks"] == {}
    assert emulator.etag(classified_id) == '"1"'


def test_json_with_a_charset_is_json(api: Api) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}

    answer = api.call("POST", "/classifieds", data=json.dumps(classified_body()), headers=headers)

    assert answer.status_code == 202


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_token_requests_without_a_json_content_type_are_refused(
    emulator: AvivEmulator, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    answer = requests.post(
        emulator.auth_url, data=json.dumps(token_body(emulator)), headers=headers, timeout=5
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_request",
        "error_description": "Content-Type must be application/json",
    }


# ---------------------------------------------------------------------------- ownership
def test_another_agencys_classified_is_404_everywhere(emulator: AvivEmulator, media: MediaServer) -> None:
    owner, other = Api(emulator, "agency-a"), Api(emulator, "agency-b")
    mine = owner.create(classified_body("L-1", [stamped(media, "/a.jpg")]))
    emulator.wait_idle()

    refused = [
        other.call("GET", f"/classifieds/{mine}"),
        other.update(mine, classified_body("L-1")),
        other.call("DELETE", f"/classifieds/{mine}"),
        other.call("GET", f"/classifieds/{mine}/statuses"),
    ]

    for answer in refused:
        assert "doesn't exists: " + mine in assert_problem(answer, 404, "Not found")["detail"]
    assert other.call("GET", "/classifieds", params={"offererEstateId": "L-1"}).json()["items"] == []
    listed = owner.call("GET", "/classifieds", params={"offererEstateId": "L-1"}).json()["items"]
    assert [item["classifiedId"] for item in listed] == [mine]
    assert emulator.latest_status(mine)["status"] == "CREATED"  # nothing the other agency did counted
    assert emulator.etag(mine) == '"1"'


def test_each_agency_sees_only_its_own_classified_with_a_shared_offerer_estate_id(
    emulator: AvivEmulator,
) -> None:
    agency_a, agency_b, no_agency = Api(emulator, "agency-a"), Api(emulator, "agency-b"), Api(emulator, None)
    theirs = agency_a.create(classified_body("L-1"))
    mine = agency_b.create(classified_body("L-1"))

    for api, expected in ((agency_a, [theirs]), (agency_b, [mine]), (no_agency, [])):
        items = api.call("GET", "/classifieds", params={"offererEstateId": "L-1"}).json()["items"]
        assert [item["classifiedId"] for item in items] == expected
    assert agency_b.call("DELETE", f"/classifieds/{mine}").status_code == 202
    assert agency_a.call("GET", f"/classifieds/{theirs}").status_code == 200


# ---------------------------------------------------------------------------- the contract itself
def test_without_the_openapi_file_the_emulator_refuses_to_start(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    with pytest.raises(MissingContract) as refused:
        AvivEmulator(openapi_path=missing)

    message = str(refused.value)
    assert str(missing) in message
    assert "$AVIV_OPENAPI" in message and "../shared/aviv/classifieds-v4.openapi.json" in message


def test_the_command_line_names_the_missing_openapi_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    finished = subprocess.run(
        [sys.executable, "-m", "devtools.aviv_emulator", "--port", "0", "--openapi", str(missing)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 2
    assert str(missing) in finished.stderr and "$AVIV_OPENAPI" in finished.stderr


def test_the_default_contract_is_the_shared_openapi_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVIV_OPENAPI", raising=False)
    assert default_openapi_path() == REPO_ROOT.parent / "shared" / "aviv" / "classifieds-v4.openapi.json"

    monkeypatch.setenv("AVIV_OPENAPI", "/elsewhere/classifieds-v4.openapi.json")
    assert default_openapi_path() == Path("/elsewhere/classifieds-v4.openapi.json")
