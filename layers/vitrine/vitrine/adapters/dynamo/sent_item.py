"""The SENT and PENDING items: what AVIV was sent for a listing, and the write-ahead of a send.

``pk = LISTING#<listingId>``, ``sk = SENT`` / ``sk = PENDING``: ``listingId``, ``classifiedId``?,
``desiredVersion``, ``sentAt``, ``etag``?, ``revision``?, ``deleted``, ``intermediaryId``? (the agency
it was sent under, ``""`` for none; absent on records written before vitrine recorded it) and the
gzip-JSON binaries ``body`` (the exact body sent) and ``media`` (per-media ``{id, url, version,
timestamp, position, adoptedUrl?}``).
A SENT item also carries its WatchIndex entry (``watchShard``/``watchDue``) until reconcile has
learnt what AVIV made of the send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitrine.adapters.dynamo.table import (
    SK_SENT,
    compress_json,
    decompress_json,
    listing_pk,
    optional_int,
    to_item,
    watch_shard,
)
from vitrine.core.model import LastSent, SentMedia
from vitrine.core.moments import format_moment, parse_moment


def sent_item(record: LastSent, sk: str) -> dict[str, Any]:
    """The SENT or PENDING item (as DynamoDB attribute values) of ``record``."""
    item: dict[str, Any] = {
        "pk": listing_pk(record.listing_id),
        "sk": sk,
        "listingId": record.listing_id,
        "desiredVersion": record.desired_version,
        "sentAt": record.sent_at,
        "deleted": record.deleted,
        "body": compress_json(record.body),
        "media": compress_json([m.to_dict() for m in record.media]),
    }
    optional = {"classifiedId": record.classified_id, "etag": record.etag, "revision": record.revision}
    item.update({name: value for name, value in optional.items() if value is not None})
    if record.intermediary_recorded:
        item["intermediaryId"] = record.intermediary_id or ""
    if sk == SK_SENT:
        # Every send enters the reconcile work set (sparse WatchIndex) until AVIV confirms it.
        sent_at = parse_moment(record.sent_at)
        item["watchShard"] = watch_shard(record.listing_id)
        item["watchDue"] = format_moment(sent_at) if sent_at else record.sent_at
    return to_item(item)


def sent_from_item(listing_id: str, item: Mapping[str, Any] | None) -> LastSent | None:
    if item is None:
        return None
    return LastSent(
        listing_id=str(item.get("listingId", listing_id)),
        classified_id=item.get("classifiedId"),
        body=decompress_json(item["body"]),
        media=[SentMedia.from_dict(m) for m in decompress_json(item["media"])],
        desired_version=int(item["desiredVersion"]),
        sent_at=str(item["sentAt"]),
        etag=item.get("etag"),
        revision=optional_int(item.get("revision")),
        deleted=bool(item.get("deleted", False)),
        intermediary_id=item.get("intermediaryId") or None,
        intermediary_recorded="intermediaryId" in item,
    )
