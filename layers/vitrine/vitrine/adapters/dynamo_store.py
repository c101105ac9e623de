"""DynamoDB implementation of the core's ``StateStore`` port (one item per listing and kind).

Item layout (table ``StateTable``, keys ``pk``/``sk``; see docs/architecture.md):

``pk = LISTING#<listingId>``, ``sk = DESIRED``
    ``listingId``, ``ownerId``, ``intermediaryId``?, ``portals``? (list), ``deleted``, ``version``,
    ``lastSequence``?, ``updatedAt``?, ``hasData`` and the gzip-JSON binaries ``data``?, ``specific``?,
    ``media`` (list of CRM media dicts). Sync bookkeeping: ``sentVersion`` (highest desired version
    sent, skipped or rejected), ``dirty``/``firstUnsentAt``/``lastEditAt`` and the sparse DirtyIndex keys
    ``dirtyShard``/``dirtySince`` (present only while dirty), the lease ``leaseOwner``/``leaseExpiresAt``,
    and ``rejection`` (map: desiredVersion, errors [{pointer, reason}], detail, at, notified).
``sk = SENT`` / ``sk = PENDING``
    ``listingId``, ``classifiedId``?, ``desiredVersion``, ``sentAt``, ``etag``?, ``revision``?,
    ``deleted`` and the gzip-JSON binaries ``body`` (the exact body sent) and ``media`` (per-media
    ``{id, url, version, timestamp, position}``).

Small scalars stay plain attributes so that conditions and updates can use them; large documents
are compressed so a 300-media listing stays far below DynamoDB's 400 KB item limit. Every write
that the sync use case makes is conditional on its lease; every desired write is conditional on
the version the caller read. Timestamps are stored as fixed-width UTC ISO strings
(``2026-02-13T09:25:57.000000Z``) so that they compare correctly as strings in conditions.
"""

from __future__ import annotations

import gzip
import heapq
import json
import struct
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from vitrine.core.errors import ConcurrentModification, FieldError
from vitrine.core.model import (
    DesiredListing,
    IngestSnapshot,
    IngestWrite,
    LastSent,
    Media,
    Rejection,
    SentMedia,
    SyncState,
)
from vitrine.core.moments import format_moment, parse_moment

SK_DESIRED = "DESIRED"
SK_SENT = "SENT"
SK_PENDING = "PENDING"
SK_STATUS = "STATUS"
DIRTY_INDEX = "DirtyIndex"
# Dirty listings are spread over a few GSI partitions so a burst of edits never makes one hot key.
DIRTY_SHARD_COUNT = 4
WATCH_SHARD_COUNT = 4
SK_CLASSIFIED_ALIAS = "LISTING"

# Attributes this store manages on the DESIRED item; ``extra`` may not overwrite them.
_MANAGED_DESIRED_ATTRIBUTES = frozenset(
    {
        "pk", "sk", "listingId", "ownerId", "intermediaryId", "portals", "deleted", "version",
        "lastSequence", "updatedAt", "hasData", "data", "specific", "media", "sentVersion", "dirty",
        "firstUnsentAt", "lastEditAt", "dirtyShard", "dirtySince", "leaseOwner", "leaseExpiresAt",
        "rejection", "syncScheduledUntil", "watchShard", "watchDue", "deliveryLog", "ingestSeq",
    }
)  # fmt: skip

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def listing_pk(listing_id: str) -> str:
    return f"LISTING#{listing_id}"


def listing_id_of(pk: str) -> str:
    return pk.removeprefix("LISTING#")


def classified_pk(classified_id: str) -> str:
    """Key of the alias item mapping an AVIV classified back to its listing (pushes name only it)."""
    return f"CLASSIFIED#{classified_id}"


def watch_shard(listing_id: str, shard_count: int = WATCH_SHARD_COUNT) -> str:
    """``WATCH#<n>``: the WatchIndex partition of a listing (same stable hash as the dirty shards)."""
    return f"WATCH#{zlib.crc32(listing_id.encode('utf-8')) % shard_count}"


def dirty_shard(listing_id: str, shard_count: int = DIRTY_SHARD_COUNT) -> str:
    """``DIRTY#<n>``: a stable hash (crc32, not Python's salted ``hash``) so every process agrees."""
    return f"DIRTY#{zlib.crc32(listing_id.encode('utf-8')) % shard_count}"


def compress_json(document: Any) -> bytes:
    """Compact JSON, gzip'd with a fixed mtime so the same document always gives the same bytes."""
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, compresslevel=6, mtime=0)


def decompress_json(blob: Any) -> Any:
    # boto3 hands binaries back as ``Binary`` wrappers; ``bytes()`` accepts both.
    raw = blob.value if hasattr(blob, "value") else blob
    return json.loads(gzip.decompress(bytes(raw)).decode("utf-8"))


def _desired_fields(desired: DesiredListing) -> dict[str, Any]:
    """The DESIRED item's attributes as Python values (cheap to compare); ``None`` = absent."""
    return {
        "listingId": desired.listing_id,
        "ownerId": desired.owner_id,
        "deleted": desired.deleted,
        "version": desired.version,
        "hasData": desired.data is not None,
        "media": desired.media,
        "intermediaryId": desired.intermediary_id,
        "portals": desired.portals,
        "lastSequence": desired.last_sequence,
        "updatedAt": desired.updated_at,
        "data": desired.data,
        "specific": desired.specific,
    }


# How a field is stored when it is not stored as is: documents are gzip-compressed JSON.
_FIELD_ENCODERS: dict[str, Any] = {
    "media": lambda media: compress_json([m.to_dict() for m in media]),
    "portals": list,
    "data": compress_json,
    "specific": compress_json,
}


def _encode_field(name: str, value: Any) -> Any:
    if value is None:
        return None
    encoder = _FIELD_ENCODERS.get(name)
    return encoder(value) if encoder is not None else value


def desired_attributes(desired: DesiredListing) -> dict[str, Any]:
    """The DESIRED item's attributes for ``desired``; ``None`` marks an attribute to remove."""
    return {name: _encode_field(name, value) for name, value in _desired_fields(desired).items()}


def default_dynamodb_client() -> Any:
    """The DynamoDB client of a Lambda instance. Requests are built by this module from typed
    values and DynamoDB validates them anyway, so botocore's client-side parameter validation
    (a noticeable share of a webhook's CPU) is skipped."""
    return boto3.client("dynamodb", config=Config(parameter_validation=False))


def _to_av(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = _serializer.serialize(value)
    return serialized


def _from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


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


def _advance_ingest_seq(update: _Update, seen: int | None) -> int:
    """Bump ``ingestSeq``, on condition that it is still ``seen`` (None: not there yet)."""
    if seen is None:
        update.require_absent("ingestSeq")
    else:
        update.require("ingestSeq", seen)
    update.set("ingestSeq", (seen or 0) + 1)
    return (seen or 0) + 1


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class _Update:
    """Builds one UpdateItem: SET/REMOVE clauses and AND-ed conditions with placeholder names/values."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.conditions: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        for placeholder, existing in self.names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _to_av(value)
        return placeholder

    def set(self, attribute: str, value: Any) -> None:
        self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def set_if_not_exists(self, attribute: str, source: str, value: Any) -> None:
        self.sets.append(f"{self.name(attribute)} = if_not_exists({self.name(source)}, {self.value(value)})")

    def remove(self, attribute: str) -> None:
        self.removes.append(self.name(attribute))

    def condition(self, clause: str) -> None:
        self.conditions.append(clause)

    def require(self, attribute: str, value: Any) -> None:
        self.conditions.append(f"{self.name(attribute)} = {self.value(value)}")

    def require_absent(self, attribute: str) -> None:
        self.conditions.append(f"attribute_not_exists({self.name(attribute)})")

    def require_absent_or_at_most(self, attribute: str, value: Any) -> None:
        name = self.name(attribute)
        self.conditions.append(f"(attribute_not_exists({name}) OR {name} <= {self.value(value)})")

    def render(self) -> dict[str, Any]:
        expression = "SET " + ", ".join(self.sets)
        if self.removes:
            expression += " REMOVE " + ", ".join(self.removes)
        return {
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(self.conditions),
            "ExpressionAttributeNames": self.names,
            "ExpressionAttributeValues": self.values,
        }


class DynamoStateStore:
    """The ``StateStore`` port over one DynamoDB table, plus what ingestion and the sweep need."""

    def __init__(self, table_name: str, dynamodb_client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb_client if dynamodb_client is not None else default_dynamodb_client()

    # ------------------------------------------------------------------ keys and raw access

    def _key(self, listing_id: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": listing_pk(listing_id)}, "sk": {"S": sk}}

    def _get(self, listing_id: str, sk: str) -> dict[str, Any] | None:
        # Strongly consistent: sync decides what to send from these reads.
        answer = self._client.get_item(
            TableName=self.table_name, Key=self._key(listing_id, sk), ConsistentRead=True
        )
        item = answer.get("Item")
        return _from_item(item) if item else None

    # ------------------------------------------------------------------ desired state (ingestion)

    def save_desired(
        self,
        desired: DesiredListing,
        expected_version: int | None,
        *,
        now: datetime,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Store ``desired`` if the stored version is still ``expected_version`` (None: must not exist).

        ``desired.version`` is the version to store; it is a new, unsent version when it is greater
        than ``expected_version``, and then the listing becomes dirty: ``firstUnsentAt`` is kept when
        it was already dirty (``if_not_exists``, evaluated atomically against the item as it is at
        write time, so a sync that cleaned the item meanwhile is seen), ``lastEditAt`` is ``now``.
        Saving the same version again (a bookkeeping change such as ``lastSequence``) leaves the dirty
        state alone. An UpdateItem touching only these attributes keeps lease, rejection and any
        scheduling attributes others wrote. ``extra`` adds plain attributes (e.g. scheduling fields)
        in the same conditional write. Raises ConcurrentModification when the version moved.
        """
        if expected_version is not None and desired.version < expected_version:
            raise ValueError(
                f"listing {desired.listing_id}: version {desired.version} < expected {expected_version}"
            )
        reserved = set(extra or {}) & _MANAGED_DESIRED_ATTRIBUTES
        if reserved:
            raise ValueError(f"extra attributes collide with store attributes: {sorted(reserved)}")
        is_new_version = desired.version > (expected_version or 0)

        attributes = desired_attributes(desired)
        removes = [name for name, value in attributes.items() if value is None]
        sets = {name: value for name, value in attributes.items() if value is not None}
        sets.update(extra or {})

        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses: list[str] = []
        for index, (name, value) in enumerate(sets.items()):
            names[f"#a{index}"] = name
            values[f":a{index}"] = _to_av(value)
            clauses.append(f"#a{index} = :a{index}")
        clauses.append("sentVersion = if_not_exists(sentVersion, :zero)")
        values[":zero"] = {"N": "0"}
        if is_new_version:
            clauses += [
                "dirty = :true",
                "firstUnsentAt = if_not_exists(firstUnsentAt, :now)",
                "lastEditAt = :now",
            ]
            values[":true"] = {"BOOL": True}
            values[":now"] = {"S": format_moment(now)}
            if desired.data is not None or desired.deleted:
                # Only listings AVIV can be told about enter the sweep's index: media that arrived
                # before the listing's data would otherwise sit at its head and starve the rest.
                clauses += ["dirtySince = if_not_exists(firstUnsentAt, :now)", "dirtyShard = :shard"]
                values[":shard"] = {"S": dirty_shard(desired.listing_id)}
            else:
                removes += ["dirtySince", "dirtyShard"]
        expression = "SET " + ", ".join(clauses)
        if removes:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
            names.update({f"#r{i}": name for i, name in enumerate(removes)})

        if expected_version is None:
            condition = "attribute_not_exists(pk)"
        else:
            condition = "#version = :expected"
            names["#version"] = "version"
            values[":expected"] = {"N": str(expected_version)}
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(desired.listing_id, SK_DESIRED),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise ConcurrentModification(
                    f"listing {desired.listing_id}: desired version is no longer {expected_version}"
                ) from error
            raise

    def load_desired(self, listing_id: str) -> DesiredListing | None:
        item = self._get(listing_id, SK_DESIRED)
        if item is None or "version" not in item:
            return None
        return self._desired_from_item(listing_id, item)

    @staticmethod
    def _desired_from_item(listing_id: str, item: Mapping[str, Any]) -> DesiredListing:
        return DesiredListing(
            listing_id=str(item.get("listingId", listing_id)),
            owner_id=str(item.get("ownerId", "")),
            intermediary_id=item.get("intermediaryId"),
            portals=[str(p) for p in item["portals"]] if item.get("portals") is not None else None,
            data=decompress_json(item["data"]) if "data" in item else None,
            specific=decompress_json(item["specific"]) if "specific" in item else None,
            media=[Media.from_dict(m) for m in decompress_json(item["media"])] if "media" in item else [],
            deleted=bool(item.get("deleted", False)),
            version=int(item["version"]),
            last_sequence=_optional_int(item.get("lastSequence")),
            updated_at=item.get("updatedAt"),
        )

    # ------------------------------------------------------------------ ingest: one write per webhook

    def load_ingest_snapshot(self, listing_id: str) -> IngestSnapshot | None:
        """The desired state plus the bookkeeping the ingest write depends on (one GetItem)."""
        item = self._get(listing_id, SK_DESIRED)
        if item is None or "version" not in item:
            return None
        return IngestSnapshot(
            desired=self._desired_from_item(listing_id, item),
            dirty=bool(item.get("dirty", False)),
            indexed="dirtyShard" in item,
            sync_scheduled_until=parse_moment(item.get("syncScheduledUntil")),
            deliveries=unpack_delivery_log(bytes(item["deliveryLog"])) if "deliveryLog" in item else None,
            ingest_seq=_optional_int(item.get("ingestSeq")),
        )

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
        update = _Update()
        now = format_moment(write.now)
        dirty_after = write.desired is not None or (previous is not None and previous.dirty)
        syncable_after = after.data is not None or after.deleted
        indexed_after = previous is not None and previous.indexed

        if write.desired is not None:
            # Compared as Python values, encoded (compressed) only when they changed.
            before = _desired_fields(previous.desired) if previous is not None else {}
            for name, value in _desired_fields(write.desired).items():
                if previous is not None and before.get(name) == value:
                    continue
                if value is not None:
                    update.set(name, _encode_field(name, value))
                elif before.get(name) is not None:
                    update.remove(name)
            update.set("lastEditAt", now)
            if previous is not None and previous.dirty:
                update.require("dirty", True)
            else:
                update.set("dirty", True)
                update.set_if_not_exists("firstUnsentAt", "firstUnsentAt", now)
            if syncable_after and not indexed_after:
                update.set_if_not_exists("dirtySince", "firstUnsentAt", now)
                update.set("dirtyShard", dirty_shard(write.listing_id))
                indexed_after = True
            elif not syncable_after and indexed_after:
                update.remove("dirtySince")
                update.remove("dirtyShard")
                indexed_after = False
        elif write.claim_until is not None:
            update.require("dirty", True)

        if previous is None:
            update.condition("attribute_not_exists(pk)")
            update.set("sentVersion", 0)
        else:
            update.require("version", previous.desired.version)
        if write.claim_until is not None:
            update.set("syncScheduledUntil", format_moment(write.claim_until))
            update.require_absent_or_at_most("syncScheduledUntil", now)
        elif write.expect_claim is not None:
            update.require("syncScheduledUntil", format_moment(write.expect_claim))

        deliveries = dict(previous.deliveries or {}) if previous is not None else {}
        for key in write.expired_deliveries:
            deliveries.pop(key, None)
        deliveries[write.delivery.key] = (write.now, write.delivery.body_digest)
        update.set("deliveryLog", pack_delivery_log(deliveries))
        if previous is None:
            ingest_seq = 1
            update.set("ingestSeq", ingest_seq)
        else:
            ingest_seq = _advance_ingest_seq(update, previous.ingest_seq)

        try:
            self._client.update_item(
                TableName=self.table_name, Key=self._key(write.listing_id, SK_DESIRED), **update.render()
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise ConcurrentModification(
                    f"listing {write.listing_id}: changed since it was read"
                ) from error
            raise
        return IngestSnapshot(
            desired=after,
            dirty=dirty_after,
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
            remaining = {k: v for k, v in snapshot.deliveries.items() if k != delivery_key}
            update = _Update()
            update.set("deliveryLog", pack_delivery_log(remaining))
            _advance_ingest_seq(update, snapshot.ingest_seq)
            try:
                self._client.update_item(
                    TableName=self.table_name, Key=self._key(listing_id, SK_DESIRED), **update.render()
                )
                break
            except ClientError as error:
                if not _is_condition_failure(error):
                    raise
        else:
            raise ConcurrentModification(f"listing {listing_id}: could not forget delivery {delivery_key}")
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(listing_id, SK_DESIRED),
                UpdateExpression="REMOVE syncScheduledUntil",
                ConditionExpression="syncScheduledUntil = :until",
                ExpressionAttributeValues={":until": {"S": format_moment(claim_until)}},
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def load_sync_state(self, listing_id: str) -> SyncState | None:
        """The DESIRED item's bookkeeping without decompressing its documents (consolidation, sweep)."""
        item = self._get(listing_id, SK_DESIRED)
        if item is None or "version" not in item:
            return None
        rejection = item.get("rejection")
        return SyncState(
            listing_id=listing_id,
            owner_id=str(item.get("ownerId", "")),
            version=int(item["version"]),
            sent_version=int(item.get("sentVersion", 0)),
            dirty=bool(item.get("dirty", False)),
            first_unsent_at=parse_moment(item.get("firstUnsentAt")),
            last_edit_at=parse_moment(item.get("lastEditAt")),
            lease_owner=item.get("leaseOwner"),
            lease_expires_at=parse_moment(item.get("leaseExpiresAt")),
            deleted=bool(item.get("deleted", False)),
            has_data=bool(item.get("hasData", False)),
            rejected_version=_optional_int(rejection.get("desiredVersion")) if rejection else None,
            sync_scheduled_until=parse_moment(item.get("syncScheduledUntil")),
            extra={k: v for k, v in item.items() if k not in _MANAGED_DESIRED_ATTRIBUTES},
        )

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
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DIRTY_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                yield item["dirtySince"]["S"], listing_id_of(item["pk"]["S"])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ sync scheduling (ingestion)

    def claim_sync_schedule(self, listing_id: str, now: datetime, hold_seconds: int) -> bool:
        """Mark "a sync message is pending" (``syncScheduledUntil``) unless a live claim exists.

        Only dirty listings that are syncable (data known, or deleted) are claimed.

        True means the caller must send the message. The claim expires after ``hold_seconds`` so a
        lost message cannot block the listing forever. A listing without a DESIRED item has nothing
        to sync: False, and nothing is written (a stub item would block the listing's creation).
        """
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(listing_id, SK_DESIRED),
                UpdateExpression="SET syncScheduledUntil = :until",
                # Only a dirty listing AVIV can be told about needs a message: one whose data has not
                # arrived yet waits for the upsert that brings it (which schedules it then).
                ConditionExpression=(
                    "attribute_exists(pk) AND dirty = :true AND (hasData = :true OR deleted = :true)"
                    " AND (attribute_not_exists(syncScheduledUntil) OR syncScheduledUntil <= :now)"
                ),
                ExpressionAttributeValues={
                    ":until": {"S": format_moment(now + timedelta(seconds=hold_seconds))},
                    ":now": {"S": format_moment(now)},
                    ":true": {"BOOL": True},
                },
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def release_sync_schedule(self, listing_id: str) -> None:
        """Forget the pending-message claim (message failed to send, or sync consumed it)."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(listing_id, SK_DESIRED),
                UpdateExpression="REMOVE syncScheduledUntil",
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    # ------------------------------------------------------------------ lease

    def acquire_lease(self, listing_id: str, owner: str, now: datetime, ttl_seconds: int) -> bool:
        """Take the sync lease when it is free, expired or already ``owner``'s.

        A listing without a DESIRED item has nothing to guard: the answer is True without writing
        (a lease item would block the listing's creation), and since every write sync makes is
        conditional on the lease, anything that raced in meanwhile makes those writes fail safely.
        """
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(listing_id, SK_DESIRED),
                UpdateExpression="SET leaseOwner = :owner, leaseExpiresAt = :expires",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(leaseOwner)"
                    " OR leaseOwner = :owner OR leaseExpiresAt <= :now)"
                ),
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":expires": {"S": format_moment(now + timedelta(seconds=ttl_seconds))},
                    ":now": {"S": format_moment(now)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return not error.response.get("Item")
            raise
        return True

    def release_lease(self, listing_id: str, owner: str) -> None:
        """Give the lease back if ``owner`` still holds it (if not, it expired and is someone else's)."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(listing_id, SK_DESIRED),
                UpdateExpression="REMOVE leaseOwner, leaseExpiresAt",
                ConditionExpression="leaseOwner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def _lease_check(self, listing_id: str, lease_owner: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": self._key(listing_id, SK_DESIRED),
                "ConditionExpression": "leaseOwner = :owner",
                "ExpressionAttributeValues": {":owner": {"S": lease_owner}},
            }
        }

    # ------------------------------------------------------------------ sent / pending

    def _sent_item(self, record: LastSent, sk: str) -> dict[str, Any]:
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
        if sk == SK_SENT:
            # Every send enters the reconcile work set (sparse WatchIndex) until AVIV confirms it.
            sent_at = parse_moment(record.sent_at)
            item["watchShard"] = watch_shard(record.listing_id)
            item["watchDue"] = format_moment(sent_at) if sent_at else record.sent_at
        return {name: _to_av(value) for name, value in item.items()}

    def _load_sent_item(self, listing_id: str, sk: str) -> LastSent | None:
        item = self._get(listing_id, sk)
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
            revision=_optional_int(item.get("revision")),
            deleted=bool(item.get("deleted", False)),
        )

    def load_last_sent(self, listing_id: str) -> LastSent | None:
        return self._load_sent_item(listing_id, SK_SENT)

    def load_pending(self, listing_id: str) -> LastSent | None:
        return self._load_sent_item(listing_id, SK_PENDING)

    def record_pending(self, pending: LastSent, lease_owner: str) -> None:
        """Write-ahead of a send, in one transaction with a check that ``lease_owner`` holds the lease."""
        self._transact(
            pending.listing_id,
            [
                self._lease_check(pending.listing_id, lease_owner),
                {"Put": {"TableName": self.table_name, "Item": self._sent_item(pending, SK_PENDING)}},
            ],
        )

    def record_sent(self, sent: LastSent, lease_owner: str) -> None:
        """SENT := ``sent``, PENDING deleted, ``sentVersion`` recorded; clean unless a newer version came.

        One transaction, conditional on the lease. Ingestion does not take the lease, so the desired
        version may have moved since sync read it; clearing the dirty flag must therefore be
        conditional on ``version = sent.desired_version``. See ``_mark_handled``.
        """
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table_name, "Item": self._sent_item(sent, SK_SENT)}},
            {"Delete": {"TableName": self.table_name, "Key": self._key(sent.listing_id, SK_PENDING)}},
        ]
        if sent.classified_id:
            alias = {
                "pk": {"S": classified_pk(sent.classified_id)},
                "sk": {"S": SK_CLASSIFIED_ALIAS},
                "listingId": {"S": sent.listing_id},
            }
            writes.append({"Put": {"TableName": self.table_name, "Item": alias}})
        self._mark_handled(sent.listing_id, sent.desired_version, lease_owner, before=writes)

    def record_skipped(self, listing_id: str, desired_version: int, lease_owner: str) -> None:
        """Nothing needs sending for ``desired_version``: same bookkeeping as a send, no SENT change.

        PENDING is kept: if an earlier send's answer was lost, its body may be what AVIV holds, and
        the next plan must still see its timestamps.
        """
        self._mark_handled(listing_id, desired_version, lease_owner)

    def record_rejection(
        self,
        listing_id: str,
        desired_version: int,
        errors: list[FieldError],
        detail: str,
        now: datetime,
        lease_owner: str,
    ) -> None:
        """Keep the refusal on the DESIRED item (``rejection``, ``notified=false`` for the notifier)
        and treat ``desired_version`` as handled: it is not retried, a later version syncs normally."""
        rejection = {
            "desiredVersion": desired_version,
            "errors": [e.to_dict() for e in errors],
            "detail": detail,
            "at": format_moment(now),
            "notified": False,
        }
        # The rejection enters the reconcile work set, which notifies the owner once.
        self._mark_handled(
            listing_id,
            desired_version,
            lease_owner,
            set_attributes={
                "rejection": rejection,
                "watchShard": watch_shard(listing_id),
                "watchDue": format_moment(now),
            },
        )

    def load_rejection(self, listing_id: str) -> Rejection | None:
        """The last refusal recorded for the listing (compare ``desired_version`` with the current one)."""
        item = self._get(listing_id, SK_DESIRED)
        raw = item.get("rejection") if item else None
        if not raw:
            return None
        return Rejection(
            listing_id=listing_id,
            desired_version=int(raw["desiredVersion"]),
            errors=tuple(FieldError(str(e["pointer"]), str(e["reason"])) for e in raw.get("errors", [])),
            detail=str(raw.get("detail", "")),
            at=parse_moment(raw.get("at")),
            notified=bool(raw.get("notified", False)),
        )

    def mark_rejection_notified(self, listing_id: str, desired_version: int) -> bool:
        """Flag the rejection of ``desired_version`` as told to its owner; False if it was replaced."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(listing_id, SK_DESIRED),
                UpdateExpression="SET rejection.notified = :true",
                ConditionExpression="rejection.desiredVersion = :v",
                ExpressionAttributeValues={":true": {"BOOL": True}, ":v": {"N": str(desired_version)}},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

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

        DynamoDB cannot make one REMOVE depend on a value, so two update variants exist:
        1. ``version = :v``: nothing newer arrived, so ``sentVersion := v`` and the dirty attributes
           (and the DirtyIndex entry) are removed;
        2. ``version > :v``: ingestion stored a newer version meanwhile, so ``sentVersion := v`` and
           the listing stays dirty. Its unsent edits all came after sync read version v, so the old
           ``firstUnsentAt`` no longer describes them: it (and ``dirtySince``) moves to ``lastEditAt``,
           an upper bound of the oldest unsent edit. Keeping the old value would make every message
           of a long editing burst "overdue" and turn the burst into one AVIV call per edit.
        Variant 1 is tried first; when it fails with the lease still ours but the version moved
        (seen in the old item DynamoDB returns with the failure), variant 2 is applied. The version
        only grows, so variant 2 cannot then fail for the version; a lost lease raises
        ConcurrentModification and nothing at all is written.
        """
        extra_sets = ""
        names = {"#version": "version"}
        values: dict[str, Any] = {":owner": {"S": lease_owner}, ":v": {"N": str(desired_version)}}
        for index, (name, value) in enumerate((set_attributes or {}).items()):
            extra_sets += f", #s{index} = :s{index}"
            names[f"#s{index}"] = name
            values[f":s{index}"] = _to_av(value)

        def desired_update(clean: bool) -> dict[str, Any]:
            expression = "SET sentVersion = :v" + extra_sets
            if clean:
                expression += " REMOVE dirty, firstUnsentAt, dirtyShard, dirtySince"
            else:
                expression += ", firstUnsentAt = lastEditAt, dirtySince = lastEditAt"
            return {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._key(listing_id, SK_DESIRED),
                    "UpdateExpression": expression,
                    "ConditionExpression": (
                        "leaseOwner = :owner AND " + ("#version = :v" if clean else "#version > :v")
                    ),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }

        items = list(before or [])
        try:
            self._client.transact_write_items(TransactItems=[*items, desired_update(clean=True)])
            return
        except ClientError as error:
            if not _newer_version_arrived(error, lease_owner, desired_version):
                if _is_condition_failure(error):
                    raise ConcurrentModification(
                        f"listing {listing_id}: lease lost before recording v{desired_version}"
                    ) from error
                raise
        self._transact(listing_id, [*items, desired_update(clean=False)])

    def _transact(self, listing_id: str, items: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _is_condition_failure(error):
                raise ConcurrentModification(f"listing {listing_id}: lease or version moved") from error
            raise


def _newer_version_arrived(error: ClientError, lease_owner: str, desired_version: int) -> bool:
    """Did the "clean" variant fail only because ingestion stored a newer version (lease still ours)?

    The DESIRED update is the last item of the transaction; DynamoDB returns its old image.
    """
    reasons = error.response.get("CancellationReasons") or []
    if not reasons or reasons[-1].get("Code") != "ConditionalCheckFailed":
        return False
    if any(r.get("Code") not in (None, "None") for r in reasons[:-1]):
        return False
    old = _from_item(reasons[-1].get("Item") or {})
    return old.get("leaseOwner") == lease_owner and int(old.get("version", -1)) > desired_version


def _is_condition_failure(error: ClientError) -> bool:
    """A lost race: a failed condition, or a transaction cancelled by one or by a concurrent write."""
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons)
    return False
