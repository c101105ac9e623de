"""Webhook events for the events tests: sample bodies, raw and parsed events, listings built from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vitrine.core.errors import ValidationFailed
from vitrine.core.events.apply import apply_event
from vitrine.core.events.parse import parse_event
from vitrine.core.events.vocabulary import ListingEvent
from vitrine.core.model import DesiredListing

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "webhooks"
NOW = datetime(2026, 2, 13, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
LISTING_ID = "AGC-PARIS-0042"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def media(media_id: str, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": media_id,
        "url": f"https://photos.agence-marais.fr/0042/{media_id}.jpg",
        "mediaType": "PICTURE",
    }
    item.update(fields)
    return item


def raw(event_type: str, sequence: int | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": event_type,
        "listingId": LISTING_ID,
        "ownerId": "agence-marais",
        "occurredAt": "2026-02-13T10:15:00+01:00",
    }
    if sequence is not None:
        body["sequence"] = sequence
    body.update(fields)
    return body


DATA: dict[str, Any] = {
    "estateType": "APARTMENT",
    "distributionType": "RENT",
    "prices": {"currency": "EUR", "rent": {"baseRent": {"amount": 2150}, "priceTimeUnit": "MONTH"}},
    "location": {"postalcode": "75004", "city": "Paris", "street": "Rue des Francs-Bourgeois",
                 "houseNumber": "12", "country": "FR"},
    "metaData": {"source": {"sourceSystem": "CRM", "sourceSystemVersion": "1", "offererMarketingKey": "k",
                            "offererEstateId": LISTING_ID}},
}  # fmt: skip


def upsert(
    sequence: int | None = None, media_items: list[dict[str, Any]] | None = None, **listing: Any
) -> ListingEvent:
    """A parsed listing.upserted; a field given as ``...`` is left out."""
    state: dict[str, Any] = {"portals": ["SL"], "data": DATA, "media": media_items or []}
    for key, value in listing.items():
        if value is ...:
            state.pop(key, None)
        else:
            state[key] = value
    return parse_event(raw("listing.upserted", sequence, listing=state))


def event(event_type: str, sequence: int | None = None, **fields: Any) -> ListingEvent:
    return parse_event(raw(event_type, sequence, **fields))


def pointers(body: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_event(body)
    return [error.pointer for error in caught.value.errors]


def state_pointers(current: DesiredListing | None, listing_event: ListingEvent) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        apply_event(current, listing_event, LATER)
    return [error.pointer for error in caught.value.errors]


def listing_with(*media_ids: str, sequence: int | None = None) -> DesiredListing:
    return apply_event(None, upsert(sequence, [media(i) for i in media_ids]), NOW).desired


def ids(listing: DesiredListing) -> list[str]:
    return [m.id for m in listing.media]
