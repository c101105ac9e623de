"""The StateTable's vocabulary, shared by every store that writes DynamoDB items.

Keys and shards, the gzip-JSON codec for large documents, the one UpdateItem builder and the one
test for "this write lost a race". Timestamps are stored with ``core.moments.format_moment`` so
that they compare correctly as strings in conditions and index ranges.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from vitrine.core.errors import ConcurrentModification

SK_DESIRED = "DESIRED"
SK_SENT = "SENT"
SK_PENDING = "PENDING"
SK_STATUS = "STATUS"
SK_CLASSIFIED_ALIAS = "LISTING"
DIRTY_INDEX = "DirtyIndex"
WATCH_INDEX = "WatchIndex"
OWNER_INDEX = "OwnerIndex"
PROBLEM_INDEX = "ProblemIndex"
# Dirty, watched and troubled listings are spread over a few GSI partitions so a burst never makes
# one hot key.
DIRTY_SHARD_COUNT = 4
WATCH_SHARD_COUNT = 4
PROBLEM_SHARD_COUNT = 4

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def listing_pk(listing_id: str) -> str:
    return f"LISTING#{listing_id}"


def listing_id_of(pk: str) -> str:
    return pk.removeprefix("LISTING#")


def classified_pk(classified_id: str) -> str:
    """Key of the alias item mapping an AVIV classified back to its listing (pushes name only it)."""
    return f"CLASSIFIED#{classified_id}"


def _shard_number(listing_id: str, shard_count: int) -> int:
    """A stable hash (crc32, not Python's salted ``hash``) so every process agrees."""
    return zlib.crc32(listing_id.encode("utf-8")) % shard_count


def dirty_shard(listing_id: str, shard_count: int = DIRTY_SHARD_COUNT) -> str:
    """``DIRTY#<n>``: the DirtyIndex partition of a listing."""
    return f"DIRTY#{_shard_number(listing_id, shard_count)}"


def watch_shard(listing_id: str, shard_count: int = WATCH_SHARD_COUNT) -> str:
    """``WATCH#<n>``: the WatchIndex partition of a listing (same stable hash as the dirty shards)."""
    return f"WATCH#{_shard_number(listing_id, shard_count)}"


def problem_shard(listing_id: str, shard_count: int = PROBLEM_SHARD_COUNT) -> str:
    """``PROBLEM#<n>``: the ProblemIndex partition of a listing with open problems."""
    return f"PROBLEM#{_shard_number(listing_id, shard_count)}"


def compress_json(document: Any) -> bytes:
    """Compact JSON, gzip'd with a fixed mtime so the same document always gives the same bytes."""
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, compresslevel=6, mtime=0)


def decompress_json(blob: Any) -> Any:
    # boto3 hands binaries back as ``Binary`` wrappers; ``bytes()`` accepts both.
    raw = blob.value if hasattr(blob, "value") else blob
    return json.loads(gzip.decompress(bytes(raw)).decode("utf-8"))


def to_attribute_value(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = _serializer.serialize(value)
    return serialized


def to_item(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: to_attribute_value(value) for name, value in attributes.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def classified_alias_item(classified_id: str, listing_id: str) -> dict[str, Any]:
    """The alias item mapping an AVIV classified back to its listing (pushes name only the classified)."""
    return to_item({"pk": classified_pk(classified_id), "sk": SK_CLASSIFIED_ALIAS, "listingId": listing_id})


def query_items(client: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The raw items a Query answers, page after page, fetched only as the caller consumes them."""
    request = dict(request)
    while True:
        page = client.query(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def default_dynamodb_client() -> Any:
    """The DynamoDB client of a Lambda instance. Requests are built here from typed values and
    DynamoDB validates them anyway, so botocore's client-side parameter validation (a noticeable
    share of a webhook's CPU) is skipped."""
    return boto3.client("dynamodb", config=Config(parameter_validation=False))


def is_condition_failure(error: ClientError) -> bool:
    """A lost race: a failed condition, or a transaction cancelled by one or by a concurrent write."""
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons)
    return False


def _placeholder(placeholders: dict[str, Any], prefix: str, target: Any) -> str:
    """The placeholder already standing for ``target``, or a new one numbered in order."""
    for placeholder, existing in placeholders.items():
        if existing == target:
            return placeholder
    placeholder = f"{prefix}{len(placeholders)}"
    placeholders[placeholder] = target
    return placeholder


class ItemUpdate:
    """One UpdateItem (or a transaction's Update/ConditionCheck): SET and REMOVE clauses and AND-ed
    conditions. Every attribute and value goes through a generated placeholder, so no expression
    names one by hand and reserved words (``token``, ``version``) need no special care.

    The condition helpers (``exists``, ``equals``…) return a clause to pass to :meth:`require`, and
    ``any_of`` combines clauses with OR.
    """

    def __init__(self) -> None:
        self._sets: list[str] = []
        self._removes: list[str] = []
        self._conditions: list[str] = []
        self._names: dict[str, str] = {}
        self._values: dict[str, Any] = {}

    # -- placeholders

    def name(self, path: str) -> str:
        """``rejection.notified`` → ``#n0.#n1``: each part of a document path gets a placeholder."""
        return ".".join(self._name_part(part) for part in path.split("."))

    def _name_part(self, attribute: str) -> str:
        return _placeholder(self._names, "#n", attribute)

    def value(self, value: Any) -> str:
        return _placeholder(self._values, ":v", to_attribute_value(value))

    # -- what the update writes

    def set(self, path: str, value: Any) -> None:
        self._sets.append(f"{self.name(path)} = {self.value(value)}")

    def set_if_not_exists(self, path: str, value: Any, *, source: str | None = None) -> None:
        """``path`` := ``source`` (default: ``path`` itself) if that exists, else ``value``."""
        self._sets.append(
            f"{self.name(path)} = if_not_exists({self.name(source or path)}, {self.value(value)})"
        )

    def copy(self, path: str, source: str) -> None:
        self._sets.append(f"{self.name(path)} = {self.name(source)}")

    def remove(self, *paths: str) -> None:
        self._removes.extend(self.name(path) for path in paths)

    # -- conditions

    def require(self, *clauses: str) -> None:
        self._conditions.extend(clauses)

    def exists(self, path: str) -> str:
        return f"attribute_exists({self.name(path)})"

    def absent(self, path: str) -> str:
        return f"attribute_not_exists({self.name(path)})"

    def equals(self, path: str, value: Any) -> str:
        return f"{self.name(path)} = {self.value(value)}"

    def at_most(self, path: str, value: Any) -> str:
        return f"{self.name(path)} <= {self.value(value)}"

    def above(self, path: str, value: Any) -> str:
        return f"{self.name(path)} > {self.value(value)}"

    @staticmethod
    def any_of(*clauses: str) -> str:
        return "(" + " OR ".join(clauses) + ")"

    @staticmethod
    def all_of(*clauses: str) -> str:
        return "(" + " AND ".join(clauses) + ")"

    def absent_or_at_most(self, path: str, value: Any) -> str:
        return self.any_of(self.absent(path), self.at_most(path, value))

    # -- the request

    def render(self) -> dict[str, Any]:
        """The expression arguments of update_item / a transaction item (empty parts left out)."""
        clauses = []
        if self._sets:
            clauses.append("SET " + ", ".join(self._sets))
        if self._removes:
            clauses.append("REMOVE " + ", ".join(self._removes))
        rendered: dict[str, Any] = {}
        if clauses:
            rendered["UpdateExpression"] = " ".join(clauses)
        if self._conditions:
            rendered["ConditionExpression"] = " AND ".join(self._conditions)
        if self._names:
            rendered["ExpressionAttributeNames"] = dict(self._names)
        if self._values:
            rendered["ExpressionAttributeValues"] = dict(self._values)
        return rendered


class ListingTable:
    """Access to the listing items of the StateTable (``pk = LISTING#<id>``, ``sk`` = item kind)."""

    def __init__(self, table_name: str, dynamodb_client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb_client if dynamodb_client is not None else default_dynamodb_client()

    def _key(self, listing_id: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": listing_pk(listing_id)}, "sk": {"S": sk}}

    def _get(self, listing_id: str, sk: str) -> dict[str, Any] | None:
        # Strongly consistent: sync and reconcile decide what to do from these reads.
        answer = self._client.get_item(
            TableName=self.table_name, Key=self._key(listing_id, sk), ConsistentRead=True
        )
        item = answer.get("Item")
        return from_item(item) if item else None

    def _update(self, listing_id: str, sk: str, update: ItemUpdate, **options: Any) -> None:
        """Apply ``update``; a failed condition raises ClientError (see is_condition_failure)."""
        self._client.update_item(
            TableName=self.table_name, Key=self._key(listing_id, sk), **update.render(), **options
        )

    def _update_or_conflict(self, listing_id: str, sk: str, update: ItemUpdate, conflict: str) -> None:
        """Apply ``update``; ConcurrentModification(``conflict``) when its condition does not hold."""
        try:
            self._update(listing_id, sk, update)
        except ClientError as error:
            if is_condition_failure(error):
                raise ConcurrentModification(conflict) from error
            raise

    def _update_if(self, listing_id: str, sk: str, update: ItemUpdate) -> bool:
        """Apply ``update``; False (nothing written) when its condition does not hold."""
        try:
            self._update(listing_id, sk, update)
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def _transaction_item(self, kind: str, listing_id: str, sk: str, update: ItemUpdate) -> dict[str, Any]:
        """``{"Update": …}`` or ``{"ConditionCheck": …}`` for transact_write_items."""
        return {kind: {"TableName": self.table_name, "Key": self._key(listing_id, sk), **update.render()}}
