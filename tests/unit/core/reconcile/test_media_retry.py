"""Automatic media retry: checking failed media URLs, re-stamping them, telling the owner when it ends."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.core.reconcile.scenarios import (
    FAILING,
    RETRY,
    T0,
    assert_valid,
    decide,
    fresh,
    photo_url,
    sent,
    status,
)
from vitrine.core.model import Media, SentMedia, base_media_version, retry_media_version
from vitrine.core.reconcile.aviv_status import interpret_status, map_failed_media, roll_to_send
from vitrine.core.reconcile.media_retry import UrlCheck, media_due_for_check, with_retry_versions


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


def test_a_due_media_left_unchecked_keeps_the_listing_due() -> None:
    """A run checks a few URLs per listing; the others must come back next run, not in an hour."""
    item = status("UPDATED_WITH_MEDIA_ERROR", failed={0: "DOWNLOADING_FAILED", 1: "DOWNLOADING_FAILED"})
    decision = decide(fresh(), item, policy=RETRY, checks={"m0": UrlCheck(False, "answers 404")})
    assert decision.watch.due == T0 + timedelta(minutes=1)  # now: m1 is still to be checked
    assert [m["id"] for m in decision.notifications[0].body["media"]] == ["m0"]
