"""Reconcile run cost: AVIV status calls and DynamoDB reads per run, for 1,000 and 10,000 listings.

Both catalogues have the same 10 listings pending (sent, not yet confirmed: 5 confirm this run, 5 come
back with a media error); every other listing was confirmed long ago. A run must cost the same for
both — its work set comes from the sparse WatchIndex, so the catalogue's size must not show.

Measured on moto (in process) with a counting fake AVIV: calls by operation, moto's ConsumedCapacity
(``ReturnConsumedCapacity=TOTAL`` on every call) and, because moto's capacity figures are rough, read
units recomputed from the size of every item read the way DynamoDB bills them (4 KB steps; strongly
consistent reads count 1, eventually consistent ones 0.5; a Query bills the summed size of the items it
returns). Exits 1 if any figure differs between the two catalogues, or if anything scanned.

Run: ``make bench`` or ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/reconcile.py``.
"""

from __future__ import annotations

import math
import sys
import zlib
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.aws import dynamodb_client, make_tables, mocked_aws
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.dynamo.table import compress_json, listing_pk, watch_shard
from vitrine.adapters.media_probe import MediaProbe
from vitrine.adapters.status_store import StatusStore
from vitrine.core.moments import format_moment
from vitrine.core.ports import AvivClassifiedCopy
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.reconcile.records import Notification
from vitrine.observability import logger
from vitrine.service.reconcile import ReconcileService
from vitrine.settings import Settings

CATALOGUES = (1_000, 10_000)
PENDING = 10
MEDIA_PER_LISTING = 20
READ_OPERATIONS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")
NOW = datetime.now(UTC)


def item_size(attributes: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (close enough to its billing rules)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in attributes.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return 1 + math.ceil(len(str(raw).lstrip("-").replace(".", "")) / 2)
    if kind == "B":
        return len(raw.value if hasattr(raw, "value") else raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in raw.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    return sum(len(str(v).encode()) for v in raw)  # sets


class MeteredDynamoDB:
    """The boto3 client asking for ConsumedCapacity on every call and adding everything up."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.moto_read_units = 0.0
        self.moto_write_units = 0.0
        self.billed_read_units = 0.0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith(("get_paginator", "get_waiter", "can_paginate")):
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            if name not in ("describe_table", "create_table"):
                kwargs.setdefault("ReturnConsumedCapacity", "TOTAL")
            answer = attribute(**kwargs)
            self._account(name, kwargs, answer)
            return answer

        return call

    def _account(self, name: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        consumed = answer.get("ConsumedCapacity")
        units = sum(c.get("CapacityUnits", 0.0) for c in consumed) if isinstance(consumed, list) else (
            (consumed or {}).get("CapacityUnits", 0.0)
        )  # fmt: skip
        if name in READ_OPERATIONS:
            self.moto_read_units += units
        else:
            self.moto_write_units += units
        if name == "get_item":
            size = item_size(answer.get("Item") or {})
            per_4kb = 1.0 if request.get("ConsistentRead") else 0.5
            self.billed_read_units += max(1, math.ceil(size / 4096)) * per_4kb
        elif name == "query":
            size = sum(item_size(item) for item in answer.get("Items", []))
            self.billed_read_units += max(1, math.ceil(size / 4096)) * 0.5


class CountingAviv:
    """AVIV as reconciliation sees it: the latest status of each classified, counted."""

    config = AvivClientConfig.from_settings(Settings.from_env())

    def __init__(self, media_error: set[str]) -> None:
        self.media_error = media_error
        self.status_calls = 0

    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        return nullcontext()

    def latest_status(self, classified_id: str, *, intermediary_id: str | None = None) -> dict[str, Any]:
        self.status_calls += 1
        failing = classified_id in self.media_error
        status: dict[str, Any] = {
            "classifiedId": classified_id,
            "revision": 2,
            "portals": ["SL"],
            "status": "UPDATED_WITH_MEDIA_ERROR" if failing else "UPDATED",
            "message": "processed",
            "statusDate": (NOW - timedelta(seconds=30)).isoformat(),
        }
        if failing:
            status["mediaStatuses"] = [
                {"url": _media_url(classified_id.removeprefix("cl-"), 3), "status": "DOWNLOADING_FAILED"}
            ]
        return status

    def get(self, classified_id: str, *, intermediary_id: str | None = None) -> AvivClassifiedCopy:
        raise NotImplementedError


class CountingNotifier:
    def __init__(self) -> None:
        self.published: list[Notification] = []

    def publish(self, notification: Notification) -> str:
        self.published.append(notification)
        return str(len(self.published))


class NoScheduler:
    def schedule(self, listing_id: str, delay_seconds: int) -> None:
        raise AssertionError("nothing is dirty in this benchmark")


def _media_url(listing_id: str, index: int) -> str:
    return f"https://media.crm.example/{listing_id}/photo-{index:03d}.jpg?timestamp=2026-01-05T10:00:00"


def _listing_items(listing_id: str, *, pending: bool) -> list[dict[str, Any]]:
    """The DESIRED and SENT items of a listing (SENT in the watch set when ``pending``)."""
    sent_at = (NOW - timedelta(minutes=2)) if pending else (NOW - timedelta(days=30))
    media = [
        {"id": f"{listing_id}-m{i}", "url": _media_url(listing_id, i).split("?")[0], "mediaType": "PICTURE",
         "title": f"Pièce {i}", "version": "v1"}
        for i in range(MEDIA_PER_LISTING)
    ]  # fmt: skip
    body = {
        "portals": ["SL"],
        "data": {"estateType": "APARTMENT", "distributionType": "BUY", "metaData": {"source": {}}},
        "media": [
            {"url": _media_url(listing_id, i), "mediaType": "PICTURE"} for i in range(MEDIA_PER_LISTING)
        ],
    }
    records = [
        {"id": m["id"], "url": m["url"], "version": "v1", "timestamp": "2026-01-05T10:00:00", "position": i}
        for i, m in enumerate(media)
    ]
    desired: dict[str, Any] = {
        "pk": {"S": listing_pk(listing_id)},
        "sk": {"S": "DESIRED"},
        "listingId": {"S": listing_id},
        "ownerId": {"S": f"owner-{zlib.crc32(listing_id.encode()) % 50}"},
        "version": {"N": "2"},
        "sentVersion": {"N": "2"},
        "deleted": {"BOOL": False},
        "hasData": {"BOOL": True},
        "data": {"B": compress_json(body["data"])},
        "media": {"B": compress_json(media)},
    }
    sent: dict[str, Any] = {
        "pk": {"S": listing_pk(listing_id)},
        "sk": {"S": "SENT"},
        "listingId": {"S": listing_id},
        "classifiedId": {"S": f"cl-{listing_id}"},
        "desiredVersion": {"N": "2"},
        "sentAt": {"S": sent_at.isoformat()},
        "deleted": {"BOOL": False},
        "body": {"B": compress_json(body)},
        "media": {"B": compress_json(records)},
    }
    if pending:
        sent["watchShard"] = {"S": watch_shard(listing_id)}
        sent["watchDue"] = {"S": format_moment(sent_at)}
    return [desired, sent]


def _load_catalogue(client: Any, table: str, size: int) -> list[str]:
    pending = [f"P-{i:03d}" for i in range(PENDING)]
    listing_ids = pending + [f"L-{i:06d}" for i in range(size - PENDING)]
    requests = [
        {"PutRequest": {"Item": item}}
        for listing_id in listing_ids
        for item in _listing_items(listing_id, pending=listing_id in pending)
    ]
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={table: requests[start : start + 25]})
    return pending


def measure(size: int) -> dict[str, float]:
    with mocked_aws():
        table = make_tables()["StateTable"]
        raw = dynamodb_client()
        pending = _load_catalogue(raw, table, size)
        metered = MeteredDynamoDB(raw)
        aviv = CountingAviv(media_error={f"cl-{listing_id}" for listing_id in pending[::2]})
        notifier = CountingNotifier()
        settings = replace(Settings.from_env(), state_table=table, reconcile_concurrency=4)

        def service_asking(aviv: CountingAviv) -> ReconcileService:
            return ReconcileService(
                settings,
                policy=ReconcilePolicy(),
                store=DynamoStateStore(table, metered),
                status_store=StatusStore(table, metered),
                aviv=aviv,
                notifier=notifier,
                scheduler=NoScheduler(),
                probe=MediaProbe(),
                push_token=lambda: "",
            )

        report = service_asking(aviv).run()
        first = _snapshot(metered)
        aviv_calls = aviv.status_calls
        quiet_aviv = CountingAviv(set())
        # The next run: every pending listing was confirmed or has a slow recheck.
        service_asking(quiet_aviv).run()
        second = _snapshot(metered)
    return {
        "listings in the table": size,
        "pending (watched)": PENDING,
        "listings reconciled": report.reconciled,
        "notifications": len(notifier.published),
        "AVIV status calls": aviv_calls,
        "DynamoDB GetItem": first["get_item"],
        "DynamoDB Query (WatchIndex, DirtyIndex, ProblemIndex)": first["query"],
        "DynamoDB Scan": first["scan"],
        "read units (DynamoDB billing model)": first["billed"],
        "read units (moto ConsumedCapacity)": first["moto_read"],
        "write units (moto ConsumedCapacity)": first["moto_write"],
        "next run: AVIV status calls": quiet_aviv.status_calls,
        "next run: read units (billing model)": second["billed"] - first["billed"],
    }


def _snapshot(metered: MeteredDynamoDB) -> dict[str, float]:
    return {
        **{op: float(metered.calls.get(op, 0)) for op in READ_OPERATIONS},
        "billed": metered.billed_read_units,
        "moto_read": metered.moto_read_units,
        "moto_write": metered.moto_write_units,
    }


def main() -> int:
    logger.setLevel("WARNING")  # the run's INFO lines would drown the table
    results = [measure(size) for size in CATALOGUES]
    width = max(len(key) for key in results[0])
    print(f"{'reconcile run':<{width}}  " + "  ".join(f"{size:>16,}" for size in CATALOGUES))
    for key in results[0]:
        cells = []
        for result in results:
            value = result[key]
            cells.append(
                f"{value:>16,.2f}"
                if isinstance(value, float) and not value.is_integer()
                else f"{value:>16,.0f}"
            )
        print(f"{key:<{width}}  " + "  ".join(cells))
    compared = [
        k for k in results[0] if k not in ("listings in the table", "run seconds (moto, informative)")
    ]
    differing = [k for k in compared if len({r[k] for r in results}) > 1]
    if differing or any(r["DynamoDB Scan"] for r in results):
        print(f"FAIL: the run's cost depends on the catalogue size: {differing}")
        return 1
    print(f"OK: per-run cost depends on the {PENDING} pending listings only, not on the catalogue size")
    return 0


if __name__ == "__main__":
    sys.exit(main())
