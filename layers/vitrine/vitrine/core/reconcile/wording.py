"""What notifications say: SNS subjects (ASCII, under 100 characters), bodies and their phrases.

One place words every notification, so the kinds cannot drift apart in how they name a listing,
its portals, its media or a duration.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from vitrine.core.locales import DEFAULT_LOCALE, supported_locale
from vitrine.core.model import LastSent
from vitrine.core.moments import format_moment
from vitrine.core.notification_text.phrases import phrases
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


def _join_names(names: Sequence[str], locale: str) -> str:
    if not names:
        return "AVIV"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + phrases(locale)["and"] + names[-1]


# Typographic characters NFKD does not fold, written the ASCII way; guillemets go (as quotes would).
_ASCII_SPELLING = str.maketrans(
    {
        "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "€": "EUR", "\u2026": "...",
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
        "«": "", "»": "", "\u2013": "-", "\u2014": "-", "\u2011": "-", "\u00a0": " ", "\u202f": " ",
    }
)  # fmt: skip


def ascii_subject(text: str, limit: int = SUBJECT_MAX_LENGTH) -> str:
    """SNS subjects: printable ASCII, one line, under 100 characters (accents folded, not dropped)."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_SPELLING))
    folded = folded.encode("ascii", "ignore").decode("ascii")
    folded = " ".join("".join(c if 32 <= ord(c) < 127 else " " for c in folded).split())
    if len(folded) > limit:
        folded = folded[: limit - 3].rstrip() + "..."
    if not folded or (not folded[0].isalnum() and folded[0] not in "[(\"'"):
        folded = ("Listing " + folded)[:limit]
    return folded


def _short_listing_id(listing_id: str, room: int = 40) -> str:
    return listing_id if len(listing_id) <= room else listing_id[: room - 3] + "..."


_NOUNS = {"PICTURE": "photo", "PANORAMA": "photo", "VIDEO": "video", "VIRTUAL_TOUR": "virtual_tour"}


def media_noun(media_types: Iterable[str | None], count: int, locale: str) -> str:
    """The media named by type ("photo", "2 videos"), or "media" when the types are mixed."""
    nouns = {_NOUNS.get(media_type or "", "media") for media_type in media_types}
    noun = nouns.pop() if len(nouns) == 1 else "media"
    return phrases(locale)[f"noun_{noun}_{'one' if count == 1 else 'many'}"]


def portal_phrase(portals: Sequence[str], locale: str = DEFAULT_LOCALE) -> str:
    """The portals by name, joined: "SeLoger and Belles Demeures"."""
    return _join_names(portal_names(portals), locale)


class Headline:
    """A notification's headline in one language: its SNS subject, or the same words in full.

    ``plain`` keeps accents and the whole listing id (the e-mail's first sentence); otherwise the
    text is an SNS subject (ASCII, under 100 characters, a long listing id shortened).
    """

    def __init__(self, locale: str = DEFAULT_LOCALE, *, plain: bool = False) -> None:
        self.locale = supported_locale(locale)
        self.plain = plain
        self.words = phrases(self.locale)

    def say(self, key: str, listing_id: str, **fields: Any) -> str:
        template = self.words[key].format(**fields)
        if self.plain:
            return template.format(id=listing_id)
        return _fit(template, listing_id)

    def media_error(self, listing_id: str, failed: Sequence[FailedMedia], portals: Sequence[str]) -> str:
        """ "2 photos of listing ABC-12 could not be downloaded by SeLoger"."""
        where = portal_phrase(portals, self.locale)
        if not failed:
            return self.say("subject_media_some", listing_id, where=where)
        statuses = {f.status for f in failed}
        if statuses == {DOWNLOADING_FAILED}:
            key = "subject_media_download"
        elif statuses == {"CREATING_FAILED"}:
            key = "subject_media_processing"
        else:
            key = "subject_media_failed"
        noun = media_noun((f.media_type for f in failed), len(failed), self.locale)
        return self.say(key, listing_id, count=len(failed), noun=noun, where=where)

    def unlocated_media(self, listing_id: str, portals: Sequence[str]) -> str:
        """ "Listing ABC-12 has a media problem on SeLoger that AVIV did not locate"."""
        return self.say("subject_media_unlocated", listing_id, where=portal_phrase(portals, self.locale))

    def classified_error(self, listing_id: str, status: str | None, portals: Sequence[str]) -> str:
        key = f"subject_classified_{status}"
        key = key if key in self.words else "subject_classified_other"
        return self.say(key, listing_id, where=portal_phrase(portals, self.locale))

    def stuck(self, listing_id: str, portals: Sequence[str], age: timedelta) -> str:
        where = portal_phrase(portals, self.locale)
        return self.say("subject_stuck", listing_id, where=where, duration=_duration(age))

    def quality(self, listing_id: str, count: int, portals: Sequence[str]) -> str:
        """ "2 media of listing ABC-12 will not show as intended on SeLoger"."""
        key = "subject_quality_one" if count == 1 else "subject_quality_many"
        return self.say(key, listing_id, count=count, where=portal_phrase(portals, self.locale))

    def rejected(self, listing_id: str, error_count: int) -> str:
        key = {0: "subject_rejected", 1: "subject_rejected_one"}.get(error_count, "subject_rejected_many")
        return self.say(key, listing_id, count=error_count)

    def resolved(self, listing_id: str, kinds: Iterable[str], portals: Sequence[str]) -> str:
        kinds = set(kinds)
        only = kinds.pop() if len(kinds) == 1 else None
        key = f"subject_resolved_{only}"
        key = key if key in self.words else "subject_resolved_other"
        return self.say(key, listing_id, where=portal_phrase(portals, self.locale))


# The English subjects the JSON body carries (``subject``), decided with each problem.
_ENGLISH = Headline()
media_error_subject = _ENGLISH.media_error
unlocated_media_subject = _ENGLISH.unlocated_media
classified_error_subject = _ENGLISH.classified_error
stuck_subject = _ENGLISH.stuck
quality_subject = _ENGLISH.quality
rejected_subject = _ENGLISH.rejected
resolved_subject = _ENGLISH.resolved


def unlocated_media_summary(subject: str, reading: StatusReading) -> str:
    """What AVIV said, and where to look since it named no media."""
    said = f"AVIV reports {reading.status} without naming a failing media"
    words = "; ".join(w for w in (reading.message, reading.sub_status_details) if w)
    return (
        f"{subject}. {said}" + (f" (AVIV says: {words})" if words else "") + ". Check that every media "
        "URL of the listing answers with its image or video, then give the media at fault a new "
        "version in the CRM so that the portal downloads it again."
    )


def media_fix(
    statuses: Iterable[str], *, auto_retry: bool, attempts: int, locale: str = DEFAULT_LOCALE
) -> str | None:
    """What the owner can do about media failing with ``statuses`` (None: nothing to say)."""
    words = phrases(locale)
    statuses = set(statuses)
    parts: list[str] = []
    if DOWNLOADING_FAILED in statuses:
        then = words["fix_download_automatic"].format(attempts=attempts) if auto_retry else None
        parts.append(words["fix_download"] + (then or words["fix_download_by_hand"]))
    if statuses - {DOWNLOADING_FAILED}:
        parts.append(words["fix_processing"])
    return " ".join(parts) or None


def _fit(template: str, listing_id: str) -> str:
    """Format ``template`` with the listing id, shortening the id first if the subject is too long."""
    subject = ascii_subject(template.format(id=listing_id), limit=10_000)
    if len(subject) <= SUBJECT_MAX_LENGTH:
        return subject
    room = max(8, SUBJECT_MAX_LENGTH - (len(subject) - len(listing_id)))
    return ascii_subject(template.format(id=_short_listing_id(listing_id, room)))


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
        "locale": context.locale,
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
