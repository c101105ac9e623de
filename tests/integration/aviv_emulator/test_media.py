"""AVIV's media rules: what it downloads again, what stays failed, and the media server."""

from __future__ import annotations

import pytest
import requests

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer
from tests.integration.aviv_emulator.support import (
    TS1,
    TS2,
    Api,
    classified_body,
    socket_without_listener,
    stamped,
)


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
    assert latest["subStatusDetails"] == "1 media could not be processed"


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


# ---------------------------------------------------------------------------- what a download must be
@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "application/octet-stream", "application/pdf"]
)
def test_a_download_that_is_neither_an_image_nor_a_video_fails(
    emulator: AvivEmulator, api: Api, media: MediaServer, content_type: str
) -> None:
    media.set_content("/page.jpg", b"<html>login</html>", content_type)
    good, page = stamped(media, "/ok.mp4"), stamped(media, "/page.jpg")

    classified_id = api.create(classified_body("L-1", [good, page]))
    emulator.wait_idle()

    assert api.latest(classified_id)["mediaStatuses"] == [
        {"url": good, "status": "CREATED"},
        {"url": page, "status": "DOWNLOADING_FAILED"},
    ]
    by_url = {d.url: d for d in emulator.downloads()}
    assert by_url[good].content_type == "video/mp4" and by_url[good].ok
    assert by_url[page].status_code == 200 and not by_url[page].ok
    assert "neither an image nor a video" in (by_url[page].error or "")


def test_a_download_over_the_size_limit_fails(media: MediaServer) -> None:
    media.set_content("/big.jpg", b"\xff\xd8\xff" + b"0" * 2000, "image/jpeg")
    media.set_content("/small.jpg", b"\xff\xd8\xff" + b"0" * 997, "image/jpeg")
    with AvivEmulator(max_media_bytes=1000) as emu:
        api = Api(emu)
        big, small = stamped(media, "/big.jpg"), stamped(media, "/small.jpg")

        classified_id = api.create(classified_body("L-1", [big, small]))
        emu.wait_idle()

        latest = api.latest(classified_id)
        by_url = {d.url: d for d in emu.downloads()}
    assert latest["status"] == "CREATED_WITH_MEDIA_ERROR"
    assert [m["status"] for m in latest["mediaStatuses"]] == ["DOWNLOADING_FAILED", "CREATED"]
    assert "file too large" in (by_url[big].error or "")
    assert by_url[small].ok and by_url[small].bytes_read == 1000


def test_the_default_size_limit_is_50_megabytes(emulator: AvivEmulator) -> None:
    assert emulator.max_media_bytes == 50 * 1024 * 1024


# ---------------------------------------------------------------------------- media statuses on demand
def test_a_media_can_fail_after_its_download(emulator: AvivEmulator, api: Api, media: MediaServer) -> None:
    emulator.set_media_status(media.url("/corrupt.jpg"), "CREATING_FAILED")
    good, corrupt = stamped(media, "/good.jpg"), stamped(media, "/corrupt.jpg")
    classified_id = api.create(classified_body("L-1", [good, corrupt]))
    emulator.wait_idle()

    created = api.latest(classified_id)
    api.update(classified_id, classified_body("L-1", [good, corrupt]))
    emulator.wait_idle()
    kept = api.latest(classified_id)
    emulator.set_media_status(media.url("/corrupt.jpg"), None)
    api.update(classified_id, classified_body("L-1", [good, stamped(media, "/corrupt.jpg", TS2)]))
    emulator.wait_idle()

    assert created["status"] == "CREATED_WITH_MEDIA_ERROR"
    assert created["mediaStatuses"][1] == {"url": corrupt, "status": "CREATING_FAILED"}
    assert media.hits("/corrupt.jpg") == 2  # it was downloaded, then refused; then again once re-stamped
    assert kept["status"] == "UPDATED_WITH_MEDIA_ERROR"  # not fetched again: still failed
    assert kept["mediaStatuses"][1] == {"url": corrupt, "status": "CREATING_FAILED"}
    assert api.latest(classified_id)["status"] == "UPDATED"


@pytest.mark.parametrize("in_progress", ["ACCEPTED", "DOWNLOADING"])
def test_media_still_in_progress_are_not_failures(
    emulator: AvivEmulator, api: Api, media: MediaServer, in_progress: str
) -> None:
    emulator.set_media_status(media.url("/slow.jpg?w=100"), in_progress)
    good, slow = stamped(media, "/good.jpg"), media.url(f"/slow.jpg?w=100&timestamp={TS1}")

    classified_id = api.create(classified_body("L-1", [good, slow]))
    emulator.wait_idle()

    latest = api.latest(classified_id)
    assert latest["status"] == "CREATED"
    assert latest["mediaStatuses"] == [
        {"url": good, "status": "CREATED"},
        {"url": slow, "status": in_progress},
    ]
    api.update(classified_id, classified_body("L-1", [good, slow]))
    emulator.wait_idle()
    assert api.latest(classified_id)["mediaStatuses"][1]["status"] == in_progress


def test_only_documented_media_statuses_can_be_asked_for(emulator: AvivEmulator) -> None:
    with pytest.raises(ValueError, match="CREATING_FAILED, ACCEPTED, DOWNLOADING"):
        emulator.set_media_status("http://127.0.0.1/a.jpg", "DOWNLOADING_FAILED")
