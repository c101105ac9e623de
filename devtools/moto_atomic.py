"""Make moto's DynamoDB item writes atomic across threads, as real DynamoDB's are.

moto evaluates a ConditionExpression and then writes, with no lock in between: two threads (two
"Lambda instances" of a local stack, or a threaded moto server) can both pass the same condition.
Real DynamoDB never lets that happen for one item, and vitrine's correctness under concurrent
webhooks rests on it. This patch serialises moto's write operations behind one lock so tests and
``make local`` exercise the guarantee the deployed stack really has.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
_WRITE_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    "execute_transaction",
)
_PATCHED_FLAG = "_vitrine_atomic_writes"


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


def make_moto_dynamodb_writes_atomic() -> None:
    """Idempotent: patch moto's DynamoDB backend once per process."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, _PATCHED_FLAG, False):
        return
    for name in _WRITE_METHODS:
        original = getattr(DynamoDBBackend, name, None)
        if original is not None:
            setattr(DynamoDBBackend, name, _serialised(original))
    setattr(DynamoDBBackend, _PATCHED_FLAG, True)
