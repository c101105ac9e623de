"""Deciding on a recorded rejection: a ``sync_rejected`` problem, told once, over once a later
desired version was handled without being refused."""

from __future__ import annotations

from datetime import datetime, timedelta

from vitrine.core.errors import FieldError
from vitrine.core.model import Rejection
from vitrine.core.moments import format_moment
from vitrine.core.reconcile.decision import Decision, WatchUpdate, decided, take_owner
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.reconcile.problems import SLOT_REJECTION, Closing, fingerprint, open_problem, resolve
from vitrine.core.reconcile.records import ListingContext, Notification, OpenProblem, StatusState
from vitrine.core.reconcile.wording import build_notification, notification_body, rejected_subject
from vitrine.core.refusals import FIX_THE_FIELDS

# The status of a sync_rejected notification: AVIV never processed anything.
REJECTED_STATUS = "REJECTED"


def reconcile_rejection(
    state: StatusState,
    rejection: Rejection,
    context: ListingContext,
    *,
    now: datetime,
    last_sent_version: int | None,
    handled_version: int | None = None,
    policy: ReconcilePolicy | None = None,
) -> Decision:
    """Turn a rejection the sync engine recorded into a ``sync_rejected`` problem (told once), and
    end it once a later desired version was handled without being refused.

    ``handled_version`` is the DESIRED item's ``sentVersion``: the highest version the sync engine
    sent, skipped or refused. A refusal replaces ``rejection``, so a higher handled version means a
    later one went through — possibly without any send, when the CRM's fix made the body identical
    to what AVIV already holds. A rejection overtaken before it was announced is never announced.
    Until then the watch update says when to look again (the rejection stays in the watch set).
    """
    policy = policy or ReconcilePolicy()
    state = state.copy()
    take_owner(state, context)
    handled = max((v for v in (last_sent_version, handled_version) if v is not None), default=None)
    if handled is not None and handled > rejection.desired_version:
        closing = Closing(now, state.last_status or "ACCEPTED")
        return decided(state, resolve(state, SLOT_REJECTION, context, closing), WatchUpdate(None))
    notifications = _open_rejection(state, rejection, context, now)
    return decided(state, notifications, WatchUpdate(rejection_recheck(rejection.at or now, now, policy)))


def _open_rejection(
    state: StatusState, rejection: Rejection, context: ListingContext, now: datetime
) -> list[Notification]:
    """Open the ``rejection`` slot's problem with the errors to fix, and tell the owner once."""
    identity = {
        "desiredVersion": rejection.desired_version,
        "errors": [e.to_dict() for e in rejection.errors],
        "detail": rejection.detail,
    }
    problem_id = fingerprint("sync_rejected", identity)
    subject = rejected_subject(context.listing_id, len(rejection.errors))
    reasons = "; ".join(f"{e.pointer or '/'}: {e.reason}" for e in rejection.errors[:10])
    action = rejection.action or FIX_THE_FIELDS
    body = notification_body(
        context,
        kind="sync_rejected",
        notification_id=problem_id,
        status=REJECTED_STATUS,
        detected_at=rejection.at or now,
        subject=subject,
        summary=f"{subject}. {rejection.detail}" + (f" - {reasons}" if reasons else "") + f". {action}",
        extra={
            "desiredVersion": rejection.desired_version,
            "errors": [_error_dict(e) for e in rejection.errors],
            "detail": rejection.detail,
            "action": action,
        },
    )
    problem = OpenProblem(
        kind="sync_rejected",
        fingerprint=problem_id,
        detected_at=format_moment(rejection.at or now),
        subject=subject,
        notified=False,
        status=REJECTED_STATUS,
        desired_version=rejection.desired_version,
    )
    notification = build_notification(context, "sync_rejected", problem_id, subject, body)
    return open_problem(state, SLOT_REJECTION, problem, notification)


def rejection_recheck(rejected_at: datetime, now: datetime, policy: ReconcilePolicy) -> datetime:
    """When to look again for the later version that ends a rejection: soon while the owner is likely
    fixing it, then less often — after half the rejection's age, between ``recheck_base`` and
    ``open_problem_recheck`` (no AVIV call: two DynamoDB reads)."""
    age = max(timedelta(0), now - rejected_at)
    delay = min(policy.open_problem_recheck, max(policy.recheck_base, age / 2))
    return now + delay


def _error_dict(error: FieldError) -> dict[str, str]:
    return {"pointer": error.pointer, "reason": error.reason}
