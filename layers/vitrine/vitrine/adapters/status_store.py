"""Reconciliation state in the StateTable: the STATUS item, the watch set and classified aliases.

Items (table ``StateTable``, keys ``pk``/``sk``; see docs/architecture.md):

``pk = LISTING#<listingId>``, ``sk = STATUS``
    ``listingId``, ``rev`` (optimistic-concurrency counter: every write is conditional on it),
    ``updatedAt``, ``ownerId``?, ``classifiedId``?, ``openProblems`` (kinds, for people reading the
    table), ``state`` (map: the :class:`~vitrine.core.reconcile.records.StatusState` — open problems, notified
    fingerprints, per-media retry bookkeeping, the send being watched and its AVIV revision) and
    ``outbox`` (gzip JSON: notifications decided but not yet confirmed published); while problems are
    open, ``problemShard`` and ``problemCount``, which put it in the sparse ``ProblemIndex``.
``pk = CLASSIFIED#<classifiedId>``, ``sk = LISTING``
    ``listingId``: finds the listing of an AVIV status push, which names only the classified.

The watch set is the sparse ``WatchIndex`` (``watchShard`` = ``WATCH#<n>``, ``watchDue`` = fixed-width
UTC ISO time, KEYS_ONLY). Its entries live on the items that need watching, written by the sync
engine: the SENT item of every send (``watchDue`` = the send time), and the DESIRED item of a listing
whose version was rejected — which stays watched after the owner was told, until a later version is
handled (sent, or skipped as identical to what AVIV holds). This module reads it with Query only
(never Scan) and moves or removes an entry conditionally: a SENT entry only while ``sentAt`` is
still the send that was reconciled (a newer send is never un-watched), a DESIRED entry only while
its ``rejection.desiredVersion`` is the one reconciled.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from vitrine.adapters.dynamo.table import (
    PROBLEM_INDEX,
    PROBLEM_SHARD_COUNT,
    SK_CLASSIFIED_ALIAS,
    SK_DESIRED,
    SK_SENT,
    SK_STATUS,
    WATCH_INDEX,
    WATCH_SHARD_COUNT,
    ItemUpdate,
    ListingTable,
    classified_alias_item,
    classified_pk,
    compress_json,
    decompress_json,
    is_condition_failure,
    listing_id_of,
    listing_pk,
    problem_shard,
    query_items,
    to_item,
    watch_shard,
)
from vitrine.core.errors import ConcurrentModification
from vitrine.core.moments import format_moment
from vitrine.core.reconcile.records import StatusState

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True, order=True)
class WatchEntry:
    """One entry of the watch set: the listing, the item carrying it (SENT or DESIRED), when due."""

    due: str
    listing_id: str
    sk: str

    @property
    def watches_sent(self) -> bool:
        """A send AVIV has not confirmed yet (the SENT item is watched)."""
        return self.sk == SK_SENT

    @property
    def watches_rejection(self) -> bool:
        """A rejection not over yet (the DESIRED item is watched)."""
        return self.sk == SK_DESIRED


class StatusStore(ListingTable):
    """The STATUS item, the WatchIndex and classified aliases, over the same DynamoDB table."""

    def __init__(self, table_name: str, dynamodb_client: Any | None = None) -> None:
        super().__init__(
            table_name, dynamodb_client if dynamodb_client is not None else boto3.client("dynamodb")
        )

    # ------------------------------------------------------------------ watch set

    def due_watches(
        self,
        now: datetime,
        *,
        shard_count: int = WATCH_SHARD_COUNT,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[WatchEntry]:
        """Watch entries due at ``now``, longest-waiting first, lazily (Query per shard, merged).

        Pages are fetched only as the caller consumes entries, so a run that stops early (budget)
        reads little; what it did not reach keeps its old ``watchDue`` and comes first next run.
        The index is eventually consistent: an entry removed a moment ago may still appear.
        """
        cutoff = format_moment(now)
        shards = [self._query_shard(f"WATCH#{n}", cutoff, page_size) for n in range(shard_count)]
        yield from heapq.merge(*shards)

    def _query_shard(self, shard: str, cutoff: str, page_size: int) -> Iterator[WatchEntry]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": WATCH_INDEX,
            "KeyConditionExpression": "watchShard = :shard AND watchDue <= :cutoff",
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":cutoff": {"S": cutoff}},
            "Limit": page_size,
        }
        for item in query_items(self._client, request):
            yield WatchEntry(
                due=item["watchDue"]["S"], listing_id=listing_id_of(item["pk"]["S"]), sk=item["sk"]["S"]
            )

    def reschedule_sent_watch(self, listing_id: str, sent_at: str, due: datetime) -> bool:
        """Look at this send again at ``due``; False when a newer send replaced it or it is unwatched."""
        update = ItemUpdate()
        update.set("watchDue", format_moment(due))
        update.require(update.equals("sentAt", sent_at), update.exists("watchShard"))
        return self._update_if(listing_id, SK_SENT, update)

    def stop_sent_watch(self, listing_id: str, sent_at: str) -> bool:
        """Nothing more to learn about this send; False when a newer send replaced it (still watched)."""
        update = ItemUpdate()
        update.remove("watchShard", "watchDue")
        update.require(update.equals("sentAt", sent_at))
        return self._update_if(listing_id, SK_SENT, update)

    def finish_rejection(self, listing_id: str, desired_version: int) -> bool:
        """Mark the rejection of ``desired_version`` notified and take the DESIRED item out of the watch
        set; False when a newer rejection replaced it (that one stays watched)."""
        update = _notified_rejection(desired_version)
        update.remove("watchShard", "watchDue")
        return self._update_if(listing_id, SK_DESIRED, update)

    def watch_rejection(self, listing_id: str, desired_version: int, due: datetime) -> bool:
        """Mark the rejection of ``desired_version`` notified (once its outbox is empty it is) and look
        at it again at ``due``: it stays watched until a later version is handled. False when a newer
        rejection replaced it (that one is watched already)."""
        update = _notified_rejection(desired_version)
        update.set("watchShard", watch_shard(listing_id))
        update.set("watchDue", format_moment(due))
        return self._update_if(listing_id, SK_DESIRED, update)

    def stop_desired_watch(self, listing_id: str) -> bool:
        """A DESIRED watch entry without a rejection to tell (already notified, or none): drop it."""
        update = ItemUpdate()
        update.remove("watchShard", "watchDue")
        update.require(
            update.exists("pk"),
            update.any_of(update.absent("rejection"), update.equals("rejection.notified", True)),
        )
        return self._update_if(listing_id, SK_DESIRED, update)

    # ------------------------------------------------------------------ STATUS item

    def load(self, listing_id: str) -> StatusState:
        """The listing's reconciliation state (a fresh one, ``rev`` 0, when none is stored)."""
        return status_from_item(listing_id, self._get(listing_id, SK_STATUS))

    def save(self, state: StatusState, *, now: datetime) -> StatusState:
        """Store ``state`` if nobody wrote since it was loaded (``rev``); the stored state, ``rev`` + 1.

        Raises ConcurrentModification when another writer (a push, an overlapping run) got there first.
        """
        document = state.to_dict()
        outbox = document.pop("outbox")
        new_rev = state.rev + 1
        item: dict[str, Any] = {
            "pk": listing_pk(state.listing_id),
            "sk": SK_STATUS,
            "listingId": state.listing_id,
            "rev": new_rev,
            "updatedAt": format_moment(now),
            "state": document,
        }
        optional = {
            "ownerId": state.owner_id,
            "classifiedId": state.classified_id,
            "openProblems": sorted({p.kind for p in state.problems.values()}) or None,
            "outbox": compress_json(outbox) if outbox else None,
            "problemShard": problem_shard(state.listing_id) if state.problems else None,
            "problemCount": len(state.problems),
        }
        item.update({name: value for name, value in optional.items() if value})
        unchanged = ItemUpdate()
        unchanged.require(unchanged.absent("pk") if state.rev == 0 else unchanged.equals("rev", state.rev))
        try:
            self._client.put_item(TableName=self.table_name, Item=to_item(item), **unchanged.render())
        except ClientError as error:
            if is_condition_failure(error):
                raise ConcurrentModification(
                    f"listing {state.listing_id}: reconciliation state changed since read (rev {state.rev})"
                ) from error
            raise
        stored = state.copy()
        stored.rev = new_rev
        return stored

    def without_outbox(self, state: StatusState, published: set[str], *, now: datetime) -> StatusState:
        """Drop published notifications from the outbox (a conditional write like ``save``)."""
        remaining = [n for n in state.outbox if n.id not in published]
        if len(remaining) == len(state.outbox):
            return state
        trimmed = state.copy()
        trimmed.outbox = remaining
        return self.save(trimmed, now=now)

    def open_problem_count(self, *, shard_count: int = PROBLEM_SHARD_COUNT) -> int:
        """Problems open across all listings: the sum of ``problemCount`` over the sparse ProblemIndex.

        Only STATUS items with an open problem are in the index (``save`` writes the attributes only
        then), so this reads a few bytes per troubled listing and nothing for the others; eventually
        consistent, like every GSI read.
        """
        total = 0
        for n in range(shard_count):
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": PROBLEM_INDEX,
                "KeyConditionExpression": "problemShard = :shard",
                "ExpressionAttributeValues": {":shard": {"S": f"PROBLEM#{n}"}},
                "ProjectionExpression": "problemCount",
            }
            total += sum(int(item["problemCount"]["N"]) for item in query_items(self._client, request))
        return total

    # ------------------------------------------------------------------ classified aliases

    def remember_classified(self, classified_id: str, listing_id: str) -> None:
        """Remember which listing a classified belongs to (AVIV's status push names only the classified)."""
        self._client.put_item(
            TableName=self.table_name, Item=classified_alias_item(classified_id, listing_id)
        )

    def listing_for_classified(self, classified_id: str) -> str | None:
        answer = self._client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": classified_pk(classified_id)}, "sk": {"S": SK_CLASSIFIED_ALIAS}},
        )
        item = answer.get("Item")
        return str(item["listingId"]["S"]) if item and "listingId" in item else None


def status_from_item(listing_id: str, item: Mapping[str, Any] | None) -> StatusState:
    """The STATUS item as a :class:`StatusState` (a fresh one, ``rev`` 0, when there is none)."""
    if not item:
        return StatusState(listing_id=listing_id)
    document = dict(item.get("state") or {})
    document["listingId"] = listing_id
    document["outbox"] = decompress_json(item["outbox"]) if "outbox" in item else []
    return StatusState.from_dict(_plain(document), rev=int(item.get("rev", 0)))


def _notified_rejection(desired_version: int) -> ItemUpdate:
    """An update flagging the rejection of ``desired_version`` as told, while it is still that one."""
    update = ItemUpdate()
    update.set("rejection.notified", True)
    update.require(update.equals("rejection.desiredVersion", desired_version))
    return update


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: make the document plain JSON types again."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
