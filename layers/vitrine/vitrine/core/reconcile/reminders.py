"""Reminders: the owner's open problems told again, on an operator's request (``vitrine renotify``).

Reconcile tells an owner of a problem once; an owner who lost that message (a bounced e-mail, a
subscription added later) gets each open problem again as the same notification (same id: it is the
same problem) marked ``reminder``, with what is known now: AVIV's latest status for a send's
problem, the stored refusal for a rejection. Nothing about the problems changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vitrine.core.model import Rejection
from vitrine.core.moments import parse_moment
from vitrine.core.reconcile.aviv_status import StatusReading
from vitrine.core.reconcile.records import ListingContext, Notification, OpenProblem, StatusState
from vitrine.core.reconcile.wording import build_notification, media_entry, notification_body


@dataclass(frozen=True, slots=True)
class ReminderFacts:
    """What is known now: AVIV's latest status of the last send, read just now, and the refusal."""

    reading: StatusReading | None = None
    rejection: Rejection | None = None


@dataclass(frozen=True, slots=True)
class Reminders:
    """The notifications to publish, and each open problem left out with why."""

    notifications: list[Notification] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def _media_error(problem: OpenProblem, facts: ReminderFacts, now: datetime) -> dict[str, Any] | str:
    failed = facts.reading.failed_media if facts.reading is not None else ()
    mine = [f for f in failed if not problem.media_ids or f.media_id in problem.media_ids]
    if not mine:
        return "AVIV no longer reports a failed media (reconcile will resolve it)"
    return {"media": [media_entry(f, f.default_reason()) for f in mine]}


def _classified_error(problem: OpenProblem, facts: ReminderFacts, now: datetime) -> dict[str, Any] | str:
    message = facts.reading.message if facts.reading is not None else None
    return {"message": message or problem.subject}


def _stuck(problem: OpenProblem, facts: ReminderFacts, now: datetime) -> dict[str, Any] | str:
    sent_at = parse_moment(problem.sent_at)
    if sent_at is None:
        return "the stuck send's time is unknown"
    return {"ageSeconds": max(0, int((now - sent_at).total_seconds()))}


def _sync_rejected(problem: OpenProblem, facts: ReminderFacts, now: datetime) -> dict[str, Any] | str:
    rejection = facts.rejection
    if rejection is None or rejection.desired_version != problem.desired_version:
        return "the refusal is no longer stored (a later version was handled)"
    return {
        "errors": [{"pointer": e.pointer, "reason": e.reason} for e in rejection.errors],
        "detail": rejection.detail,
    }


_DETAILS: dict[str, Callable[[OpenProblem, ReminderFacts, datetime], dict[str, Any] | str]] = {
    "media_error": _media_error,
    "classified_error": _classified_error,
    "stuck": _stuck,
    "sync_rejected": _sync_rejected,
}


def _reminder(
    problem: OpenProblem, context: ListingContext, facts: ReminderFacts, now: datetime
) -> Notification | str:
    details = _DETAILS[problem.kind](problem, facts, now)
    if isinstance(details, str):
        return details
    known = {"reminder": True, "sentAt": problem.sent_at, "desiredVersion": problem.desired_version}
    body = notification_body(
        context,
        kind=problem.kind,
        notification_id=problem.fingerprint,
        status=problem.status or "NONE",
        detected_at=parse_moment(problem.detected_at) or now,
        subject=problem.subject,
        summary=f"Reminder: {problem.subject}.",
        reading=facts.reading if problem.kind != "sync_rejected" else None,
        extra={**{k: v for k, v in known.items() if v is not None}, **details},
    )
    return build_notification(context, problem.kind, problem.fingerprint, problem.subject, body)


def reminder_notifications(
    state: StatusState, context: ListingContext, facts: ReminderFacts, now: datetime
) -> Reminders:
    """One notification per open problem of the listing, in slot order."""
    reminders = Reminders()
    for slot in sorted(state.problems):
        problem = state.problems[slot]
        made = _reminder(problem, context, facts, now) if problem.kind in _DETAILS else "not a problem kind"
        if isinstance(made, str):
            reminders.left_out.append(f"{problem.kind} {problem.fingerprint}: {made}")
        else:
            reminders.notifications.append(made)
    return reminders
