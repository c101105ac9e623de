"""The webhook events' vocabulary: the six types, their fields and limits, and one parsed event.

Shared by parsing (what an event may hold) and applying (what each type does); the same names and
limits are in ``schemas/webhook-event.schema.json``, which a contract test keeps in step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

LISTING_UPSERTED = "listing.upserted"
MEDIA_ADDED = "media.added"
MEDIA_UPDATED = "media.updated"
MEDIA_REMOVED = "media.removed"
MEDIA_REORDERED = "media.reordered"
LISTING_DELETED = "listing.deleted"
EVENT_TYPES: tuple[str, ...] = (
    LISTING_UPSERTED,
    MEDIA_ADDED,
    MEDIA_UPDATED,
    MEDIA_REMOVED,
    MEDIA_REORDERED,
    LISTING_DELETED,
)

ENVELOPE_FIELDS: tuple[str, ...] = (
    "type",
    "listingId",
    "ownerId",
    "occurredAt",
    "sequence",
    "intermediaryId",
    "locale",
)
# Type-specific top-level fields, required first then optional.
PAYLOAD_FIELDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType(
    {
        LISTING_UPSERTED: (("listing",), ()),
        MEDIA_ADDED: (("media",), ("position",)),
        MEDIA_UPDATED: (("media",), ()),
        MEDIA_REMOVED: (("mediaId",), ()),
        MEDIA_REORDERED: (("order",), ()),
        LISTING_DELETED: ((), ()),
    }
)
LISTING_FIELDS: tuple[str, ...] = ("portals", "data", "specific", "media")

MAX_LISTING_ID_LENGTH = 512  # AVIV's limit on offererEstateId, which the listing id becomes.
# The listing id is also the state table's partition key, ``LISTING#<id>``: DynamoDB takes at most
# 2,048 bytes there, which 512 characters of up to 4 UTF-8 bytes each can pass.
MAX_LISTING_ID_BYTES = 2048 - len("LISTING#")
# The owner id is the OwnerIndex key (DynamoDB: at most 2,048 bytes, i.e. 512 characters of up to 4
# UTF-8 bytes) and rides in every item and SNS message of the listing: unbounded, a 600 KB one made
# the DESIRED item too large to write (a 502).
MAX_OWNER_ID_LENGTH = 512
MAX_PORTALS = 5
MAX_SEQUENCE = 2**53 - 1  # the largest integer every JSON parser reads exactly

# RFC 3339 date-time with a zone; the same pattern is in schemas/webhook-event.schema.json.
RFC3339_DATE_TIME = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))"
)


@dataclass(frozen=True)
class ListingEvent:
    """One valid webhook event. ``payload`` holds the type-specific fields in the webhook's JSON shape."""

    type: str
    listing_id: str
    owner_id: str
    occurred_at: datetime
    sequence: int | None
    intermediary_id: str | None
    payload: Mapping[str, Any]
    locale: str | None = None  # the owner's language (``LOCALES``); None: keep the listing's
