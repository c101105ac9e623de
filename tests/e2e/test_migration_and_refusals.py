"""Migration, agency moves and refusals vitrine cannot fix, end to end through the local stack: signed
webhooks into the real handlers, the AVIV emulator behind them, owner notifications from SNS."""

from __future__ import annotations

from typing import Any

from tests.e2e.support import Stack, envelope, upsert, wait_for
from tests.support.migration import desired_of_upsert, other_sender_body
from vitrine.core.refusals import OFFERER_ESTATE_ID_POINTER


def classified_calls(stack: Stack) -> list[str]:
    """Sync's calls on classifieds (reconcile's status polling left out)."""
    return [
        f"{r.method} {r.status}"
        for r in stack.emulator.requests()
        if r.path.startswith("/classifieds") and not r.path.endswith("/statuses")
    ]


def live(stack: Stack, listing_id: str) -> list[dict[str, Any]]:
    classifieds = stack.emulator.state()["classifieds"]
    return [c for c in classifieds if not c["deleted"] and c["offererEstateId"] == listing_id]


def test_a_listing_the_previous_software_published_is_adopted_without_a_single_download(stack: Stack) -> None:
    listing = "MIG-1"
    event = upsert(stack, listing, 12)
    held_id = stack.emulator.preload_classified(
        other_sender_body(desired_of_upsert(event)), intermediary_id="agency-1"
    )

    assert stack.post(event).status_code == 202
    stack.wait_synced(listing)

    assert classified_calls(stack) == ["POST 400", "GET 200", "PUT 202"]
    assert stack.emulator.downloads() == []
    assert [c["classifiedId"] for c in live(stack, listing)] == [held_id]
    sent = stack.store.load_last_sent(listing)
    assert (
        sent is not None and sent.classified_id == held_id and sent.body == stack.emulator.classified(held_id)
    )


def test_a_listing_moved_to_another_agency_is_deleted_there_and_created_under_the_new_one(
    stack: Stack,
) -> None:
    listing = "MOVE-1"
    assert stack.post(upsert(stack, listing, 3)).status_code == 202
    stack.wait_synced(listing)
    old = live(stack, listing)
    assert [c["intermediaryId"] for c in old] == ["agency-1"]

    moved = {**upsert(stack, listing, 3), "intermediaryId": "agency-2"}
    assert stack.post(moved).status_code == 202
    stack.wait_synced(listing)

    assert [c["intermediaryId"] for c in live(stack, listing)] == ["agency-2"]
    assert stack.emulator.classified(old[0]["classifiedId"]) is None
    assert classified_calls(stack)[-2:] == ["DELETE 202", "POST 202"]


def test_a_reserved_offerer_estate_id_is_told_to_the_owner_once_and_not_retried(stack: Stack) -> None:
    stack.emulator.reserve_deleted_ids = True
    listing = "RSV-1"
    assert stack.post(upsert(stack, listing, 2)).status_code == 202
    stack.wait_synced(listing)
    assert stack.post(envelope("listing.deleted", listing)).status_code == 202
    stack.wait_synced(listing)

    assert stack.post(upsert(stack, listing, 2)).status_code == 202
    stack.wait_synced(listing)
    assert classified_calls(stack)[-2:] == ["POST 400", "PUT 404"], "refused once, then left alone"
    calls = len(classified_calls(stack))

    inbox = stack.local.inbox
    assert inbox is not None
    # A run looks at a listing once: the deletion's confirmation first, the rejection next run.
    stack.local.fire_schedules()
    stack.local.fire_schedules()
    notification = inbox.wait_for(lambda n: n.attributes.get("kind") == "sync_rejected", timeout=20)
    message = notification.message
    assert message["listingId"] == listing and message["status"] == "REJECTED"
    assert "Duplicated" in message["detail"] or "already associated" in message["detail"]
    assert [e["pointer"] for e in message["errors"]] == [OFFERER_ESTATE_ID_POINTER]
    assert "release offererEstateId" in message["action"]

    stack.local.fire_schedules()
    wait_for(lambda: stack.synced(listing), what="the listing to stay clean")
    assert len(classified_calls(stack)) == calls, "no more AVIV calls until the listing changes"
    assert [n.attributes.get("kind") for n in inbox.notifications].count("sync_rejected") == 1
