"""The pure reconciliation core: reading AVIV's statuses, problems, fingerprints, notifications, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from vitrine.core.errors import FieldError
from vitrine.core.model import LastSent, Media, Rejection, SentMedia
from vitrine.core.reconcile import (
    SUBJECT_MAX_LENGTH,
    ListingContext,
    Notification,
    ReconcilePolicy,
    StatusState,
    UrlCheck,
    ascii_subject,
    base_media_version,
    interpret_status,
    map_failed_media,
    media_due_for_check,
    media_error_subject,
    reconcile_rejection,
    reconcile_send,
    retry_media_version,
    roll_to_send,
    with_retry_versions,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "notification.schema.json").read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
LISTING = "ABC-12"
POLICY = ReconcilePolicy()
CONTEXT = ListingContext(listing_id=LISTING, owner_id="owner-7", classified_id="cl-1", portals=("SL",))


def photo_url(index: int) -> str:
    return f"https://media.crm.example/ABC-12/photo-{index}.jpg"


def sent(
    *, count: int = 3, at: datetime = T0, stamp: str = "2026-03-02T09:00:00", version: int = 4, **kw: Any
) -> LastSent:
    """A last-sent record whose body and per-media records agree (photo i sent at position i)."""
    items = [
        {
            "url": f"{photo_url(i)}?timestamp={stamp}",
            "mediaType": "PICTURE",
            "title": f"Séjour {i}" if i != 2 else None,
        }
        for i in range(count)
    ]
    for item in items:
        if item["title"] is None:
            del item["title"]
    body = {"portals": ["SL"], "data": {"estateType": "APARTMENT"}, "media": items}
    media = [SentMedia(f"m{i}", photo_url(i), f"v{i}", stamp, i) for i in range(count)]
    return LastSent(
        listing_id=LISTING,
        classified_id="cl-1",
        body=body,
        media=media,
        desired_version=version,
        sent_at=at.isoformat(),
        **kw,
    )


def status(
    name: str,
    *,
    at: datetime | None = None,
    failed: dict[int, str] | None = None,
    last: LastSent | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An AVIV status item for ``last`` (default ``sent()``), photos in ``failed`` with their media status."""
    last = last or sent()
    item: dict[str, Any] = {
        "statusId": "st-1",
        "classifiedId": "cl-1",
        "portals": ["SL"],
        "status": name,
        "message": f"message of {name}",
        "statusDate": ((at or T0 + timedelta(seconds=30)).isoformat(timespec="milliseconds")).replace(
            "+00:00", "Z"
        ),
    }
    if failed is not None:
        item["mediaStatuses"] = [
            {"url": entry["url"], "status": failed.get(i, "UPDATED")}
            for i, entry in enumerate(last.body["media"])
        ]
    item.update(extra)
    return item


def decide(
    state: StatusState,
    item: dict[str, Any] | None,
    *,
    last: LastSent | None = None,
    now: datetime = T0 + timedelta(minutes=1),
    policy: ReconcilePolicy = POLICY,
    checks: dict[str, UrlCheck] | None = None,
) -> Any:
    last = last or sent()
    reading = interpret_status(item, last, roll_to_send(state.copy(), last), policy)
    return reconcile_send(state, last, reading, CONTEXT, now=now, policy=policy, url_checks=checks)


def assert_valid(notification: Notification) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(dict(notification.body))]
    assert not errors, errors
    assert notification.subject == notification.body["subject"]
    assert len(notification.subject) <= SUBJECT_MAX_LENGTH and notification.subject.isascii()


def fresh() -> StatusState:
    return StatusState(listing_id=LISTING)


# ------------------------------------------------------------------------------ reading statuses


def test_failed_media_are_mapped_back_by_url() -> None:
    last = sent(count=4)
    failed = map_failed_media(
        status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED", 2: "CREATING_FAILED"})[
            "mediaStatuses"
        ],
        last,
    )
    assert [(f.media_id, f.url, f.title, f.position, f.status) for f in failed] == [
        ("m1", photo_url(1), "Séjour 1", 1, "DOWNLOADING_FAILED"),
        ("m2", photo_url(2), None, 2, "CREATING_FAILED"),
    ]


def test_a_url_echoed_with_another_timestamp_still_maps_and_an_unknown_one_is_kept() -> None:
    last = sent()
    entries = [
        {"url": f"{photo_url(0)}?timestamp=2020-01-01T00:00:00", "status": "DOWNLOADING_FAILED"},
        {"url": "https://elsewhere.example/x.jpg", "status": "DOWNLOADING_FAILED"},
        {"url": photo_url(1), "status": "DOWNLOADING"},  # an unknown media status: tolerated, ignored
    ]
    failed = map_failed_media(entries, last)
    assert [(f.media_id, f.url) for f in failed] == [("m0", photo_url(0)), (None, None)]


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("CREATED", "confirmed"),
        ("UPDATED", "confirmed"),
        ("UPDATED_WITH_MEDIA_ERROR", "media_error"),
        ("CREATED_WITH_MEDIA_ERROR", "media_error"),
        ("UPDATING_FAILED", "classified_error"),
        ("CREATING_FAILED", "classified_error"),
        ("RECEIVING_FAILED", "classified_error"),
        ("RECEIVED", "processing"),
        ("UPDATING", "processing"),
        ("SOMETHING_NEW", "processing"),
        ("DELETED", "classified_error"),
    ],
)
def test_statuses_are_classified(name: str, outcome: str) -> None:
    reading = interpret_status(status(name), sent(), fresh(), POLICY)
    assert reading.outcome == outcome
    assert reading.ours


def test_a_deletion_is_confirmed_only_by_deleted() -> None:
    tombstone = sent(deleted=True)
    assert interpret_status(status("DELETED"), tombstone, fresh(), POLICY).outcome == "confirmed"
    assert interpret_status(status("UPDATED"), tombstone, fresh(), POLICY).outcome == "processing"
    assert (
        interpret_status(status("DELETING_FAILED"), tombstone, fresh(), POLICY).outcome == "classified_error"
    )


def test_a_status_older_than_our_send_is_not_our_answer() -> None:
    reading = interpret_status(status("UPDATED", at=T0 - timedelta(minutes=5)), sent(), fresh(), POLICY)
    assert (reading.outcome, reading.ours, reading.note) == (
        "processing",
        False,
        "the status is older than our send",
    )


def test_a_second_truncated_status_date_is_still_ours() -> None:
    last = sent(at=T0 + timedelta(milliseconds=700))
    assert interpret_status(status("UPDATED", at=T0), last, fresh(), POLICY).outcome == "confirmed"


def test_a_late_status_of_the_previous_send_is_recognised_by_its_revision() -> None:
    first = sent()
    state = decide(fresh(), status("UPDATED", revision=3), last=first).state
    second = sent(at=T0 + timedelta(minutes=10), stamp="2026-03-02T09:10:00", version=5)
    # AVIV finishes the first send's processing after the second send was made:
    late = status(
        "UPDATED_WITH_MEDIA_ERROR",
        at=T0 + timedelta(minutes=11),
        revision=3,
        failed={0: "DOWNLOADING_FAILED"},
        last=first,
    )
    reading = interpret_status(late, second, roll_to_send(state.copy(), second), POLICY)
    assert (reading.outcome, reading.ours) == ("processing", False)
    ours = status("UPDATED", at=T0 + timedelta(minutes=12), revision=4, last=second)
    assert interpret_status(ours, second, roll_to_send(state.copy(), second), POLICY).outcome == "confirmed"


def test_an_older_status_than_one_applied_is_ignored() -> None:
    state = decide(fresh(), status("UPDATED", at=T0 + timedelta(minutes=2))).state
    pushed_late = status("RECEIVED", at=T0 + timedelta(seconds=1))
    reading = interpret_status(pushed_late, sent(), roll_to_send(state.copy(), sent()), POLICY)
    assert not reading.ours and reading.outcome == "processing"


# ------------------------------------------------------------------------------ media errors


def test_a_media_error_is_notified_once_naming_the_media() -> None:
    first = decide(fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"}))
    assert [n.kind for n in first.notifications] == ["media_error"]
    notification = first.notifications[0]
    assert_valid(notification)
    assert notification.subject == "1 photo of listing ABC-12 could not be downloaded by SeLoger"
    assert notification.attributes() == {
        "ownerId": "owner-7",
        "listingId": LISTING,
        "kind": "media_error",
        "severity": "warning",
    }
    body = notification.body
    assert (body["status"], body["classifiedId"], body["ownerId"]) == (
        "UPDATED_WITH_MEDIA_ERROR",
        "cl-1",
        "owner-7",
    )
    assert [(m["id"], m["url"], m["title"], m["status"]) for m in body["media"]] == [
        ("m1", photo_url(1), "Séjour 1", "DOWNLOADING_FAILED")
    ]
    assert first.state.outbox == [notification]
    assert first.watch.due is not None  # an open problem is still looked at, slowly

    state = first.state
    state.outbox.clear()
    for minutes in range(2, 7):
        again = decide(
            state,
            status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"}),
            now=T0 + timedelta(minutes=minutes),
        )
        assert again.notifications == ()
        state = again.state


def test_the_subject_counts_and_names_portals() -> None:
    last = sent(count=4)
    last.body["portals"] = ["SL", "BD"]
    item = status(
        "UPDATED_WITH_MEDIA_ERROR",
        failed={0: "DOWNLOADING_FAILED", 3: "DOWNLOADING_FAILED"},
        last=last,
        portals=["SL", "BD"],
    )
    notification = decide(fresh(), item, last=last).notifications[0]
    assert (
        notification.subject
        == "2 photos of listing ABC-12 could not be downloaded by SeLoger and Belles Demeures"
    )
    assert notification.body["portalNames"] == ["SeLoger", "Belles Demeures"]


@pytest.mark.parametrize(
    ("portals", "named"),
    [
        (["BUCOM"], "Bureaux & Commerces"),
        (["SLC", "SLN", "SL"], "SeLoger Construire, SeLoger Neuf and SeLoger"),
    ],
)
def test_portal_codes_become_names(portals: list[str], named: str) -> None:
    failed = map_failed_media(
        [{"url": sent().body["media"][0]["url"], "status": "DOWNLOADING_FAILED"}], sent()
    )
    assert media_error_subject(LISTING, failed, portals).endswith(named)


def test_a_second_failing_photo_is_a_new_notification() -> None:
    first = decide(fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"}))
    state = first.state
    state.outbox.clear()
    resent = sent(at=T0 + timedelta(hours=1), stamp="2026-03-02T10:00:00", version=5)
    second = decide(
        state,
        status(
            "UPDATED_WITH_MEDIA_ERROR",
            at=T0 + timedelta(hours=1, seconds=20),
            failed={1: "DOWNLOADING_FAILED", 2: "DOWNLOADING_FAILED"},
            last=resent,
        ),
        last=resent,
        now=T0 + timedelta(hours=1, minutes=1),
    )
    assert [n.kind for n in second.notifications] == ["media_error"]
    assert [m["id"] for m in second.notifications[0].body["media"]] == ["m1", "m2"]
    assert second.notifications[0].id != first.notifications[0].id


def test_the_same_failing_photo_after_an_unrelated_resend_is_not_a_new_problem() -> None:
    """The fingerprint names the failing media (CRM id, URL without timestamp), not the send."""
    first = decide(fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"}))
    state = first.state
    state.outbox.clear()
    # Another photo's title changed: a new PUT, new send time; here even every timestamp is new.
    resent = sent(at=T0 + timedelta(hours=1), stamp="2026-03-02T10:00:00", version=5)
    resent.body["media"][2]["title"] = "Nouveau titre"
    again = decide(
        state,
        status(
            "UPDATED_WITH_MEDIA_ERROR",
            at=T0 + timedelta(hours=1, seconds=20),
            failed={1: "DOWNLOADING_FAILED"},
            last=resent,
        ),
        last=resent,
        now=T0 + timedelta(hours=1, minutes=1),
    )
    assert again.notifications == ()
    assert again.state.problems["aviv"].fingerprint == first.notifications[0].id
    assert again.state.problems["aviv"].notified


def test_a_problem_that_comes_back_after_its_resolution_is_announced_again_under_a_new_id() -> None:
    failing = {1: "DOWNLOADING_FAILED"}
    first = decide(fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed=failing))
    state = first.state
    state.outbox.clear()
    fixed = sent(at=T0 + timedelta(hours=1), stamp="2026-03-02T10:00:00", version=5)
    done = decide(
        state, status("UPDATED", at=T0 + timedelta(hours=1, seconds=5), last=fixed), last=fixed,
        now=T0 + timedelta(hours=1, minutes=1),
    )  # fmt: skip
    assert [n.kind for n in done.notifications] == ["resolved"]
    state = done.state
    state.outbox.clear()
    broken = sent(at=T0 + timedelta(hours=2), stamp="2026-03-02T11:00:00", version=6)
    back = decide(
        state, status("UPDATED_WITH_MEDIA_ERROR", at=T0 + timedelta(hours=2, seconds=5), failed=failing,
                      last=broken),
        last=broken, now=T0 + timedelta(hours=2, minutes=1),
    )  # fmt: skip
    [notification] = back.notifications
    assert notification.kind == "media_error" and notification.id != first.notifications[0].id
    state = back.state
    state.outbox.clear()
    refixed = sent(at=T0 + timedelta(hours=3), stamp="2026-03-02T12:00:00", version=7)
    again = decide(
        state, status("UPDATED", at=T0 + timedelta(hours=3, seconds=5), last=refixed), last=refixed,
        now=T0 + timedelta(hours=3, minutes=1),
    )  # fmt: skip
    [resolved] = again.notifications
    assert resolved.id == "resolved:" + notification.id != done.notifications[0].id


def test_a_fixed_photo_sends_one_resolved() -> None:
    state = decide(fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"})).state
    state.outbox.clear()
    resent = sent(at=T0 + timedelta(hours=1), version=5)
    done = decide(
        state,
        status("UPDATED", at=T0 + timedelta(hours=1, seconds=5), last=resent),
        last=resent,
        now=T0 + timedelta(hours=1, minutes=1),
    )
    assert [n.kind for n in done.notifications] == ["resolved"]
    resolved = done.notifications[0]
    assert_valid(resolved)
    assert resolved.subject == "Resolved: the media of listing ABC-12 are online on SeLoger"
    assert [r["kind"] for r in resolved.body["resolves"]] == ["media_error"]
    assert done.watch.stop
    state = done.state
    state.outbox.clear()
    again = decide(
        state,
        status("UPDATED", at=T0 + timedelta(hours=1, seconds=5), last=resent),
        last=resent,
        now=T0 + timedelta(hours=2),
    )
    assert again.notifications == ()


def test_a_confirmation_without_a_problem_is_silent() -> None:
    decision = decide(fresh(), status("CREATED"))
    assert decision.notifications == () and decision.watch.stop


# ------------------------------------------------------------------------------ classified errors, stuck


def test_a_classified_error_carries_avivs_message_and_details() -> None:
    item = status(
        "UPDATING_FAILED", message="The classified could not be updated", subStatusDetails="price is missing"
    )
    decision = decide(fresh(), item)
    [notification] = decision.notifications
    assert_valid(notification)
    assert notification.kind == "classified_error" and notification.severity == "error"
    assert notification.subject == "Listing ABC-12 could not be updated on SeLoger"
    assert notification.body["message"] == "The classified could not be updated"
    assert notification.body["subStatusDetails"] == "price is missing"
    assert "price is missing" in notification.body["summary"]
    assert decide(decision.state, item, now=T0 + timedelta(hours=3)).notifications == ()


def test_the_same_classified_error_after_another_send_is_not_repeated_but_a_new_one_is_told() -> None:
    item = status("UPDATING_FAILED", message="The classified could not be updated", subStatusDetails="x")
    first = decide(fresh(), item)
    state = first.state
    state.outbox.clear()
    resent = sent(at=T0 + timedelta(hours=1), version=5)
    later = T0 + timedelta(hours=1, seconds=5)
    same = decide(
        state, {**item, "statusDate": later.isoformat()}, last=resent, now=T0 + timedelta(hours=1, minutes=1)
    )
    assert same.notifications == ()
    other = decide(
        same.state,
        {**item, "statusDate": later.isoformat(), "subStatusDetails": "price is missing"},
        last=resent,
        now=T0 + timedelta(hours=1, minutes=2),
    )
    [notification] = other.notifications
    assert notification.kind == "classified_error" and notification.id != first.notifications[0].id


def test_stuck_is_about_one_send() -> None:
    policy = ReconcilePolicy(stuck_after=timedelta(hours=2))
    first = decide(fresh(), None, now=T0 + timedelta(hours=3), policy=policy)
    assert [n.kind for n in first.notifications] == ["stuck"]
    state = first.state
    state.outbox.clear()
    resent = sent(at=T0 + timedelta(hours=4), version=5)
    second = decide(state, None, last=resent, now=T0 + timedelta(hours=7), policy=policy)
    assert [n.kind for n in second.notifications] == ["stuck"]
    assert second.notifications[0].id != first.notifications[0].id


def test_processing_is_looked_at_again_with_growing_delays_then_reported_stuck_once() -> None:
    policy = ReconcilePolicy(stuck_after=timedelta(hours=2))
    state = fresh()
    delays = []
    now = T0 + timedelta(seconds=10)
    for _ in range(5):
        decision = decide(state, status("RECEIVED", at=T0 + timedelta(seconds=1)), now=now, policy=policy)
        assert decision.notifications == ()
        assert decision.watch.due is not None
        delays.append(decision.watch.due - now)
        state = decision.state
        now = decision.watch.due
    assert delays == sorted(delays) and delays[0] < delays[-1]

    stuck = decide(
        state,
        status("RECEIVED", at=T0 + timedelta(seconds=1)),
        now=T0 + timedelta(hours=2, minutes=1),
        policy=policy,
    )
    [notification] = stuck.notifications
    assert_valid(notification)
    assert notification.kind == "stuck"
    assert notification.subject == "Listing ABC-12 not confirmed by SeLoger after 2 h"
    state = stuck.state
    state.outbox.clear()
    assert decide(state, None, now=T0 + timedelta(hours=5), policy=policy).notifications == ()
    confirmed = decide(
        state,
        status("UPDATED", at=T0 + timedelta(hours=5)),
        now=T0 + timedelta(hours=5, minutes=1),
        policy=policy,
    )
    assert [n.kind for n in confirmed.notifications] == ["resolved"]


def test_a_processing_check_is_never_later_than_the_stuck_moment() -> None:
    policy = ReconcilePolicy(stuck_after=timedelta(minutes=3), recheck_base=timedelta(minutes=10))
    decision = decide(fresh(), None, now=T0 + timedelta(minutes=1), policy=policy)
    assert decision.watch.due == T0 + timedelta(minutes=3)


# ------------------------------------------------------------------------------ rejections


def rejection(version: int = 6) -> Rejection:
    return Rejection(
        listing_id=LISTING,
        desired_version=version,
        errors=(FieldError("/data/prices/0/amount", "must be > 0"),),
        detail="Validation failed",
        at=T0,
    )


def test_a_rejection_is_notified_once_and_resolved_by_a_later_send() -> None:
    first = reconcile_rejection(fresh(), rejection(), CONTEXT, now=T0, last_sent_version=4)
    [notification] = first.notifications
    assert_valid(notification)
    assert notification.kind == "sync_rejected"
    assert notification.body["errors"] == [{"pointer": "/data/prices/0/amount", "reason": "must be > 0"}]
    assert notification.subject == "Listing ABC-12 was refused by AVIV: 1 error to fix"
    state = first.state
    state.outbox.clear()
    assert reconcile_rejection(state, rejection(), CONTEXT, now=T0, last_sent_version=4).notifications == ()

    later = sent(at=T0 + timedelta(hours=1), version=7)
    done = decide(state, status("RECEIVED", at=T0 + timedelta(hours=1, seconds=1), last=later), last=later)
    assert [n.kind for n in done.notifications] == ["resolved"]
    assert done.notifications[0].subject == "Resolved: listing ABC-12 was accepted by AVIV"


def test_a_rejection_overtaken_by_a_later_send_is_not_announced() -> None:
    assert (
        reconcile_rejection(fresh(), rejection(6), CONTEXT, now=T0, last_sent_version=7).notifications == ()
    )


def test_a_rejection_ends_when_a_later_version_is_handled_even_without_a_send() -> None:
    """The CRM's fix gave back the body AVIV already holds: the sync skips it, the rejection is over."""
    policy = ReconcilePolicy(recheck_base=timedelta(minutes=1), open_problem_recheck=timedelta(hours=1))
    first = reconcile_rejection(
        fresh(), rejection(6), CONTEXT, now=T0, last_sent_version=5, handled_version=6, policy=policy
    )
    assert [n.kind for n in first.notifications] == ["sync_rejected"]
    assert first.watch.due == T0 + timedelta(minutes=1)  # still watched: nothing later handled yet
    state = first.state
    state.outbox.clear()
    waiting = reconcile_rejection(
        state, rejection(6), CONTEXT, now=T0 + timedelta(hours=4), last_sent_version=5, handled_version=6,
        policy=policy,
    )  # fmt: skip
    assert waiting.notifications == ()
    assert waiting.watch.due == T0 + timedelta(hours=5)  # looked at less and less often
    over = reconcile_rejection(
        waiting.state, rejection(6), CONTEXT, now=T0 + timedelta(hours=5), last_sent_version=5,
        handled_version=7, policy=policy,
    )  # fmt: skip
    [resolved] = over.notifications
    assert_valid(resolved)
    assert resolved.kind == "resolved" and resolved.subject == "Resolved: listing ABC-12 was accepted by AVIV"
    assert [r["kind"] for r in resolved.body["resolves"]] == ["sync_rejected"]
    assert over.watch.stop and "rejection" not in over.state.problems
    state = over.state
    state.outbox.clear()
    again = reconcile_rejection(
        state, rejection(6), CONTEXT, now=T0 + timedelta(hours=6), last_sent_version=5, handled_version=7
    )
    assert again.notifications == () and again.watch.stop


def test_a_later_version_refused_again_is_a_new_rejection_not_a_resolution() -> None:
    first = reconcile_rejection(
        fresh(), rejection(6), CONTEXT, now=T0, last_sent_version=5, handled_version=6
    )
    state = first.state
    state.outbox.clear()
    second = reconcile_rejection(
        state, rejection(7), CONTEXT, now=T0 + timedelta(hours=1), last_sent_version=5, handled_version=7
    )
    assert [n.kind for n in second.notifications] == ["sync_rejected"]
    assert not second.watch.stop


# ------------------------------------------------------------------------------ automatic media retry

RETRY = ReconcilePolicy(auto_media_retry=True, retry_attempts=3, retry_backoff=timedelta(minutes=5))
FAILING = {1: "DOWNLOADING_FAILED"}


def test_retry_versions_keep_the_crm_version() -> None:
    assert retry_media_version("v3", 1) == "v3#retry1"
    assert retry_media_version("v3#retry1", 2) == "v3#retry2"
    assert retry_media_version(None, 1) == "#retry1"
    assert base_media_version("v3#retry2") == "v3"
    assert base_media_version("#retry1") is None
    assert base_media_version("v#retry") == "v#retry"


def test_a_usable_url_is_retried_silently() -> None:
    state = fresh()
    reading_item = status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING)
    last = sent()
    reading = interpret_status(reading_item, last, roll_to_send(state.copy(), last), RETRY)
    due = media_due_for_check(roll_to_send(state.copy(), last), reading, T0, RETRY)
    assert [f.media_id for f in due] == ["m1"]
    decision = decide(
        state,
        reading_item,
        policy=RETRY,
        checks={"m1": UrlCheck(True, "answers 200 with content-type image/jpeg")},
    )
    assert decision.notifications == ()
    assert [f.media_id for f in decision.retry_media] == ["m1"]
    assert decision.state.retries["m1"].attempts == 1
    assert decision.watch.due == T0 + timedelta(minutes=1) + timedelta(minutes=5)


def test_an_unreachable_url_is_notified_with_what_it_answered_then_retried_once_fixed() -> None:
    first = decide(
        fresh(),
        status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING),
        policy=RETRY,
        checks={"m1": UrlCheck(False, "answers 404")},
    )
    [notification] = first.notifications
    assert_valid(notification)
    assert notification.body["media"][0]["reason"] == "the URL answers 404"
    assert first.retry_media == ()
    state = first.state
    state.outbox.clear()
    # not due yet: nothing checked, nothing repeated
    waiting = decide(
        state, status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING), now=T0 + timedelta(minutes=2), policy=RETRY
    )
    assert waiting.notifications == () and waiting.retry_media == ()
    fixed = decide(
        waiting.state,
        status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING),
        now=T0 + timedelta(minutes=10),
        policy=RETRY,
        checks={"m1": UrlCheck(True, "answers 200 with content-type image/jpeg")},
    )
    assert fixed.notifications == ()
    assert [f.media_id for f in fixed.retry_media] == ["m1"]
    resent = sent(at=T0 + timedelta(minutes=11), stamp="2026-03-02T09:11:00", version=5)
    done = decide(
        fixed.state,
        status("UPDATED", at=T0 + timedelta(minutes=11, seconds=3), last=resent),
        last=resent,
        now=T0 + timedelta(minutes=12),
        policy=RETRY,
    )
    assert [n.kind for n in done.notifications] == ["resolved"]
    assert done.state.retries == {}


def test_retries_stop_after_the_attempts_and_the_owner_is_told() -> None:
    state = fresh()
    now = T0 + timedelta(minutes=1)
    ok = UrlCheck(True, "answers 200 with content-type image/jpeg")
    for attempt in range(1, 4):
        last = sent(at=now - timedelta(seconds=30), stamp=f"2026-03-02T09:0{attempt}:00", version=4 + attempt)
        item = status("UPDATED_WITH_MEDIA_ERROR", at=now - timedelta(seconds=20), failed=FAILING, last=last)
        decision = decide(state, item, last=last, now=now, policy=RETRY, checks={"m1": ok})
        assert decision.notifications == () and len(decision.retry_media) == 1
        assert decision.state.retries["m1"].attempts == attempt
        state = decision.state
        now = now + timedelta(hours=2)
    last = sent(at=now - timedelta(seconds=30), stamp="2026-03-02T09:09:00", version=9)
    item = status("UPDATED_WITH_MEDIA_ERROR", at=now - timedelta(seconds=20), failed=FAILING, last=last)
    exhausted = decide(state, item, last=last, now=now, policy=RETRY, checks={"m1": ok})
    assert exhausted.retry_media == ()
    [notification] = exhausted.notifications
    assert notification.body["media"][0]["reason"] == (
        "still not downloaded after 3 automatic retries (the URL answers 200 with content-type image/jpeg)"
    )
    reading = interpret_status(item, last, roll_to_send(exhausted.state.copy(), last), RETRY)
    assert media_due_for_check(exhausted.state, reading, now + timedelta(days=1), RETRY) == []


def test_a_media_announced_unreachable_is_not_announced_again_when_its_retries_run_out() -> None:
    unreachable = decide(
        fresh(),
        status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING),
        policy=RETRY,
        checks={"m1": UrlCheck(False, "answers 404")},
    )
    assert [n.kind for n in unreachable.notifications] == ["media_error"]
    state = unreachable.state
    state.outbox.clear()
    ok = UrlCheck(True, "answers 200 with content-type image/jpeg")
    now = T0 + timedelta(hours=1)
    for attempt in range(1, 5):  # three silent re-stamped sends, then the retries are exhausted
        last = sent(at=now - timedelta(seconds=30), stamp=f"2026-03-02T1{attempt}:00:00", version=4 + attempt)
        item = status("UPDATED_WITH_MEDIA_ERROR", at=now - timedelta(seconds=20), failed=FAILING, last=last)
        decision = decide(state, item, last=last, now=now, policy=RETRY, checks={"m1": ok})
        assert decision.notifications == ()
        assert len(decision.retry_media) == (1 if attempt < 4 else 0)
        state = decision.state
        now += timedelta(hours=2)
    assert state.retries["m1"].exhausted
    assert state.problems["aviv"].fingerprint == unreachable.notifications[0].id


def test_attempts_are_per_media_version() -> None:
    decision = decide(
        fresh(),
        status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING),
        policy=RETRY,
        checks={"m1": UrlCheck(True, "ok")},
    )
    retry = decision.state.retries["m1"]
    assert retry.attempts == 1 and retry.base_version == "v1"
    last = sent(at=T0 + timedelta(hours=1), stamp="2026-03-02T10:00:00", version=6)
    last.media[1] = SentMedia("m1", photo_url(1), "v1#retry1", "2026-03-02T10:00:00", 1)
    item = status(
        "UPDATED_WITH_MEDIA_ERROR", at=T0 + timedelta(hours=1, seconds=5), failed=FAILING, last=last
    )
    again = decide(
        decision.state,
        item,
        last=last,
        now=T0 + timedelta(hours=2),
        policy=RETRY,
        checks={"m1": UrlCheck(True, "ok")},
    )
    assert again.state.retries["m1"].attempts == 2  # the same CRM version: the count goes on
    last.media[1] = SentMedia("m1", photo_url(1), "v2", "2026-03-02T10:00:00", 1)
    new_version = decide(
        again.state,
        item,
        last=last,
        now=T0 + timedelta(hours=3),
        policy=RETRY,
        checks={"m1": UrlCheck(True, "ok")},
    )
    assert new_version.state.retries["m1"].attempts == 1  # the CRM replaced the file: a fresh budget


def test_with_retry_versions_renews_only_what_still_failed() -> None:
    media = [
        Media("m0", photo_url(0), "PICTURE", version="v0"),
        Media("m1", photo_url(1), "PICTURE", version="v1"),
        Media("m2", "https://media.crm.example/new.jpg", "PICTURE", version="v9"),
    ]
    last = sent()
    failed = map_failed_media(
        status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED", 2: "DOWNLOADING_FAILED"})[
            "mediaStatuses"
        ],
        last,
    )
    renewed_media, renewed = with_retry_versions(media, failed, {"m1": 2, "m2": 1})
    assert renewed == ["m1"]  # m2's URL changed in the CRM meanwhile: its own change re-stamps it
    assert [m.version for m in renewed_media] == ["v0", "v1#retry2", "v9"]


# ------------------------------------------------------------------------------ subjects and state


def test_subjects_are_ascii_and_short_even_for_long_accented_ids() -> None:
    long_id = "Résidence-Élysée-" + "x" * 200
    failed = map_failed_media(
        [{"url": sent().body["media"][0]["url"], "status": "DOWNLOADING_FAILED"}], sent()
    )
    subject = media_error_subject(long_id, failed, ["SL"])
    assert len(subject) <= SUBJECT_MAX_LENGTH and subject.isascii()
    assert subject.startswith("1 photo of listing Residence-Elysee-") and subject.endswith(
        "downloaded by SeLoger"
    )
    assert ascii_subject("Ligne\nsuivante\tfin") == "Ligne suivante fin"


def test_the_state_survives_a_round_trip() -> None:
    decision = decide(
        fresh(),
        status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING),
        policy=RETRY,
        checks={"m1": UrlCheck(False, "answers 404")},
    )
    restored = StatusState.from_dict(json.loads(json.dumps(decision.state.to_dict())), rev=3)
    assert restored.to_dict() == decision.state.to_dict()
    assert restored.rev == 3 and restored.outbox[0].kind == "media_error"


def test_the_documented_examples_follow_the_schema() -> None:
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    examples = [b for b in re.findall(r"```json\n(.*?)```", doc, re.S) if '"schemaVersion"' in b]
    assert len(examples) >= 2
    for example in examples:
        errors = [e.message for e in VALIDATOR.iter_errors(json.loads(example))]
        assert not errors, errors


def test_a_status_of_the_next_send_applied_early_does_not_make_that_sends_statuses_look_old() -> None:
    """A push for a new send can be applied while the previous send is still the recorded one."""
    first = sent()
    state = decide(fresh(), status("UPDATED", revision=3, last=first), last=first).state
    second = sent(at=T0 + timedelta(minutes=10), stamp="2026-03-02T09:10:00", version=5)
    early = status("UPDATED", at=T0 + timedelta(minutes=10, seconds=3), revision=4, last=second)
    state = decide(
        state, early, last=first, now=T0 + timedelta(minutes=10, seconds=4)
    ).state  # SENT not yet written
    reading = interpret_status(early, second, roll_to_send(state.copy(), second), POLICY)
    assert (reading.outcome, reading.ours) == ("confirmed", True)


def test_a_due_media_left_unchecked_keeps_the_listing_due() -> None:
    """A run checks a few URLs per listing; the others must come back next run, not in an hour."""
    item = status("UPDATED_WITH_MEDIA_ERROR", failed={0: "DOWNLOADING_FAILED", 1: "DOWNLOADING_FAILED"})
    decision = decide(fresh(), item, policy=RETRY, checks={"m0": UrlCheck(False, "answers 404")})
    assert decision.watch.due == T0 + timedelta(minutes=1)  # now: m1 is still to be checked
    assert [m["id"] for m in decision.notifications[0].body["media"]] == ["m0"]
