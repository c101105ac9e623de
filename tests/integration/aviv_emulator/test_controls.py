"""Fault injection, inspection over HTTP, concurrency and the command line."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.aviv_emulator.records import media_key
from devtools.media_server import MediaServer
from tests.integration.aviv_emulator.support import (
    TS1,
    USER_AGENT,
    Api,
    assert_problem,
    classified_body,
    get_token,
    stamped,
    token_body,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


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


def test_an_injected_reset_drops_the_connection_before_the_call_is_handled(
    emulator: AvivEmulator, api: Api
) -> None:
    emulator.inject_faults(1, reset=True)

    with pytest.raises(requests.exceptions.ConnectionError):
        api.call("POST", "/classifieds", json=classified_body("L-1"))

    assert emulator.state()["classifieds"] == []
    assert [r.status for r in emulator.requests() if r.path == "/classifieds"] == [None]


@pytest.mark.parametrize(
    ("loss", "error"),
    [
        ({"reset": True}, requests.exceptions.ConnectionError),
        ({"timeout": True}, requests.exceptions.Timeout),
    ],
)
def test_an_answer_lost_after_processing_leaves_the_call_applied(
    emulator: AvivEmulator, api: Api, loss: dict[str, bool], error: type[Exception]
) -> None:
    emulator.inject_faults(1, after_processing=True, hang_seconds=2, **loss)

    with pytest.raises(error):
        api.call("POST", "/classifieds", json=classified_body("L-1"), timeout=0.3)
    again = api.call("POST", "/classifieds", json=classified_body("L-1"))

    assert len(emulator.state()["classifieds"]) == 1  # the first POST created it
    assert again.status_code == 400 and again.json()["title"] == "Duplicated classified"


def test_an_answer_can_only_be_lost_after_processing_by_a_timeout_or_a_reset(emulator: AvivEmulator) -> None:
    with pytest.raises(ValueError, match="after_processing"):
        emulator.inject_faults(1, status=503, after_processing=True)


def test_a_probabilistic_fault_hits_about_its_share_of_calls(emulator: AvivEmulator, api: Api) -> None:
    emulator.inject_faults(10_000, status=503, probability=0.2, paths="/classifieds", method="GET")

    statuses = [api.call("GET", "/classifieds").status_code for _ in range(200)]

    assert 20 <= statuses.count(503) <= 60
    assert set(statuses) == {200, 503}


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
    assert [s["status"] for s in state["statuses"][classified_id]] == [
        "RECEIVING",
        "RECEIVED",
        "CREATING",
        "CREATED",
    ]

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
