"""Domain records shared by every part of vitrine.

The CRM-side shape uses AVIV's camelCase names (``mediaType``) so a CRM can post
what it would post to AVIV; the Python side uses snake_case attributes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vitrine.core.errors import FieldError

MEDIA_TYPES: tuple[str, ...] = ("PICTURE", "VIDEO", "VIRTUAL_TOUR", "PANORAMA")
PORTALS: tuple[str, ...] = ("SL", "BUCOM", "BD", "SLC", "SLN")
# One 35-value enum serves both `category` and each tag (AVIV MediaCategory).
MEDIA_CATEGORIES: tuple[str, ...] = (
    "BALCONY", "BASEMENT", "BATHROOM", "BEDROOM", "CHILDREN_ROOM", "CORRIDOR", "COVER_PICTURE",
    "ENERGY_CERTIFICATE", "ENTRY_HALL", "FLOOR_PLAN", "GARAGE", "GARDEN", "HOUSE_VIEW", "INDOOR",
    "KITCHEN", "LIVING_ROOM", "LOGO", "MAP", "MISC", "OUTDOOR", "OUTDOOR_BUILDING", "OUTDOOR_HOUSE",
    "OUTSIDE_VIEW", "POOL", "PROPERTY_INFORMATION", "SCHEMA", "SITE_PLAN", "STAIRS", "STORAGE_ROOM",
    "SURROUNDING", "TERRACE", "TOILETS", "VERANDA", "VIEW_FROM_PROPERTY", "WORK_ROOM",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Media:
    """One CRM media. ``id`` is the CRM's stable id; ``version`` changes iff the file's bytes change."""

    id: str
    url: str
    media_type: str
    category: str | None = None
    tags: tuple[str, ...] = ()
    title: str | None = None
    version: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Media:
        """Build from the CRM/webhook shape (already validated)."""
        return cls(
            id=str(raw["id"]),
            url=str(raw["url"]),
            media_type=str(raw["mediaType"]),
            category=raw.get("category"),
            tags=tuple(raw.get("tags") or ()),
            title=raw.get("title"),
            version=None if raw.get("version") is None else str(raw["version"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The CRM/webhook shape, optional fields left out when empty."""
        out: dict[str, Any] = {"id": self.id, "url": self.url, "mediaType": self.media_type}
        if self.category is not None:
            out["category"] = self.category
        if self.tags:
            out["tags"] = list(self.tags)
        if self.title is not None:
            out["title"] = self.title
        if self.version is not None:
            out["version"] = self.version
        return out


@dataclass(frozen=True, slots=True)
class SentMedia:
    """What vitrine remembers of one media it sent: enough to keep its timestamp byte-stable.

    ``adopted_url`` is the URL AVIV already held when vitrine adopted the listing (see
    ``vitrine.core.adoption``), kept byte for byte while ``url`` and ``version`` do not change;
    None when the URL sent is ``with_timestamp(url, timestamp)``, vitrine's own spelling.
    """

    id: str
    url: str
    version: str | None
    timestamp: str
    position: int
    adopted_url: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SentMedia:
        return cls(
            id=str(raw["id"]),
            url=str(raw["url"]),
            version=raw.get("version"),
            timestamp=str(raw["timestamp"]),
            position=int(raw["position"]),
            adopted_url=raw.get("adoptedUrl"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "url": self.url, "timestamp": self.timestamp}
        out["position"] = self.position
        if self.version is not None:
            out["version"] = self.version
        if self.adopted_url is not None:
            out["adoptedUrl"] = self.adopted_url
        return out


@dataclass(frozen=True, slots=True)
class StampedMedia:
    """A media with the timestamp it is (or will be) sent with, and the outgoing AVIV URL.

    ``adopted``: ``aviv_url`` is a URL adopted from AVIV byte for byte, not vitrine's spelling.
    """

    media: Media
    timestamp: str
    aviv_url: str
    adopted: bool = False


@dataclass(slots=True)
class DesiredListing:
    """What the CRM wants the portals to show, as last told by its webhooks.

    ``data`` is AVIV's ``data`` object; ``None`` until a ``listing.upserted`` supplies it
    (media events may arrive first and are kept). ``version`` counts accepted changes and
    guards every conditional write. ``locale`` is the language the owner reads (None: the stack's
    default).
    """

    listing_id: str
    owner_id: str
    intermediary_id: str | None = None
    portals: list[str] | None = None
    data: dict[str, Any] | None = None
    specific: dict[str, Any] | None = None
    media: list[Media] = field(default_factory=list)
    deleted: bool = False
    version: int = 0
    last_sequence: int | None = None
    updated_at: str | None = None
    locale: str | None = None

    @property
    def is_syncable(self) -> bool:
        """Sync can tell AVIV about it: it has data, or it is deleted (a deletion needs no data).

        Only a syncable listing waits in the sweep's DirtyIndex and gets a sync message: media that
        arrive before the listing's data would otherwise sit at the head of the index and starve the
        rest; such a listing waits for the upsert that brings its data.
        """
        return self.data is not None or self.deleted

    @property
    def is_publishable(self) -> bool:
        """AVIV can show it: its mandatory ``data`` is known and it is not deleted."""
        return self.data is not None and not self.deleted


@dataclass(slots=True)
class LastSent:
    """What AVIV was last sent for a listing (the exact body) and what it answered."""

    listing_id: str
    classified_id: str | None
    body: dict[str, Any]
    media: list[SentMedia]
    desired_version: int
    sent_at: str
    etag: str | None = None
    revision: int | None = None
    deleted: bool = False
    # The agency (AVIV intermediary) the classified was sent under. Records written before vitrine
    # recorded it say ``intermediary_recorded=False``: their agency is unknown, never "changed".
    intermediary_id: str | None = None
    intermediary_recorded: bool = False

    def media_by_id(self) -> dict[str, SentMedia]:
        return {m.id: m for m in self.media}

    @classmethod
    def tombstone(
        cls, desired: DesiredListing, classified_id: str, agency: str | None, sent_at: str
    ) -> LastSent:
        """The record of a DELETE of ``classified_id`` under ``agency``."""
        return cls(
            listing_id=desired.listing_id,
            classified_id=classified_id,
            body={},
            media=[],
            desired_version=desired.version,
            sent_at=sent_at,
            deleted=True,
            intermediary_id=agency,
            intermediary_recorded=True,
        )

    def agency(self, current: str | None) -> str | None:
        """The agency this was sent under; ``current`` when it was not recorded."""
        return self.intermediary_id if self.intermediary_recorded else current

    def moved_from(self, agency: str | None) -> bool:
        """Sent under a recorded agency other than ``agency``: the classified is that agency's."""
        return self.intermediary_recorded and self.intermediary_id != agency


@dataclass(frozen=True, slots=True)
class SyncState:
    """A listing's sync bookkeeping (the DESIRED item without its documents): enough to decide
    when to sync (consolidation), whether a lease is held, and what was last handled.

    ``sent_version`` is the highest desired version sent, skipped (nothing to send) or rejected;
    ``dirty`` holds while ``version`` is newer than that.
    """

    listing_id: str
    owner_id: str
    version: int
    sent_version: int
    dirty: bool
    first_unsent_at: datetime | None
    last_edit_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    deleted: bool = False
    has_data: bool = False
    rejected_version: int | None = None
    sync_scheduled_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """AVIV (or pre-send validation) refused ``desired_version``; kept until the owner is told."""

    listing_id: str
    desired_version: int
    errors: tuple[FieldError, ...]
    detail: str
    at: datetime | None
    action: str | None = None  # what the owner (or operator) should do; None: fix the errors listed


@dataclass(frozen=True, slots=True)
class SyncFailure:
    """The last failed sync attempt of a listing (AVIV unavailable, a bug): for operators to read.

    ``attempts`` is the receive count of the message that failed; ``dead_lettered`` says it was its
    last receive, so the message went to the dead-letter queue. Cleared once a version is handled.
    """

    at: str
    attempts: int
    error: str
    dead_lettered: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "attempts": self.attempts,
            "error": self.error,
            "deadLettered": self.dead_lettered,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SyncFailure:
        return cls(
            at=str(raw.get("at") or ""),
            attempts=int(raw.get("attempts") or 0),
            error=str(raw.get("error") or ""),
            dead_lettered=bool(raw.get("deadLettered", False)),
        )


# Automatic media retry (reconcile) re-stamps a media by suffixing its version: ``v3#retry1``.
RETRY_SUFFIX = "#retry"
_RETRY_SUFFIX_PATTERN = re.compile(r"#retry\d+$")


def base_media_version(version: str | None) -> str | None:
    """The CRM's version of a media, without vitrine's retry suffix (``v3#retry2`` → ``v3``)."""
    if version is None:
        return None
    stripped = _RETRY_SUFFIX_PATTERN.sub("", version)
    return stripped or None


def retry_media_version(version: str | None, attempt: int) -> str:
    """The version that makes the sync engine give a media a new timestamp (so AVIV downloads it
    again) while still naming the CRM's version: ``v3`` → ``v3#retry1``, ``v3#retry1`` → ``v3#retry2``.

    Why a version and not a separate token: the sync path already re-stamps a media exactly when its
    ``version`` changes, so a retry needs no change to timestamps, diff or plan, and the desired-state
    write that carries it is the same conditional, versioned write every CRM change uses.
    """
    return f"{base_media_version(version) or ''}{RETRY_SUFFIX}{attempt}"


def delivery_key(webhook_id: str) -> str:
    """The fixed-size key a delivery is remembered by (96 bits of SHA-256 of its ``webhook-id``).

    Senders choose ids of any length; a listing keeps up to a thousand of them, so each is stored as
    12 bytes. A collision between two ids of one listing within the dedupe window is ~2^-77 likely.
    """
    return hashlib.sha256(webhook_id.encode()).hexdigest()[:24]


def body_digest(raw_body: bytes) -> str:
    """64 bits of SHA-256 of a webhook's exact body (16 hex digits): enough to tell a sender that
    re-used a ``webhook-id`` for another body, and 8 bytes in the listing's delivery log."""
    return hashlib.sha256(raw_body).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery: its id, the digest of its exact body (see body_digest), when it was received."""

    webhook_id: str
    body_digest: str
    received_at: datetime

    @property
    def key(self) -> str:
        return delivery_key(self.webhook_id)


@dataclass(frozen=True, slots=True)
class IngestSnapshot:
    """What ingest reads of a listing: the desired state and the bookkeeping its write depends on."""

    desired: DesiredListing
    dirty: bool
    indexed: bool  # present in the sweep's DirtyIndex
    sync_scheduled_until: datetime | None
    # delivery key (see delivery_key) → (received at, body digest); None: no delivery recorded yet.
    deliveries: Mapping[str, tuple[datetime, str]] | None = None
    # Bumped by every ingest write: the write is conditional on it, so the delivery log read is
    # still the log written over (None: the item has none yet).
    ingest_seq: int | None = None
    # Why the stored item could not be read (a partial write, a corrupt document), or None. Then
    # ``desired`` is a blank listing carrying the stored version (0: none), and the next event that
    # changes anything replaces the whole item (see vitrine.core.ingest).
    unreadable: str | None = None


@dataclass(frozen=True, slots=True)
class IngestWrite:
    """One conditional write of the DESIRED item (see vitrine.core.ingest)."""

    listing_id: str
    previous: IngestSnapshot | None
    desired: DesiredListing | None  # None: the state is unchanged, only the delivery is recorded
    delivery: Delivery
    expired_deliveries: tuple[str, ...]  # delivery keys to forget in this write
    claim_until: datetime | None  # take the sync-schedule claim until then
    expect_claim: datetime | None  # a pending sync was seen: it must still be there
    now: datetime
