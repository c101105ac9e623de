"""The listing an event produces, reviewed as AVIV will see it: schema errors refuse the event, quality
warnings go back with the 202.

Sync runs later, so without this the CRM would hear 202 for a listing AVIV then refuses with a 400,
and learn of it hours later. Ingest builds the very classified sync would send for the listing the
event produces (:func:`~vitrine.core.builder.build_classified` with the configured defaults, media
stamped as a first send stamps them) and checks it against AVIV's official ``AvivClassified`` schema
(:func:`~vitrine.core.classified_check.check_classified`). Each error and warning, found at a pointer
into that classified, is named where its value came from in the webhook body:

* ``listing.upserted`` carries the whole listing: ``/data/…`` is ``/listing/data/…``, and so on;
* ``media.added`` / ``media.updated``: a problem in the event's own media is at ``/media/…``;
* ``media.reordered``: a warning about the media now at position *i* is at ``/order/i``;
* anything else came from the listing as stored: the pointer is ``""`` (the event as a whole) and
  the reason names the stored field as a ``listing.upserted`` would carry it, and the media's id.

A listing without ``data`` yet (media sent before its first upsert) is reviewed for what it has: its
media. A deleted listing is not reviewed: nothing of it is sent until a ``listing.upserted``, which
replaces all of it, is reviewed in full.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.errors import FieldError
from vitrine.core.events.vocabulary import (
    LISTING_UPSERTED,
    MEDIA_ADDED,
    MEDIA_REORDERED,
    MEDIA_UPDATED,
    ListingEvent,
)
from vitrine.core.model import DesiredListing
from vitrine.core.quality import QualityWarning, quality_warnings
from vitrine.core.timestamps import assign_timestamps

_MEDIA = "/media"


@dataclass(frozen=True)
class ListingReview:
    """What AVIV would refuse in the listing (``errors``) and what the portals would show badly
    (``warnings``), each at a pointer into the webhook body."""

    errors: tuple[FieldError, ...] = ()
    warnings: tuple[QualityWarning, ...] = ()


def review_listing(
    event: ListingEvent, produced: DesiredListing, defaults: ClassifiedDefaults, now: datetime
) -> ListingReview:
    """Review ``produced``, the listing ``event`` leads to, as the next sync would send it at ``now``."""
    if produced.deleted:
        return ListingReview()
    from vitrine.core.classified_check import check_classified  # its schema loads on first use only

    violations = check_classified(classified_for(produced, defaults, now))
    if produced.data is None:  # media before the first upsert: only what it has is judged
        violations = [v for v in violations if _media_index(v.pointer) is not None]
    sources = _media_sources(event, produced)
    places = [f"/order/{i}" for i in range(len(produced.media))] if event.type == MEDIA_REORDERED else sources
    return ListingReview(
        errors=tuple(_locate_error(v.pointer, v.reason, event, produced, sources) for v in violations),
        warnings=tuple(_locate_warning(w, produced, places) for w in quality_warnings(produced.media)),
    )


def classified_for(listing: DesiredListing, defaults: ClassifiedDefaults, now: datetime) -> dict[str, Any]:
    """The body a first send of ``listing`` at ``now`` would carry (timestamps only matter as a
    well-formed part of each media URL, so none is kept from an earlier send)."""
    return build_classified(listing, assign_timestamps(listing.media, {}, {}, now), defaults)


def _media_index(pointer: str) -> tuple[int, str] | None:
    """``/media/3/url`` → ``(3, "/url")``; None for a pointer outside one media item."""
    if not pointer.startswith(_MEDIA + "/"):
        return None
    index, slash, rest = pointer[len(_MEDIA) + 1 :].partition("/")
    return (int(index), slash + rest) if index.isdigit() else None


def _media_sources(event: ListingEvent, produced: DesiredListing) -> list[str | None]:
    """Per media of ``produced``: where the event carried its fields, or None (it was stored)."""
    if event.type == LISTING_UPSERTED:
        return [f"/listing/media/{index}" for index in range(len(produced.media))]
    if event.type in (MEDIA_ADDED, MEDIA_UPDATED):
        own_id = str(event.payload["media"]["id"])
        return [_MEDIA if media.id == own_id else None for media in produced.media]
    return [None] * len(produced.media)


def _locate_error(
    pointer: str, reason: str, event: ListingEvent, produced: DesiredListing, sources: Sequence[str | None]
) -> FieldError:
    """Name a classified error where the CRM can fix it."""
    in_media = _media_index(pointer)
    if in_media is not None:
        index, rest = in_media
        source = sources[index]
        if source is not None:
            return FieldError(source + rest, reason)
        return FieldError(
            "",
            f"media {produced.media[index].id!r} as stored, at /listing/media/{index}{rest}: {reason} "
            "(send a media.updated or a listing.upserted that fixes it)",
        )
    if event.type == LISTING_UPSERTED:
        return FieldError("/listing" + pointer, reason)
    return FieldError(
        "",
        f"the listing as stored, at /listing{pointer}: {reason} (send a listing.upserted that fixes it)",
    )


def _locate_warning(
    warning: QualityWarning, produced: DesiredListing, places: Sequence[str | None]
) -> QualityWarning:
    """Point a warning at the event's field that put the media there, else name the stored media."""
    in_media = _media_index(warning.pointer)
    assert in_media is not None, f"quality warnings are about one media: {warning.pointer}"
    index, _ = in_media
    place = places[index]
    if place is not None:
        return dataclasses.replace(warning, pointer=place)
    media_id = produced.media[index].id
    message = f"media {media_id!r}, now at /listing/media/{index}: {warning.message}"
    return dataclasses.replace(warning, pointer="", message=message)
