"""Reminders: each open problem told again, valid against the notification schema, nothing changed."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.core.reconcile.scenarios import (
    CONTEXT,
    FAILING,
    POLICY,
    T0,
    assert_valid,
    decide,
    fresh,
    sent,
    status,
)
from tests.unit.core.reconcile.test_rejection import rejection
from vitrine.core.reconcile.aviv_status import interpret_status, roll_to_send
from vitrine.core.reconcile.rejection import reconcile_rejection
from vitrine.core.reconcile.reminders import ReminderFacts, reminder_notifications

LATER = T0 + timedelta(days=2)


def test_an_open_media_error_is_told_again_under_the_same_id_with_the_failing_media() -> None:
    item = status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING)
    first = decide(fresh(), item)
    [original] = first.notifications
    reading = interpret_status(item, sent(), roll_to_send(first.state.copy(), sent()), POLICY)
    before = first.state.to_dict()
    reminders = reminder_notifications(first.state, CONTEXT, ReminderFacts(reading=reading), LATER)
    [reminder] = reminders.notifications
    assert_valid(reminder)
    assert reminder.id == original.id and reminder.kind == "media_error"
    assert reminder.body["reminder"] is True and reminder.body["summary"].startswith("Reminder: ")
    assert [m["id"] for m in reminder.body["media"]] == [m["id"] for m in original.body["media"]] == ["m1"]
    assert first.state.to_dict() == before, "a reminder changes nothing"


def test_a_media_error_avivs_latest_status_no_longer_shows_is_left_out_with_why() -> None:
    first = decide(fresh(), status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING))
    reminders = reminder_notifications(first.state, CONTEXT, ReminderFacts(reading=None), LATER)
    assert reminders.notifications == []
    [why] = reminders.left_out
    assert why.startswith("media_error ") and "no longer reports" in why


def test_a_rejection_is_told_again_with_its_errors() -> None:
    state = reconcile_rejection(fresh(), rejection(), CONTEXT, now=T0, last_sent_version=4).state
    reminders = reminder_notifications(state, CONTEXT, ReminderFacts(rejection=rejection()), LATER)
    [reminder] = reminders.notifications
    assert_valid(reminder)
    assert reminder.body["status"] == "REJECTED"
    assert reminder.body["errors"] == [{"pointer": "/data/prices/0/amount", "reason": "must be > 0"}]


def test_a_stuck_send_is_told_again_with_its_age_now() -> None:
    late = T0 + timedelta(hours=3)
    state = decide(fresh(), None, now=late).state
    reminders = reminder_notifications(state, CONTEXT, ReminderFacts(), LATER)
    [reminder] = reminders.notifications
    assert_valid(reminder)
    assert reminder.kind == "stuck" and reminder.body["ageSeconds"] == int((LATER - T0).total_seconds())


def test_a_listing_without_open_problems_has_nothing_to_tell() -> None:
    assert reminder_notifications(fresh(), CONTEXT, ReminderFacts(), LATER).notifications == []
