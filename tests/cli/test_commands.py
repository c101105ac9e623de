"""Every command of the vitrine CLI against a local stack: state read through the layer's stores,
AVIV over HTTP (the emulator), sends made by the real sync function."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import UTC, datetime

from tests.cli.conftest import OWNER_PAGE_SECRET, Cli
from tests.e2e.support import upsert, wait_for
from vitrine.core.owner_links import owner_link_valid


def test_status_shows_versions_the_aviv_status_and_every_media_as_sent(cli: Cli) -> None:
    cli.synced_listing("CLI-STATUS-1", media_count=3)
    wait_for(lambda: cli.json("status", "CLI-STATUS-1")["status"] == "CREATED", what="AVIV's CREATED")
    report = cli.json("status", "CLI-STATUS-1")
    assert {
        "listingId",
        "classifiedId",
        "desiredVersion",
        "sentVersion",
        "status",
        "media",
        "problems",
    } <= set(report)
    assert report["desiredVersion"] == report["sentVersion"] == 1
    assert report["classifiedId"] and report["ownerId"] == "agence-presquile" and report["portals"] == ["SL"]
    assert [m["id"] for m in report["media"]] == [f"CLI-STATUS-1-m{n}" for n in range(3)]
    assert all("timestamp=" in m["url"] and m["status"] == "CREATED" for m in report["media"])
    assert report["problems"] == [] and report["sync"]["dirty"] is False


def test_status_as_text_names_the_listing_and_its_media(cli: Cli) -> None:
    cli.synced_listing("CLI-STATUS-2")
    result = cli.run("status", "CLI-STATUS-2", "--no-aviv")
    assert result.exit_code == 0, result.output
    assert "listing CLI-STATUS-2" in result.output and "CLI-STATUS-2-m1" in result.output


def test_an_unknown_listing_exits_1_and_says_so(cli: Cli) -> None:
    result = cli.run("status", "NOBODY")
    assert result.exit_code == 1
    assert "no listing NOBODY" in result.stderr


def test_diff_shows_what_the_next_send_would_change_without_calling_aviv(cli: Cli) -> None:
    listing_id = "CLI-DIFF-1"
    cli.synced_listing(listing_id, media_count=3)
    assert cli.json("diff", listing_id)["operation"] == "none"
    desired = cli.stack.store.load_desired(listing_id)
    assert desired is not None
    first, second, third = desired.media
    changed = dataclasses.replace(
        desired,
        media=[third, dataclasses.replace(first, title="Façade"), dataclasses.replace(second, version="v2")],
        version=desired.version + 1,
    )
    calls_before = len(cli.stack.emulator.requests())
    cli.stack.store.save_desired(changed, desired.version, now=datetime.now(UTC))  # no sync message
    document = cli.json("diff", listing_id)
    assert document["operation"] == "PUT"
    assert document["retitled"] == [first.id] and document["redownloaded"] == [second.id]
    assert set(document["moved"]) == {first.id, second.id, third.id}
    assert document["added"] == [] and document["removed"] == []
    assert len(cli.stack.emulator.requests()) == calls_before, "diff never calls AVIV"


def test_resync_sends_the_same_body_again_through_the_sync_function(cli: Cli) -> None:
    listing_id = "CLI-RESYNC-1"
    cli.synced_listing(listing_id)
    before = cli.stack.store.load_last_sent(listing_id)
    assert before is not None
    dry = cli.json("resync", listing_id, "--dry-run")
    assert dry["listings"] == [
        {
            "listingId": listing_id,
            "operation": "PUT",
            "result": "planned",
            "detail": "forced: the same body again",
        }
    ]
    assert cli.stack.store.load_last_sent(listing_id).sent_at == before.sent_at, "a dry run sends nothing"
    document = cli.json("resync", listing_id)
    assert [r["result"] for r in document["listings"]] == ["sent"]
    after = cli.stack.store.load_last_sent(listing_id)
    assert after is not None and after.sent_at != before.sent_at
    assert after.body == before.body, "same body, same timestamps: nothing is downloaded again"
    assert [m.timestamp for m in after.media] == [m.timestamp for m in before.media]


def test_resync_of_an_owner_sends_each_of_its_listings(cli: Cli) -> None:
    event = upsert(cli.stack, "CLI-RESYNC-OWNER", 1)
    event["ownerId"] = "owner-resync"
    assert cli.stack.post(event).status_code == 202
    cli.stack.wait_synced("CLI-RESYNC-OWNER")
    document = cli.json("resync", "--owner", "owner-resync")
    assert [(r["listingId"], r["result"]) for r in document["listings"]] == [("CLI-RESYNC-OWNER", "sent")]


def test_resync_needs_exactly_one_selection(cli: Cli) -> None:
    assert cli.run("resync").exit_code == 2
    assert cli.run("resync", "A", "--all").exit_code == 2


def test_problems_and_renotify_tell_the_owner_again(cli: Cli) -> None:
    listing_id = "CLI-PROBLEM-1"
    event = upsert(cli.stack, listing_id, 2)
    cli.stack.local.media.set_status(f"/{listing_id}/photo-1.jpg", 404)
    assert cli.stack.post(event).status_code == 202
    cli.stack.wait_synced(listing_id)
    wait_for(
        lambda: cli.json("status", listing_id)["status"] == "CREATED_WITH_MEDIA_ERROR", what="media error"
    )
    cli.stack.local.fire_schedules()
    rows = cli.json("problems", code=1)["problems"]
    assert [(r["listingId"], r["kind"]) for r in rows if r["listingId"] == listing_id] == [
        (listing_id, "media_error")
    ]
    inbox = cli.stack.local.inbox
    assert inbox is not None
    original = inbox.wait_for(lambda n: n.attributes.get("listingId") == listing_id)
    document = cli.json("renotify", listing_id)
    assert [p["kind"] for p in document["published"]] == ["media_error"]
    reminder = inbox.wait_for(
        lambda n: n.attributes.get("listingId") == listing_id and n.message.get("reminder")
    )
    assert reminder.message["id"] == original.message["id"]
    assert [m["id"] for m in reminder.message["media"]] == [f"{listing_id}-m1"]


def test_dlq_list_says_why_and_redrive_moves_a_listings_messages_back(cli: Cli) -> None:
    from vitrine.adapters.sqs_scheduler import sync_message_body
    from vitrine.core.model import SyncFailure

    listing_id = "CLI-DLQ-1"
    cli.synced_listing(listing_id)
    queues = cli.stack.info.queue_urls
    sqs = cli.stack.local.sqs
    sqs.send_message(QueueUrl=queues["SyncDeadLetterQueue"], MessageBody=sync_message_body(listing_id))
    failure = SyncFailure(
        at="2026-12-01T10:00:00Z", attempts=8, error="AvivRetryable: 503", dead_lettered=True
    )
    cli.stack.store.record_sync_failure(listing_id, failure)
    listed = cli.json("dlq", "list", code=1)
    assert [(m["listingId"], m["why"]) for m in listed["messages"]] == [(listing_id, "AvivRetryable: 503")]
    assert cli.json("status", listing_id, "--no-aviv")["sync"]["inDeadLetterQueue"] is True
    assert cli.json("dlq", "redrive", "--listing", "OTHER")["redriven"] == 0
    assert cli.json("dlq", "redrive", "--listing", listing_id) == {
        "redriven": 1,
        "left": 0,
        "listings": [listing_id],
    }
    assert cli.json("dlq", "list") == {"count": 0, "messages": []}


def test_owner_link_prints_a_url_the_owner_page_accepts(cli: Cli) -> None:
    document = cli.json("owner-link", "agence-presquile", "--days", "7")
    url = document["url"]
    assert url.startswith(cli.stack.info.api_url + "/owners/agence-presquile/listings?expires=")
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    now = datetime.now(UTC)
    assert owner_link_valid(
        [OWNER_PAGE_SECRET.encode()], "agence-presquile", query["expires"], query["signature"], now
    )
    assert cli.run("owner-link", "x", "--days", "0").exit_code == 2


def test_sign_prints_a_curl_the_webhook_accepts(cli: Cli, tmp_path) -> None:
    event = upsert(cli.stack, "CLI-SIGN-1", 1)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = cli.run("sign", str(path))
    assert result.exit_code == 0, result.output
    answer = subprocess.run(["bash", "-c", result.stdout], capture_output=True, text=True, check=True)
    assert answer.stdout.startswith("HTTP/1.1 202"), answer.stdout
    cli.stack.wait_synced("CLI-SIGN-1")
    assert cli.run("sign", str(tmp_path / "missing.json")).exit_code == 2


def test_smoke_posts_the_samples_and_reports_what_aviv_said(cli: Cli) -> None:
    report = cli.json("smoke", "--timeout", "30")
    assert report["passed"] is True and report["deleted"] is True
    assert all(w["status"] == 202 for w in report["webhooks"])
    assert report["sent"]["classifiedId"] and report["aviv"]["status"].startswith(("CREATED", "UPDATED"))


def test_without_a_running_stack_every_command_exits_3(cli: Cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VITRINE_LOCAL_STACK", str(tmp_path / "none.json"))
    result = cli.run("problems")
    assert result.exit_code == 3 and "start `make local`" in result.stderr
    stale = tmp_path / "stale.json"
    description = json.loads(cli.stack_file.read_text())
    stale.write_text(json.dumps({**description, "moto_endpoint": "http://127.0.0.1:9"}))
    monkeypatch.setenv("VITRINE_LOCAL_STACK", str(stale))
    assert cli.run("status", "X").exit_code == 3
