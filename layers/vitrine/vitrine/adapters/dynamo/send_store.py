"""What sync writes: the lease, the write-ahead PENDING item, the SENT item and the handled version.

SENT and PENDING items are laid out in ``sent_item``. On the DESIRED item sync keeps the lease
``leaseOwner``/``leaseExpiresAt``, ``sentVersion``, ``rejection`` (map: desiredVersion, errors
[{pointer, reason}], detail, action?, at, notified) and ``lastSyncFailure`` (map: at, attempts, error,
deadLettered; removed once a version is handled). Every write sync makes is conditional on its
lease, but for ``lastSyncFailure``, written after a failed attempt for operators to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vitrine.adapters.dynamo.desired_item import leave_dirty_index, rejection_from_item
from vitrine.adapters.dynamo.sent_item import sent_from_item, sent_item
from vitrine.adapters.dynamo.table import (
    SK_DESIRED,
    SK_PENDING,
    SK_SENT,
    ItemUpdate,
    ListingTable,
    classified_alias_item,
    from_item,
    is_condition_failure,
    watch_shard,
)
from vitrine.core.errors import ConcurrentModification, FieldError
from vitrine.core.model import LastSent, Rejection, SyncFailure
from vitrine.core.moments import format_moment


class SendStateStore(ListingTable):
    """The sync lease and the records of what was sent, skipped or rejected."""

    # ------------------------------------------------------------------ lease

    def acquire_lease(self, listing_id: str, owner: str, now: datetime, ttl_seconds: int) -> bool:
        """Take the sync lease when it is free, expired or already ``owner``'s.

        A listing without a DESIRED item has nothing to guard: the answer is True without writing
        (a lease item would block the listing's creation), and since every write sync makes is
        conditional on the lease, anything that raced in meanwhile makes those writes fail safely.
        """
        update = ItemUpdate()
        update.set("leaseOwner", owner)
        update.set("leaseExpiresAt", format_moment(now + timedelta(seconds=ttl_seconds)))
        update.require(
            update.exists("pk"),
            update.any_of(
                update.absent("leaseOwner"),
                update.equals("leaseOwner", owner),
                update.at_most("leaseExpiresAt", format_moment(now)),
            ),
        )
        try:
            self._update(listing_id, SK_DESIRED, update, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if is_condition_failure(error):
                return not error.response.get("Item")
            raise
        return True

    def release_lease(self, listing_id: str, owner: str) -> None:
        """Give the lease back if ``owner`` still holds it (if not, it expired and is someone else's)."""
        update = ItemUpdate()
        update.remove("leaseOwner", "leaseExpiresAt")
        update.require(update.equals("leaseOwner", owner))
        self._update_if(listing_id, SK_DESIRED, update)

    def _lease_check(self, listing_id: str, lease_owner: str) -> dict[str, Any]:
        check = ItemUpdate()
        check.require(check.equals("leaseOwner", lease_owner))
        return self._transaction_item("ConditionCheck", listing_id, SK_DESIRED, check)

    # ------------------------------------------------------------------ sent / pending

    def load_last_sent(self, listing_id: str) -> LastSent | None:
        return sent_from_item(listing_id, self._get(listing_id, SK_SENT))

    def load_pending(self, listing_id: str) -> LastSent | None:
        return sent_from_item(listing_id, self._get(listing_id, SK_PENDING))

    def record_pending(self, pending: LastSent, lease_owner: str) -> None:
        """Write-ahead of a send, in one transaction with a check that ``lease_owner`` holds the lease."""
        self._transact(
            pending.listing_id,
            [
                self._lease_check(pending.listing_id, lease_owner),
                {"Put": {"TableName": self.table_name, "Item": sent_item(pending, SK_PENDING)}},
            ],
        )

    def record_sent(self, sent: LastSent, lease_owner: str) -> None:
        """SENT := ``sent``, PENDING deleted, ``sentVersion`` recorded; clean unless a newer version came.

        One transaction, conditional on the lease. Ingestion does not take the lease, so the desired
        version may have moved since sync read it; clearing the dirty flag must therefore be
        conditional on ``version = sent.desired_version``. See ``_mark_handled``.
        """
        writes = self._sent_replaces_pending(sent)
        if sent.classified_id:
            alias = classified_alias_item(sent.classified_id, sent.listing_id)
            writes.append({"Put": {"TableName": self.table_name, "Item": alias}})
        self._mark_handled(sent.listing_id, sent.desired_version, lease_owner, before=writes)

    def record_withdrawn(self, tombstone: LastSent, lease_owner: str) -> None:
        """SENT := ``tombstone`` (the DELETE of an agency move), PENDING deleted, under the lease; the
        version stays unhandled and the listing dirty, so a crash before the POST still POSTs."""
        check = self._lease_check(tombstone.listing_id, lease_owner)
        self._transact(tombstone.listing_id, [check, *self._sent_replaces_pending(tombstone)])

    def _sent_replaces_pending(self, sent: LastSent) -> list[dict[str, Any]]:
        return [
            {"Put": {"TableName": self.table_name, "Item": sent_item(sent, SK_SENT)}},
            {"Delete": {"TableName": self.table_name, "Key": self._key(sent.listing_id, SK_PENDING)}},
        ]

    def record_skipped(self, listing_id: str, desired_version: int, lease_owner: str) -> None:
        """Nothing needs sending for ``desired_version``: same bookkeeping as a send, no SENT change.

        PENDING is kept: if an earlier send's answer was lost, its body may be what AVIV holds, and
        the next plan must still see its timestamps.
        """
        self._mark_handled(listing_id, desired_version, lease_owner)

    # ------------------------------------------------------------------ rejections

    def record_rejection(
        self,
        listing_id: str,
        desired_version: int,
        errors: list[FieldError],
        detail: str,
        now: datetime,
        lease_owner: str,
        *,
        action: str | None = None,
    ) -> None:
        """Keep the refusal on the DESIRED item (``rejection``, ``notified=false`` until reconcile told
        the owner) and treat ``desired_version`` as handled: it is not retried, a later version syncs
        normally. The rejection enters the reconcile work set, which notifies the owner once."""
        rejection = {
            "desiredVersion": desired_version,
            "errors": [e.to_dict() for e in errors],
            "detail": detail,
            "at": format_moment(now),
            "notified": False,
        }
        if action:
            rejection["action"] = action
        watch = {
            "rejection": rejection,
            "watchShard": watch_shard(listing_id),
            "watchDue": format_moment(now),
        }
        self._mark_handled(listing_id, desired_version, lease_owner, set_attributes=watch)

    def load_rejection(self, listing_id: str) -> Rejection | None:
        """The last refusal recorded for the listing (compare ``desired_version`` with the current one)."""
        return rejection_from_item(listing_id, self._get(listing_id, SK_DESIRED))

    # ------------------------------------------------------------------ failed attempts

    def record_sync_failure(self, listing_id: str, failure: SyncFailure) -> None:
        """Remember the last failed attempt (what ``vitrine status`` and ``vitrine dlq list`` show)."""
        update = ItemUpdate()
        update.set("lastSyncFailure", failure.to_dict())
        update.require(update.exists("pk"))
        self._update_if(listing_id, SK_DESIRED, update)

    def load_sync_failure(self, listing_id: str) -> SyncFailure | None:
        item = self._get(listing_id, SK_DESIRED)
        raw = item.get("lastSyncFailure") if item else None
        return SyncFailure.from_dict(raw) if raw else None

    # ------------------------------------------------------------------ handled versions

    def _mark_handled(
        self,
        listing_id: str,
        desired_version: int,
        lease_owner: str,
        *,
        before: list[dict[str, Any]] | None = None,
        set_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Record ``desired_version`` as handled (sent, skipped or rejected), in one transaction with
        ``before``, all conditional on the lease.

        DynamoDB cannot make one REMOVE depend on a value, so two update variants exist (see
        ``_handled_update``). The clean one is tried first; when it fails with the lease still ours
        but the version moved (seen in the old item DynamoDB returns with the failure), the dirty one
        is applied. The version only grows, so that one cannot then fail for the version; a lost
        lease raises ConcurrentModification and nothing at all is written.
        """
        items = list(before or [])

        def handled(clean: bool) -> dict[str, Any]:
            return self._handled_update(listing_id, desired_version, lease_owner, set_attributes, clean=clean)

        try:
            self._client.transact_write_items(TransactItems=[*items, handled(clean=True)])
            return
        except ClientError as error:
            if not _newer_version_arrived(error, lease_owner, desired_version):
                if is_condition_failure(error):
                    raise ConcurrentModification(
                        f"listing {listing_id}: lease lost before recording v{desired_version}"
                    ) from error
                raise
        self._transact(listing_id, [*items, handled(clean=False)])

    def _handled_update(
        self,
        listing_id: str,
        desired_version: int,
        lease_owner: str,
        set_attributes: Mapping[str, Any] | None,
        *,
        clean: bool,
    ) -> dict[str, Any]:
        """The DESIRED item's update recording ``desired_version`` as handled, under the lease.

        1. clean, ``version = v``: nothing newer arrived, so ``sentVersion := v`` and the dirty
           attributes (and the DirtyIndex entry) are removed;
        2. not clean, ``version > v``: ingestion stored a newer version meanwhile, so ``sentVersion :=
           v`` and the listing stays dirty. Its unsent edits all came after sync read version v, so
           the old ``firstUnsentAt`` no longer describes them: it (and ``dirtySince``) moves to
           ``lastEditAt``, an upper bound of the oldest unsent edit. Keeping the old value would make
           every message of a long editing burst "overdue" and turn the burst into one AVIV call per
           edit.
        """
        update = ItemUpdate()
        update.set("sentVersion", desired_version)
        update.remove("lastSyncFailure")
        for name, value in (set_attributes or {}).items():
            update.set(name, value)
        if clean:
            update.remove("dirty", "firstUnsentAt")
            leave_dirty_index(update)
            version_holds = update.equals("version", desired_version)
        else:
            update.copy("firstUnsentAt", "lastEditAt")
            update.copy("dirtySince", "lastEditAt")
            version_holds = update.above("version", desired_version)
        update.require(update.equals("leaseOwner", lease_owner), version_holds)
        item = self._transaction_item("Update", listing_id, SK_DESIRED, update)
        item["Update"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return item

    def _transact(self, listing_id: str, items: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if is_condition_failure(error):
                raise ConcurrentModification(f"listing {listing_id}: lease or version moved") from error
            raise


def _newer_version_arrived(error: ClientError, lease_owner: str, desired_version: int) -> bool:
    """Did the clean variant fail only because ingestion stored a newer version (lease still ours)?

    The DESIRED update is the last item of the transaction; DynamoDB returns its old image.
    """
    reasons = error.response.get("CancellationReasons") or []
    if not reasons or reasons[-1].get("Code") != "ConditionalCheckFailed":
        return False
    if any(r.get("Code") not in (None, "None") for r in reasons[:-1]):
        return False
    old = from_item(reasons[-1].get("Item") or {})
    return old.get("leaseOwner") == lease_owner and int(old.get("version", -1)) > desired_version
