"""Ingest's one conditional write per webhook: the desired change, the delivery log, the claim.

Besides the desired listing, the DESIRED item keeps the listing's recent deliveries (``deliveryLog``,
one packed binary) and ``ingestSeq``, bumped by every ingest write and required by the next one, so
the delivery log a write replaces is the one it read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from vitrine.adapters.dynamo.desired_item import (
    desired_fields,
    desired_from_item,
    encode_field,
    record_new_version,
    update_dirty_index,
)
from vitrine.adapters.dynamo.table import (
    SK_DESIRED,
    ItemUpdate,
    ListingTable,
    optional_int,
)
from vitrine.core.errors import ConcurrentModification
from vitrine.core.model import DesiredListing, IngestSnapshot, IngestWrite
from vitrine.core.moments import format_moment, parse_moment

T = TypeVar("T")

# One delivery-log entry: 12-byte key, received-at (unix seconds), 8-byte body digest.
_DELIVERY_ENTRY = struct.Struct(">12sI8s")
_DELIVERY_LOG_FORMAT = b"\x01"
# Undoing a delivery re-reads and rewrites the log; concurrent webhooks on the listing may make a
# few attempts fail.
_MAX_UNDO_ATTEMPTS = 16


def pack_delivery_log(log: Mapping[str, tuple[datetime, str]]) -> bytes:
    """The delivery log as one binary attribute, 24 bytes an entry.

    One opaque value rather than a map of webhook-ids: the item (so every write's cost, in DynamoDB
    write units as in moto's time) no longer grows by a map entry per delivery, and ingest's
    conditional write guards the whole log through ``ingestSeq``.
    """
    pack, raw = _DELIVERY_ENTRY.pack, bytes.fromhex
    entries = (pack(raw(key), int(at.timestamp()), raw(digest)) for key, (at, digest) in log.items())
    return _DELIVERY_LOG_FORMAT + b"".join(entries)


def unpack_delivery_log(packed: bytes) -> dict[str, tuple[datetime, str]]:
    if packed[:1] != _DELIVERY_LOG_FORMAT or (len(packed) - 1) % _DELIVERY_ENTRY.size:
        raise ValueError("unknown delivery log format")
    moment = datetime.fromtimestamp
    return {
        key.hex(): (moment(seconds, UTC), digest.hex())
        for key, seconds, digest in _DELIVERY_ENTRY.iter_unpack(memoryview(packed)[1:])
    }


class IngestStateStore(ListingTable):
    """The ``IngestStore`` port: ingest reads the DESIRED item once and writes it once per webhook."""

    def load_ingest_snapshot(self, listing_id: str) -> IngestSnapshot | None:
        """The desired state plus the bookkeeping the ingest write depends on (one GetItem).

        An item that exists but cannot be read (no ``version``: what a partial write leaves; a
        document that does not decode) gives a snapshot marked ``unreadable``, never an exception:
        ingest then replaces it rather than failing every webhook of the listing.
        """
        item = self._get(listing_id, SK_DESIRED)
        if item is None:
            return None
        try:
            if "version" not in item:
                raise ValueError("the item has no version (a partial write?)")
            return _snapshot(listing_id, item, desired_from_item(listing_id, item))
        except Exception as exc:  # whatever a bad document raises (gzip, JSON, types)
            return _unreadable_snapshot(listing_id, item, f"{type(exc).__name__}: {exc}")

    def commit_ingest(self, write: IngestWrite) -> IngestSnapshot:
        """One conditional UpdateItem: the changed desired attributes, the delivery record, the claim.

        Conditions (any failure → ConcurrentModification, the caller re-reads and re-applies):
        the version and the ingest sequence are the ones read (or the item does not exist yet), so
        the delivery log rewritten here is the one checked for this webhook-id;
        when the write relies on the listing being dirty, it still is (a sync may have cleaned it);
        a claim is taken only if none is live, and a live claim the write relies on is still there.
        Only attributes that changed are written, so a burst of small edits stays a small write.
        """
        previous = write.previous
        after = write.desired if write.desired is not None else previous.desired if previous else None
        if after is None:
            raise ValueError("commit_ingest needs a desired state or a previous one")
        update = ItemUpdate()
        indexed_after = previous is not None and previous.indexed
        if write.desired is not None:
            indexed_after = _write_desired_change(update, write.desired, previous, format_moment(write.now))
        elif write.claim_until is not None:
            update.require(update.equals("dirty", True))
        _write_claim(update, write)
        deliveries = _write_delivery(update, write)
        if previous is None:
            update.require(update.absent("pk"))
            update.set("sentVersion", 0)
            ingest_seq = 1
            update.set("ingestSeq", ingest_seq)
        else:
            update.require(_same_version(update, previous))
            ingest_seq = _advance_ingest_seq(update, previous.ingest_seq)
        conflict = f"listing {write.listing_id}: changed since it was read"
        self._update_or_conflict(write.listing_id, SK_DESIRED, update, conflict)
        return IngestSnapshot(
            desired=after,
            dirty=write.desired is not None or (previous is not None and previous.dirty),
            indexed=indexed_after,
            sync_scheduled_until=write.claim_until or (previous.sync_scheduled_until if previous else None),
            deliveries=deliveries,
            ingest_seq=ingest_seq,
        )

    def undo_ingest(self, listing_id: str, delivery_key: str, claim_until: datetime) -> None:
        """Forget a delivery whose sync message could not be sent, and its claim if still ours.

        The log is rewritten under the same ``ingestSeq`` condition as ingest's writes, and the
        sequence bumped, so a concurrent webhook that read the log cannot write the delivery back.
        """
        for _ in range(_MAX_UNDO_ATTEMPTS):
            snapshot = self.load_ingest_snapshot(listing_id)
            if snapshot is None or snapshot.deliveries is None or delivery_key not in snapshot.deliveries:
                break
            update = ItemUpdate()
            update.set(
                "deliveryLog",
                pack_delivery_log({k: v for k, v in snapshot.deliveries.items() if k != delivery_key}),
            )
            _advance_ingest_seq(update, snapshot.ingest_seq)
            if self._update_if(listing_id, SK_DESIRED, update):
                break
        else:
            raise ConcurrentModification(f"listing {listing_id}: could not forget delivery {delivery_key}")
        release = ItemUpdate()
        release.remove("syncScheduledUntil")
        release.require(release.equals("syncScheduledUntil", format_moment(claim_until)))
        self._update_if(listing_id, SK_DESIRED, release)


def _snapshot(listing_id: str, item: Mapping[str, Any], desired: DesiredListing) -> IngestSnapshot:
    return IngestSnapshot(
        desired=desired,
        dirty=bool(item.get("dirty", False)),
        indexed="dirtyShard" in item,
        sync_scheduled_until=parse_moment(item.get("syncScheduledUntil")),
        deliveries=unpack_delivery_log(bytes(item["deliveryLog"])) if "deliveryLog" in item else None,
        ingest_seq=optional_int(item.get("ingestSeq")),
    )


def _unreadable_snapshot(listing_id: str, item: Mapping[str, Any], reason: str) -> IngestSnapshot:
    """A blank listing with the stored version (0: none), and the bookkeeping that still reads (the
    conditions of the write that replaces the item rest on ``version`` and ``ingestSeq``)."""
    return IngestSnapshot(
        desired=DesiredListing(
            listing_id=listing_id, owner_id="", version=_read(lambda: int(item["version"]), 0)
        ),
        dirty=False,
        indexed=False,
        sync_scheduled_until=_read(lambda: parse_moment(item.get("syncScheduledUntil")), None),
        deliveries=_read(lambda: unpack_delivery_log(bytes(item["deliveryLog"])), None),
        ingest_seq=_read(lambda: optional_int(item.get("ingestSeq")), None),
        unreadable=reason,
    )


def _read(read: Callable[[], T], otherwise: T) -> T:
    try:
        return read()
    except Exception:
        return otherwise


def _same_version(update: ItemUpdate, previous: IngestSnapshot) -> str:
    """The write's condition: the version read is still stored (for an unreadable item without one:
    still none, so two webhooks never both replace it)."""
    if previous.unreadable is not None and previous.desired.version == 0:
        return update.absent("version")
    return update.equals("version", previous.desired.version)


def _write_desired_change(
    update: ItemUpdate, desired: DesiredListing, previous: IngestSnapshot | None, now: str
) -> bool:
    """The attributes that changed (compared as Python values, encoded only when they changed), the
    new version's dirty state and the DirtyIndex entry; whether the listing is indexed afterwards.
    Replacing an unreadable item writes (or removes) every attribute."""
    replacing = previous is not None and previous.unreadable is not None
    before = desired_fields(previous.desired) if previous is not None and not replacing else {}
    for name, value in desired_fields(desired).items():
        if previous is not None and not replacing and before.get(name) == value:
            continue
        if value is not None:
            update.set(name, encode_field(name, value))
        elif replacing or before.get(name) is not None:
            update.remove(name)
    if replacing:  # rely on nothing the unreadable item held: write the dirty state and index anew
        record_new_version(update, now)
        return update_dirty_index(update, desired, now, indexed=None)
    record_new_version(update, now, known_dirty=previous is not None and previous.dirty)
    return update_dirty_index(update, desired, now, indexed=previous is not None and previous.indexed)


def _write_claim(update: ItemUpdate, write: IngestWrite) -> None:
    """Take the sync-schedule claim only if none is live; or rely on the live one seen."""
    if write.claim_until is not None:
        update.set("syncScheduledUntil", format_moment(write.claim_until))
        update.require(update.absent_or_at_most("syncScheduledUntil", format_moment(write.now)))
    elif write.expect_claim is not None:
        update.require(update.equals("syncScheduledUntil", format_moment(write.expect_claim)))


def _write_delivery(update: ItemUpdate, write: IngestWrite) -> dict[str, tuple[datetime, str]]:
    """The delivery log without the expired deliveries, with this one; the log written."""
    previous = write.previous
    deliveries = dict(previous.deliveries or {}) if previous is not None else {}
    for key in write.expired_deliveries:
        deliveries.pop(key, None)
    deliveries[write.delivery.key] = (write.now, write.delivery.body_digest)
    update.set("deliveryLog", pack_delivery_log(deliveries))
    return deliveries


def _advance_ingest_seq(update: ItemUpdate, seen: int | None) -> int:
    """Bump ``ingestSeq``, on condition that it is still ``seen`` (None: not there yet)."""
    update.require(update.absent("ingestSeq") if seen is None else update.equals("ingestSeq", seen))
    update.set("ingestSeq", (seen or 0) + 1)
    return (seen or 0) + 1
