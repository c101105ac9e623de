"""Problem slots: at most one open problem per slot, each told to the owner once, and resolved once.

``aviv`` holds the problem with the last send's processing, ``rejection`` a version AVIV (or vitrine's
validation) refused to take at all. A problem's *fingerprint* names what exactly is wrong; closing
a slot starts a new *episode*, part of every later fingerprint of the slot, so the same problem
coming back after its ``resolved`` is announced again under a new id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vitrine.core.model import LastSent
from vitrine.core.moments import format_moment
from vitrine.core.reconcile.aviv_status import FailedMedia, StatusReading
from vitrine.core.reconcile.records import Kind, ListingContext, Notification, OpenProblem, StatusState
from vitrine.core.reconcile.wording import build_notification, notification_body, resolved_subject
from vitrine.core.timestamps import strip_timestamp

SLOT_AVIV = "aviv"
SLOT_REJECTION = "rejection"


@dataclass(frozen=True, slots=True)
class SendSeen:
    """One look at a send: when, the send, and AVIV's reading of it."""

    now: datetime
    last_sent: LastSent
    reading: StatusReading


@dataclass(frozen=True, slots=True)
class SendProblem:
    """A problem with the processing of a send: what identifies it, and what the owner is told.

    ``body_status`` is the status the notification reports; ``extra`` the kind's own body fields.
    """

    kind: Kind
    fingerprint: str
    subject: str
    summary: str = ""
    body_status: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    media_ids: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Closing:
    """Why a slot's problem ends: the status its ``resolved`` reports, at ``now``, with the reading and
    the send it was seen in (none when a later version went through without a send)."""

    now: datetime
    status: str
    reading: StatusReading | None = None
    last_sent: LastSent | None = None


def fingerprint(kind: str, identity: Any) -> str:
    """``<kind>:<16 hex>`` of the canonical JSON of what identifies the problem."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:16]}"


def media_identity(failed: FailedMedia) -> tuple[str, str]:
    """What a failing media is, whichever send carried it: the CRM's id and its URL without the
    timestamp (AVIV's own identity of a media). Neither changes when the media is re-sent."""
    return (failed.media_id or "", failed.url or strip_timestamp(failed.sent_url))


def slot_identity(state: StatusState, context: ListingContext, slot: str) -> dict[str, Any]:
    """The part of a fingerprint every problem of ``slot`` shares: the listing and the episode."""
    return {"listingId": context.listing_id, "episode": state.episodes.get(slot, 0)}


def close_slot(state: StatusState, slot: str) -> OpenProblem | None:
    """Take the slot's problem away and start a new episode, so the same problem seen again later
    is a new one (new fingerprint, announced again) and not mistaken for the one just closed."""
    problem = state.problems.pop(slot, None)
    if problem is not None:
        state.episodes[slot] = state.episodes.get(slot, 0) + 1
    return problem


def open_problem(
    state: StatusState,
    slot: str,
    problem: OpenProblem,
    notification: Notification | None,
) -> list[Notification]:
    """Make ``problem`` the slot's open problem; notify unless its fingerprint was notified before."""
    previous = state.problems.get(slot)
    if previous is not None and previous.fingerprint != problem.fingerprint:
        carried = list(previous.superseded)
        if previous.notified:
            carried.append(previous.summary())
        problem.superseded = carried
    elif previous is not None:
        problem.superseded = previous.superseded
        problem.detected_at = previous.detected_at
        problem.notified = previous.notified or problem.notified
    out: list[Notification] = []
    if notification is not None:
        if problem.fingerprint in state.notified:
            problem.notified = True
        else:
            problem.notified = True
            state.remember_notified(problem.fingerprint)
            out.append(notification)
    state.problems[slot] = problem
    return out


def send_problem(seen: SendSeen, problem: SendProblem) -> OpenProblem:
    """A not-yet-notified problem with the processing of the send (what the ``aviv`` slot holds)."""
    return OpenProblem(
        kind=problem.kind,
        fingerprint=problem.fingerprint,
        detected_at=format_moment(seen.now),
        subject=problem.subject,
        notified=False,
        status=seen.reading.status,
        sent_at=seen.last_sent.sent_at,
        desired_version=seen.last_sent.desired_version,
        media_ids=list(problem.media_ids),
        detail=problem.summary or None,
        media=[dict(entry) for entry in problem.extra.get("media") or []],
    )


def open_send_problem(
    state: StatusState, context: ListingContext, seen: SendSeen, problem: SendProblem
) -> list[Notification]:
    """Open the ``aviv`` slot's problem for the send and tell the owner once.

    One place builds the body, the problem and the notification of a send's problem, so the three
    kinds (media_error, classified_error, stuck) cannot drift apart in what they record or say.
    """
    body = notification_body(
        context,
        kind=problem.kind,
        notification_id=problem.fingerprint,
        status=problem.body_status,
        detected_at=seen.now,
        subject=problem.subject,
        summary=problem.summary,
        reading=seen.reading,
        last_sent=seen.last_sent,
        extra=problem.extra,
    )
    notification = build_notification(context, problem.kind, problem.fingerprint, problem.subject, body)
    return open_problem(state, SLOT_AVIV, send_problem(seen, problem), notification)


def resolve(state: StatusState, slot: str, context: ListingContext, closing: Closing) -> list[Notification]:
    """Close the slot's problem; one ``resolved`` if anything of it had been notified."""
    problem = close_slot(state, slot)
    if problem is None:
        return []
    resolved = list(problem.superseded)
    if problem.notified:
        resolved.append(problem.summary())
    if not resolved:
        return []
    notification_id = "resolved:" + problem.fingerprint
    if notification_id in state.notified:
        return []
    state.remember_notified(notification_id)
    reading = closing.reading
    kinds = [str(r["kind"]) for r in resolved]
    subject = resolved_subject(
        context.listing_id, kinds, reading.portals if reading and reading.portals else context.portals
    )
    summary = subject + ". " + "; ".join(str(r["subject"]) for r in resolved) + " - no longer the case."
    body = notification_body(
        context,
        kind="resolved",
        notification_id=notification_id,
        status=closing.status,
        detected_at=closing.now,
        subject=subject,
        summary=summary,
        reading=reading,
        last_sent=closing.last_sent,
        extra={"resolves": resolved},
    )
    return [build_notification(context, "resolved", notification_id, subject, body)]
