"""The desired state of listings: what ingestion stores, what the sweep and sync read of it.

Besides the desired listing (see ``desired_item``), the DESIRED item carries the sync bookkeeping:
``sentVersion`` (highest desired version sent, skipped or rejected), ``dirty``/``firstUnsentAt``/
``lastEditAt`` and the sparse DirtyIndex keys ``dirtyShard``/``dirtySince`` (present only while
dirty), and ``syncScheduledUntil``, the claim that a sync message is pending. Every desired write is
conditional on the version the caller read.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from vitrine.adapters.dynamo.desired_item import (
    desired_attributes,
    desired_from_item,
    record_new_version,
    sync_state_from_item,
    syncable_condition,
    update_dirty_index,
)
from vitrine.adapters.dynamo.table import (
    DIRTY_INDEX,
    DIRTY_SHARD_COUNT,
    SK_DESIRED,
    ItemUpdate,
    ListingTable,
    listing_id_of,
    query_items,
)
from vitrine.core.model import DesiredListing, SyncState
from vitrine.core.moments import format_moment


class DesiredStateStore(ListingTable):
    """The DESIRED item: desired listings, their sync bookkeeping, the DirtyIndex and schedule claims."""

    def save_desired(self, desired: DesiredListing, expected_version: int | None, *, now: datetime) -> None:
        """Store ``desired`` if the stored version is still ``expected_version`` (None: must not exist).

        ``desired.version`` is the version to store; it is a new, unsent version when it is greater
        than ``expected_version``, and then the listing becomes dirty: ``firstUnsentAt`` is kept when
        it was already dirty, ``lastEditAt`` is ``now``. Saving the same version again (a bookkeeping
        change such as ``lastSequence``) leaves the dirty state alone. An UpdateItem touching only
        these attributes keeps lease, rejection and scheduling attributes others wrote. Raises
        ConcurrentModification when the version moved.
        """
        if expected_version is not None and desired.version < expected_version:
            raise ValueError(
                f"listing {desired.listing_id}: version {desired.version} < expected {expected_version}"
            )
        update = ItemUpdate()
        for name, value in desired_attributes(desired).items():
            if value is None:
                update.remove(name)
            else:
                update.set(name, value)
        update.set_if_not_exists("sentVersion", 0)
        if desired.version > (expected_version or 0):
            moment = format_moment(now)
            record_new_version(update, moment)
            update_dirty_index(update, desired, moment)
        if expected_version is None:
            update.require(update.absent("pk"))
        else:
            update.require(update.equals("version", expected_version))
        conflict = f"listing {desired.listing_id}: desired version is no longer {expected_version}"
        self._update_or_conflict(desired.listing_id, SK_DESIRED, update, conflict)

    def load_desired(self, listing_id: str) -> DesiredListing | None:
        item = self._get(listing_id, SK_DESIRED)
        if item is None or "version" not in item:
            return None
        return desired_from_item(listing_id, item)

    def load_sync_state(self, listing_id: str) -> SyncState | None:
        """The DESIRED item's bookkeeping without decompressing its documents (consolidation, sweep)."""
        item = self._get(listing_id, SK_DESIRED)
        if item is None or "version" not in item:
            return None
        return sync_state_from_item(listing_id, item)

    # ------------------------------------------------------------------ the sweep's DirtyIndex

    def dirty_listings(
        self,
        shard_count: int = DIRTY_SHARD_COUNT,
        limit: int | None = None,
        *,
        dirty_before: datetime | None = None,
    ) -> Iterator[str]:
        """Listing ids with unsent changes, oldest first, from the sparse DirtyIndex (never a Scan).

        Each shard is queried lazily in ``dirtySince`` order and the shards are merged, so the
        sweep sees the longest-waiting listings first and can stop early. ``dirty_before`` keeps
        only listings dirty since before that moment. The index is eventually consistent: a
        listing cleaned a moment ago may still appear (syncing it again is a no-op).
        """
        shards = [self._query_dirty_shard(f"DIRTY#{n}", dirty_before) for n in range(shard_count)]
        for count, (_since, listing_id) in enumerate(heapq.merge(*shards)):
            if limit is not None and count >= limit:
                return
            yield listing_id

    def _query_dirty_shard(self, shard: str, dirty_before: datetime | None) -> Iterator[tuple[str, str]]:
        condition = "dirtyShard = :shard"
        values: dict[str, Any] = {":shard": {"S": shard}}
        if dirty_before is not None:
            condition += " AND dirtySince < :before"
            values[":before"] = {"S": format_moment(dirty_before)}
        request = {
            "TableName": self.table_name,
            "IndexName": DIRTY_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        for item in query_items(self._client, request):
            yield item["dirtySince"]["S"], listing_id_of(item["pk"]["S"])

    # ------------------------------------------------------------------ sync scheduling (ingestion)

    def claim_sync_schedule(self, listing_id: str, now: datetime, hold_seconds: int) -> bool:
        """Mark "a sync message is pending" (``syncScheduledUntil``) unless a live claim exists.

        Only a dirty, syncable listing needs a message (see ``DesiredListing.is_syncable``): one whose
        data has not arrived yet waits for the upsert that brings it.

        True means the caller must send the message. The claim expires after ``hold_seconds`` so a
        lost message cannot block the listing forever. A listing without a DESIRED item has nothing
        to sync: False, and nothing is written (a stub item would block the listing's creation).
        """
        update = ItemUpdate()
        update.set("syncScheduledUntil", format_moment(now + timedelta(seconds=hold_seconds)))
        update.require(
            update.exists("pk"),
            update.equals("dirty", True),
            syncable_condition(update),
            update.absent_or_at_most("syncScheduledUntil", format_moment(now)),
        )
        return self._update_if(listing_id, SK_DESIRED, update)

    def release_sync_schedule(self, listing_id: str) -> None:
        """Forget the pending-message claim (message failed to send, or sync consumed it)."""
        update = ItemUpdate()
        update.remove("syncScheduledUntil")
        update.require(update.exists("pk"))
        self._update_if(listing_id, SK_DESIRED, update)
