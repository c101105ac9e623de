"""Deciding on AVIV's reading of the last send: one function per outcome.

``confirmed`` resolves the send's problem; ``classified_error`` and ``media_error`` open (or keep)
it, media errors first going through automatic retry; ``processing`` looks again with backoff and
reports the send ``stuck`` once it is old. A later version going through also ends a rejection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vitrine.core.model import LastSent
from vitrine.core.moments import format_moment, parse_moment
from vitrine.core.reconcile.aviv_status import FailedMedia, StatusReading, roll_to_send
from vitrine.core.reconcile.decision import Decision, WatchUpdate, decided, take_owner
from vitrine.core.reconcile.media_retry import RetryTriage, UrlCheck, triage_failed_media
from vitrine.core.reconcile.policy import ReconcilePolicy, backoff
from vitrine.core.reconcile.problems import (
    SLOT_AVIV,
    SLOT_REJECTION,
    Closing,
    SendProblem,
    SendSeen,
    close_slot,
    fingerprint,
    media_identity,
    open_send_problem,
    resolve,
    send_problem,
    slot_identity,
)
from vitrine.core.reconcile.quality_notice import reconcile_quality
from vitrine.core.reconcile.records import ListingContext, Notification, StatusState
from vitrine.core.reconcile.wording import (
    classified_error_subject,
    media_entry,
    media_error_subject,
    media_fix,
    media_label,
    stuck_subject,
    unlocated_media_subject,
    unlocated_media_summary,
)


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What one outcome of a send decided: whom to tell, when to look again, what to re-send."""

    notifications: list[Notification]
    watch: WatchUpdate
    retry_media: Sequence[FailedMedia] = ()


def _recheck(state: StatusState, now: datetime, base: timedelta, cap: timedelta) -> datetime:
    due = now + backoff(base, cap, state.checks)
    state.checks += 1
    return due


def _slow_recheck(state: StatusState, now: datetime, policy: ReconcilePolicy) -> WatchUpdate:
    """A listing with an open problem is still looked at, slowly (it may clear on AVIV's side)."""
    return WatchUpdate(_recheck(state, now, policy.open_problem_recheck, policy.open_problem_recheck_cap))


def reconcile_send(
    state: StatusState,
    last_sent: LastSent,
    reading: StatusReading,
    context: ListingContext,
    *,
    now: datetime,
    policy: ReconcilePolicy,
    url_checks: Mapping[str, UrlCheck] | None = None,
) -> Decision:
    """Decide what AVIV's reading of ``last_sent`` means for the listing and its owner.

    ``state`` is not modified (a copy is returned in the decision). ``url_checks`` (by media id) are
    the results of checking the URLs :func:`~vitrine.core.reconcile.media_retry.media_due_for_check`
    named.
    """
    state = roll_to_send(state.copy(), last_sent, policy.clock_tolerance)
    _apply_reading(state, reading, now)
    take_owner(state, context)
    seen = SendSeen(now=now, last_sent=last_sent, reading=reading)
    notifications = _end_overtaken_rejection(state, context, seen)
    match reading.outcome:
        case "confirmed":
            verdict = _confirmed(state, context, seen)
        case "classified_error":
            verdict = _classified_error(state, context, seen, policy)
        case "media_error":
            verdict = _media_error(state, context, seen, policy, url_checks)
        case _:
            verdict = _processing(state, context, seen, policy)
    notifications += verdict.notifications
    notifications += reconcile_quality(state, context, last_sent, reading, now)
    return decided(state, notifications, verdict.watch, verdict.retry_media, reading)


def _apply_reading(state: StatusState, reading: StatusReading, now: datetime) -> None:
    """Remember what AVIV said about our send (a status about an earlier send teaches nothing), and
    when vitrine learned its revision (see :func:`roll_to_send`)."""
    if reading.ours:
        if reading.revision is not None:
            state.known_revision = max(state.known_revision or 0, reading.revision)
            state.revision_seen_at = format_moment(now)
        if reading.status_date:
            state.last_status_date = reading.status_date
        state.last_status = reading.status


def _end_overtaken_rejection(
    state: StatusState, context: ListingContext, seen: SendSeen
) -> list[Notification]:
    """A later version went through: a rejection of an earlier one is history."""
    rejection = state.problems.get(SLOT_REJECTION)
    if (
        rejection is None
        or rejection.desired_version is None
        or seen.last_sent.desired_version <= rejection.desired_version
    ):
        return []
    closing = Closing(seen.now, seen.reading.status or "ACCEPTED", seen.reading, seen.last_sent)
    return resolve(state, SLOT_REJECTION, context, closing)


def _confirmed(state: StatusState, context: ListingContext, seen: SendSeen) -> _Verdict:
    """AVIV took the send: its problem is over (told once), and the listing leaves the watch set."""
    state.retries.clear()
    if seen.last_sent.deleted:
        # The listing is gone from the portals: its problems no longer concern anyone.
        close_slot(state, SLOT_AVIV)
        return _Verdict([], WatchUpdate(None))
    closing = Closing(seen.now, seen.reading.status or "CONFIRMED", seen.reading, seen.last_sent)
    return _Verdict(resolve(state, SLOT_AVIV, context, closing), WatchUpdate(None))


def _classified_error(
    state: StatusState, context: ListingContext, seen: SendSeen, policy: ReconcilePolicy
) -> _Verdict:
    """AVIV refused the listing while processing it: tell the owner what AVIV says."""
    reading = seen.reading
    # What AVIV says, not which send it says it about: the same refusal after an unrelated
    # re-send is the problem the owner already knows.
    identity = {
        **slot_identity(state, context, SLOT_AVIV),
        "status": reading.status,
        "message": reading.message,
        "subStatus": reading.sub_status,
        "details": reading.sub_status_details,
    }
    subject = classified_error_subject(context.listing_id, reading.status, reading.portals or context.portals)
    summary = f"{subject}. AVIV says: {reading.message or reading.status}"
    if reading.sub_status_details:
        summary += f" ({reading.sub_status_details})"
    problem = SendProblem(
        kind="classified_error",
        fingerprint=fingerprint("classified_error", identity),
        subject=subject,
        summary=summary,
        body_status=reading.status or "",
        extra={"message": reading.message or reading.status or ""},
    )
    notifications = open_send_problem(state, context, seen, problem)
    return _Verdict(notifications, _slow_recheck(state, seen.now, policy))


def _media_error(
    state: StatusState,
    context: ListingContext,
    seen: SendSeen,
    policy: ReconcilePolicy,
    url_checks: Mapping[str, UrlCheck] | None,
) -> _Verdict:
    """Some media failed: retry what automatic retry may, tell the owner of the rest."""
    if not seen.reading.failed_media:
        notifications = _open_unlocated_media_problem(state, context, seen)
        return _Verdict(notifications, _slow_recheck(state, seen.now, policy))
    triage = triage_failed_media(state, seen.reading, seen.now, policy, url_checks)
    notifications = _open_media_problem(state, context, seen, triage, policy)
    if triage.next_checks:
        watch = WatchUpdate(max(seen.now, min(triage.next_checks)))
    else:
        watch = _slow_recheck(state, seen.now, policy)
    return _Verdict(notifications, watch, triage.to_retry)


def _open_unlocated_media_problem(
    state: StatusState, context: ListingContext, seen: SendSeen
) -> list[Notification]:
    """A media error naming no failing media (none listed, or only statuses still in progress or
    unknown): the owner still hears of it once, as a problem of its own, resolved like the others."""
    reading = seen.reading
    subject = unlocated_media_subject(context.listing_id, reading.portals or context.portals)
    problem = SendProblem(
        kind="media_error",
        fingerprint=fingerprint(
            "media_error", {**slot_identity(state, context, SLOT_AVIV), "unlocated": True}
        ),
        subject=subject,
        summary=unlocated_media_summary(subject, reading),
        body_status=reading.status or "",
        extra={"media": [], "unlocated": True},
    )
    return open_send_problem(state, context, seen, problem)


def _open_media_problem(
    state: StatusState,
    context: ListingContext,
    seen: SendSeen,
    triage: RetryTriage,
    policy: ReconcilePolicy,
) -> list[Notification]:
    """Open or refresh the media problem with the media the owner must hear of."""
    reading = seen.reading
    portals = reading.portals or context.portals
    if not triage.to_notify:
        _hold_retried_problem(state, context, seen, portals)
        return []
    notified_media = [f for f, _ in triage.to_notify]
    # Which media fail, not in which send: an unrelated re-send (another photo's title) that AVIV
    # answers with the same failing media is the problem the owner already knows.
    identity = {
        **slot_identity(state, context, SLOT_AVIV),
        "media": sorted({media_identity(f) for f in notified_media}),
    }
    subject = media_error_subject(context.listing_id, notified_media, portals)
    lines = [f"{media_label(f)}: {reason}" for f, reason in triage.to_notify]
    fix = media_fix(
        (f.status for f in notified_media), auto_retry=policy.auto_media_retry, attempts=policy.retry_attempts
    )
    problem = SendProblem(
        kind="media_error",
        fingerprint=fingerprint("media_error", identity),
        subject=subject,
        summary=subject + ". " + "; ".join(lines) + (f". {fix}" if fix else ""),
        body_status=reading.status or "",
        extra={
            "media": [media_entry(f, reason) for f, reason in triage.to_notify],
            "retrying": [f.key for f in triage.to_retry] or None,
            "fix": fix,
            "autoRetryAttempts": policy.retry_attempts if policy.auto_media_retry else None,
        },
        media_ids=[f.key for f in notified_media],
    )
    return open_send_problem(state, context, seen, problem)


def _hold_retried_problem(
    state: StatusState, context: ListingContext, seen: SendSeen, portals: Sequence[str]
) -> None:
    """Everything is being retried silently: keep a notified problem open as it is, or hold an
    unnotified one so that a later success does not announce a problem nobody heard of."""
    if SLOT_AVIV in state.problems:
        return
    failed = seen.reading.failed_media
    problem = SendProblem(
        kind="media_error",
        fingerprint=fingerprint(
            "media_error", {**slot_identity(state, context, SLOT_AVIV), "retrying": True}
        ),
        subject=media_error_subject(context.listing_id, failed, portals),
        media_ids=[f.key for f in failed],
    )
    state.problems[SLOT_AVIV] = send_problem(seen, problem)


def _processing(
    state: StatusState, context: ListingContext, seen: SendSeen, policy: ReconcilePolicy
) -> _Verdict:
    """AVIV has not answered our send yet: look again with backoff, and report it stuck once old."""
    sent_at = parse_moment(seen.last_sent.sent_at) or seen.now
    age = seen.now - sent_at
    if age < policy.stuck_after:
        due = _recheck(state, seen.now, policy.recheck_base, policy.recheck_cap)
        # Never later than the moment the send becomes stuck, so "stuck" is reported on time.
        return _Verdict([], WatchUpdate(min(due, sent_at + policy.stuck_after)))
    reading, last_sent = seen.reading, seen.last_sent
    subject = stuck_subject(context.listing_id, reading.portals or context.portals, policy.stuck_after)
    problem = SendProblem(
        kind="stuck",
        fingerprint=fingerprint("stuck", {"sentAt": last_sent.sent_at}),
        subject=subject,
        summary=(
            f"{subject}. vitrine sent it at {last_sent.sent_at}; AVIV's latest status is "
            f"{reading.status or 'none'}."
        ),
        body_status=reading.status or "NONE",
        extra={"ageSeconds": int(age.total_seconds())},
    )
    notifications = open_send_problem(state, context, seen, problem)
    return _Verdict(
        notifications,
        WatchUpdate(_recheck(state, seen.now, policy.recheck_cap, policy.open_problem_recheck_cap)),
    )
