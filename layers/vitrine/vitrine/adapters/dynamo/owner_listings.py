"""An owner's listings, read for the owner status page: OwnerIndex, then the items in batches.

``OwnerIndex`` (``ownerId``, ``sk``; KEYS_ONLY) indexes the ``ownerId`` ingest writes on every
DESIRED item (reconcile writes it on STATUS items too), so ``ownerId = :owner AND sk = DESIRED``
lists the owner's listings without a Scan. Their DESIRED, SENT and STATUS items then come in
BatchGetItem calls of at most 100 keys, without the attributes the page never shows (the webhook
delivery log, the exact body sent, the notification outbox). Read-only: eventually consistent
reads are enough for a page a person looks at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from vitrine.adapters.dynamo.desired_item import desired_from_item, rejection_from_item, sync_state_from_item
from vitrine.adapters.dynamo.table import (
    OWNER_INDEX,
    SK_DESIRED,
    SK_SENT,
    SK_STATUS,
    ListingTable,
    from_item,
    listing_id_of,
    listing_pk,
    optional_int,
    query_items,
)
from vitrine.adapters.status_store import status_from_item
from vitrine.core.owner_page.view import OwnerListing, SendRecord

MAX_BATCH_KEYS = 100  # BatchGetItem's limit
MAX_BATCH_ATTEMPTS = 5  # unprocessed keys (throttling) are asked again, with a short back-off
# Every attribute the page reads, of the three item kinds (one projection serves one table).
_PAGE_ATTRIBUTES = (
    "pk", "sk", "listingId", "ownerId", "intermediaryId", "portals", "deleted", "version", "lastSequence",
    "updatedAt", "hasData", "data", "media", "sentVersion", "dirty", "firstUnsentAt", "lastEditAt",
    "leaseOwner", "leaseExpiresAt", "rejection", "syncScheduledUntil", "sentAt", "desiredVersion",
    "classifiedId", "rev", "state", "locale",
)  # fmt: skip


class OwnerListingsReader(ListingTable):
    """The owner status page's reads: never a write, never a Scan."""

    def owner_listing_ids(self, owner_id: str, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` of the owner's listing ids (sorted), and how many more there are."""
        request = {
            "TableName": self.table_name,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "ownerId = :owner AND sk = :desired",
            "ExpressionAttributeValues": {":owner": {"S": owner_id}, ":desired": {"S": SK_DESIRED}},
        }
        ids = sorted({listing_id_of(item["pk"]["S"]) for item in query_items(self._client, request)})
        return ids[:limit], max(0, len(ids) - limit)

    def load_owner_listings(self, owner_id: str, listing_ids: Sequence[str]) -> list[OwnerListing]:
        """The listings among ``listing_ids`` still the owner's (the index may lag an owner change)."""
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for item in self._batch_get(
            [(lid, sk) for lid in listing_ids for sk in (SK_DESIRED, SK_SENT, SK_STATUS)]
        ):
            plain = from_item(item)
            items[(listing_id_of(plain["pk"]), plain["sk"])] = plain
        listings = []
        for listing_id in listing_ids:
            desired_item = items.get((listing_id, SK_DESIRED))
            if (
                desired_item is None
                or "version" not in desired_item
                or desired_item.get("ownerId") != owner_id
            ):
                continue
            listings.append(
                OwnerListing(
                    desired=desired_from_item(listing_id, desired_item),
                    sync=sync_state_from_item(listing_id, desired_item),
                    status=status_from_item(listing_id, items.get((listing_id, SK_STATUS))),
                    sent=_send_record(items.get((listing_id, SK_SENT))),
                    rejection=rejection_from_item(listing_id, desired_item),
                )
            )
        return listings

    def _batch_get(self, keys: Sequence[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        names = {f"#a{n}": name for n, name in enumerate(_PAGE_ATTRIBUTES)}
        for start in range(0, len(keys), MAX_BATCH_KEYS):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [
                        {"pk": {"S": listing_pk(lid)}, "sk": {"S": sk}}
                        for lid, sk in keys[start : start + MAX_BATCH_KEYS]
                    ],
                    "ProjectionExpression": ", ".join(names),
                    "ExpressionAttributeNames": names,
                }
            }
            for attempt in range(MAX_BATCH_ATTEMPTS):
                answer = self._client.batch_get_item(RequestItems=request)
                yield from answer.get("Responses", {}).get(self.table_name, [])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                raise RuntimeError(f"DynamoDB left {len(request[self.table_name]['Keys'])} keys unread")


def _send_record(item: Mapping[str, Any] | None) -> SendRecord | None:
    if not item or "sentAt" not in item:
        return None
    return SendRecord(
        sent_at=str(item["sentAt"]),
        desired_version=optional_int(item.get("desiredVersion")) or 0,
        classified_id=item.get("classifiedId"),
        deleted=bool(item.get("deleted", False)),
    )
