"""AVIV's answers beyond the happy path, through the whole local stack: an explicit ``portals: []``
reaches AVIV as sent, and a media error AVIV does not locate still reaches the owner, once."""

from __future__ import annotations

from tests.e2e.support import Stack, upsert, wait_for


def test_an_explicit_empty_portal_list_reaches_aviv_as_sent_not_as_the_defaults(stack: Stack) -> None:
    listing = "NO-PORTAL-1"
    event = upsert(stack, listing, 1)
    event["listing"]["portals"] = []

    assert stack.post(event).status_code == 202
    stack.wait_synced(listing)

    [post] = stack.aviv_calls("POST")
    assert post.body["portals"] == []
    classified_id = stack.emulator.classified_id_for(listing, intermediary_id="agency-1")
    assert stack.emulator.classified(classified_id)["portals"] == []


def test_a_media_error_aviv_does_not_locate_is_told_to_the_owner_once(stack: Stack) -> None:
    listing = "UNLOCATED-1"
    assert stack.post(upsert(stack, listing, 2)).status_code == 202
    stack.wait_synced(listing)
    classified_id = stack.emulator.classified_id_for(listing, intermediary_id="agency-1")
    # AVIV says some media failed, without naming any (no mediaStatuses at all).
    stack.emulator.report_status(classified_id, "CREATED_WITH_MEDIA_ERROR", mediaStatuses=None)
    inbox = stack.local.inbox
    assert inbox is not None

    stack.local.fire_schedules()
    notification = inbox.wait_for(
        lambda n: n.attributes.get("kind") == "media_error" and n.message.get("listingId") == listing,
        timeout=20,
    )
    stack.local.fire_schedules()
    stack.local.fire_schedules()

    assert notification.message["unlocated"] is True and notification.message["media"] == []
    assert "did not locate" in notification.message["subject"]
    told = wait_for(
        lambda: [n for n in inbox.notifications if n.message.get("listingId") == listing] or None,
        what="the notification",
    )
    assert [n.attributes.get("kind") for n in told] == ["media_error"], "told once, not once per run"
