"""Deciding on a recorded rejection: told once, over once a later version is handled."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.core.reconcile.scenarios import (
    CONTEXT,
    LISTING,
    T0,
    assert_valid,
    decide,
    fresh,
    sent,
    status,
)
from vitrine.core.errors import FieldError
from vitrine.core.model import Rejection
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.reconcile.rejection import reconcile_rejection


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
