"""What notifications say: SNS subjects (ASCII, under 100 characters), bodies and their phrases.

One place words every notification, so the kinds cannot drift apart in how they name a listing,
its portals, its media or a duration.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from vitrine.core.model import LastSent
from vitrine.core.moments import format_moment
from vitrine.core.reconcile.aviv_status import DOWNLOADING_FAILED, FailedMedia, StatusReading, portal_names
from vitrine.core.reconcile.records import Kind, ListingContext, Notification

# SNS: "Subjects must be ASCII text ... and must be less than 100 characters long."
SUBJECT_MAX_LENGTH = 99
SCHEMA_VERSION = 1
SEVERITY: Mapping[Kind, str] = {
    "media_error": "warning",
    "classified_error": "error",
    "sync_rejected": "error",
    "stuck": "warning",
    "quality_warning": "warning",
    "resolved": "info",
}


def _join_names(names: Sequence[str]) -> str:
    if not names:
        return "AVIV"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def ascii_subject(text: str, limit: int = SUBJECT_MAX_LENGTH) -> str:
    """SNS subjects: printable ASCII, one line, under 100 characters (accents folded, not dropped)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = " ".join("".join(c if 32 <= ord(c) < 127 else " " for c in folded).split())
    if len(folded) > limit:
        folded = folded[: limit - 3].rstrip() + "..."
    if not folded or (not folded[0].isalnum() and folded[0] not in "[(\"'"):
        folded = ("Listing " + folded)[:limit]
    return folded


def _short_listing_id(listing_id: str, room: int = 40) -> str:
    return listing_id if len(listing_id) <= room else listing_id[: room - 3] + "..."


def _media_noun(failed: Sequence[FailedMedia]) -> tuple[str, str]:
    """(singular, plural) naming the failed media by type ("photo"/"photos", "media"/"media")."""
    kinds = {
        {"PICTURE": "photo", "PANORAMA": "photo", "VIDEO": "video", "VIRTUAL_TOUR": "virtual tour"}.get(
            f.media_type or "", "media"
        )
        for f in failed
    }
    if len(kinds) == 1:
        noun = kinds.pop()
        return (noun, noun if noun == "media" else noun + "s")
    return ("media", "media")


def _portal_phrase(portals: Sequence[str]) -> str:
    return _join_names(portal_names(portals))


def media_error_subject(listing_id: str, failed: Sequence[FailedMedia], portals: Sequence[str]) -> str:
    """ "2 photos of listing ABC-12 could not be downloaded by SeLoger"."""
    count = len(failed)
    singular, plural = _media_noun(failed)
    statuses = {f.status for f in failed}
    if statuses == {DOWNLOADING_FAILED}:
        verb = "could not be downloaded by"
    elif statuses == {"CREATING_FAILED"}:
        verb = "could not be processed by"
    else:
        verb = "failed on"
    where = _portal_phrase(portals)
    if count == 0:
        text = f"Some media of listing {{id}} failed on {where}"
    else:
        noun = singular if count == 1 else plural
        text = f"{count} {noun} of listing {{id}} {verb} {where}"
    return _fit(text, listing_id)


def unlocated_media_subject(listing_id: str, portals: Sequence[str]) -> str:
    """ "Listing ABC-12 has a media problem on SeLoger that AVIV did not locate"."""
    where = _portal_phrase(portals)
    return _fit(f"Listing {{id}} has a media problem on {where} that AVIV did not locate", listing_id)


def unlocated_media_summary(subject: str, reading: StatusReading) -> str:
    """What AVIV said, and where to look since it named no media."""
    said = f"AVIV reports {reading.status} without naming a failing media"
    words = "; ".join(w for w in (reading.message, reading.sub_status_details) if w)
    return (
        f"{subject}. {said}" + (f" (AVIV says: {words})" if words else "") + ". Check that every media "
        "URL of the listing answers with its image or video, then give the media at fault a new "
        "version in the CRM so that the portal downloads it again."
    )


# What AVIV documents as the fix of a media it could not fetch, and what vitrine does by itself.
_DOWNLOAD_FIX = (
    "Make each URL answer with its file, publicly (no login, firewall, IP allow-list or expired link). "
    "The portal downloads a media again only when its timestamp changes: "
)
_DOWNLOAD_FIX_BY_HAND = (
    "once the URL works, give the media a new version in the CRM (or a new URL) and vitrine sends it "
    "with a new timestamp."
)
_DOWNLOAD_FIX_AUTOMATIC = (
    "vitrine checks the URL again and re-sends the media with a new timestamp by itself once it "
    "answers, up to {attempts} times; a new version of the media in the CRM does the same at once."
)
_PROCESSING_FIX = (
    "For a file the portal downloaded but could not process, replace it with a valid image or video "
    "under a new version in the CRM."
)


def media_fix(failed: Sequence[FailedMedia], *, auto_retry: bool, attempts: int) -> str | None:
    """What the owner can do about ``failed`` (None: nothing to say)."""
    statuses = {f.status for f in failed}
    parts: list[str] = []
    if DOWNLOADING_FAILED in statuses:
        then = _DOWNLOAD_FIX_AUTOMATIC.format(attempts=attempts) if auto_retry else _DOWNLOAD_FIX_BY_HAND
        parts.append(_DOWNLOAD_FIX + then)
    if statuses - {DOWNLOADING_FAILED}:
        parts.append(_PROCESSING_FIX)
    return " ".join(parts) or None


def _fit(template: str, listing_id: str) -> str:
    """Format ``template`` with the listing id, shortening the id first if the subject is too long."""
    subject = ascii_subject(template.format(id=listing_id), limit=10_000)
    if len(subject) <= SUBJECT_MAX_LENGTH:
        return subject
    room = max(8, SUBJECT_MAX_LENGTH - (len(subject) - len(listing_id)))
    return ascii_subject(template.format(id=_short_listing_id(listing_id, room)))


_FAILED_VERBS = {
    "CREATING_FAILED": "could not be created on",
    "UPDATING_FAILED": "could not be updated on",
    "RECEIVING_FAILED": "was not received by",
    "DELETING_FAILED": "could not be deleted from",
    "DELETED": "was deleted from",
}


def classified_error_subject(listing_id: str, status: str | None, portals: Sequence[str]) -> str:
    verb = _FAILED_VERBS.get(status or "", "failed on")
    return _fit(f"Listing {{id}} {verb} {_portal_phrase(portals)}", listing_id)


def stuck_subject(listing_id: str, portals: Sequence[str], age: timedelta) -> str:
    return _fit(
        f"Listing {{id}} not confirmed by {_portal_phrase(portals)} after {_duration(age)}", listing_id
    )


def quality_subject(listing_id: str, count: int, portals: Sequence[str]) -> str:
    """ "2 media of listing ABC-12 will not show as intended on SeLoger"."""
    return _fit(
        f"{count} media of listing {{id}} will not show as intended on {_portal_phrase(portals)}", listing_id
    )


def rejected_subject(listing_id: str, error_count: int) -> str:
    if error_count:
        noun = "error" if error_count == 1 else "errors"
        return _fit(f"Listing {{id}} was refused by AVIV: {error_count} {noun} to fix", listing_id)
    return _fit("Listing {id} was refused by AVIV", listing_id)


def resolved_subject(listing_id: str, kinds: Iterable[str], portals: Sequence[str]) -> str:
    kinds = set(kinds)
    where = _portal_phrase(portals)
    if kinds == {"sync_rejected"}:
        return _fit("Resolved: listing {id} was accepted by AVIV", listing_id)
    if kinds == {"quality_warning"}:
        return _fit(f"Resolved: the media of listing {{id}} show as intended on {where}", listing_id)
    if kinds == {"media_error"}:
        return _fit(f"Resolved: the media of listing {{id}} are online on {where}", listing_id)
    return _fit(f"Resolved: listing {{id}} is up to date on {where}", listing_id)


def _duration(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes >= 120:
        return f"{minutes // 60} h"
    if minutes >= 1:
        return f"{minutes} min"
    return f"{int(age.total_seconds())} s"


def media_label(failed: FailedMedia) -> str:
    """How the owner recognises a media: its title, else its URL, and its place in the listing."""
    place = "" if failed.position is None else f" (#{failed.position + 1})"
    return f"{failed.title or failed.url or failed.sent_url}{place}"


def notification_body(
    context: ListingContext,
    *,
    kind: Kind,
    notification_id: str,
    status: str,
    detected_at: datetime,
    subject: str,
    summary: str,
    reading: StatusReading | None = None,
    last_sent: LastSent | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    portals = list(reading.portals) if reading is not None and reading.portals else list(context.portals)
    body: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "id": notification_id,
        "kind": kind,
        "severity": SEVERITY[kind],
        "ownerId": context.owner_id,
        "listingId": context.listing_id,
        "classifiedId": context.classified_id,
        "status": status,
        "detectedAt": format_moment(detected_at),
        "portals": portals,
        "portalNames": portal_names(portals),
        "subject": subject,
        "summary": summary,
        "ownerPageUrl": context.owner_page_url,
    }
    if reading is not None:
        body["statusDate"] = reading.status_date
        body["message"] = reading.message
        body["subStatus"] = reading.sub_status
        body["subStatusDetails"] = reading.sub_status_details
    if last_sent is not None:
        body["sentAt"] = last_sent.sent_at
        body["desiredVersion"] = last_sent.desired_version
    body.update(extra or {})
    return {key: value for key, value in body.items() if value is not None or key == "classifiedId"}


def build_notification(
    context: ListingContext, kind: Kind, notification_id: str, subject: str, body: dict[str, Any]
) -> Notification:
    return Notification(
        id=notification_id,
        kind=kind,
        severity=SEVERITY[kind],
        owner_id=context.owner_id,
        listing_id=context.listing_id,
        subject=subject,
        body=body,
    )


def media_entry(failed: FailedMedia, reason: str) -> dict[str, Any]:
    return {
        "id": failed.media_id,
        "url": failed.url or failed.sent_url,
        "title": failed.title,
        "status": failed.status,
        "reason": reason,
        "position": failed.position,
        "mediaType": failed.media_type,
        "sentUrl": failed.sent_url,
    }
