"""Make moto's DynamoDB item writes atomic across threads, as real DynamoDB's are.

moto evaluates a ConditionExpression and then writes, with no lock in between: two threads (two
"Lambda instances" of a local stack, or a threaded moto server) can both pass the same condition.
Real DynamoDB never lets that happen for one item, and vitrine's correctness under concurrent
webhooks rests on it. This patch serialises moto's DynamoDB operations behind one lock so tests and
``make local`` exercise the guarantee the deployed stack really has.

Reads are serialised too: moto keeps a table's items in a ``defaultdict``, so reading a missing key
adds an entry, and a transaction, a query or a scan iterating the table in another thread failed
with "dictionary changed size during iteration".

``TransactWriteItems`` backs the *whole table* up before it starts (a deep copy, for rollback): its
cost grew with the table, under the lock, on every sync. Here the transaction backs up only the
items it names, and puts them back if it fails.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

_LOCK = threading.RLock()
_SERIALISED_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    "execute_transaction",
    "get_item",
    "batch_get_item",
    "query",
    "scan",
    "transact_get_items",
    "describe_table",
)
_PATCHED_FLAG = "_vitrine_atomic_writes"
_transaction = threading.local()

ItemBackup = tuple[Any, Any, Any, Any]
"""(table, hash key, range key or None, a copy of the item or None when it did not exist)."""


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


def _backed_up_per_item(transact: Callable[..., Any]) -> Callable[..., Any]:
    """``transact_write_items`` restoring the items it names on failure, instead of the whole table."""

    @functools.wraps(transact)
    def wrapper(backend: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            backups = list(_item_backups(backend, transact_items))
            _transaction.active = True
            try:
                return transact(backend, transact_items, *args, **kwargs)
            except BaseException:
                _restore(backups)
                raise
            finally:
                _transaction.active = False

    return wrapper


def _item_backups(backend: Any, transact_items: list[dict[str, Any]]) -> Iterable[ItemBackup]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    for entry in transact_items[:100]:  # moto refuses more, before writing anything
        for operation in entry.values():
            table = backend.tables.get(operation.get("TableName"))
            key = operation.get("Key") or operation.get("Item")
            if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
                continue  # moto refuses it before writing anything
            range_attr = table.range_key_attr
            if range_attr and range_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[range_attr]) if range_attr else None
            item = table.get_item(hash_key, range_key)
            yield table, hash_key, range_key, copy.deepcopy(item) if item is not None else None


def _restore(backups: list[ItemBackup]) -> None:
    for table, hash_key, range_key, item in reversed(backups):
        if item is None:
            table.delete_item(hash_key, range_key)
        elif range_key is not None:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item


def _table_deepcopy(table: Any, memo: dict[int, Any]) -> Any:
    """moto's whole-table backup inside a transaction is the table itself (its items are backed up
    one by one); any other deep copy of a table is a real one."""
    if getattr(_transaction, "active", False):
        return table
    clone = table.__class__.__new__(table.__class__)
    memo[id(table)] = clone
    clone.__dict__.update(copy.deepcopy(table.__dict__, memo))
    return clone


def make_moto_dynamodb_writes_atomic() -> None:
    """Idempotent: patch moto's DynamoDB backend once per process."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend, _PATCHED_FLAG, False):
        return
    for name in _SERIALISED_METHODS:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue
        if name == "transact_write_items":
            original = _backed_up_per_item(original)
        setattr(DynamoDBBackend, name, _serialised(original))
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]
    setattr(DynamoDBBackend, _PATCHED_FLAG, True)
