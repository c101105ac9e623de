"""Helpers of the end-to-end tests: a LocalStack on loopback, signed webhooks, waiting with deadlines."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from devtools.local_stack.stack import LocalStack
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.webhook_signing import signed_headers

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> T:
    """Poll ``predicate`` until truthy; fail loudly with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class Stack:
    """A started LocalStack plus the shortcuts the tests use."""

    local: LocalStack

    @property
    def info(self) -> Any:
        assert self.local.info is not None
        return self.local.info

    @property
    def emulator(self) -> Any:
        return self.info.emulator

    @property
    def store(self) -> DynamoStateStore:
        return DynamoStateStore(self.info.function_environment["VITRINE_STATE_TABLE"], self.local.dynamodb)

    def media_url(self, path: str) -> str:
        return f"{self.info.media_url}/{path.lstrip('/')}"

    def post(
        self,
        event: dict[str, Any] | bytes,
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        session: requests.Session | None = None,
    ) -> requests.Response:
        body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
        signed = signed_headers(
            secret or self.info.webhook_secret, body, webhook_id=webhook_id or str(uuid.uuid4())
        )
        all_headers = {"content-type": "application/json", **signed, **(headers or {})}
        return (session or requests).post(self.info.webhook_url, data=body, headers=all_headers, timeout=30)

    def aviv_calls(self, method: str, listing_classified_id: str | None = None) -> list[Any]:
        calls = [
            r for r in self.emulator.requests() if r.method == method and r.path.startswith("/classifieds")
        ]
        if listing_classified_id is not None:
            calls = [r for r in calls if r.path == f"/classifieds/{listing_classified_id}"]
        return [r for r in calls if r.status is not None and r.status < 300]

    def synced(self, listing_id: str) -> bool:
        """Clean, and the sync that cleaned it has finished (lease and schedule claim released)."""
        state = self.store.load_sync_state(listing_id)
        return (
            state is not None
            and not state.dirty
            and state.lease_owner is None
            and state.sync_scheduled_until is None
        )

    def wait_synced(self, listing_id: str, timeout: float = 20.0) -> None:
        wait_for(lambda: self.synced(listing_id), timeout, what=f"listing {listing_id} to be synced")
        self.emulator.wait_idle()

    def table_snapshot(self) -> list[dict[str, Any]]:
        """Every item of the state table (to prove a rejected request changed nothing)."""
        items: list[dict[str, Any]] = []
        for key in ("VITRINE_STATE_TABLE",):
            table = self.info.function_environment[key]
            items += self.local.dynamodb.scan(TableName=table)["Items"]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))


def media(stack: Stack, listing_id: str, n: int, **extra: Any) -> dict[str, Any]:
    item = {
        "id": f"{listing_id}-m{n}",
        "url": stack.media_url(f"{listing_id}/photo-{n}.jpg"),
        "mediaType": "PICTURE",
        "title": f"Pièce n°{n}",
        "version": "v1",
    }
    item.update(extra)
    return item


def listing_data(listing_id: str) -> dict[str, Any]:
    return {
        "estateType": "APARTMENT",
        "distributionType": "BUY",
        "prices": {"currency": "EUR", "buy": {"price": {"amount": 420000}}},
        "location": {
            "postalcode": "69002",
            "city": "Lyon",
            "street": "Rue de la République",
            "houseNumber": "27",
            "country": "FRA",
        },
    }


def envelope(event_type: str, listing_id: str, sequence: int | None = None, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": event_type,
        "listingId": listing_id,
        "ownerId": "agence-presquile",
        "occurredAt": "2026-11-27T10:00:00+01:00",
        "intermediaryId": "agency-1",
        **fields,
    }
    if sequence is not None:
        event["sequence"] = sequence
    return event


def upsert(stack: Stack, listing_id: str, media_count: int, sequence: int | None = None) -> dict[str, Any]:
    return envelope(
        "listing.upserted",
        listing_id,
        sequence,
        listing={
            "portals": ["SL"],
            "data": listing_data(listing_id),
            "media": [media(stack, listing_id, n) for n in range(media_count)],
        },
    )
