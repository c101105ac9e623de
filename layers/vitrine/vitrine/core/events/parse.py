"""Decoding a webhook body and checking one event on its own, reporting *every* bad field at once.

The CRM tells vitrine what it wants through six event types (see ``docs/webhooks.md``). A body
that is not strict JSON is malformed (400); a JSON event with bad fields, or with text or numbers
vitrine cannot store, is invalid (422), each field named by its JSON pointer.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from vitrine.core.errors import FieldError, ValidationFailed
from vitrine.core.events.fields import (
    read_integer,
    read_locale,
    read_occurred_at,
    read_string,
    unknown_properties,
)
from vitrine.core.events.payloads import PAYLOAD_PARSERS
from vitrine.core.events.vocabulary import (
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    MAX_LISTING_ID_BYTES,
    MAX_LISTING_ID_LENGTH,
    MAX_OWNER_ID_LENGTH,
    MAX_SEQUENCE,
    PAYLOAD_FIELDS,
    ListingEvent,
)
from vitrine.core.strict_json import MalformedBody, decode_strict_json

__all__ = ["MalformedBody", "decode_body", "parse_event"]


def decode_body(body: bytes) -> Any:
    """The webhook body as strict JSON that vitrine can store (:mod:`vitrine.core.strict_json`).

    Raises MalformedBody (400: not JSON, a repeated key, too deep) or ValidationFailed (422: a lone
    surrogate or a non-finite number, each named by its pointer) before any field is read.
    """
    return decode_strict_json(body)


def parse_event(raw: Any) -> ListingEvent:
    """Check one decoded webhook body; raise :class:`ValidationFailed` listing every bad field.

    Only what can be judged from the event alone is checked here; what depends on the listing's
    current media (unknown ids, an order that is not a permutation…) is checked when it is applied
    (:func:`vitrine.core.events.apply.apply_event`).
    """
    if not isinstance(raw, dict):
        raise ValidationFailed([FieldError("", "the body must be a JSON object")])
    errors: list[FieldError] = []

    event_type = raw.get("type")
    known_type = isinstance(event_type, str) and event_type in PAYLOAD_FIELDS
    if "type" not in raw:
        errors.append(FieldError("/type", "required"))
    elif not known_type:
        errors.append(FieldError("/type", "unknown event type; expected one of " + ", ".join(EVENT_TYPES)))

    listing_id = read_string(
        raw,
        "listingId",
        "/listingId",
        errors,
        required=True,
        max_length=MAX_LISTING_ID_LENGTH,
        max_utf8_bytes=MAX_LISTING_ID_BYTES,
    )
    owner_id = read_string(raw, "ownerId", "/ownerId", errors, required=True, max_length=MAX_OWNER_ID_LENGTH)
    occurred_at = read_occurred_at(raw, errors)
    sequence = read_integer(raw, "sequence", "/sequence", errors, maximum=MAX_SEQUENCE)
    intermediary_id = read_string(raw, "intermediaryId", "/intermediaryId", errors, required=False)
    locale = read_locale(raw, errors)

    payload: dict[str, Any] = {}
    if known_type:
        assert isinstance(event_type, str)
        required, optional = PAYLOAD_FIELDS[event_type]
        allowed = set(ENVELOPE_FIELDS) | set(required) | set(optional)
        errors.extend(unknown_properties(raw, allowed, ""))
        payload = PAYLOAD_PARSERS[event_type](raw, errors)

    if errors:
        raise ValidationFailed(errors)
    assert isinstance(event_type, str) and listing_id is not None and owner_id is not None
    assert occurred_at is not None
    return ListingEvent(
        type=event_type,
        listing_id=listing_id,
        owner_id=owner_id,
        occurred_at=occurred_at,
        sequence=sequence,
        intermediary_id=intermediary_id,
        payload=MappingProxyType(payload),
        locale=locale,
    )
