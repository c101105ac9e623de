"""Count the AWS requests code makes in this process, and the DynamoDB capacity units they consume.

moto does not report consumed capacity as DynamoDB would, so the units are **computed from item
sizes** with DynamoDB's documented rules (on-demand read and write request units):

* item size: attribute names plus values (strings and binaries by their bytes, numbers about one
  byte per two digits plus one, lists and maps 3 bytes plus their elements);
* reads: 4 KB units, eventually consistent reads and index queries count half, a strongly
  consistent read one; a query counts the summed size of what it returned; a read that finds
  nothing still costs its minimum;
* writes: 1 KB units of the larger of the item before and after; each item of a transaction
  counts twice (condition checks included);
* global secondary indexes: a write that changes what an index holds of the item also writes the
  index (its projection), twice when the index key itself moved (delete + put).

Before and after sizes are read with an unmetered client, so metering changes nothing it measures
but time. Install it before the clients are created (botocore copies a session's handlers into
each client it makes), once the environment points boto3 at the AWS to meter.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from devtools import template as cfn

_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
_READS = ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value (wire format ``{"S": ...}``)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode("utf-8"))
    if kind == "N":
        return len(str(inner).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(value_size(v) for v in inner)
    if kind == "M":
        return 3 + item_size(inner)
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    return 0


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclass(frozen=True)
class IndexShape:
    name: str
    keys: tuple[str, ...]
    projected: tuple[str, ...] | None  # None: every attribute


def index_shapes() -> list[IndexShape]:
    """The StateTable's global secondary indexes, from template.yaml."""
    table = cfn.resources_of_type("AWS::DynamoDB::Table")["StateTable"]["Properties"]
    base = tuple(k["AttributeName"] for k in table["KeySchema"])
    shapes = []
    for index in table.get("GlobalSecondaryIndexes", []):
        keys = tuple(k["AttributeName"] for k in index["KeySchema"])
        projection = index.get("Projection", {})
        kind = projection.get("ProjectionType", "ALL")
        projected = None if kind == "ALL" else (*base, *keys, *projection.get("NonKeyAttributes", []))
        shapes.append(IndexShape(index["IndexName"], keys, projected))
    return shapes


def _entry(shape: IndexShape, item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not item or any(key not in item for key in shape.keys):
        return None
    if shape.projected is None:
        return dict(item)
    return {name: item[name] for name in shape.projected if name in item}


def index_write_units(
    shapes: list[IndexShape], before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> int:
    """Units a table write costs in the indexes: none when what an index holds did not change."""
    units = 0
    for shape in shapes:
        old, new = _entry(shape, before), _entry(shape, after)
        if old == new:
            continue
        if old is not None and new is not None and all(old[k] == new[k] for k in shape.keys):
            units += write_units(item_size(new))  # updated in place
        else:
            units += sum(write_units(item_size(entry)) for entry in (old, new) if entry is not None)
    return units


@dataclass
class AwsMeter:
    """What the metered code asked of AWS: requests per service and operation, DynamoDB units."""

    requests: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    shapes: list[IndexShape] = field(default_factory=index_shapes)
    _sizer: Any = None

    def reset(self) -> None:
        self.requests.clear()
        self.read_units = 0.0
        self.write_units = 0.0

    def snapshot(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "rcu": self.read_units, "wcu": self.write_units}

    # ------------------------------------------------------------------ botocore handlers
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        context["meter_params"] = dict(params)
        if model.name in _WRITES:
            context["meter_before"] = [self._current(params["TableName"], params.get("Key") or _key(params))]
        elif model.name == "TransactWriteItems":
            context["meter_before"] = [self._current(*_target(a)) for a in params["TransactItems"]]

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        self.requests[f"{service}:{model.name}"] += 1
        if service != "dynamodb" or "Error" in parsed:
            return
        params = context.get("meter_params") or {}
        if model.name in _READS:
            self.read_units += _read_cost(model.name, params, parsed)
        elif model.name in _WRITES:
            target = (params["TableName"], params.get("Key") or _key(params))
            self._count_write([target], context.get("meter_before") or [None], factor=1)
        elif model.name == "TransactWriteItems":
            targets = [_target(action) for action in params["TransactItems"]]
            self._count_write(targets, context.get("meter_before") or [None] * len(targets), factor=2)

    def _count_write(
        self, targets: list[tuple[str, dict[str, Any]]], befores: list[Any], factor: int
    ) -> None:
        for (table, key), before in zip(targets, befores, strict=False):
            after = self._current(table, key)
            self.write_units += factor * write_units(max(item_size(before), item_size(after)))
            if table.endswith("StateTable"):
                self.write_units += index_write_units(self.shapes, before, after)

    def _current(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        if self._sizer is None:  # a session of its own: its reads are not metered
            self._sizer = boto3.session.Session().client("dynamodb")
        item: dict[str, Any] | None = self._sizer.get_item(TableName=table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return item


def _key(params: Mapping[str, Any]) -> dict[str, Any]:
    item = params.get("Item") or {}
    return {name: item[name] for name in ("pk", "sk") if name in item}


def _target(action: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    (_kind, body), *_ = action.items()
    return body["TableName"], body.get("Key") or _key(body)


def _read_cost(operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> float:
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return read_units(item_size(parsed.get("Item")), consistent)
    if operation in ("Query", "Scan"):
        return read_units(sum(item_size(i) for i in parsed.get("Items", [])), consistent)
    if operation == "BatchGetItem":
        return sum(
            read_units(item_size(i), False) for items in parsed.get("Responses", {}).values() for i in items
        )
    return sum(read_units(item_size(r.get("Item")), True) * 2 for r in parsed.get("Responses", []))


@contextmanager
def metered(session: Any | None = None) -> Iterator[AwsMeter]:
    """Meter every client created from ``session`` (boto3's default one) while the block runs."""
    session = session or boto3._get_default_session()
    meter = AwsMeter()
    events = session.events
    events.register("provide-client-params.*", meter._before, unique_id="aws-meter-before")
    events.register("after-call.*", meter._after, unique_id="aws-meter-after")
    try:
        yield meter
    finally:
        events.unregister("provide-client-params.*", unique_id="aws-meter-before")
        events.unregister("after-call.*", unique_id="aws-meter-after")
