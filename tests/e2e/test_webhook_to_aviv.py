"""CRM webhooks in, exactly one correct AVIV call per editing burst out — over loopback, end to end.

Each test runs a fresh LocalStack: the real ingest and sync handlers behind an API Gateway
stand-in, moto's server for DynamoDB/SQS/SNS/Secrets Manager, and the AVIV emulator which
validates every body against the official OpenAPI schema and really downloads each media.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import start_stack
from tests.e2e.support import Stack, envelope, media, upsert, wait_for
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.webhook_signing import signed_headers


def classified_id(stack: Stack, listing_id: str) -> str:
    value = stack.emulator.classified_id_for(listing_id, intermediary_id="agency-1")
    assert value, f"no classified for {listing_id}"
    return str(value)


def sent_media_ids(stack: Stack, listing_id: str) -> list[str]:
    sent = stack.store.load_last_sent(listing_id)
    assert sent is not None
    return [m.id for m in sent.media]


def create_listing(stack: Stack, listing_id: str, media_count: int = 3) -> str:
    assert stack.post(upsert(stack, listing_id, media_count)).status_code == 202
    stack.wait_synced(listing_id)
    assert len(stack.aviv_calls("POST")) >= 1
    return classified_id(stack, listing_id)


def test_a_burst_of_20_media_events_becomes_one_put_with_the_final_order(stack: Stack) -> None:
    listing = "BURST-1"
    cid = create_listing(stack, listing, media_count=4)
    downloads_before = len(stack.emulator.downloads())
    events: list[dict[str, Any]] = []
    for n in range(4, 12):  # 8 additions, some at the front
        events.append(
            envelope("media.added", listing, media=media(stack, listing, n), position=0 if n % 2 else None)
        )
    events = [{k: v for k, v in e.items() if v is not None} for e in events]
    for n in (1, 5, 9):
        events.append(
            envelope("media.updated", listing, media=media(stack, listing, n, title=f"Titre revu {n}"))
        )
    for n in (2, 6):
        events.append(envelope("media.removed", listing, mediaId=f"{listing}-m{n}"))
    remaining = [f"{listing}-m{n}" for n in (0, 1, 3, 4, 5, 7, 8, 9, 10, 11)]
    final_order = list(reversed(remaining))
    events.append(envelope("media.reordered", listing, order=final_order))
    for n in (0, 3, 7, 8, 10):
        events.append(
            envelope("media.updated", listing, media=media(stack, listing, n, title=f"Photo {n} (bis)"))
        )
    events.append(envelope("media.reordered", listing, order=remaining))
    assert len(events) == 20
    with requests.Session() as session:
        for event in events:
            assert stack.post(event, session=session).status_code == 202
    stack.wait_synced(listing)
    puts = stack.aviv_calls("PUT", cid)
    assert len(puts) == 1, "one consolidated PUT for the whole burst"
    body = puts[0].body
    assert [m["title"] for m in body["media"]] == [
        m.title
        for m in (stack.store.load_desired(listing).media)  # type: ignore[union-attr]
    ]
    assert sent_media_ids(stack, listing) == remaining
    # Only the 7 surviving new media are downloaded (m6 came and went within the burst); updates
    # changed titles only, and the reorders moved nothing's bytes.
    assert len(stack.emulator.downloads()) - downloads_before == 7


def test_an_identical_snapshot_sends_nothing(stack: Stack) -> None:
    listing = "SAME-1"
    create_listing(stack, listing)
    calls_before = len(stack.emulator.requests())
    assert stack.post(upsert(stack, listing, 3)).json()["accepted"] is True
    wait_for(lambda: stack.synced(listing), what="still clean")
    # Give a (wrong) sync every chance to happen: wait past the consolidation window.
    threading.Event().wait(2.5)
    assert len(stack.emulator.requests()) == calls_before


def test_a_duplicate_delivery_has_one_effect(stack: Stack) -> None:
    listing = "DUP-1"
    create_listing(stack, listing)
    event = envelope("media.added", listing, media=media(stack, listing, 9))
    webhook_id = f"msg_{uuid.uuid4().hex}"
    first = stack.post(event, webhook_id=webhook_id)
    second = stack.post(event, webhook_id=webhook_id)
    assert first.status_code == second.status_code == 202
    assert second.json()["duplicate"] is True
    assert first.json()["version"] == second.json()["version"]
    stack.wait_synced(listing)
    assert sent_media_ids(stack, listing).count(f"{listing}-m9") == 1
    assert len(stack.aviv_calls("PUT")) == 1


def with_data_value(event: dict[str, Any], raw_json: str) -> bytes:
    """``event``'s body with ``raw_json`` (text json.dumps cannot write) as ``listing.data.x``."""
    return json.dumps(event).replace('"data": {', '"data": {"x": ' + raw_json + ", ", 1).encode()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("malformed_json", 400),
        ("no_signature", 401),
        ("wrong_secret", 401),
        ("expired_timestamp", 401),
        ("tampered_body", 401),
        ("too_large", 413),
        ("unknown_type", 422),
        ("bad_media_type", 422),
        ("duplicate_media_id", 422),
        ("duplicate_media_url", 422),
        ("update_unknown_media", 422),
        ("reorder_not_a_permutation", 422),
        ("form_body", 415),
        ("lone_surrogate_owner", 422),
        ("non_finite_number", 422),
        ("nested_too_deep", 400),
    ],
)
def test_bad_requests_get_a_specific_error_and_change_nothing(stack: Stack, case: str, status: int) -> None:
    listing = "BAD-1"
    create_listing(stack, listing)
    before = stack.table_snapshot()
    calls_before = len(stack.emulator.requests())
    secret = stack.info.webhook_secret
    good = envelope("media.added", listing, media=media(stack, listing, 7))
    body = json.dumps(good).encode()
    if case == "malformed_json":
        response = stack.post(b'{"type": "media.added", ')
    elif case == "no_signature":
        response = requests.post(stack.info.webhook_url, data=body, timeout=10)
    elif case == "wrong_secret":
        response = stack.post(good, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
    elif case == "expired_timestamp":
        import time as _time

        headers = signed_headers(secret, body, timestamp=int(_time.time()) - 301)
        response = requests.post(stack.info.webhook_url, data=body, headers=headers, timeout=10)
    elif case == "tampered_body":
        headers = signed_headers(secret, body)
        response = requests.post(
            stack.info.webhook_url, data=body.replace(b"m7", b"m8"), headers=headers, timeout=10
        )
    elif case == "too_large":
        big = envelope("media.added", listing, media=media(stack, listing, 7, title="x" * 1_100_000))
        response = stack.post(big)
    elif case == "unknown_type":
        response = stack.post(envelope("media.exploded", listing, mediaId="x"))
    elif case == "bad_media_type":
        response = stack.post(
            envelope("media.added", listing, media=media(stack, listing, 7, mediaType="GIF"))
        )
    elif case == "duplicate_media_id":
        event = upsert(stack, listing, 2)
        event["listing"]["media"][1]["id"] = event["listing"]["media"][0]["id"]
        response = stack.post(event)
    elif case == "duplicate_media_url":
        event = upsert(stack, listing, 2)
        event["listing"]["media"][1]["url"] = (
            event["listing"]["media"][0]["url"] + "?timestamp=2026-01-01T00:00:00"
        )
        response = stack.post(event)
    elif case == "update_unknown_media":
        response = stack.post(envelope("media.updated", listing, media=media(stack, listing, 42)))
    elif case == "form_body":
        response = stack.post(body, headers={"content-type": "application/x-www-form-urlencoded"})
    elif case == "lone_surrogate_owner":
        response = stack.post(json.dumps({**upsert(stack, listing, 2), "ownerId": "\ud800"}).encode())
    elif case == "non_finite_number":
        response = stack.post(with_data_value(upsert(stack, listing, 2), "1e999"))
    elif case == "nested_too_deep":
        response = stack.post(with_data_value(upsert(stack, listing, 2), "[" * 500 + "]" * 500))
    else:
        response = stack.post(envelope("media.reordered", listing, order=[f"{listing}-m0", f"{listing}-m1"]))
    assert response.status_code == status, response.text
    if status != 400 or case != "malformed_json":
        assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    if status == 422:
        assert problem["errors"], "422 names each bad field"
        assert all(e["pointer"].startswith("/") and e["reason"] for e in problem["errors"])
    assert stack.table_snapshot() == before, "a rejected request changes nothing"
    assert len(stack.emulator.requests()) == calls_before


def test_422_names_the_field(stack: Stack) -> None:
    event = upsert(stack, "NAMES-1", 3)
    event["listing"]["media"][2]["mediaType"] = "GIF"
    event["listing"]["media"][1]["category"] = "CELLAR"
    response = stack.post(event)
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/listing/media/2/mediaType", "/listing/media/1/category"} <= pointers


def test_30_concurrent_webhooks_on_one_listing_converge_to_the_serial_result_in_one_put(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = start_stack(monkeypatch, function_concurrency=None, debounce_seconds=2)
    try:
        stack = Stack(local)
        listing = "CONC-1"
        cid = create_listing(stack, listing, media_count=30)
        events = [
            envelope("media.updated", listing, media=media(stack, listing, n, title=f"Titre concurrent {n}"))
            for n in range(30)
        ]
        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(lambda e: stack.post(e).status_code, events))
        assert statuses == [202] * 30
        stack.wait_synced(listing)
        desired = stack.store.load_desired(listing)
        assert desired is not None
        assert [m.title for m in desired.media] == [f"Titre concurrent {n}" for n in range(30)]
        assert desired.version == 31, "every one of the 30 updates was applied exactly once"
        puts = stack.aviv_calls("PUT", cid)
        assert len(puts) == 1
        assert [m["title"] for m in puts[0].body["media"]] == [f"Titre concurrent {n}" for n in range(30)]
    finally:
        local.stop()


def test_aviv_answering_500_twice_is_retried_and_one_put_carries_the_latest_state(stack: Stack) -> None:
    listing = "RETRY-1"
    cid = create_listing(stack, listing)
    stack.emulator.inject_faults(2, status=500, paths="/classifieds", method="PUT")
    assert stack.post(envelope("media.added", listing, media=media(stack, listing, 5))).status_code == 202
    stack.wait_synced(listing)
    puts = stack.aviv_calls("PUT", cid)
    failed = [r for r in stack.emulator.requests() if r.method == "PUT" and r.status == 500]
    assert len(failed) == 2
    assert len(puts) == 1
    assert [m["url"].split("?")[0] for m in puts[0].body["media"]][-1].endswith(f"{listing}/photo-5.jpg")


def test_aviv_down_past_the_retry_budget_dead_letters_then_a_redrive_converges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = start_stack(monkeypatch, parameters={"SyncMaxReceives": "2"})
    try:
        stack = Stack(local)
        listing = "DLQ-1"
        cid = create_listing(stack, listing)
        stack.emulator.inject_faults(1000, status=503, paths="/classifieds", method="PUT")
        assert stack.post(envelope("media.added", listing, media=media(stack, listing, 8))).status_code == 202
        dlq = stack.info.queue_urls["SyncDeadLetterQueue"]

        def dead_lettered() -> list[dict[str, Any]]:
            got = local.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=30)
            return got.get("Messages", [])

        messages = wait_for(dead_lettered, timeout=40, interval=0.5, what="the sync message in the DLQ")
        state = stack.store.load_sync_state(listing)
        assert state is not None and state.dirty, "the listing stays dirty while its message is dead-lettered"
        assert stack.aviv_calls("PUT", cid) == []
        # AVIV is back; redrive the DLQ to the sync queue (what `aws sqs start-message-move-task` does).
        stack.emulator.clear_faults()
        for message in messages:
            local.sqs.send_message(QueueUrl=stack.info.queue_urls["SyncQueue"], MessageBody=message["Body"])
            local.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
        stack.wait_synced(listing, timeout=30)
        puts = stack.aviv_calls("PUT", cid)
        assert len(puts) == 1
        assert sent_media_ids(stack, listing)[-1] == f"{listing}-m8"
    finally:
        local.stop()


def test_a_crash_between_the_aviv_call_and_the_state_write_resends_the_identical_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = start_stack(monkeypatch, queue_attributes={"SyncQueue": {"VisibilityTimeout": "2"}})
    try:
        stack = Stack(local)
        listing = "CRASH-1"
        cid = create_listing(stack, listing)
        original = DynamoStateStore.record_sent
        crashed = threading.Event()

        def crash_once(self: DynamoStateStore, *args: Any, **kwargs: Any) -> None:
            if not crashed.is_set():
                crashed.set()
                raise RuntimeError("simulated crash after AVIV accepted the PUT")
            original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoStateStore, "record_sent", crash_once)
        assert stack.post(envelope("media.added", listing, media=media(stack, listing, 6))).status_code == 202
        stack.wait_synced(listing, timeout=30)
        puts = stack.aviv_calls("PUT", cid)
        assert crashed.is_set()
        assert len(puts) == 2, "the retry re-sends"
        assert puts[0].body == puts[1].body, "…the identical body (same media timestamps)"
        downloads = [d for d in stack.emulator.downloads() if "photo-6.jpg" in d.url]
        assert len(downloads) == 1, "so the new photo is downloaded once"
    finally:
        local.stop()


def test_a_stale_sequence_is_ignored(stack: Stack) -> None:
    listing = "SEQ-1"
    assert stack.post(upsert(stack, listing, 2, sequence=10)).status_code == 202
    stack.wait_synced(listing)
    stale = upsert(stack, listing, 5, sequence=9)
    answer = stack.post(stale)
    assert answer.status_code == 202
    assert answer.json()["ignored"] == "stale_sequence"
    desired = stack.store.load_desired(listing)
    assert desired is not None and len(desired.media) == 2
    threading.Event().wait(1.5)
    assert stack.aviv_calls("PUT") == []


def test_delete_issues_delete_and_a_later_upsert_creates_again(stack: Stack) -> None:
    listing = "DEL-1"
    cid = create_listing(stack, listing)
    assert stack.post(envelope("listing.deleted", listing)).status_code == 202
    stack.wait_synced(listing)
    assert len(stack.aviv_calls("DELETE", cid)) == 1
    assert stack.emulator.classified(cid) is None
    assert stack.post(upsert(stack, listing, 2)).status_code == 202
    stack.wait_synced(listing)
    assert len(stack.aviv_calls("POST")) == 2, "re-created with a POST"


def test_media_events_before_the_listing_data_are_kept_and_synced_with_it(stack: Stack) -> None:
    listing = "EARLY-1"
    assert stack.post(envelope("media.added", listing, media=media(stack, listing, 0))).status_code == 202
    threading.Event().wait(1.5)
    assert stack.aviv_calls("POST") == []
    event = upsert(stack, listing, 0)
    event["listing"]["media"] = [media(stack, listing, 0), media(stack, listing, 1)]
    assert stack.post(event).status_code == 202
    stack.wait_synced(listing)
    posts = stack.aviv_calls("POST")
    assert len(posts) == 1 and len(posts[0].body["media"]) == 2


def test_when_the_sync_cannot_be_scheduled_the_sender_gets_503_and_its_retry_converges(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitrine.adapters.sqs_scheduler import SqsSyncScheduler

    listing = "SQSDOWN-1"
    original = SqsSyncScheduler.schedule
    failures = {"left": 1}

    def flaky_schedule(self: SqsSyncScheduler, listing_id: str, delay_seconds: int) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("SQS unavailable")
        original(self, listing_id, delay_seconds)

    monkeypatch.setattr(SqsSyncScheduler, "schedule", flaky_schedule)
    event = upsert(stack, listing, 2)
    first = stack.post(event, webhook_id="msg_sqs_down")
    assert first.status_code == 503 and first.headers["Retry-After"]
    retry = stack.post(event, webhook_id="msg_sqs_down")
    assert retry.status_code == 202 and not retry.json().get("duplicate")
    stack.wait_synced(listing)
    assert len(stack.aviv_calls("POST")) == 1


def test_the_reconcile_sweep_reschedules_a_dirty_listing_whose_message_was_lost(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitrine.adapters.dynamo.table import listing_pk
    from vitrine.adapters.sqs_scheduler import SqsSyncScheduler
    from vitrine.core.moments import format_moment

    listing = "LOST-1"
    monkeypatch.setattr(SqsSyncScheduler, "schedule", lambda self, listing_id, delay_seconds: None)
    assert stack.post(upsert(stack, listing, 2)).status_code == 202
    monkeypatch.undo()
    threading.Event().wait(1.5)
    assert stack.aviv_calls("POST") == [], "the message was lost: nothing is sent"
    # The lost message's claim expires (after max delay + visibility timeout on a real stack).
    stack.local.dynamodb.update_item(
        TableName=stack.info.function_environment["VITRINE_STATE_TABLE"],
        Key={"pk": {"S": listing_pk(listing)}, "sk": {"S": "DESIRED"}},
        UpdateExpression="SET syncScheduledUntil = :past",
        ExpressionAttributeValues={":past": {"S": format_moment(datetime.now(UTC) - timedelta(seconds=1))}},
    )
    stack.local.fire_schedules()
    stack.wait_synced(listing)
    assert len(stack.aviv_calls("POST")) == 1


def test_an_edit_landing_during_a_put_causes_one_follow_up_sync(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitrine.adapters.aviv.client import AvivClient

    listing = "FOLLOW-1"
    cid = create_listing(stack, listing)
    original = AvivClient.update
    edited = threading.Event()

    def update_then_edit(self: AvivClient, *args: Any, **kwargs: Any) -> Any:
        accepted = original(self, *args, **kwargs)
        if not edited.is_set():  # the CRM edits again while the sync is between AVIV and its state write
            edited.set()
            assert (
                stack.post(envelope("media.added", listing, media=media(stack, listing, 7))).status_code
                == 202
            )
        return accepted

    monkeypatch.setattr(AvivClient, "update", update_then_edit)
    assert stack.post(envelope("media.added", listing, media=media(stack, listing, 6))).status_code == 202
    wait_for(lambda: len(stack.aviv_calls("PUT", cid)) == 2, what="the follow-up PUT")
    stack.wait_synced(listing)
    puts = stack.aviv_calls("PUT", cid)
    assert len(puts) == 2
    assert sent_media_ids(stack, listing)[-2:] == [f"{listing}-m6", f"{listing}-m7"]


def test_after_the_dlq_the_next_edit_converges_without_a_redrive(monkeypatch: pytest.MonkeyPatch) -> None:
    local = start_stack(monkeypatch, parameters={"SyncMaxReceives": "2"})
    try:
        stack = Stack(local)
        listing = "DLQ-2"
        cid = create_listing(stack, listing)
        stack.emulator.inject_faults(1000, status=503, paths="/classifieds", method="PUT")
        assert stack.post(envelope("media.added", listing, media=media(stack, listing, 8))).status_code == 202
        dlq = stack.info.queue_urls["SyncDeadLetterQueue"]

        def dead_letters() -> int:
            attributes = local.sqs.get_queue_attributes(
                QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
            )
            return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

        wait_for(dead_letters, timeout=40, interval=0.5, what="the sync message in the DLQ")
        stack.emulator.clear_faults()
        assert stack.post(envelope("media.added", listing, media=media(stack, listing, 9))).status_code == 202
        stack.wait_synced(listing, timeout=30)
        puts = stack.aviv_calls("PUT", cid)
        assert len(puts) == 1
        assert sent_media_ids(stack, listing)[-2:] == [f"{listing}-m8", f"{listing}-m9"]
    finally:
        local.stop()
