"""The listing's reconciliation memory as stored in its STATUS item, with its ``to_dict``/``from_dict``.

Open problems, notified fingerprints, media-retry bookkeeping and the outbox of notifications not
yet confirmed published: what a reconcile run reads, decides on, and writes back; and the listing
context the notifications are made for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from vitrine.core.locales import DEFAULT_LOCALE

# What a notification (and the problem it announces) is about.
Kind = Literal["media_error", "classified_error", "sync_rejected", "stuck", "quality_warning", "resolved"]
# What the STATUS item remembers of notified fingerprints (dedupe beyond the open problems).
NOTIFIED_MEMORY = 64


@dataclass(frozen=True, slots=True)
class ListingContext:
    """What the notifications of one listing need besides the status.

    ``owner_page_url``: the owner's signed status page link (None: the stack has no public URL);
    ``locale``: the language the owner reads (``en``, ``fr``), from the webhook or the stack default.
    """

    listing_id: str
    owner_id: str
    classified_id: str | None
    portals: tuple[str, ...]
    owner_page_url: str | None = None
    locale: str = DEFAULT_LOCALE


@dataclass(slots=True)
class MediaRetry:
    """Automatic-retry bookkeeping of one media version (``media_id`` at ``base_version`` and ``url``)."""

    media_id: str
    base_version: str | None
    url: str
    first_failed_at: str
    attempts: int = 0  # re-downloads triggered
    probes: int = 0  # URL checks made
    next_check_at: str | None = None
    last_result: str | None = None  # what the URL answered last ("answers 404")
    unreachable: bool = False
    exhausted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "mediaId": self.media_id,
            "baseVersion": self.base_version,
            "url": self.url,
            "firstFailedAt": self.first_failed_at,
            "attempts": self.attempts,
            "probes": self.probes,
            "nextCheckAt": self.next_check_at,
            "lastResult": self.last_result,
            "unreachable": self.unreachable,
            "exhausted": self.exhausted,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MediaRetry:
        return cls(
            media_id=str(raw["mediaId"]),
            base_version=raw.get("baseVersion"),
            url=str(raw.get("url") or ""),
            first_failed_at=str(raw.get("firstFailedAt") or ""),
            attempts=int(raw.get("attempts") or 0),
            probes=int(raw.get("probes") or 0),
            next_check_at=raw.get("nextCheckAt"),
            last_result=raw.get("lastResult"),
            unreachable=bool(raw.get("unreachable", False)),
            exhausted=bool(raw.get("exhausted", False)),
        )


@dataclass(slots=True)
class OpenProblem:
    """A problem known for a slot; ``notified`` is False while auto-retry handles it silently.

    ``superseded``: earlier notified problems of the slot replaced by this one before they were
    resolved; the eventual ``resolved`` notification names them too. ``summary`` and ``media`` (the
    failing media as the owner was told: id, url, title, position, status, reason) are what the
    owner status page shows of it.
    """

    kind: Kind
    fingerprint: str
    detected_at: str
    subject: str
    notified: bool
    status: str | None = None
    sent_at: str | None = None
    desired_version: int | None = None
    media_ids: list[str] = field(default_factory=list)
    superseded: list[dict[str, Any]] = field(default_factory=list)
    detail: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "detectedAt": self.detected_at,
            "subject": self.subject,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "detectedAt": self.detected_at,
            "subject": self.subject,
            "notified": self.notified,
            "status": self.status,
            "sentAt": self.sent_at,
            "desiredVersion": self.desired_version,
            "mediaIds": list(self.media_ids),
            "superseded": [dict(s) for s in self.superseded],
            "detail": self.detail,
            "media": [dict(m) for m in self.media],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OpenProblem:
        version = raw.get("desiredVersion")
        return cls(
            kind=cast(Kind, str(raw["kind"])),
            fingerprint=str(raw["fingerprint"]),
            detected_at=str(raw.get("detectedAt") or ""),
            subject=str(raw.get("subject") or ""),
            notified=bool(raw.get("notified", False)),
            status=raw.get("status"),
            sent_at=raw.get("sentAt"),
            desired_version=None if version is None else int(version),
            media_ids=[str(m) for m in raw.get("mediaIds") or []],
            superseded=[dict(s) for s in raw.get("superseded") or []],
            detail=raw.get("detail"),
            media=[dict(m) for m in raw.get("media") or []],
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for the listing's owner: SNS Subject, JSON body and filterable attributes."""

    id: str
    kind: Kind
    severity: str
    owner_id: str
    listing_id: str
    subject: str
    body: Mapping[str, Any]

    def attributes(self) -> dict[str, str]:
        """SNS MessageAttributes (all String): what subscription filter policies match on."""
        values = {
            "ownerId": self.owner_id,
            "listingId": self.listing_id,
            "kind": self.kind,
            "severity": self.severity,
        }
        return {name: value for name, value in values.items() if value}

    def message(self) -> str:
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "ownerId": self.owner_id,
            "listingId": self.listing_id,
            "subject": self.subject,
            "body": dict(self.body),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Notification:
        return cls(
            id=str(raw["id"]),
            kind=cast(Kind, str(raw["kind"])),
            severity=str(raw["severity"]),
            owner_id=str(raw.get("ownerId") or ""),
            listing_id=str(raw["listingId"]),
            subject=str(raw["subject"]),
            body=dict(raw["body"]),
        )


@dataclass(slots=True)
class StatusState:
    """The listing's reconciliation memory (the STATUS item).

    ``watched_sent_at`` names the send the revision/check fields are about. ``known_revision`` is
    AVIV's revision of that send once seen, and ``revision_seen_at`` when vitrine saw it (its own
    clock); ``revision_floor`` the highest revision of earlier sends, so that a late status of an
    earlier send is not taken for ours, and ``floor_is_previous_send`` whether that floor is the
    revision of the send just before ours (then any higher revision is ours, whatever the clocks).
    ``outbox`` holds notifications decided but not yet confirmed published (published, then
    removed). ``episodes`` counts, per slot, the problems closed so far: it is part of the slot's
    fingerprints, so a problem that comes back after its ``resolved`` is announced again, under a
    new id.
    """

    listing_id: str
    rev: int = 0
    owner_id: str | None = None
    classified_id: str | None = None
    watched_sent_at: str | None = None
    known_revision: int | None = None
    revision_floor: int | None = None
    floor_is_previous_send: bool = False
    revision_seen_at: str | None = None
    last_status_date: str | None = None
    last_status: str | None = None
    checks: int = 0
    problems: dict[str, OpenProblem] = field(default_factory=dict)
    notified: list[str] = field(default_factory=list)
    retries: dict[str, MediaRetry] = field(default_factory=dict)
    outbox: list[Notification] = field(default_factory=list)
    episodes: dict[str, int] = field(default_factory=dict)

    def copy(self) -> StatusState:
        return StatusState.from_dict(self.to_dict(), rev=self.rev)

    def remember_notified(self, notification_id: str) -> None:
        if notification_id in self.notified:
            self.notified.remove(notification_id)
        self.notified.append(notification_id)
        del self.notified[:-NOTIFIED_MEMORY]

    def to_dict(self) -> dict[str, Any]:
        return {
            "listingId": self.listing_id,
            "ownerId": self.owner_id,
            "classifiedId": self.classified_id,
            "watchedSentAt": self.watched_sent_at,
            "knownRevision": self.known_revision,
            "revisionFloor": self.revision_floor,
            "floorIsPreviousSend": self.floor_is_previous_send,
            "revisionSeenAt": self.revision_seen_at,
            "lastStatusDate": self.last_status_date,
            "lastStatus": self.last_status,
            "checks": self.checks,
            "problems": {slot: p.to_dict() for slot, p in self.problems.items()},
            "notified": list(self.notified),
            "retries": {media_id: r.to_dict() for media_id, r in self.retries.items()},
            "outbox": [n.to_dict() for n in self.outbox],
            "episodes": dict(self.episodes),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, rev: int = 0) -> StatusState:
        def optional_int(value: Any) -> int | None:
            return None if value is None else int(value)

        return cls(
            listing_id=str(raw["listingId"]),
            rev=rev,
            owner_id=raw.get("ownerId"),
            classified_id=raw.get("classifiedId"),
            watched_sent_at=raw.get("watchedSentAt"),
            known_revision=optional_int(raw.get("knownRevision")),
            revision_floor=optional_int(raw.get("revisionFloor")),
            floor_is_previous_send=bool(raw.get("floorIsPreviousSend", False)),
            revision_seen_at=raw.get("revisionSeenAt"),
            last_status_date=raw.get("lastStatusDate"),
            last_status=raw.get("lastStatus"),
            checks=int(raw.get("checks") or 0),
            problems={str(s): OpenProblem.from_dict(p) for s, p in (raw.get("problems") or {}).items()},
            notified=[str(n) for n in raw.get("notified") or []],
            retries={str(m): MediaRetry.from_dict(r) for m, r in (raw.get("retries") or {}).items()},
            outbox=[Notification.from_dict(n) for n in raw.get("outbox") or []],
            episodes={str(s): int(n) for s, n in (raw.get("episodes") or {}).items()},
        )
