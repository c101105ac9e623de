"""Quality warnings told to the owner: one ``quality_warning`` per distinct set, one ``resolved`` when
none is left.

The warnings (:mod:`vitrine.core.quality`: a second video or virtual tour the portals never show, a
plan, map or logo as the main photo, a cover picture not first) never block a send. They are a pure
function of the body last sent, so reconcile computes them from the SENT item whenever it looks at
a send, and keeps what it told in the STATUS item's ``quality`` slot, through the same problem
bookkeeping as AVIV's problems: the set's fingerprint is told once (retries and re-runs included,
through the outbox), a changed set is a new message, and an empty set closes the slot with one
``resolved``. A warning is identified by its code and the CRM's media id, so a reorder that keeps
the same media at fault is not a new set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from vitrine.core.model import LastSent, Media
from vitrine.core.moments import format_moment
from vitrine.core.quality import QualityWarning, quality_warnings
from vitrine.core.reconcile.aviv_status import StatusReading
from vitrine.core.reconcile.problems import (
    Closing,
    close_slot,
    fingerprint,
    open_problem,
    resolve,
    slot_identity,
)
from vitrine.core.reconcile.records import Kind, ListingContext, Notification, OpenProblem, StatusState
from vitrine.core.reconcile.wording import build_notification, notification_body, quality_subject
from vitrine.core.timestamps import strip_timestamp

SLOT_QUALITY = "quality"
KIND: Kind = "quality_warning"
# A quality warning reported before AVIV said anything about the send.
SENT_STATUS = "SENT"


def sent_media(last_sent: LastSent) -> list[Media]:
    """The media of the body last sent, as CRM media (ids from the per-media records)."""
    ids = {record.position: record.id for record in last_sent.media}
    items = last_sent.body.get("media") if isinstance(last_sent.body, Mapping) else None
    out: list[Media] = []
    for position, item in enumerate(items or []):
        if not isinstance(item, Mapping):
            continue
        out.append(
            Media(
                id=ids.get(position, f"#{position}"),
                url=strip_timestamp(str(item.get("url") or "")),
                media_type=str(item.get("mediaType") or ""),
                category=item.get("category"),
                tags=tuple(item.get("tags") or ()),
                title=item.get("title"),
            )
        )
    return out


def reconcile_quality(
    state: StatusState,
    context: ListingContext,
    last_sent: LastSent,
    reading: StatusReading,
    now: datetime,
) -> list[Notification]:
    """Tell the owner of the sent body's warnings once per distinct set; ``resolved`` once none is left."""
    if last_sent.deleted:
        close_slot(state, SLOT_QUALITY)  # off the portals: how it showed concerns nobody any more
        return []
    media = sent_media(last_sent)
    warnings = quality_warnings(media)
    status = reading.status or state.last_status or SENT_STATUS
    if not warnings:
        return resolve(state, SLOT_QUALITY, context, Closing(now, status, reading, last_sent))
    return _open_quality_problem(state, context, last_sent, reading, media, warnings, now, status)


def _open_quality_problem(
    state: StatusState,
    context: ListingContext,
    last_sent: LastSent,
    reading: StatusReading,
    media: Sequence[Media],
    warnings: Sequence[QualityWarning],
    now: datetime,
    status: str,
) -> list[Notification]:
    entries = [_entry(warning, media) for warning in warnings]
    identity = {
        **slot_identity(state, context, SLOT_QUALITY),
        "warnings": sorted((e["code"], e["mediaId"]) for e in entries),
    }
    problem_id = fingerprint(KIND, identity)
    subject = quality_subject(context.listing_id, len(entries), reading.portals or context.portals)
    lines = "; ".join(f"{e['label']}: {e['reason']}" for e in entries)
    summary = (
        f"{subject}. {lines}. vitrine never reorders media: change the order or remove these media in "
        "the CRM if this is not what you want shown."
    )
    body = notification_body(
        context,
        kind=KIND,
        notification_id=problem_id,
        status=status,
        detected_at=now,
        subject=subject,
        summary=summary,
        reading=reading if reading.ours else None,
        last_sent=last_sent,
        extra={"warnings": [{k: v for k, v in e.items() if k != "label"} for e in entries]},
    )
    problem = OpenProblem(
        kind=KIND,
        fingerprint=problem_id,
        detected_at=format_moment(now),
        subject=subject,
        notified=False,
        status=status,
        sent_at=last_sent.sent_at,
        desired_version=last_sent.desired_version,
        media_ids=sorted({e["mediaId"] for e in entries}),
    )
    notification = build_notification(context, KIND, problem_id, subject, body)
    return open_problem(state, SLOT_QUALITY, problem, notification)


def _entry(warning: QualityWarning, media: Sequence[Media]) -> dict[str, Any]:
    """One warning as the notification lists it: what, which media (CRM id, place, title) and why."""
    position = int(warning.pointer.rsplit("/", 1)[1])
    item = media[position]
    label = f"{item.title or item.url} (#{position + 1})"
    return {
        "code": warning.code,
        "pointer": warning.pointer,
        "mediaId": item.id,
        "position": position,
        "url": item.url,
        "title": item.title,
        "reason": warning.message,
        "label": label,
    }
