"""AVIV's status vocabulary, and reading AVIV's latest status of a listing against what was sent.

A status is taken as the answer to our send only if it is about it (revision first, then time), so
a late status of an earlier send is never mistaken for ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from vitrine.core.model import LastSent, SentMedia
from vitrine.core.moments import parse_moment
from vitrine.core.notification_text.phrases import EN as ENGLISH
from vitrine.core.reconcile.policy import DEFAULT_CLOCK_TOLERANCE, ReconcilePolicy
from vitrine.core.reconcile.records import StatusState
from vitrine.core.timestamps import strip_timestamp

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

Outcome = Literal["confirmed", "media_error", "classified_error", "processing"]


def portal_names(portals: Iterable[str]) -> list[str]:
    return [PORTAL_NAMES.get(code, code) for code in portals]


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
        """What AVIV's status means, in English (the body's ``reason`` when vitrine knows no more)."""
        status = DOWNLOADING_FAILED if self.status == DOWNLOADING_FAILED else "CREATING_FAILED"
        return ENGLISH[f"media_what_{status}"]


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
    """None when ``item`` answers our send; otherwise why not.

    AVIV's revision decides whenever it can: at or above our send's revision, or above the revision
    of the send just before ours, it is ours; at or below an earlier send's, it is not. Only then
    are dates compared, and AVIV's clock is not ours: a statusDate up to ``clock_tolerance`` before
    our sentAt still answers our send. Last, a status older than one already applied (both AVIV's
    dates) is a late arrival and teaches nothing.
    """
    by_revision = _judge_by_revision(_revision_of(item), last_sent, state)
    if by_revision is None:
        by_date = _judge_by_date(item, last_sent, policy)
        if by_date is not None:
            return by_date
    elif by_revision:
        return by_revision
    status_date = parse_moment(item.get("statusDate"))
    last_seen = parse_moment(state.last_status_date)
    if status_date is not None and last_seen is not None and status_date < last_seen:
        return "an older status than one already applied"
    return None


def _judge_by_revision(revision: int | None, last_sent: LastSent, state: StatusState) -> str | None:
    """ "" (ours), why not, or None when the revision cannot tell."""
    if revision is None:
        return None
    ours = last_sent.revision if last_sent.revision is not None else state.known_revision
    if ours is not None:
        return "" if revision >= ours else f"revision {revision} is older than ours ({ours})"
    floor = state.revision_floor
    if floor is None:
        return None
    if revision <= floor:
        return f"revision {revision} belongs to an earlier send"
    return "" if state.floor_is_previous_send else None


def _judge_by_date(item: Mapping[str, Any], last_sent: LastSent, policy: ReconcilePolicy) -> str | None:
    """None when the statusDate may answer our send (within the clock tolerance), else why not."""
    status_date = parse_moment(item.get("statusDate"))
    sent_at = parse_moment(last_sent.sent_at)
    if status_date is None or sent_at is None:
        return None if _revision_of(item) is not None else "the status has no date"
    if status_date < sent_at - policy.clock_tolerance:
        return "the status is older than our send"
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
    state: StatusState, last_sent: LastSent, clock_tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE
) -> StatusState:
    """Point the per-send fields at ``last_sent`` (a new send resets them, keeping a revision floor).

    The revision learned for the previous send becomes the floor below which a status is "an earlier
    send's" — but only if it was learned before the new send was made: a status AVIV produced for
    the new send can be applied before the new send is recorded (a push racing the sync), and must
    not then make the new send's own statuses look old. vitrine's own clock says so exactly
    (``revision_seen_at`` against ``sentAt``); for a state stored without it, AVIV's statusDate is
    compared instead, with the clock tolerance.
    """
    if state.watched_sent_at == last_sent.sent_at:
        return state
    if state.known_revision is not None and _learned_before(state, last_sent, clock_tolerance):
        state.revision_floor = max(state.revision_floor or 0, state.known_revision)
        state.floor_is_previous_send = True
    else:
        # The send before ours never told its revision: a revision above the floor may be its own.
        state.floor_is_previous_send = False
    state.known_revision = None
    state.revision_seen_at = None
    state.watched_sent_at = last_sent.sent_at
    state.last_status_date = None
    state.last_status = None
    state.checks = 0
    if last_sent.classified_id:
        state.classified_id = last_sent.classified_id
    return state


def _learned_before(state: StatusState, last_sent: LastSent, clock_tolerance: timedelta) -> bool:
    """Whether the known revision was learned before ``last_sent`` was made (so is an earlier send's)."""
    new_sent_at = parse_moment(last_sent.sent_at)
    if new_sent_at is None:
        return False
    seen_at = parse_moment(state.revision_seen_at)
    if seen_at is not None:
        return seen_at < new_sent_at
    taught_at = parse_moment(state.last_status_date)
    return taught_at is not None and taught_at < new_sent_at - clock_tolerance
