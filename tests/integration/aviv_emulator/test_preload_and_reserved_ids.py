"""The AVIV emulator's migration controls over real HTTP: classifieds pre-loaded as "created by another
sender" (Python and ``/_emulator/classifieds``), and the reserved-id mode (on and off, Python and
``/_emulator/settings``)."""

from __future__ import annotations

import pytest
import requests

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer
from tests.integration.aviv_emulator.support import Api, classified_body, stamped


def test_a_preloaded_classified_is_live_processed_and_downloaded_nothing(
    emulator: AvivEmulator, api: Api, media_server: MediaServer
) -> None:
    urls = [stamped(media_server, f"/old/photo-{i}.jpg") for i in range(3)]
    classified_id = emulator.preload_classified(classified_body("OLD-1", urls), intermediary_id="agency-1")

    answer = api.call("GET", f"/classifieds/{classified_id}")
    assert answer.status_code == 200 and [m["url"] for m in answer.json()["media"]] == urls
    assert answer.headers["ETag"] == '"1"'
    assert api.latest(classified_id)["status"] == "CREATED"
    assert emulator.downloads() == [] and emulator.requests()[-1].method == "GET"
    listed = api.call("GET", "/classifieds", params={"offererEstateId": "OLD-1"}).json()["items"]
    assert [item["classifiedId"] for item in listed] == [classified_id]


def test_a_preloaded_classified_keeps_its_media_so_an_unchanged_put_downloads_nothing(
    emulator: AvivEmulator, api: Api, media_server: MediaServer
) -> None:
    urls = [stamped(media_server, f"/old/photo-{i}.jpg") for i in range(3)]
    classified_id = emulator.preload_classified(classified_body("OLD-2", urls), intermediary_id="agency-1")
    new_url = stamped(media_server, "/old/photo-9.jpg")
    assert api.update(classified_id, classified_body("OLD-2", [*urls, new_url])).status_code == 202
    emulator.wait_idle()
    assert [d.url for d in emulator.downloads()] == [new_url]


def test_a_preloaded_classified_belongs_to_its_agency_only(emulator: AvivEmulator) -> None:
    classified_id = emulator.preload_classified(classified_body("OLD-3"), intermediary_id="agency-1")
    assert Api(emulator, "agency-2").call("GET", f"/classifieds/{classified_id}").status_code == 404
    assert Api(emulator, "agency-1").call("GET", f"/classifieds/{classified_id}").status_code == 200


def test_preloading_a_body_aviv_would_refuse_or_a_duplicate_is_an_error(emulator: AvivEmulator) -> None:
    emulator.preload_classified(classified_body("OLD-4"), intermediary_id="agency-1")
    with pytest.raises(ValueError, match="offererEstateId"):
        emulator.preload_classified(classified_body("OLD-4"), intermediary_id="agency-1")
    bad = classified_body("OLD-5")
    bad["data"]["estateType"] = "CASTLE"
    with pytest.raises(ValueError, match="estateType"):
        emulator.preload_classified(bad, intermediary_id="agency-1")


def test_classifieds_can_be_preloaded_over_http(emulator: AvivEmulator, api: Api) -> None:
    url = f"{emulator.root_url}/_emulator/classifieds"
    answer = requests.post(
        url, json={"body": classified_body("OLD-6"), "intermediaryId": "agency-1"}, timeout=5
    )
    assert answer.status_code == 201
    assert api.call("GET", f"/classifieds/{answer.json()['classifiedId']}").status_code == 200
    refused = requests.post(
        url, json={"body": classified_body("OLD-6"), "intermediaryId": "agency-1"}, timeout=5
    )
    assert refused.status_code == 400 and "offererEstateId" in refused.json()["error"]
    assert requests.post(url, json={"nobody": 1}, timeout=5).status_code == 400


def delete(api: Api, classified_id: str) -> None:
    assert api.call("DELETE", f"/classifieds/{classified_id}").status_code == 202
    api.emu.wait_idle()


def test_by_default_a_deleted_classified_s_offerer_estate_id_can_be_used_again(api: Api) -> None:
    first = api.create(classified_body("RE-1"))
    delete(api, first)
    assert api.create(classified_body("RE-1")) != first


def test_with_reserved_ids_a_deleted_classified_keeps_its_offerer_estate_id(
    emulator: AvivEmulator, api: Api
) -> None:
    emulator.reserve_deleted_ids = True
    first = api.create(classified_body("RE-2"))
    delete(api, first)

    again = api.call("POST", "/classifieds", json=classified_body("RE-2"))
    assert again.status_code == 400
    problem = again.json()
    assert problem["title"] == "Duplicated classified" and f"classifiedId: {first}" in problem["detail"]
    assert api.update(first, classified_body("RE-2")).status_code == 404
    assert api.call("GET", f"/classifieds/{first}").status_code == 404
    # another agency's ids are its own
    assert Api(emulator, "agency-2").create(classified_body("RE-2"))


def test_the_reserved_id_mode_is_switched_over_http(emulator: AvivEmulator, api: Api) -> None:
    url = f"{emulator.root_url}/_emulator/settings"
    assert requests.post(url, json={"reserve_deleted_ids": True}, timeout=5).json() == {
        "reserve_deleted_ids": True
    }
    first = api.create(classified_body("RE-3"))
    delete(api, first)
    assert api.call("POST", "/classifieds", json=classified_body("RE-3")).status_code == 400
    assert requests.post(url, json={"reserve_deleted_ids": False}, timeout=5).status_code == 200
    assert api.create(classified_body("RE-3"))
    assert requests.post(url, json={"reserve_deleted_ids": "yes"}, timeout=5).status_code == 400
    assert requests.post(url, json={"other": 1}, timeout=5).status_code == 400
