"""Deciding on a send's outcome: problems, fingerprints and notifications, told once and resolved once."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.core.reconcile.scenarios import (
    LISTING,
    T0,
    assert_valid,
    decide,
    fresh,
    photo_url,
    sent,
    status,
)
from vitrine.core.reconcile.media_retry import UrlCheck
from vitrine.core.reconcile.policy import ReconcilePolicy

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


# ------------------------------------------------------------------------------ vague media errors


def vague(name: str = "UPDATED_WITH_MEDIA_ERROR", **media_statuses: object) -> dict[str, object]:
    """A media error whose ``mediaStatuses`` is ``media_statuses["value"]`` (left out when not given)."""
    item = status(name, subStatusDetails="1 media could not be processed")
    if "value" in media_statuses:
        item["mediaStatuses"] = media_statuses["value"]
    return item


def in_progress(*values: str) -> list[dict[str, str]]:
    last = sent()
    return [
        {"url": entry["url"], "status": value}
        for entry, value in zip(last.body["media"], values, strict=False)
    ]


def test_a_media_error_naming_no_media_is_still_told_once_as_unlocated() -> None:
    for item in (
        vague(),
        vague(value=[]),
        vague("CREATED_WITH_MEDIA_ERROR", value=in_progress("ACCEPTED", "DOWNLOADING", "DOWNLOADED")),
        vague(value=in_progress("UPDATED", "SOMETHING_NEW")),
    ):
        first = decide(fresh(), item)
        [notification] = first.notifications
        assert_valid(notification)
        assert notification.kind == "media_error"
        assert (
            notification.subject == "Listing ABC-12 has a media problem on SeLoger that AVIV did not locate"
        )
        body = notification.body
        assert body["unlocated"] is True and body["media"] == []
        assert "without naming a failing media" in body["summary"]
        assert "1 media could not be processed" in body["summary"]
        state = first.state
        state.outbox.clear()
        assert decide(state, item, now=T0 + timedelta(minutes=5)).notifications == ()


def test_unknown_media_statuses_are_never_failures() -> None:
    item = status(
        "UPDATED_WITH_MEDIA_ERROR",
        mediaStatuses=[*in_progress("ACCEPTED", "DOWNLOADING"), {"url": sent().body["media"][2]["url"],
                                                               "status": "DOWNLOADING_FAILED"}],
    )  # fmt: skip
    [notification] = decide(fresh(), item).notifications
    assert [m["id"] for m in notification.body["media"]] == ["m2"]
    assert "unlocated" not in notification.body


def test_the_unlocated_problem_has_its_own_fingerprint_and_is_resolved_like_the_others() -> None:
    unlocated = decide(fresh(), vague())
    located = decide(fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"}))
    assert unlocated.notifications[0].id != located.notifications[0].id
    state = unlocated.state
    state.outbox.clear()
    resent = sent(at=T0 + timedelta(hours=1), version=5)
    done = decide(
        state,
        status("UPDATED", at=T0 + timedelta(hours=1, seconds=5), last=resent),
        last=resent,
        now=T0 + timedelta(hours=1, minutes=1),
    )
    [resolved] = done.notifications
    assert_valid(resolved)
    assert resolved.kind == "resolved" and resolved.id == "resolved:" + unlocated.notifications[0].id


def test_an_unlocated_problem_later_located_is_a_new_notification() -> None:
    state = decide(fresh(), vague()).state
    state.outbox.clear()
    located = decide(
        state,
        status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"}),
        now=T0 + timedelta(minutes=3),
    )
    [notification] = located.notifications
    assert [m["id"] for m in notification.body["media"]] == ["m1"]


# ------------------------------------------------------------------------------ what to do


def test_a_download_failure_says_what_aviv_documents_as_the_fix() -> None:
    [notification] = decide(
        fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"})
    ).notifications
    fix = notification.body["fix"]
    assert "answer with its file" in fix and "timestamp changes" in fix and "new version" in fix
    assert fix in notification.body["summary"]
    assert "by itself" not in fix  # automatic retry is off


def test_with_automatic_retry_the_fix_says_what_vitrine_does_by_itself() -> None:
    retrying = ReconcilePolicy(auto_media_retry=True, retry_attempts=3)
    decision = decide(
        fresh(),
        status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED"}),
        policy=retrying,
        checks={"m1": UrlCheck(False, "answers 404")},
    )
    [notification] = decision.notifications
    assert_valid(notification)
    assert "re-sends the media with a new timestamp by itself" in notification.body["fix"]
    assert "up to 3 times" in notification.body["fix"]


def test_a_processing_failure_asks_for_a_valid_file() -> None:
    [notification] = decide(
        fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed={0: "CREATING_FAILED"})
    ).notifications
    assert "valid image or video" in notification.body["fix"]
    assert "timestamp changes" not in notification.body["fix"]
