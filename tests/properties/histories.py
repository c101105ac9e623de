"""A CRM's history of one listing as webhook bodies, and the ingest pipeline that receives them.

:func:`histories` draws events a real CRM could send, in its own order, each consistent with the
listing as the CRM sees it then (media.updated of a media it has, a permutation for media.reordered);
``sequence`` counts them. :class:`Receiver` feeds bodies through the production ingest
(``parse_event`` → ``ingest_event`` → the DynamoDB store, moto in-process) at a clock the test sets.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from tests.properties.strategies import DEFAULTS, T0
from tests.support.aws import dynamodb_client, make_tables, mocked_aws
from tests.support.listings import sample_data
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.errors import ValidationFailed
from vitrine.core.events.apply import apply_event
from vitrine.core.events.parse import decode_body, parse_event
from vitrine.core.events.review import review_listing
from vitrine.core.events.vocabulary import EVENT_TYPES
from vitrine.core.ingest import ingest_event
from vitrine.core.model import Delivery, DesiredListing, body_digest

_listing_numbers = itertools.count(1)
WINDOW_SECONDS = 60
HOLD_SECONDS = 900


def _media(number: int, revision: int = 0) -> dict[str, Any]:
    return {
        "id": f"m{number}",
        "url": f"https://photos.agence.fr/{number}-{revision}.jpg",
        "mediaType": "PICTURE",
        "title": f"Pièce {number}",
        "version": f"v{revision}",
    }


@st.composite
def histories(draw: st.DrawFn, kinds: tuple[str, ...] | None = None, max_events: int = 10) -> list[bytes]:
    """Webhook bodies of one new listing, in the CRM's order; the first is a listing.upserted."""
    listing_id = f"prop-{next(_listing_numbers)}"
    media: list[dict[str, Any]] = [_media(n) for n in range(draw(st.integers(0, 4)))]
    numbers = itertools.count(len(media))
    data = sample_data(listing_id)
    events = [_upsert(listing_id, data, media)]
    for _ in range(draw(st.integers(0, max_events - 1))):
        kind = draw(st.sampled_from(kinds or EVENT_TYPES))
        event = _next_event(draw, kind, listing_id, data, media, numbers)
        events.append(event)
    bodies = []
    for sequence, event in enumerate(events, start=1):
        envelope = {"listingId": listing_id, "ownerId": "owner-1", "occurredAt": "2026-03-02T09:00:00Z"}
        bodies.append(json.dumps({**envelope, "sequence": sequence, **event}, ensure_ascii=False).encode())
    return bodies


def _upsert(listing_id: str, data: dict[str, Any], media: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "listing.upserted",
        "listing": {"data": copy.deepcopy(data), "media": copy.deepcopy(media)},
    }


def _next_event(
    draw: st.DrawFn,
    kind: str,
    listing_id: str,
    data: dict[str, Any],
    media: list[dict[str, Any]],
    numbers: itertools.count[int],
) -> dict[str, Any]:
    """The next event of ``kind`` (or an upsert when it cannot apply), updating the CRM's ``media``."""
    if kind == "media.added":
        added = _media(next(numbers))
        position = draw(st.integers(0, len(media)))
        media.insert(position, added)
        return {"type": kind, "media": added, "position": position}
    if kind == "media.updated" and media:
        index = draw(st.integers(0, len(media) - 1))
        media[index] = _media(int(media[index]["id"][1:]), draw(st.integers(1, 3)))
        return {"type": kind, "media": media[index]}
    if kind == "media.removed":
        if media and draw(st.booleans()):
            return {"type": kind, "mediaId": media.pop(draw(st.integers(0, len(media) - 1)))["id"]}
        return {"type": kind, "mediaId": "never-sent"}
    if kind == "media.reordered":
        media[:] = draw(st.permutations(media))
        return {"type": kind, "order": [item["id"] for item in media]}
    if kind == "listing.deleted":
        return {"type": kind}
    if draw(st.booleans()):
        data["prices"]["buy"]["price"]["amount"] = draw(st.integers(1, 10**7))
    return _upsert(listing_id, data, media)


@dataclass
class Receiver:
    """The production ingest of webhook bodies, at a settable clock; what it answered."""

    store: DynamoStateStore
    now: datetime = T0
    scheduled: list[tuple[str, int, datetime]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)

    def schedule(self, listing_id: str, delay_seconds: int) -> None:
        self.scheduled.append((listing_id, delay_seconds, self.now))

    def deliver(self, body: bytes, webhook_id: str) -> None:
        event = parse_event(decode_body(body))
        delivery = Delivery(webhook_id=webhook_id, body_digest=body_digest(body), received_at=self.now)
        try:
            result = ingest_event(
                event,
                delivery,
                store=self.store,
                scheduler=self,
                clock=lambda: self.now,
                consolidation_window=WINDOW_SECONDS,
                hold_seconds=HOLD_SECONDS,
                defaults=DEFAULTS,
            )
        except ValidationFailed:
            self.answers.append("422")
            return
        self.answers.append("duplicate" if result.duplicate else result.ignored_reason or "applied")


def fold(deliveries: list[tuple[bytes, str]], now: datetime = T0) -> DesiredListing | None:
    """Applying the delivered events one by one with the pure core, each webhook-id once it was
    recorded, each reviewed as ingest reviews it (an event making a listing AVIV would refuse is refused)."""
    state: DesiredListing | None = None
    recorded: set[str] = set()  # deliveries written; a refused one is not, and its retry is applied
    for body, webhook_id in deliveries:
        if webhook_id in recorded:
            continue
        event = parse_event(decode_body(body))
        try:
            result = apply_event(state, event, now)
        except ValidationFailed:
            continue
        if result.ignored_reason is None and review_listing(event, result.desired, DEFAULTS, now).errors:
            continue  # AVIV's schema would refuse the listing: refused at the door
        if result.changed or state is not None:
            state = result.desired
            recorded.add(webhook_id)
    return state


def content(listing: DesiredListing | None) -> Any:
    """What the listing says (everything but the moment it was written)."""
    if listing is None:
        return None
    return (
        listing.owner_id,
        listing.intermediary_id,
        listing.portals,
        listing.data,
        listing.specific,
        [media.to_dict() for media in listing.media],
        listing.deleted,
        listing.last_sequence,
        listing.version,
    )


def shown(listing: DesiredListing | None) -> Any:
    """What AVIV should show for the listing: nothing once deleted (the kept last state is not shown)."""
    if listing is None or listing.deleted:
        return None
    return (listing.portals, listing.data, listing.specific, [media.to_dict() for media in listing.media])


@dataclass
class PropertyTable:
    """The StateTable on moto in-process, for the properties that go through the real store."""

    store: DynamoStateStore
    client: Any

    def forget(self, listing_id: str) -> None:
        """Delete the listing's items once an example is checked: moto copies the whole table on
        every transaction, so keeping every example's listing would make each write slower and bigger."""
        found = self.client.query(
            TableName=self.store.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"LISTING#{listing_id}"}},
            ProjectionExpression="pk, sk",
        )
        for key in found["Items"]:
            self.client.delete_item(TableName=self.store.table_name, Key=key)


@contextmanager
def property_table() -> Iterator[PropertyTable]:
    with mocked_aws():
        client = dynamodb_client()
        yield PropertyTable(DynamoStateStore(make_tables()["StateTable"], client), client)


def listing_of(body: bytes) -> str:
    listing_id: str = json.loads(body)["listingId"]
    return listing_id
