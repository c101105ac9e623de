"""What AVIV does after a 202: the statuses a call goes through (intermediate ones included), the
``*_FAILED`` endings a test can ask for, and the webhook pushes of those statuses."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer
from tests.integration.aviv_emulator.support import (
    Api,
    WebhookReceiver,
    assert_problem,
    classified_body,
    socket_without_listener,
    stamped,
)
from tests.support.aviv_schema import load_openapi

POLLED_ONLY = {"statusId", "classifiedId", "customerId", "creationDate", "revision"}


def spec_validator(schema_name: str) -> Draft7Validator:
    spec = load_openapi()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def statuses_of(emulator: AvivEmulator, classified_id: str) -> list[str]:
    return [s["status"] for s in emulator.statuses(classified_id)]


# ---------------------------------------------------------------------------- intermediate statuses
def test_a_call_stays_receiving_during_the_receive_delay() -> None:
    with AvivEmulator(receive_delay_seconds=60) as emu:
        api = Api(emu)
        classified_id = api.create(classified_body("L-1"))

        latest = api.latest(classified_id)

        assert (latest["status"], latest["subStatus"], latest["revision"]) == (
            "RECEIVING",
            "RECEIVING_POST",
            1,
        )
        with pytest.raises(TimeoutError):
            emu.wait_idle(timeout=0.1)


@pytest.mark.parametrize(
    ("verb", "processing"), [("POST", "CREATING"), ("PUT", "UPDATING"), ("DELETE", "DELETING")]
)
def test_a_call_is_creating_updating_or_deleting_during_the_processing_delay(
    verb: str, processing: str
) -> None:
    with AvivEmulator() as emu:
        api = Api(emu)
        if verb != "POST":
            classified_id = api.create(classified_body("L-1"))
            emu.wait_idle()
        emu.process_delay_seconds = 60
        if verb == "POST":
            classified_id = api.create(classified_body("L-1"))
        elif verb == "PUT":
            assert api.update(classified_id, classified_body("L-1")).status_code == 202
        else:
            assert api.call("DELETE", f"/classifieds/{classified_id}").status_code == 202

        emu.wait_for_status(classified_id, processing)

        latest = api.latest(classified_id)
        assert latest["status"] == processing and "subStatus" not in latest
        assert statuses_of(emu, classified_id)[-3:] == ["RECEIVING", "RECEIVED", processing]
        with pytest.raises(TimeoutError):
            emu.wait_idle(timeout=0.1)


def test_statuses_of_every_step_follow_the_openapi_schema(emulator: AvivEmulator, api: Api) -> None:
    classified_id = api.create(classified_body("L-1"))
    api.update(classified_id, classified_body("L-1"))
    api.call("DELETE", f"/classifieds/{classified_id}")
    emulator.wait_idle()

    items = api.call("GET", f"/classifieds/{classified_id}/statuses").json()["items"]

    validator = spec_validator("ClassifiedStatusInternal")
    assert len(items) == 12
    for item in items:
        assert list(validator.iter_errors(item)) == [], item
    assert sorted(s["revision"] for s in items) == [1] * 4 + [2] * 4 + [3] * 4


# ---------------------------------------------------------------------------- *_FAILED on demand
@pytest.mark.parametrize(
    ("failure", "before"),
    [("RECEIVING_FAILED", ["RECEIVING"]), ("CREATING_FAILED", ["RECEIVING", "RECEIVED", "CREATING"])],
)
def test_a_failed_post_creates_nothing(
    emulator: AvivEmulator, api: Api, media: MediaServer, failure: str, before: list[str]
) -> None:
    emulator.fail_next(failure, details="Internal error while saving the classified")
    classified_id = api.create(classified_body("L-1", [stamped(media, "/a.jpg")]))
    emulator.wait_idle()

    latest = api.latest(classified_id)

    assert statuses_of(emulator, classified_id) == [*before, failure]
    assert latest["subStatusDetails"] == "Internal error while saving the classified"
    assert latest["mediaStatuses"] == []
    assert list(spec_validator("ClassifiedStatusInternal").iter_errors(latest)) == []
    if failure == "RECEIVING_FAILED":
        assert latest["subStatus"] == "RECEIVING_FAILED_POST"
    assert_problem(api.call("GET", f"/classifieds/{classified_id}"), 404)
    assert emulator.downloads() == []
    assert api.create(classified_body("L-1")) != classified_id  # the offererEstateId is free


def test_a_failed_put_leaves_the_previous_classified_in_place(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    first = classified_body("L-1", [stamped(media, "/a.jpg")])
    classified_id = api.create(first)
    emulator.wait_idle()
    emulator.fail_next("UPDATING_FAILED")
    changed = classified_body("L-1", [stamped(media, "/b.jpg")])

    assert api.update(classified_id, changed).status_code == 202
    emulator.wait_idle()

    assert statuses_of(emulator, classified_id)[-4:] == [
        "RECEIVING",
        "RECEIVED",
        "UPDATING",
        "UPDATING_FAILED",
    ]
    assert api.latest(classified_id)["revision"] == 2
    assert emulator.classified(classified_id) == first
    assert [d.url for d in emulator.downloads()] == [stamped(media, "/a.jpg")]
    assert api.update(classified_id, changed).status_code == 202  # a new call is applied
    emulator.wait_idle()
    assert api.latest(classified_id)["status"] == "UPDATED"


def test_a_failed_delete_leaves_the_classified_live(emulator: AvivEmulator, api: Api) -> None:
    classified_id = api.create(classified_body("L-1"))
    emulator.fail_next("DELETING_FAILED")

    assert api.call("DELETE", f"/classifieds/{classified_id}").status_code == 202
    emulator.wait_idle()

    assert statuses_of(emulator, classified_id)[-1] == "DELETING_FAILED"
    assert api.call("GET", f"/classifieds/{classified_id}").status_code == 200
    assert api.call("DELETE", f"/classifieds/{classified_id}").status_code == 202


def test_a_failed_delete_stays_deleted_when_its_offerer_estate_id_was_taken_meanwhile(
    emulator: AvivEmulator, api: Api, receiver: WebhookReceiver
) -> None:
    api.call("PUT", "/webhooks", json={"url": receiver.url, "statuses": ["DELETING"]})
    first = api.create(classified_body("L-1"))
    emulator.fail_next("DELETING_FAILED")
    receiver.gate.clear()  # the DELETE's processing waits on its DELETING push

    assert api.call("DELETE", f"/classifieds/{first}").status_code == 202
    second = api.create(classified_body("L-1"))
    receiver.gate.set()
    emulator.wait_idle()

    assert statuses_of(emulator, first)[-1] == "DELETING_FAILED"
    assert_problem(api.call("GET", f"/classifieds/{first}"), 404)
    listed = api.call("GET", "/classifieds", params={"offererEstateId": "L-1"}).json()["items"]
    assert [item["classifiedId"] for item in listed] == [second]


def test_failures_hit_only_the_calls_they_name(emulator: AvivEmulator, api: Api) -> None:
    emulator.fail_next("UPDATING_FAILED", offerer_estate_id="L-2")
    one = api.create(classified_body("L-1"))
    two = api.create(classified_body("L-2"))
    api.update(one, classified_body("L-1"))
    api.update(two, classified_body("L-2"))
    api.update(two, classified_body("L-2"))
    emulator.wait_idle()

    def outcomes(classified_id: str) -> list[tuple[int, str]]:
        steps = ("RECEIVING", "RECEIVED", "CREATING", "UPDATING")
        found = emulator.statuses(classified_id)
        return [(s["revision"], s["status"]) for s in found if s["status"] not in steps]

    assert outcomes(one) == [(1, "CREATED"), (2, "UPDATED")]
    assert outcomes(two) == [(1, "CREATED"), (2, "UPDATING_FAILED"), (3, "UPDATED")]


def test_failures_are_refused_when_they_do_not_exist(emulator: AvivEmulator) -> None:
    with pytest.raises(ValueError, match="CREATING_FAILED"):
        emulator.fail_next("CREATED_WITH_MEDIA_ERROR")
    with pytest.raises(ValueError, match="count"):
        emulator.fail_next("CREATING_FAILED", count=-1)


def test_failures_and_media_statuses_can_be_asked_for_over_http(
    emulator: AvivEmulator, api: Api, media: MediaServer
) -> None:
    root = emulator.root_url + "/_emulator"
    asked = {"status": "CREATING_FAILED", "details": "Nope"}
    assert requests.post(root + "/failures", json=asked, timeout=5).status_code == 200
    media_asked = {"url": media.url("/a.jpg"), "status": "DOWNLOADING"}
    assert requests.post(root + "/media_statuses", json=media_asked, timeout=5).status_code == 200
    refused = requests.post(root + "/failures", json={"status": "NOPE"}, timeout=5)

    failed = api.create(classified_body("L-1"))
    pending = api.create(classified_body("L-2", [stamped(media, "/a.jpg")]))
    emulator.wait_idle()

    assert refused.status_code == 400 and "RECEIVING_FAILED" in refused.json()["error"]
    assert api.latest(failed)["status"] == "CREATING_FAILED"
    assert api.latest(pending)["mediaStatuses"] == [
        {"url": stamped(media, "/a.jpg"), "status": "DOWNLOADING"}
    ]
    assert requests.post(root + "/clear_outcomes", timeout=5).status_code == 200
    assert emulator.state()["outcomes"] == {"failures": [], "media": {}}


# ---------------------------------------------------------------------------- webhooks
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
    created = emulator.statuses(good)[3]
    assert receiver.received[1][1] == {k: v for k, v in created.items() if k not in POLLED_ONLY}
    assert all(p.ok and p.status_code == 201 and p.attempt == 1 for p in emulator.webhook_pushes())

    assert api.call("DELETE", "/webhooks").status_code == 200
    api.call("DELETE", f"/classifieds/{good}")
    emulator.wait_idle()
    assert len(receiver.received) == 4


def test_pushes_carry_exactly_the_specs_classified_status(
    emulator: AvivEmulator, api: Api, media: MediaServer, receiver: WebhookReceiver
) -> None:
    every_status = [
        "RECEIVING", "RECEIVED", "RECEIVING_FAILED", "CREATING", "CREATED", "CREATING_FAILED",
        "UPDATING", "UPDATED", "UPDATING_FAILED", "DELETING", "DELETED", "DELETING_FAILED",
    ]  # fmt: skip
    api.call("PUT", "/webhooks", json={"url": receiver.url, "statuses": every_status})
    classified_id = api.create(classified_body("L-1", [stamped(media, "/a.jpg")]))
    emulator.fail_next("UPDATING_FAILED")
    api.update(classified_id, classified_body("L-1", [stamped(media, "/a.jpg")]))
    api.call("DELETE", f"/classifieds/{classified_id}")
    emulator.wait_idle()

    validator = spec_validator("ClassifiedStatus")
    properties = load_openapi()["components"]["schemas"]["ClassifiedStatus"]["properties"]
    bodies = [body for _, body in receiver.received]
    assert [b["status"] for b in bodies] == [
        "RECEIVING", "RECEIVED", "CREATING", "CREATED",
        "RECEIVING", "RECEIVED", "UPDATING", "UPDATING_FAILED",
        "RECEIVING", "RECEIVED", "DELETING", "DELETED",
    ]  # fmt: skip
    for body in bodies:
        assert list(validator.iter_errors(body)) == [], body
        assert body.keys() <= properties.keys()
    assert set(receiver.content_types) == {"application/json"}


def test_pushes_not_answered_201_are_retried_with_backoff(api: Api, receiver: WebhookReceiver) -> None:
    with AvivEmulator(webhook_backoff_seconds=0.01) as emu:
        api = Api(emu)
        receiver.answers.extend([500, 200])  # a 200 is not the 201 AVIV expects
        api.call("PUT", "/webhooks", json={"url": receiver.url, "statuses": ["CREATED"]})
        api.create(classified_body("L-1"))
        emu.wait_idle()

        pushes = emu.webhook_pushes()

    assert [(p.attempt, p.status_code, p.ok) for p in pushes] == [
        (1, 500, False),
        (2, 200, False),
        (3, 201, True),
    ]
    assert pushes[1].error == "HTTP 200 (expected 201)"
    assert len({str(body) for _, body in receiver.received}) == 1  # the same status each time
    assert [p.at for p in pushes] == sorted(p.at for p in pushes)


def test_retries_stop_after_the_configured_attempts(receiver: WebhookReceiver) -> None:
    with AvivEmulator(webhook_attempts=2, webhook_backoff_seconds=0.01) as emu:
        api = Api(emu)
        receiver.answers.extend([503] * 5)
        api.call("PUT", "/webhooks", json={"url": receiver.url, "statuses": ["RECEIVED", "CREATED"]})
        classified_id = api.create(classified_body("L-1"))
        emu.wait_idle()

        pushes: list[Any] = emu.webhook_pushes()
        assert api.latest(classified_id)["status"] == "CREATED"

    assert [(p.status, p.attempt, p.status_code) for p in pushes] == [
        ("RECEIVED", 1, 503),
        ("RECEIVED", 2, 503),
        ("CREATED", 1, 503),
        ("CREATED", 2, 503),
    ]


def test_webhooks_cannot_subscribe_to_media_errors(api: Api, receiver: WebhookReceiver) -> None:
    answer = api.call(
        "PUT", "/webhooks", json={"url": receiver.url, "statuses": ["CREATED_WITH_MEDIA_ERROR"]}
    )

    problem = assert_problem(answer, 400)
    assert problem["errors"][0]["name"] == "/statuses/0"
    assert_problem(api.call("PUT", "/webhooks", json={"statuses": ["CREATED"]}), 400)


def test_webhook_failures_are_recorded_not_fatal(media: MediaServer) -> None:
    with socket_without_listener() as dead_url, AvivEmulator(webhook_backoff_seconds=0.01) as emu:
        api = Api(emu)
        api.call("PUT", "/webhooks", json={"url": dead_url.split("?")[0], "statuses": ["CREATED"]})
        classified_id = api.create(classified_body("L-1"))
        emu.wait_idle()

        assert api.latest(classified_id)["status"] == "CREATED"
        pushes = emu.webhook_pushes()

    assert [p.attempt for p in pushes] == [1, 2, 3]
    assert all(not p.ok and p.status_code is None and p.error for p in pushes)
