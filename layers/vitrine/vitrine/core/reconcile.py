"""Reconciliation: what happened to what vitrine sent, and what the listing's owner must be told.

AVIV answers every POST/PUT/DELETE with 202 and processes it later, so a send is only a request.
The reconcile run reads AVIV's latest status of each watched listing and this module decides, as a
pure function of (the status, what was sent, what was already known and told), what it means:

* ``confirmed`` — CREATED / UPDATED / DELETED for our send: an open problem is **resolved** (one
  notification), and the listing leaves the watch set;
* ``media_error`` — ``*_WITH_MEDIA_ERROR``: each ``mediaStatuses[]`` entry ``DOWNLOADING_FAILED`` or
  ``CREATING_FAILED`` is mapped *by URL* back to the CRM media (id, title, url, position) through
  the last-sent body and per-media records;
* ``classified_error`` — CREATING/UPDATING/RECEIVING/DELETING_FAILED, with AVIV's message and details;
* ``processing`` — anything else, or a status older than our send: look again later with backoff,
  and report the send as **stuck** once it is older than the configured age.

Each problem has a *fingerprint* (listing + what exactly is wrong); a fingerprint is notified at
most once, however many runs see the problem. What is wrong is the listing's, not one send's: the
same failing media (CRM id and URL, timestamp aside) or the same AVIV error seen again after an
unrelated re-send is the same problem (only ``stuck`` is about one send). A different problem
(another media fails) has a different fingerprint and is notified; the disappearance of a notified
problem sends one ``resolved``, and the same problem coming back later is a new *episode* of the
slot, with a new fingerprint. Rejections recorded by the sync engine (AVIV 400 or pre-send
validation) go through the same bookkeeping as ``sync_rejected``.

Optional automatic media retry: a ``DOWNLOADING_FAILED`` media whose URL now answers with an image
or a video gets a new timestamp (by a new *retry version*, see :func:`retry_media_version`) so AVIV
downloads it again — at most ``retry_attempts`` times per media version, with backoff. The owner is
told only when the retries are exhausted or the URL itself is unreachable, with what it answered.

Everything here is pure: the clock, AVIV's answer and the URL checks are inputs.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from vitrine.core.errors import FieldError
from vitrine.core.model import (  # noqa: F401 - the media-version helpers are re-exported
    RETRY_SUFFIX,
    LastSent,
    Rejection,
    SentMedia,
    base_media_version,
    retry_media_version,
)
from vitrine.core.moments import format_moment, parse_moment
from vitrine.core.timestamps import strip_timestamp

# ----------------------------------------------------------------------------------------------
# AVIV vocabulary
# ----------------------------------------------------------------------------------------------

CONFIRMED_STATUSES = frozenset({"CREATED", "UPDATED", "DELETED"})
MEDIA_ERROR_STATUSES = frozenset({"CREATED_WITH_MEDIA_ERROR", "UPDATED_WITH_MEDIA_ERROR"})
FAILED_STATUSES = frozenset({"CREATING_FAILED", "UPDATING_FAILED", "RECEIVING_FAILED", "DELETING_FAILED"})
FAILED_MEDIA_STATUSES = frozenset({"DOWNLOADING_FAILED", "CREATING_FAILED"})
DOWNLOADING_FAILED = "DOWNLOADING_FAILED"

PORTAL_NAMES: Mapping[str, str] = {
    "SL": "SeLoger",
    "BUCOM": "Bureaux & Commerces",
    "BD": "Belles Demeures",
    "SLC": "SeLoger Construire",
    "SLN": "SeLoger Neuf",
}

# ----------------------------------------------------------------------------------------------
# Notification vocabulary
# ----------------------------------------------------------------------------------------------

Kind = Literal["media_error", "classified_error", "sync_rejected", "stuck", "resolved"]
KINDS: tuple[str, ...] = ("media_error", "classified_error", "sync_rejected", "stuck", "resolved")
SEVERITY: Mapping[str, str] = {
    "media_error": "warning",
    "classified_error": "error",
    "sync_rejected": "error",
    "stuck": "warning",
    "resolved": "info",
}
# SNS: "Subjects must be ASCII text ... and must be less than 100 characters long."
SUBJECT_MAX_LENGTH = 99
SCHEMA_VERSION = 1
# What the STATUS item remembers of notified fingerprints (dedupe beyond the open problems).
NOTIFIED_MEMORY = 64
# The status of a sync_rejected notification: AVIV never processed anything.
REJECTED_STATUS = "REJECTED"

# Problem slots: at most one open problem per slot. ``aviv`` is about the last send's processing,
# ``rejection`` about a version AVIV (or vitrine's validation) refused to take at all.
SLOT_AVIV = "aviv"
SLOT_REJECTION = "rejection"


Outcome = Literal["confirmed", "media_error", "classified_error", "processing"]


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    """Timing and switches of reconciliation (from settings; tests shrink the durations)."""

    stuck_after: timedelta = timedelta(hours=2)
    # A send still processing is looked at again after base, 2*base, ... up to cap.
    recheck_base: timedelta = timedelta(minutes=1)
    recheck_cap: timedelta = timedelta(minutes=30)
    # A listing with an open problem is still looked at, slowly (the problem may clear on AVIV's side).
    open_problem_recheck: timedelta = timedelta(hours=1)
    open_problem_recheck_cap: timedelta = timedelta(hours=24)
    auto_media_retry: bool = False
    retry_attempts: int = 3
    # Between two automatic retries of one media, and between two checks of an unreachable URL.
    retry_backoff: timedelta = timedelta(minutes=5)
    retry_backoff_cap: timedelta = timedelta(hours=6)
    # An unreachable URL is checked again with backoff for this long, then left to the owner.
    retry_give_up_after: timedelta = timedelta(hours=24)
    # AVIV's clock and ours differ a little, and statusDate may be truncated to the second.
    clock_tolerance: timedelta = timedelta(seconds=2)


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------


def _backoff(base: timedelta, cap: timedelta, step: int) -> timedelta:
    seconds = base.total_seconds() * (2 ** max(0, min(step, 30)))
    return timedelta(seconds=min(cap.total_seconds(), seconds))


def fingerprint(kind: str, identity: Any) -> str:
    """``<kind>:<16 hex>`` of the canonical JSON of what identifies the problem."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:16]}"


def portal_names(portals: Iterable[str]) -> list[str]:
    return [PORTAL_NAMES.get(code, code) for code in portals]


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


# ----------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailedMedia:
    """One media AVIV reported as failed, mapped back to the CRM media it was sent for."""

    sent_url: str  # exactly as AVIV reported it (our URL, timestamp included)
    status: str  # DOWNLOADING_FAILED or CREATING_FAILED
    media_id: str | None = None  # None: the URL matches nothing we sent
    url: str | None = None  # the CRM's URL (no timestamp)
    title: str | None = None
    position: int | None = None
    media_type: str | None = None
    version: str | None = None

    @property
    def key(self) -> str:
        return self.media_id or self.sent_url

    def default_reason(self) -> str:
        if self.status == DOWNLOADING_FAILED:
            return "the portal could not download the file from its URL"
        return "the portal downloaded the file but could not process it (format or size)"


@dataclass(frozen=True, slots=True)
class StatusReading:
    """AVIV's latest status interpreted against the send it should be about."""

    outcome: Outcome
    status: str | None = None  # AVIV's status (None: no status yet)
    status_date: str | None = None
    revision: int | None = None
    portals: tuple[str, ...] = ()
    message: str | None = None
    sub_status: str | None = None
    sub_status_details: str | None = None
    failed_media: tuple[FailedMedia, ...] = ()
    # True when the status answers our send (False: none yet, or it is about an earlier send).
    ours: bool = False
    # Why a status was not taken as the answer to our send ("older than our send", "no status yet").
    note: str | None = None


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

    def matches(self, failed: FailedMedia) -> bool:
        return self.base_version == base_media_version(failed.version) and self.url == failed.url

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
    resolved; the eventual ``resolved`` notification names them too.
    """

    kind: str
    fingerprint: str
    detected_at: str
    subject: str
    notified: bool
    status: str | None = None
    sent_at: str | None = None
    desired_version: int | None = None
    media_ids: list[str] = field(default_factory=list)
    superseded: list[dict[str, Any]] = field(default_factory=list)

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
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OpenProblem:
        version = raw.get("desiredVersion")
        return cls(
            kind=str(raw["kind"]),
            fingerprint=str(raw["fingerprint"]),
            detected_at=str(raw.get("detectedAt") or ""),
            subject=str(raw.get("subject") or ""),
            notified=bool(raw.get("notified", False)),
            status=raw.get("status"),
            sent_at=raw.get("sentAt"),
            desired_version=None if version is None else int(version),
            media_ids=[str(m) for m in raw.get("mediaIds") or []],
            superseded=[dict(s) for s in raw.get("superseded") or []],
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for the listing's owner: SNS Subject, JSON body and filterable attributes."""

    id: str
    kind: str
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
            kind=str(raw["kind"]),
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
    AVIV's revision of that send once seen; ``revision_floor`` the highest revision of earlier
    sends, so that a late status of an earlier send is not taken for ours. ``outbox`` holds
    notifications decided but not yet confirmed published (published, then removed). ``episodes``
    counts, per slot, the problems closed so far: it is part of the slot's fingerprints, so a
    problem that comes back after its ``resolved`` is announced again, under a new id.
    """

    listing_id: str
    rev: int = 0
    owner_id: str | None = None
    classified_id: str | None = None
    watched_sent_at: str | None = None
    known_revision: int | None = None
    revision_floor: int | None = None
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
            last_status_date=raw.get("lastStatusDate"),
            last_status=raw.get("lastStatus"),
            checks=int(raw.get("checks") or 0),
            problems={str(s): OpenProblem.from_dict(p) for s, p in (raw.get("problems") or {}).items()},
            notified=[str(n) for n in raw.get("notified") or []],
            retries={str(m): MediaRetry.from_dict(r) for m, r in (raw.get("retries") or {}).items()},
            outbox=[Notification.from_dict(n) for n in raw.get("outbox") or []],
            episodes={str(s): int(n) for s, n in (raw.get("episodes") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class WatchUpdate:
    """What to do with the watch entry of the send: look again at ``due``, or stop (None)."""

    due: datetime | None

    @property
    def stop(self) -> bool:
        return self.due is None


@dataclass(frozen=True)
class Decision:
    """The outcome of reconciling one listing: the state to store (with ``notifications`` in its
    outbox), the watch update, and the media to re-stamp (automatic retry)."""

    state: StatusState
    notifications: tuple[Notification, ...]
    watch: WatchUpdate
    retry_media: tuple[FailedMedia, ...] = ()
    reading: StatusReading | None = None


# ----------------------------------------------------------------------------------------------
# Reading AVIV's status
# ----------------------------------------------------------------------------------------------


def _sent_items(last_sent: LastSent) -> list[Mapping[str, Any]]:
    items = last_sent.body.get("media") if isinstance(last_sent.body, Mapping) else None
    return [item for item in items or [] if isinstance(item, Mapping)]


def map_failed_media(media_statuses: Any, last_sent: LastSent) -> tuple[FailedMedia, ...]:
    """Every failed ``mediaStatuses[]`` entry, mapped by URL to the CRM media it was sent for.

    The exact URL (timestamp included) is tried first, then the URL without its timestamp (AVIV's
    identity of a media), so a status that echoes the URL slightly differently still maps. Entries
    whose URL matches nothing we sent are kept with ``media_id=None`` (the owner still hears of them).
    """
    if not isinstance(media_statuses, list):
        return ()
    items = _sent_items(last_sent)
    by_position: dict[int, SentMedia] = {m.position: m for m in last_sent.media}
    exact: dict[str, tuple[int, Mapping[str, Any]]] = {}
    stripped: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for position, item in enumerate(items):
        url = item.get("url")
        if isinstance(url, str):
            exact.setdefault(url, (position, item))
            stripped.setdefault(strip_timestamp(url), (position, item))
    failed: list[FailedMedia] = []
    seen: set[str] = set()
    for entry in media_statuses:
        if not isinstance(entry, Mapping):
            continue
        status, url = entry.get("status"), entry.get("url")
        if status not in FAILED_MEDIA_STATUSES or not isinstance(url, str) or url in seen:
            continue
        seen.add(url)
        found = exact.get(url) or stripped.get(strip_timestamp(url))
        if found is None:
            failed.append(FailedMedia(sent_url=url, status=str(status)))
            continue
        position, item = found
        record = by_position.get(position)
        title = item.get("title")
        failed.append(
            FailedMedia(
                sent_url=url,
                status=str(status),
                media_id=record.id if record else None,
                url=record.url if record else strip_timestamp(url),
                title=title if isinstance(title, str) else None,
                position=position,
                media_type=str(item.get("mediaType")) if item.get("mediaType") else None,
                version=record.version if record else None,
            )
        )
    return tuple(failed)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _revision_of(item: Mapping[str, Any]) -> int | None:
    value = item.get("revision")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _is_about_our_send(
    item: Mapping[str, Any], last_sent: LastSent, state: StatusState, policy: ReconcilePolicy
) -> str | None:
    """None when ``item`` answers our send; otherwise why not. Revision first (when known), then time."""
    revision = _revision_of(item)
    if revision is not None:
        ours = last_sent.revision if last_sent.revision is not None else state.known_revision
        if ours is not None:
            return None if revision >= ours else f"revision {revision} is older than ours ({ours})"
        if state.revision_floor is not None and revision <= state.revision_floor:
            return f"revision {revision} belongs to an earlier send"
    status_date = parse_moment(item.get("statusDate"))
    sent_at = parse_moment(last_sent.sent_at)
    if status_date is None or sent_at is None:
        return None if revision is not None else "the status has no date"
    if status_date < sent_at - policy.clock_tolerance:
        return "the status is older than our send"
    last_seen = parse_moment(state.last_status_date)
    if last_seen is not None and status_date < last_seen:
        return "an older status than one already applied"
    return None


def interpret_status(
    item: Mapping[str, Any] | None, last_sent: LastSent, state: StatusState, policy: ReconcilePolicy
) -> StatusReading:
    """Classify AVIV's latest status (polled or pushed) for ``last_sent``.

    ``state`` must already be rolled to this send (see :func:`roll_to_send`).
    """
    if item is None:
        return StatusReading("processing", note="no status yet")
    status = _optional_str(item.get("status"))
    portals = tuple(p for p in item.get("portals") or () if isinstance(p, str))
    common: dict[str, Any] = {
        "status": status,
        "status_date": _optional_str(item.get("statusDate")),
        "revision": _revision_of(item),
        "portals": portals,
        "message": _optional_str(item.get("message")),
        "sub_status": _optional_str(item.get("subStatus")),
        "sub_status_details": _optional_str(item.get("subStatusDetails")),
    }
    not_ours = _is_about_our_send(item, last_sent, state, policy)
    if not_ours is not None:
        return StatusReading("processing", note=not_ours, **common)
    common["ours"] = True
    if last_sent.deleted:
        if status == "DELETED":
            return StatusReading("confirmed", **common)
        if status in FAILED_STATUSES:
            return StatusReading("classified_error", **common)
        return StatusReading("processing", note="waiting for DELETED", **common)
    if status in ("CREATED", "UPDATED"):
        return StatusReading("confirmed", **common)
    if status == "DELETED":
        # Nobody but vitrine should delete it: the listing is no longer published.
        return StatusReading("classified_error", note="deleted on AVIV's side", **common)
    if status in MEDIA_ERROR_STATUSES:
        failed = map_failed_media(item.get("mediaStatuses"), last_sent)
        return StatusReading("media_error", failed_media=failed, **common)
    if status in FAILED_STATUSES:
        return StatusReading("classified_error", **common)
    return StatusReading("processing", **common)


def roll_to_send(
    state: StatusState, last_sent: LastSent, clock_tolerance: timedelta = timedelta(seconds=2)
) -> StatusState:
    """Point the per-send fields at ``last_sent`` (a new send resets them, keeping a revision floor).

    The revision learned for the previous send becomes the floor below which a status is "an earlier
    send's" — but only if the status that taught it predates the new send: a status AVIV produced
    for the new send can be applied before the new send is recorded (a push racing the sync), and
    must not then make the new send's own statuses look old.
    """
    if state.watched_sent_at == last_sent.sent_at:
        return state
    floor = state.revision_floor
    taught_at = parse_moment(state.last_status_date)
    new_sent_at = parse_moment(last_sent.sent_at)
    if (
        state.known_revision is not None
        and taught_at is not None
        and new_sent_at is not None
        and taught_at < new_sent_at - clock_tolerance
    ):
        floor = max(floor or 0, state.known_revision)
    state.revision_floor = floor
    state.known_revision = None
    state.watched_sent_at = last_sent.sent_at
    state.last_status_date = None
    state.last_status = None
    state.checks = 0
    if last_sent.classified_id:
        state.classified_id = last_sent.classified_id
    return state


# ----------------------------------------------------------------------------------------------
# Automatic media retry: which media to check
# ----------------------------------------------------------------------------------------------


def _retry_for(state: StatusState, failed: FailedMedia, now: datetime) -> MediaRetry:
    assert failed.media_id is not None
    current = state.retries.get(failed.media_id)
    if current is not None and current.matches(failed):
        return current
    return MediaRetry(
        media_id=failed.media_id,
        base_version=base_media_version(failed.version),
        url=failed.url or failed.sent_url,
        first_failed_at=format_moment(now),
    )


def _retryable(failed: FailedMedia, policy: ReconcilePolicy) -> bool:
    return policy.auto_media_retry and failed.status == DOWNLOADING_FAILED and failed.media_id is not None


def media_due_for_check(
    state: StatusState, reading: StatusReading, now: datetime, policy: ReconcilePolicy
) -> list[FailedMedia]:
    """The failed media whose URL should be checked now (auto-retry on, not exhausted, backoff over)."""
    if reading.outcome != "media_error" or not policy.auto_media_retry:
        return []
    due: list[FailedMedia] = []
    for failed in reading.failed_media:
        if not _retryable(failed, policy):
            continue
        retry = _retry_for(state, failed, now)
        if retry.exhausted:
            continue
        if (
            retry.unreachable
            and now - (parse_moment(retry.first_failed_at) or now) >= policy.retry_give_up_after
        ):
            continue
        next_check = parse_moment(retry.next_check_at)
        if next_check is None or next_check <= now:
            due.append(failed)
    return due


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """What a media URL answered (the adapter's probe result, as the core needs it)."""

    usable: bool
    reason: str  # completes "the URL ..." ("answers 404")


# ----------------------------------------------------------------------------------------------
# Deciding
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingContext:
    """What the notifications of one listing need besides the status."""

    listing_id: str
    owner_id: str
    classified_id: str | None
    portals: tuple[str, ...]


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


def _body(
    context: ListingContext,
    *,
    kind: str,
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


def _notification(
    context: ListingContext, kind: str, notification_id: str, subject: str, body: dict[str, Any]
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


def _media_entry(failed: FailedMedia, reason: str) -> dict[str, Any]:
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


def _open(
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


def _send_problem(
    *,
    kind: str,
    problem_id: str,
    subject: str,
    now: datetime,
    reading: StatusReading,
    last_sent: LastSent,
    media_ids: Sequence[str] = (),
) -> OpenProblem:
    """A not-yet-notified problem with the processing of ``last_sent`` (what the ``aviv`` slot holds)."""
    return OpenProblem(
        kind=kind,
        fingerprint=problem_id,
        detected_at=format_moment(now),
        subject=subject,
        notified=False,
        status=reading.status,
        sent_at=last_sent.sent_at,
        desired_version=last_sent.desired_version,
        media_ids=list(media_ids),
    )


def _open_send_problem(
    state: StatusState,
    context: ListingContext,
    *,
    kind: str,
    problem_id: str,
    subject: str,
    summary: str,
    body_status: str,
    now: datetime,
    reading: StatusReading,
    last_sent: LastSent,
    extra: Mapping[str, Any],
    media_ids: Sequence[str] = (),
) -> list[Notification]:
    """Open the ``aviv`` slot's problem for ``last_sent`` and tell the owner once.

    One place builds the body, the problem and the notification of a send's problem, so the three
    kinds (media_error, classified_error, stuck) cannot drift apart in what they record or say.
    """
    body = _body(
        context,
        kind=kind,
        notification_id=problem_id,
        status=body_status,
        detected_at=now,
        subject=subject,
        summary=summary,
        reading=reading,
        last_sent=last_sent,
        extra=extra,
    )
    problem = _send_problem(
        kind=kind,
        problem_id=problem_id,
        subject=subject,
        now=now,
        reading=reading,
        last_sent=last_sent,
        media_ids=media_ids,
    )
    return _open(state, SLOT_AVIV, problem, _notification(context, kind, problem_id, subject, body))


def _resolve(
    state: StatusState,
    slot: str,
    context: ListingContext,
    *,
    now: datetime,
    status: str,
    reading: StatusReading | None,
    last_sent: LastSent | None,
) -> list[Notification]:
    """Close the slot's problem; one ``resolved`` if anything of it had been notified."""
    problem = _close_slot(state, slot)
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
    kinds = [str(r["kind"]) for r in resolved]
    subject = resolved_subject(
        context.listing_id, kinds, reading.portals if reading and reading.portals else context.portals
    )
    summary = subject + ". " + "; ".join(str(r["subject"]) for r in resolved) + " - no longer the case."
    body = _body(
        context,
        kind="resolved",
        notification_id=notification_id,
        status=status,
        detected_at=now,
        subject=subject,
        summary=summary,
        reading=reading,
        last_sent=last_sent,
        extra={"resolves": resolved},
    )
    return [_notification(context, "resolved", notification_id, subject, body)]


def _recheck(state: StatusState, now: datetime, base: timedelta, cap: timedelta) -> datetime:
    due = now + _backoff(base, cap, state.checks)
    state.checks += 1
    return due


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
    the results of checking the URLs :func:`media_due_for_check` named.
    """
    state = roll_to_send(state.copy(), last_sent, policy.clock_tolerance)
    if reading.ours:
        if reading.revision is not None:
            state.known_revision = max(state.known_revision or 0, reading.revision)
        if reading.status_date:
            state.last_status_date = reading.status_date
        state.last_status = reading.status
    if context.owner_id:
        state.owner_id = context.owner_id
    notifications: list[Notification] = []

    # A later version went through: a rejection of an earlier one is history.
    rejection = state.problems.get(SLOT_REJECTION)
    if (
        rejection is not None
        and rejection.desired_version is not None
        and last_sent.desired_version > rejection.desired_version
    ):
        notifications += _resolve(
            state, SLOT_REJECTION, context, now=now, status=reading.status or "ACCEPTED",
            reading=reading, last_sent=last_sent,
        )  # fmt: skip

    retry_media: list[FailedMedia] = []
    sent_at = parse_moment(last_sent.sent_at) or now
    if reading.outcome == "confirmed":
        state.retries.clear()
        if last_sent.deleted:
            # The listing is gone from the portals: its problems no longer concern anyone.
            _close_slot(state, SLOT_AVIV)
        else:
            notifications += _resolve(
                state, SLOT_AVIV, context, now=now, status=reading.status or "CONFIRMED",
                reading=reading, last_sent=last_sent,
            )  # fmt: skip
        watch = WatchUpdate(None)
    elif reading.outcome == "classified_error":
        # What AVIV says, not which send it says it about: the same refusal after an unrelated
        # re-send is the problem the owner already knows.
        identity = {
            **_slot_identity(state, context, SLOT_AVIV),
            "status": reading.status,
            "message": reading.message,
            "subStatus": reading.sub_status,
            "details": reading.sub_status_details,
        }
        problem_id = fingerprint("classified_error", identity)
        subject = classified_error_subject(
            context.listing_id, reading.status, reading.portals or context.portals
        )
        summary = f"{subject}. AVIV says: {reading.message or reading.status}"
        if reading.sub_status_details:
            summary += f" ({reading.sub_status_details})"
        notifications += _open_send_problem(
            state, context, kind="classified_error", problem_id=problem_id, subject=subject,
            summary=summary, body_status=reading.status or "", now=now, reading=reading,
            last_sent=last_sent, extra={"message": reading.message or reading.status or ""},
        )  # fmt: skip
        watch = WatchUpdate(
            _recheck(state, now, policy.open_problem_recheck, policy.open_problem_recheck_cap)
        )
    elif reading.outcome == "media_error":
        found, retry_media, next_checks = _media_error(
            state, last_sent, reading, context, now, policy, url_checks
        )
        notifications += found
        if next_checks:
            watch = WatchUpdate(max(now, min(next_checks)))
        else:
            watch = WatchUpdate(
                _recheck(state, now, policy.open_problem_recheck, policy.open_problem_recheck_cap)
            )
    else:
        age = now - sent_at
        if age >= policy.stuck_after:
            problem_id = fingerprint("stuck", {"sentAt": last_sent.sent_at})
            subject = stuck_subject(
                context.listing_id, reading.portals or context.portals, policy.stuck_after
            )
            summary = (
                f"{subject}. vitrine sent it at {last_sent.sent_at}; AVIV's latest status is "
                f"{reading.status or 'none'}."
            )
            notifications += _open_send_problem(
                state, context, kind="stuck", problem_id=problem_id, subject=subject, summary=summary,
                body_status=reading.status or "NONE", now=now, reading=reading, last_sent=last_sent,
                extra={"ageSeconds": int(age.total_seconds())},
            )  # fmt: skip
            watch = WatchUpdate(_recheck(state, now, policy.recheck_cap, policy.open_problem_recheck_cap))
        else:
            due = _recheck(state, now, policy.recheck_base, policy.recheck_cap)
            # Never later than the moment the send becomes stuck, so "stuck" is reported on time.
            watch = WatchUpdate(min(due, sent_at + policy.stuck_after))
    state.outbox.extend(notifications)
    return Decision(
        state=state,
        notifications=tuple(notifications),
        watch=watch,
        retry_media=tuple(retry_media),
        reading=reading,
    )


def _media_error(
    state: StatusState,
    last_sent: LastSent,
    reading: StatusReading,
    context: ListingContext,
    now: datetime,
    policy: ReconcilePolicy,
    url_checks: Mapping[str, UrlCheck] | None,
) -> tuple[list[Notification], list[FailedMedia], list[datetime]]:
    """Split the failed media into "tell the owner" and "retry silently"; open/refresh the problem."""
    url_checks = url_checks or {}
    to_notify: list[tuple[FailedMedia, str]] = []
    to_retry: list[FailedMedia] = []
    next_checks: list[datetime] = []
    retries: dict[str, MediaRetry] = {}
    for failed in reading.failed_media:
        if not _retryable(failed, policy):
            to_notify.append((failed, failed.default_reason()))
            continue
        assert failed.media_id is not None
        retry = _retry_for(state, failed, now)
        retries[failed.media_id] = retry
        check = url_checks.get(failed.media_id)
        if check is None:
            # Not checked this time: exhausted, given up, waiting for its next check, or due but
            # left for the next run (a run checks a few URLs per listing at most).
            if retry.exhausted or retry.unreachable:
                to_notify.append((failed, _retry_reason(retry)))
            gave_up = now - (parse_moment(retry.first_failed_at) or now) >= policy.retry_give_up_after
            if not retry.exhausted and not (retry.unreachable and gave_up):
                next_checks.append(max(now, parse_moment(retry.next_check_at) or now))
            continue
        retry.probes += 1
        retry.last_result = check.reason
        if check.usable and retry.attempts < policy.retry_attempts:
            retry.attempts += 1
            retry.unreachable = False
            retry.next_check_at = format_moment(
                now + _backoff(policy.retry_backoff, policy.retry_backoff_cap, retry.attempts - 1)
            )
            next_checks.append(parse_moment(retry.next_check_at) or now)
            to_retry.append(failed)
        elif check.usable:
            retry.exhausted = True
            retry.next_check_at = None
            to_notify.append((failed, _retry_reason(retry)))
        else:
            retry.unreachable = True
            to_notify.append((failed, _retry_reason(retry)))
            if now - (parse_moment(retry.first_failed_at) or now) < policy.retry_give_up_after:
                retry.next_check_at = format_moment(
                    now + _backoff(policy.retry_backoff, policy.retry_backoff_cap, retry.probes - 1)
                )
                next_checks.append(parse_moment(retry.next_check_at) or now)
            else:
                retry.next_check_at = None
    # Keep only the bookkeeping of media failing now (a media that recovered starts afresh).
    state.retries = retries

    notified_media = [f for f, _ in to_notify]
    # Which media fail, not in which send: an unrelated re-send (another photo's title) that AVIV
    # answers with the same failing media is the problem the owner already knows.
    identity = {
        **_slot_identity(state, context, SLOT_AVIV),
        "media": sorted({media_identity(f) for f in notified_media}),
    }
    problem_id = fingerprint("media_error", identity) if notified_media else ""
    portals = reading.portals or context.portals
    if not to_notify:
        # Everything is being retried silently: keep a notified problem open as it is, or hold an
        # unnotified one so that a later success does not announce a problem nobody heard of.
        if SLOT_AVIV not in state.problems:
            state.problems[SLOT_AVIV] = _send_problem(
                kind="media_error",
                problem_id=fingerprint(
                    "media_error", {**_slot_identity(state, context, SLOT_AVIV), "retrying": True}
                ),
                subject=media_error_subject(context.listing_id, reading.failed_media, portals),
                now=now,
                reading=reading,
                last_sent=last_sent,
                media_ids=[f.key for f in reading.failed_media],
            )
        return [], to_retry, next_checks

    subject = media_error_subject(context.listing_id, notified_media, portals)
    lines = [f"{_media_label(f)}: {reason}" for f, reason in to_notify]
    summary = subject + ". " + "; ".join(lines)
    found = _open_send_problem(
        state,
        context,
        kind="media_error",
        problem_id=problem_id,
        subject=subject,
        summary=summary,
        body_status=reading.status or "",
        now=now,
        reading=reading,
        last_sent=last_sent,
        extra={
            "media": [_media_entry(f, reason) for f, reason in to_notify],
            "retrying": [f.key for f in to_retry] or None,
        },
        media_ids=[f.key for f in notified_media],
    )
    return found, to_retry, next_checks


def media_identity(failed: FailedMedia) -> tuple[str, str]:
    """What a failing media is, whichever send carried it: the CRM's id and its URL without the
    timestamp (AVIV's own identity of a media). Neither changes when the media is re-sent."""
    return (failed.media_id or "", failed.url or strip_timestamp(failed.sent_url))


def _slot_identity(state: StatusState, context: ListingContext, slot: str) -> dict[str, Any]:
    """The part of a fingerprint every problem of ``slot`` shares: the listing and the episode."""
    return {"listingId": context.listing_id, "episode": state.episodes.get(slot, 0)}


def _close_slot(state: StatusState, slot: str) -> OpenProblem | None:
    """Take the slot's problem away and start a new episode, so the same problem seen again later
    is a new one (new fingerprint, announced again) and not mistaken for the one just closed."""
    problem = state.problems.pop(slot, None)
    if problem is not None:
        state.episodes[slot] = state.episodes.get(slot, 0) + 1
    return problem


def _media_label(failed: FailedMedia) -> str:
    """How the owner recognises a media: its title, else its URL, and its place in the listing."""
    place = "" if failed.position is None else f" (#{failed.position + 1})"
    return f"{failed.title or failed.url or failed.sent_url}{place}"


def _retry_reason(retry: MediaRetry) -> str:
    answered = f"the URL {retry.last_result}" if retry.last_result else "the URL could not be checked"
    if retry.exhausted:
        return f"still not downloaded after {retry.attempts} automatic retries ({answered})"
    return answered


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
    if context.owner_id:
        state.owner_id = context.owner_id
    notifications: list[Notification] = []
    handled = max((v for v in (last_sent_version, handled_version) if v is not None), default=None)
    if handled is not None and handled > rejection.desired_version:
        notifications += _resolve(
            state, SLOT_REJECTION, context, now=now, status=state.last_status or "ACCEPTED",
            reading=None, last_sent=None,
        )  # fmt: skip
        state.outbox.extend(notifications)
        return Decision(state=state, notifications=tuple(notifications), watch=WatchUpdate(None))
    identity = {
        "desiredVersion": rejection.desired_version,
        "errors": [e.to_dict() for e in rejection.errors],
        "detail": rejection.detail,
    }
    problem_id = fingerprint("sync_rejected", identity)
    subject = rejected_subject(context.listing_id, len(rejection.errors))
    reasons = "; ".join(f"{e.pointer or '/'}: {e.reason}" for e in rejection.errors[:10])
    summary = f"{subject}. {rejection.detail}" + (f" - {reasons}" if reasons else "")
    body = _body(
        context,
        kind="sync_rejected",
        notification_id=problem_id,
        status=REJECTED_STATUS,
        detected_at=rejection.at or now,
        subject=subject,
        summary=summary,
        extra={
            "desiredVersion": rejection.desired_version,
            "errors": [_error_dict(e) for e in rejection.errors],
            "detail": rejection.detail,
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
    notifications += _open(
        state, SLOT_REJECTION, problem, _notification(context, "sync_rejected", problem_id, subject, body)
    )
    state.outbox.extend(notifications)
    return Decision(
        state=state,
        notifications=tuple(notifications),
        watch=WatchUpdate(rejection_recheck(rejection.at or now, now, policy)),
    )


def rejection_recheck(rejected_at: datetime, now: datetime, policy: ReconcilePolicy) -> datetime:
    """When to look again for the later version that ends a rejection: soon while the owner is likely
    fixing it, then less often — after half the rejection's age, between ``recheck_base`` and
    ``open_problem_recheck`` (no AVIV call: two DynamoDB reads)."""
    age = max(timedelta(0), now - rejected_at)
    delay = min(policy.open_problem_recheck, max(policy.recheck_base, age / 2))
    return now + delay


def _error_dict(error: FieldError) -> dict[str, str]:
    return {"pointer": error.pointer, "reason": error.reason}


def with_retry_versions(
    media: Sequence[Any], retry: Sequence[FailedMedia], attempts: Mapping[str, int]
) -> tuple[list[Any], list[str]]:
    """``media`` (CRM Media records) with each retried media's version renewed; and the ids renewed.

    A media is renewed only if it still has the URL and base version that failed: a CRM change that
    came meanwhile already gives it a new timestamp (and wins).
    """
    wanted = {f.media_id: f for f in retry if f.media_id is not None}
    renewed: list[str] = []
    out: list[Any] = []
    for item in media:
        failed = wanted.get(item.id)
        if (
            failed is not None
            and item.url == failed.url
            and base_media_version(item.version) == base_media_version(failed.version)
        ):
            out.append(replace(item, version=retry_media_version(item.version, attempts.get(item.id, 1))))
            renewed.append(item.id)
        else:
            out.append(item)
    return out, renewed
