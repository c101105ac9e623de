"""What the owner status page says of each listing, from the state vitrine keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from vitrine.core.consolidation import ConsolidationPolicy
from vitrine.core.errors import FieldError
from vitrine.core.model import DesiredListing, Media, Rejection, SyncState
from vitrine.core.owner_page.view import OwnerListing, SendRecord, listing_view, owner_page
from vitrine.core.reconcile.records import MediaRetry, OpenProblem, StatusState

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = ConsolidationPolicy.from_seconds(60, 600)


def photo(n: int, **extra: Any) -> Media:
    return Media(
        id=f"m{n}", url=f"https://crm.example/p{n}.jpg", media_type="PICTURE", title=f"Room {n}", **extra
    )


def listing(
    listing_id: str = "ABC-1",
    *,
    last_status: str | None = "UPDATED",
    sent: bool = True,
    problems: dict[str, OpenProblem] | None = None,
    retries: dict[str, MediaRetry] | None = None,
    media: list[Media] | None = None,
    rejection: Rejection | None = None,
    **sync: Any,
) -> OwnerListing:
    desired = DesiredListing(
        listing_id=listing_id,
        owner_id="owner-1",
        portals=["SL", "BD"],
        data={"estateType": "GASTRONOMY_HOTEL", "location": {"city": "Lyon"}},
        media=media if media is not None else [photo(0), photo(1), photo(2)],
        version=3,
        deleted=bool(sync.pop("deleted", False)),
    )
    state = SyncState(
        listing_id=listing_id,
        owner_id="owner-1",
        version=3,
        sent_version=int(sync.pop("sent_version", 3)),
        dirty=bool(sync.pop("dirty", False)),
        first_unsent_at=sync.pop("first_unsent_at", None),
        last_edit_at=sync.pop("last_edit_at", None),
        lease_owner=sync.pop("lease_owner", None),
        lease_expires_at=None,
        has_data=True,
    )
    status = StatusState(
        listing_id=listing_id, last_status=last_status, problems=problems or {}, retries=retries or {}
    )
    record = SendRecord(sent_at="2026-03-02T08:00:00Z", desired_version=3) if sent else None
    return OwnerListing(desired=desired, sync=state, status=status, sent=record, rejection=rejection)


def media_problem(**extra: Any) -> OpenProblem:
    fields: dict[str, Any] = {
        "kind": "media_error",
        "fingerprint": "media_error:0123456789abcdef",
        "detected_at": "2026-03-02T08:30:00Z",
        "subject": "1 photo of listing ABC-1 could not be downloaded by SeLoger",
        "notified": True,
        "media_ids": ["m2"],
        "media": [
            {
                "id": "m2",
                "url": "https://crm.example/p2.jpg",
                "title": "Room 2",
                "status": "DOWNLOADING_FAILED",
                "reason": "the URL answers 404",
                "position": 2,
            }
        ],
    }
    fields.update(extra)
    return OpenProblem(**fields)


def view(owner_listing: OwnerListing) -> Any:
    return listing_view(owner_listing, consolidation=POLICY, default_portals=("SL",))


def test_a_confirmed_listing_is_online_on_its_portals_by_name_with_its_last_send() -> None:
    shown = view(listing())
    assert shown.standing == "online"
    assert shown.portals == ("SeLoger", "Belles Demeures")
    assert shown.last_sent_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert (shown.estate_type, shown.city) == ("Gastronomy hotel", "Lyon")
    assert not shown.needs_attention and shown.pending_since is None


def test_a_failing_photo_is_listed_with_what_aviv_said_and_what_to_do() -> None:
    shown = view(listing(last_status="UPDATED_WITH_MEDIA_ERROR", problems={"aviv": media_problem()}))
    assert shown.standing == "online_media_errors" and shown.needs_attention
    [issue] = shown.media_issues
    assert (issue.position, issue.title, issue.reason, issue.advice) == (
        2,
        "Room 2",
        "the URL answers 404",
        "check_url",
    )


def test_a_file_the_portal_cannot_read_is_to_be_replaced() -> None:
    entry = {**media_problem().media[0], "status": "CREATING_FAILED", "reason": "format"}
    shown = view(listing(problems={"aviv": media_problem(media=[entry])}))
    assert shown.media_issues[0].advice == "replace_file"


def test_a_photo_retried_silently_says_there_is_nothing_to_do_yet() -> None:
    retry = MediaRetry(
        media_id="m1", base_version=None, url="https://crm.example/p1.jpg", first_failed_at="x"
    )
    retry.last_result = "the URL answers 503"
    problem = media_problem(media=[], media_ids=["m1"], notified=False)
    [issue] = view(listing(problems={"aviv": problem}, retries={"m1": retry})).media_issues
    assert (issue.position, issue.advice, issue.reason) == (1, "retrying", "the URL answers 503")


def test_pending_changes_say_since_when_and_when_they_go_out() -> None:
    first, last = NOW - timedelta(minutes=5), NOW - timedelta(seconds=20)
    shown = view(listing(dirty=True, first_unsent_at=first, last_edit_at=last))
    assert shown.pending_since == first
    assert shown.next_send_at == last + timedelta(seconds=60)
    assert view(listing(lease_owner="sync-1")).sending_now


def test_a_refused_version_shows_the_fields_until_a_later_version_goes_through() -> None:
    refusal = Rejection("ABC-1", 3, (FieldError("/data/prices", "is required"),), "AVIV refused it", NOW)
    shown = view(listing(rejection=refusal))
    assert shown.standing == "rejected" and shown.needs_attention
    assert shown.rejection_errors == (FieldError("/data/prices", "is required"),)
    assert view(listing(rejection=replace(refusal, desired_version=2))).standing == "online"


def test_a_listing_never_sent_waits_for_its_details_or_its_first_send() -> None:
    assert view(listing(sent=False, last_status=None)).standing == "not_sent"


def test_classified_errors_and_stuck_sends_carry_their_detail() -> None:
    problem = OpenProblem(
        "classified_error", "classified_error:0", "t", "Listing ABC-1 could not be updated", True
    )
    problem.detail = "Listing ABC-1 could not be updated on SeLoger. AVIV says: bad surface"
    shown = view(listing(last_status="UPDATING_FAILED", problems={"aviv": problem}))
    assert shown.standing == "failed"
    assert shown.problem_details == (problem.detail,)


def test_quality_warnings_are_placed_on_their_media() -> None:
    media = [photo(0, category="FLOOR_PLAN"), photo(1)]
    [warning] = view(listing(media=media)).warnings
    assert (warning.position, warning.title, warning.code) == (0, "Room 0", "poor_first_picture")


def test_the_page_puts_listings_needing_attention_first_and_drops_deletions_gone_through() -> None:
    calm, failing = listing("AAA-1"), listing("ZZZ-9", problems={"aviv": media_problem()})
    gone, leaving = listing("GONE-1", deleted=True), listing("GONE-2", deleted=True, dirty=True)
    page = owner_page(
        "owner-1", [calm, failing, gone, leaving], now=NOW, consolidation=POLICY, default_portals=()
    )
    assert [v.listing_id for v in page.listings] == ["ZZZ-9", "AAA-1", "GONE-2"]
    assert page.listings[2].standing == "withdrawn"
    assert page.attention_count == 1
