"""What the owner status page shows of each listing, decided from the state vitrine keeps.

The input is what is stored (the DESIRED item's listing, bookkeeping and rejection, the SENT item's
send, the STATUS item's reconciliation memory); the output is a plain view with no wording, so the
same decisions serve every language the page is rendered in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from vitrine.core.consolidation import ConsolidationPolicy
from vitrine.core.errors import FieldError
from vitrine.core.model import DesiredListing, Media, Rejection, SyncState
from vitrine.core.moments import parse_moment
from vitrine.core.quality import quality_warnings
from vitrine.core.reconcile.aviv_status import (
    FAILED_STATUSES,
    MEDIA_ERROR_STATUSES,
    portal_names,
)
from vitrine.core.reconcile.records import StatusState

# Where the listing stands, for the owner (the page words each one).
Standing = Literal[
    "online",
    "online_media_errors",
    "processing",
    "failed",
    "rejected",
    "withdrawn",
    "waiting_data",
    "not_sent",
]
# What the owner should do about a media (the page words each one).
MediaAdvice = Literal["check_url", "replace_file", "retrying"]
ATTENTION: frozenset[Standing] = frozenset({"online_media_errors", "failed", "rejected"})


@dataclass(frozen=True, slots=True)
class SendRecord:
    """What the page needs of the SENT item: when, which version, and whether it was a deletion."""

    sent_at: str
    desired_version: int
    classified_id: str | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class OwnerListing:
    """One listing of the owner, as stored."""

    desired: DesiredListing
    sync: SyncState
    status: StatusState
    sent: SendRecord | None = None
    rejection: Rejection | None = None


@dataclass(frozen=True, slots=True)
class MediaIssue:
    """A media a portal does not show: where it is, what AVIV said, what to do."""

    position: int | None
    title: str | None
    url: str
    status: str
    reason: str
    advice: MediaAdvice


@dataclass(frozen=True, slots=True)
class MediaWarning:
    """A quality warning about the media at ``position`` (``code`` as in ``core.quality``)."""

    position: int
    title: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ListingView:
    listing_id: str
    standing: Standing
    aviv_status: str | None
    portals: tuple[str, ...]
    estate_type: str | None = None
    city: str | None = None
    last_sent_at: datetime | None = None
    pending_since: datetime | None = None
    next_send_at: datetime | None = None
    sending_now: bool = False
    media_issues: tuple[MediaIssue, ...] = ()
    problem_kinds: tuple[str, ...] = ()
    problem_details: tuple[str, ...] = ()
    rejection_errors: tuple[FieldError, ...] = ()
    rejection_detail: str | None = None
    warnings: tuple[MediaWarning, ...] = ()

    @property
    def needs_attention(self) -> bool:
        return self.standing in ATTENTION or bool(self.media_issues) or "stuck" in self.problem_kinds


@dataclass(frozen=True, slots=True)
class OwnerPage:
    owner_id: str
    listings: tuple[ListingView, ...]
    generated_at: datetime
    not_shown: int = 0

    @property
    def attention_count(self) -> int:
        return sum(1 for listing in self.listings if listing.needs_attention)


def owner_page(
    owner_id: str,
    listings: Sequence[OwnerListing],
    *,
    now: datetime,
    consolidation: ConsolidationPolicy,
    default_portals: Sequence[str],
    not_shown: int = 0,
) -> OwnerPage:
    """The page: listings needing attention first, then by listing id; deleted ones once gone."""
    views = [
        listing_view(listing, consolidation=consolidation, default_portals=default_portals)
        for listing in listings
        if not _gone(listing)
    ]
    views.sort(key=lambda view: (not view.needs_attention, view.listing_id))
    return OwnerPage(owner_id=owner_id, listings=tuple(views), generated_at=now, not_shown=not_shown)


def owner_locale(listings: Sequence[OwnerListing]) -> str | None:
    """The language the owner's webhooks last asked for (the most recently updated listing that says)."""
    said = [listing.desired for listing in listings if listing.desired.locale]
    latest = max(said, key=lambda desired: desired.updated_at or "", default=None)
    return latest.locale if latest is not None else None


def _gone(listing: OwnerListing) -> bool:
    """Deleted, and the deletion went through: nothing left for the owner to follow."""
    return listing.desired.deleted and not listing.sync.dirty and not listing.status.problems


def listing_view(
    listing: OwnerListing, *, consolidation: ConsolidationPolicy, default_portals: Sequence[str]
) -> ListingView:
    desired, sync, status = listing.desired, listing.sync, listing.status
    problems = list(status.problems.values())
    next_send = None
    if sync.dirty and sync.last_edit_at is not None and sync.first_unsent_at is not None:
        next_send = consolidation.due_at(sync.last_edit_at, sync.first_unsent_at)
    data = desired.data or {}
    rejection = listing.rejection if _rejection_current(listing) else None
    return ListingView(
        listing_id=desired.listing_id,
        standing=_standing(listing, rejection),
        aviv_status=status.last_status,
        portals=tuple(portal_names(desired.portals or default_portals)),
        estate_type=_words(data.get("estateType")),
        city=_text(
            (data.get("location") or {}).get("city") if isinstance(data.get("location"), dict) else None
        ),
        last_sent_at=parse_moment(listing.sent.sent_at) if listing.sent else None,
        pending_since=sync.first_unsent_at if sync.dirty else None,
        next_send_at=next_send,
        sending_now=sync.lease_owner is not None,
        media_issues=media_issues(status, desired.media),
        problem_kinds=tuple(sorted({p.kind for p in problems})),
        problem_details=tuple(
            p.detail or p.subject for p in problems if p.kind in ("classified_error", "stuck")
        ),
        rejection_errors=rejection.errors if rejection else (),
        rejection_detail=(rejection.detail or None) if rejection else None,
        warnings=media_warnings(desired.media),
    )


def _rejection_current(listing: OwnerListing) -> bool:
    """The refusal is about the newest version handled: no later version went through since."""
    rejection = listing.rejection
    if rejection is None:
        return False
    return rejection.desired_version >= listing.sync.sent_version


def _standing(listing: OwnerListing, rejection: Rejection | None) -> Standing:
    status = listing.status.last_status
    if listing.desired.deleted:
        return "withdrawn"
    if rejection is not None:
        return "rejected"
    if listing.sent is None:
        return "waiting_data" if not listing.sync.has_data else "not_sent"
    if status in ("CREATED", "UPDATED"):
        return "online"
    if status in MEDIA_ERROR_STATUSES:
        return "online_media_errors"
    if status in FAILED_STATUSES or status == "DELETED":
        return "failed"
    return "processing"


def media_issues(status: StatusState, media: Sequence[Media]) -> tuple[MediaIssue, ...]:
    """Every failing media the owner was told of, and those vitrine is retrying silently."""
    issues: list[MediaIssue] = []
    by_id = {m.id: (index, m) for index, m in enumerate(media)}
    for problem in status.problems.values():
        if problem.kind != "media_error":
            continue
        told = {str(entry.get("id")) for entry in problem.media if entry.get("id")}
        issues.extend(_told_issue(entry) for entry in problem.media)
        for media_id in problem.media_ids:
            if media_id in told or media_id not in by_id:
                continue
            index, item = by_id[media_id]
            retry = status.retries.get(media_id)
            reason = (retry.last_result if retry else None) or "the portal could not download the file"
            issues.append(MediaIssue(index, item.title, item.url, "DOWNLOADING_FAILED", reason, "retrying"))
    issues.sort(key=lambda issue: (issue.position is None, issue.position or 0))
    return tuple(issues)


def _told_issue(entry: dict[str, Any]) -> MediaIssue:
    status = str(entry.get("status") or "")
    position = entry.get("position")
    return MediaIssue(
        position=position if isinstance(position, int) else None,
        title=_text(entry.get("title")),
        url=str(entry.get("url") or entry.get("sentUrl") or ""),
        status=status,
        reason=str(entry.get("reason") or ""),
        advice="replace_file" if status == "CREATING_FAILED" else "check_url",
    )


def media_warnings(media: Sequence[Media]) -> tuple[MediaWarning, ...]:
    """``core.quality``'s warnings (what sync reports with each send), placed on their media."""
    warnings = []
    for warning in quality_warnings(media):
        position = int(warning.pointer.rsplit("/", 1)[-1])
        title = media[position].title if position < len(media) else None
        warnings.append(MediaWarning(position, title, warning.code, warning.message))
    return tuple(warnings)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _words(code: Any) -> str | None:
    """AVIV's ``APARTMENT``/``GASTRONOMY_HOTEL`` as ``Apartment``/``Gastronomy hotel``."""
    text = _text(code)
    return text.replace("_", " ").capitalize() if text else None
