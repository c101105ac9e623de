"""Quality warnings told to the owner: one quality_warning per distinct set, a resolved when none is left."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from tests.unit.core.reconcile.scenarios import CONTEXT, T0, assert_valid, decide, fresh, sent, status
from vitrine.core.model import LastSent
from vitrine.core.reconcile.aviv_status import StatusReading
from vitrine.core.reconcile.quality_notice import reconcile_quality, sent_media
from vitrine.core.reconcile.records import StatusState


def sending(minutes: int = 0, count: int = 4, **media: dict[str, Any]) -> LastSent:
    """A send ``minutes`` after T0 whose media ``m<i>`` get the fields ``media["m<i>"]``."""
    at = T0 + timedelta(minutes=minutes)
    last = sent(count=count, at=at, stamp=at.strftime("%Y-%m-%dT%H:%M:%S"), version=4 + minutes)
    for index, item in enumerate(last.body["media"]):
        item.update(media.get(f"m{index}", {}))
    return last


def seen(state: StatusState, last: LastSent, minutes_later: int = 1) -> Any:
    """Reconcile ``last`` ``minutes_later`` after T0, AVIV having confirmed it; the outbox is taken
    as published."""
    at = T0 + timedelta(minutes=minutes_later)
    decision = decide(state, status("UPDATED", at=at, last=last), last=last, now=at)
    decision.state.outbox.clear()
    return decision


PLAN_FIRST = {"m0": {"category": "FLOOR_PLAN"}}
TWO_VIDEOS = {"m2": {"mediaType": "VIDEO"}, "m3": {"mediaType": "VIDEO"}}


def test_the_owner_is_told_once_of_the_set_of_warnings() -> None:
    last = sending(**PLAN_FIRST, **TWO_VIDEOS)
    first = seen(fresh(), last)
    [notification] = first.notifications
    assert_valid(notification)
    assert notification.kind == "quality_warning" and notification.severity == "warning"
    assert notification.id.startswith("quality_warning:")
    assert notification.subject == "2 media of listing ABC-12 will not show as intended on SeLoger"
    assert notification.attributes()["kind"] == "quality_warning"
    warnings = notification.body["warnings"]
    assert [(w["code"], w["mediaId"], w["pointer"]) for w in warnings] == [
        ("poor_first_picture", "m0", "/media/0"),
        ("extra_video", "m3", "/media/3"),
    ]
    assert "FLOOR_PLAN" in notification.body["summary"] and "never reorders" in notification.body["summary"]
    again = seen(first.state, last, minutes_later=5)
    assert again.notifications == ()


def test_an_unchanged_set_is_not_told_again_after_another_send() -> None:
    state = seen(fresh(), sending(**PLAN_FIRST)).state
    retitled = sending(10, **PLAN_FIRST, m1={"title": "Nouveau titre"})
    assert seen(state, retitled, minutes_later=11).notifications == ()


def test_a_changed_set_is_a_new_notification() -> None:
    first = seen(fresh(), sending(**PLAN_FIRST))
    second = seen(first.state, sending(10, **PLAN_FIRST, **TWO_VIDEOS), minutes_later=11)
    [notification] = second.notifications
    assert notification.kind == "quality_warning" and notification.id != first.notifications[0].id
    assert len(notification.body["warnings"]) == 2


def test_warnings_gone_send_one_resolved_and_coming_back_is_told_again() -> None:
    first = seen(fresh(), sending(**PLAN_FIRST))
    fixed = seen(first.state, sending(10), minutes_later=11)
    [resolved] = fixed.notifications
    assert_valid(resolved)
    assert resolved.kind == "resolved" and resolved.id == "resolved:" + first.notifications[0].id
    assert resolved.subject == "Resolved: the media of listing ABC-12 show as intended on SeLoger"
    assert [r["kind"] for r in resolved.body["resolves"]] == ["quality_warning"]
    assert seen(fixed.state, sending(20), minutes_later=21).notifications == ()
    back = seen(fixed.state, sending(30, **PLAN_FIRST), minutes_later=31)
    [notification] = back.notifications
    assert notification.kind == "quality_warning" and notification.id != first.notifications[0].id


def test_warnings_are_told_before_aviv_answers_the_send() -> None:
    last = sending(**TWO_VIDEOS)
    decision = decide(fresh(), None, last=last, now=T0 + timedelta(minutes=1))
    [notification] = decision.notifications
    assert_valid(notification)
    assert notification.body["status"] == "SENT"


def test_a_deleted_listing_closes_its_warnings_silently() -> None:
    state = seen(fresh(), sending(**PLAN_FIRST)).state
    tombstone = replace(sending(10), deleted=True, body={})
    gone = StatusReading("confirmed", status="DELETED", ours=True)
    notifications = reconcile_quality(state, CONTEXT, tombstone, gone, T0 + timedelta(minutes=11))
    assert notifications == [] and "quality" not in state.problems


def test_the_sent_media_are_read_back_with_the_crm_ids() -> None:
    media = sent_media(sending(**TWO_VIDEOS))
    assert [(m.id, m.media_type) for m in media] == [
        ("m0", "PICTURE"), ("m1", "PICTURE"), ("m2", "VIDEO"), ("m3", "VIDEO"),
    ]  # fmt: skip
    assert all("timestamp" not in m.url for m in media)
