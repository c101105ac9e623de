"""Adoption: take over a classified AVIV already holds without its portals downloading anything again.

An agency moving to vitrine already has its classifieds on AVIV, sent by its previous software
with the same offererEstateId and, usually, the same photo URLs with that software's timestamps;
so does a vitrine whose state table was lost or moved. On the first send of such a listing, AVIV's
copy is read and each CRM media whose URL, timestamps aside, is the URL AVIV holds keeps AVIV's URL
byte for byte, timestamp included: AVIV sees no new timestamp and downloads nothing. Only media that
are new, or whose URL differs, get a timestamp of vitrine's (``assign_timestamps``).

This assumes the file behind an unchanged URL is unchanged; a CRM that replaces a file under the
same URL bumps the media's ``version``, which re-stamps it from then on. See docs/media-timestamps.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.model import DesiredListing, LastSent, Media, SentMedia
from vitrine.core.plan import SyncPlan, plan_sync
from vitrine.core.ports import AvivClassifiedCopy
from vitrine.core.timestamps import strip_timestamp, timestamp_in, with_timestamp

# Held media no CRM media matches get records under these ids, only inside the adopted record and
# only so the diff sees them as removed; no record with such an id is ever stored.
UNMATCHED_PREFIX = "\x00held:"


def _held_urls(body: dict[str, Any]) -> list[str | None]:
    media = body.get("media")
    if not isinstance(media, list):
        return []
    return [item.get("url") if isinstance(item, dict) and isinstance(item.get("url"), str) else None
            for item in media]  # fmt: skip


def adopted_last_sent(
    listing_id: str, held: AvivClassifiedCopy, media: Sequence[Media], agency: str | None
) -> LastSent:
    """What AVIV holds, as if vitrine had sent it: the record ``plan_sync`` plans against.

    Each CRM media whose URL without its timestamp is a held URL without its timestamp gets that
    held item's place, timestamp and exact URL (``adopted_url`` when vitrine would spell it
    otherwise: another parameter order, another timestamp format, no timestamp at all). Records of
    the other held media (see UNMATCHED_PREFIX) make the diff count them as removed, so the plan is a
    no-op exactly when the body vitrine would send is the one AVIV holds.
    """
    urls = _held_urls(held.body)
    held_by_identity: dict[str, int] = {}
    for position, url in enumerate(urls):
        if url is not None:
            held_by_identity.setdefault(strip_timestamp(url), position)
    records: list[SentMedia] = []
    claimed: set[int] = set()
    for item in media:
        index = held_by_identity.get(strip_timestamp(item.url))
        if index is None or index in claimed:
            continue
        claimed.add(index)
        held_url = urls[index] or ""
        timestamp = timestamp_in(held_url) or ""
        spelled_alike = with_timestamp(item.url, timestamp) == held_url
        records.append(
            SentMedia(item.id, item.url, item.version, timestamp, index, None if spelled_alike else held_url)
        )
    for index, url in enumerate(urls):
        if index not in claimed:
            other = url or ""
            identity, timestamp = strip_timestamp(other), timestamp_in(other) or ""
            records.append(SentMedia(f"{UNMATCHED_PREFIX}{index}", identity, None, timestamp, index))
    return LastSent(
        listing_id=listing_id,
        classified_id=held.classified_id,
        body=held.body,
        media=records,
        desired_version=0,
        sent_at="",
        etag=held.etag,
        intermediary_id=agency,
        intermediary_recorded=True,
    )


def plan_adoption(
    desired: DesiredListing,
    held: AvivClassifiedCopy,
    pending: LastSent | None,
    defaults: ClassifiedDefaults,
    now: datetime,
    agency: str | None,
) -> SyncPlan:
    """Plan the first send of ``desired`` onto the classified AVIV holds (``held``).

    Adopted timestamps come first, then those of the write-ahead ``pending`` send (a retry), then
    new ones; ``diff.is_noop`` means AVIV already holds exactly this body: nothing is sent.
    """
    adopted = adopted_last_sent(desired.listing_id, held, desired.media, agency)
    return plan_sync(desired, adopted, pending, defaults, now)


def adopted_count(plan: SyncPlan) -> int:
    """How many media of a plan keep a URL and timestamp AVIV already holds (for logs)."""
    return len(plan.stamped) - len(plan.diff.added) - len(plan.diff.redownloaded)
