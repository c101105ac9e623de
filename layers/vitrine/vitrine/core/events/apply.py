"""Folding a valid webhook event into the listing's desired state (the pure half of ``ingest``).

:func:`apply_event` reports whether anything changed. Nothing here talks to AVIV: events are never
replayed into AVIV, they only move the desired state, which ``sync`` later compares with what AVIV
was last sent.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from vitrine.core.errors import FieldError, ValidationFailed
from vitrine.core.events.vocabulary import (
    LISTING_DELETED,
    LISTING_UPSERTED,
    MEDIA_ADDED,
    MEDIA_REMOVED,
    MEDIA_REORDERED,
    MEDIA_UPDATED,
    ListingEvent,
)
from vitrine.core.model import DesiredListing, Media, base_media_version
from vitrine.core.moments import format_moment
from vitrine.core.timestamps import strip_timestamp

# ApplyResult.ignored_reason values.
STALE_SEQUENCE = "stale_sequence"
UNKNOWN_MEDIA = "unknown_media"


@dataclass(frozen=True)
class ApplyResult:
    """What an event did to a listing.

    ``changed``: ``desired`` differs from what is stored and must be written (its ``version`` was bumped).
    ``needs_sync``: what AVIV should show changed (portals, data, specific, media, deleted or
    intermediary) — mark the listing dirty. A write without sync happens when only bookkeeping moved
    (a newer ``sequence``, a new ``ownerId`` or ``locale``): the sequence watermark must be stored,
    or a late older event could later be applied over a newer one.
    ``ignored_reason``: why the event was not applied to the content: ``stale_sequence`` (nothing at
    all was applied) or ``unknown_media`` (media.removed of an id the listing does not have); ``None``
    otherwise, including an event that leaves the content as it was (``needs_sync`` is then False).
    """

    desired: DesiredListing
    changed: bool
    ignored_reason: str | None
    needs_sync: bool = False


def apply_event(current: DesiredListing | None, event: ListingEvent, now: datetime) -> ApplyResult:
    """Fold ``event`` into ``current`` (``None``: the listing is new) and return a new desired state.

    Pure: ``current`` is never mutated. Raises :class:`ValidationFailed` when the event does not fit
    the current media (pointers into the webhook body) and ``ValueError`` on a programming error
    (another listing's state, a naive ``now``). A stale event (``sequence`` ≤ the last applied one) is
    ignored before anything else is checked: it describes a state that has already been superseded.
    """
    if current is not None and current.listing_id != event.listing_id:
        raise ValueError(f"event for listing {event.listing_id!r} applied to listing {current.listing_id!r}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    before = (
        current
        if current is not None
        else DesiredListing(
            listing_id=event.listing_id, owner_id=event.owner_id, intermediary_id=event.intermediary_id
        )
    )
    if (
        event.sequence is not None
        and before.last_sequence is not None
        and event.sequence <= before.last_sequence
    ):
        return ApplyResult(desired=_copy(before), changed=False, ignored_reason=STALE_SEQUENCE)

    after = _copy(before)
    reason = _APPLIERS[event.type](after, event.payload)
    after.owner_id = event.owner_id
    if event.intermediary_id is not None:  # absent = keep: media events need not repeat it
        after.intermediary_id = event.intermediary_id
    if event.locale is not None:  # absent = keep, like the intermediary
        after.locale = event.locale
    if event.sequence is not None:
        after.last_sequence = event.sequence

    needs_sync = _sync_view(after) != _sync_view(before)
    changed = needs_sync or _bookkeeping_view(after) != _bookkeeping_view(before)
    ignored_reason = None if needs_sync else reason
    if not changed:
        return ApplyResult(desired=_copy(before), changed=False, ignored_reason=ignored_reason)
    after.version = before.version + 1
    after.updated_at = format_moment(now)
    return ApplyResult(desired=after, changed=True, ignored_reason=ignored_reason, needs_sync=needs_sync)


def _copy(listing: DesiredListing) -> DesiredListing:
    """A copy the appliers may change: its own media and portals lists (``Media`` is immutable).

    ``data`` and ``specific`` are shared: appliers only ever replace them (with deep copies of the
    event's), never change them in place, so a deep copy of every listing per event is not needed.
    """
    return dataclasses.replace(
        listing,
        media=list(listing.media),
        portals=list(listing.portals) if listing.portals is not None else None,
    )


def _sync_view(listing: DesiredListing) -> tuple[Any, ...]:
    """What sync reads: a difference here must reach AVIV."""
    return (
        listing.portals,
        listing.data,
        listing.specific,
        listing.media,
        listing.deleted,
        listing.intermediary_id,
    )


def _bookkeeping_view(listing: DesiredListing) -> tuple[Any, ...]:
    return (listing.owner_id, listing.last_sequence, listing.locale)


def _same_url(left: str, right: str) -> bool:
    """AVIV refuses two media with one URL, timestamps aside (400 "Duplicated media")."""
    return strip_timestamp(left) == strip_timestamp(right)


def _url_clash(listing: DesiredListing, media: Media) -> FieldError | None:
    for other in listing.media:
        if other.id != media.id and _same_url(other.url, media.url):
            return FieldError("/media/url", f"media {other.id!r} already has this URL (timestamp ignored)")
    return None


def _index_of(listing: DesiredListing, media_id: str) -> int | None:
    return next((index for index, media in enumerate(listing.media) if media.id == media_id), None)


def _keep_retry_version(previous: Media | None, incoming: Media) -> Media:
    """Keep vitrine's automatic-retry version (``v3#retry1``) when the CRM re-sends the same media
    at its own version (``v3``): the bytes did not change, so AVIV must not download it again."""
    if (
        previous is not None
        and previous.url == incoming.url
        and previous.version != incoming.version
        and base_media_version(previous.version) == incoming.version
    ):
        return dataclasses.replace(incoming, version=previous.version)
    return incoming


def _apply_upserted(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    state = payload["listing"]
    listing.portals = list(state["portals"]) if "portals" in state else None
    listing.data = copy.deepcopy(state["data"])
    listing.specific = copy.deepcopy(state["specific"]) if "specific" in state else None
    previous = {media.id: media for media in listing.media}
    listing.media = [
        _keep_retry_version(previous.get(str(item["id"])), Media.from_dict(item)) for item in state["media"]
    ]
    listing.deleted = False
    return None


def _apply_added(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    media = Media.from_dict(payload["media"])
    position: int | None = payload.get("position")
    index = _index_of(listing, media.id)
    if index is not None and listing.media[index] == media and position in (None, index):
        return None  # a retried media.added, already applied: nothing changes
    errors: list[FieldError] = []
    if index is not None:
        errors.append(FieldError("/media/id", "a media with this id already exists (use media.updated)"))
    clash = _url_clash(listing, media)
    if clash is not None:
        errors.append(clash)
    if position is not None and position > len(listing.media):
        errors.append(
            FieldError("/position", f"must be between 0 and {len(listing.media)} (the media count)")
        )
    if errors:
        raise ValidationFailed(errors, "media.added does not fit the listing")
    listing.media.insert(len(listing.media) if position is None else position, media)
    return None


def _apply_updated(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    media = Media.from_dict(payload["media"])
    index = _index_of(listing, media.id)
    if index is None:
        raise ValidationFailed(
            [FieldError("/media/id", "no media with this id on the listing (use media.added)")],
            "media.updated does not fit the listing",
        )
    clash = _url_clash(listing, media)
    if clash is not None:
        raise ValidationFailed([clash], "media.updated does not fit the listing")
    listing.media[index] = _keep_retry_version(listing.media[index], media)
    return None


def _apply_removed(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    index = _index_of(listing, payload["mediaId"])
    if index is None:
        return UNKNOWN_MEDIA  # already gone, or never arrived: removing it again is harmless
    del listing.media[index]
    return None


def _apply_reordered(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    order: Sequence[str] = payload["order"]
    by_id = {media.id: media for media in listing.media}
    errors = [
        FieldError(f"/order/{index}", f"no media {media_id!r} on the listing")
        for index, media_id in enumerate(order)
        if media_id not in by_id
    ]
    listed = set(order)
    missing = [media.id for media in listing.media if media.id not in listed]
    if missing:
        errors.append(
            FieldError(
                "/order", "must list every media id of the listing once; missing: " + ", ".join(missing)
            )
        )
    if errors:
        raise ValidationFailed(errors, "media.reordered does not fit the listing")
    listing.media = [by_id[media_id] for media_id in order]
    return None


def _apply_deleted(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    # data, portals and media are kept: a later listing.upserted replaces them anyway, and until then
    # the last known state is what an operator wants to see.
    listing.deleted = True
    return None


_APPLIERS: Mapping[str, Callable[[DesiredListing, Mapping[str, Any]], str | None]] = MappingProxyType(
    {
        LISTING_UPSERTED: _apply_upserted,
        MEDIA_ADDED: _apply_added,
        MEDIA_UPDATED: _apply_updated,
        MEDIA_REMOVED: _apply_removed,
        MEDIA_REORDERED: _apply_reordered,
        LISTING_DELETED: _apply_deleted,
    }
)
