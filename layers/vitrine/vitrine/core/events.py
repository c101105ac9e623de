"""Webhook events → the listing's desired state (the pure half of ``ingest``).

The CRM tells vitrine what it wants through six event types (see ``docs/webhooks.md``).
:func:`parse_event` checks an event on its own and reports *every* bad field at once;
:func:`apply_event` folds a valid event into the listing's desired state and reports whether
anything changed. Nothing here talks to AVIV: events are never replayed into AVIV, they only
move the desired state, which ``sync`` later compares with what AVIV was last sent.

Media fields are checked by :func:`vitrine.core.validation.validate_media_list`, the one place
that knows AVIV's media rules; this module only checks the envelope around them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from vitrine.core.errors import FieldError, ValidationFailed, VitrineError
from vitrine.core.model import PORTALS, DesiredListing, Media, base_media_version
from vitrine.core.moments import format_moment
from vitrine.core.timestamps import strip_timestamp
from vitrine.core.validation import validate_media_list

LISTING_UPSERTED = "listing.upserted"
MEDIA_ADDED = "media.added"
MEDIA_UPDATED = "media.updated"
MEDIA_REMOVED = "media.removed"
MEDIA_REORDERED = "media.reordered"
LISTING_DELETED = "listing.deleted"
EVENT_TYPES: tuple[str, ...] = (
    LISTING_UPSERTED,
    MEDIA_ADDED,
    MEDIA_UPDATED,
    MEDIA_REMOVED,
    MEDIA_REORDERED,
    LISTING_DELETED,
)

ENVELOPE_FIELDS: tuple[str, ...] = (
    "type",
    "listingId",
    "ownerId",
    "occurredAt",
    "sequence",
    "intermediaryId",
)
# Type-specific top-level fields, required first then optional.
PAYLOAD_FIELDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType(
    {
        LISTING_UPSERTED: (("listing",), ()),
        MEDIA_ADDED: (("media",), ("position",)),
        MEDIA_UPDATED: (("media",), ()),
        MEDIA_REMOVED: (("mediaId",), ()),
        MEDIA_REORDERED: (("order",), ()),
        LISTING_DELETED: ((), ()),
    }
)
LISTING_FIELDS: tuple[str, ...] = ("portals", "data", "specific", "media")

MAX_LISTING_ID_LENGTH = 512  # AVIV's limit on offererEstateId, which the listing id becomes.
MAX_PORTALS = 5
MAX_SEQUENCE = 2**53 - 1  # the largest integer every JSON parser reads exactly

# RFC 3339 date-time with a zone; the same pattern is in schemas/webhook-event.schema.json.
RFC3339_DATE_TIME = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))"
)

# ApplyResult.ignored_reason values.
STALE_SEQUENCE = "stale_sequence"
UNKNOWN_MEDIA = "unknown_media"


class MalformedBody(VitrineError):
    """The body is not one strict JSON document (answer 400); see :func:`decode_body`."""


@dataclass(frozen=True)
class ListingEvent:
    """One valid webhook event. ``payload`` holds the type-specific fields in the webhook's JSON shape."""

    type: str
    listing_id: str
    owner_id: str
    occurred_at: datetime
    sequence: int | None
    intermediary_id: str | None
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class ApplyResult:
    """What an event did to a listing.

    ``changed``: ``desired`` differs from what is stored and must be written (its ``version`` was bumped).
    ``needs_sync``: what AVIV should show changed (portals, data, specific, media, deleted or
    intermediary) — mark the listing dirty. A write without sync happens when only bookkeeping moved
    (a newer ``sequence``, a new ``ownerId``): the sequence watermark must be stored, or a late older
    event could later be applied over a newer one.
    ``ignored_reason``: why the event was not applied to the content: ``stale_sequence`` (nothing at
    all was applied) or ``unknown_media`` (media.removed of an id the listing does not have); ``None``
    otherwise, including an event that leaves the content as it was (``needs_sync`` is then False).
    """

    desired: DesiredListing
    changed: bool
    ignored_reason: str | None
    needs_sync: bool = False


# --------------------------------------------------------------------------------------------------
# Decoding and validation
# --------------------------------------------------------------------------------------------------


def decode_body(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no repeated keys (which parsers resolve differently)."""

    def reject_constant(name: str) -> Any:
        raise MalformedBody(f"{name} is not JSON")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise MalformedBody(f"key {key!r} appears twice in one object")
            out[key] = value
        return out

    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=reject_constant, object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from exc


def json_pointer(*tokens: str | int) -> str:
    """RFC 6901 pointer from raw tokens (``~`` and ``/`` escaped)."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def parse_event(raw: Any) -> ListingEvent:
    """Check one decoded webhook body; raise :class:`ValidationFailed` listing every bad field.

    Only what can be judged from the event alone is checked here; what depends on the listing's
    current media (unknown ids, an order that is not a permutation…) is checked by :func:`apply_event`.
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

    listing_id = _string(
        raw, "listingId", "/listingId", errors, required=True, max_length=MAX_LISTING_ID_LENGTH
    )
    owner_id = _string(raw, "ownerId", "/ownerId", errors, required=True)
    occurred_at = _occurred_at(raw, errors)
    sequence = _integer(raw, "sequence", "/sequence", errors, maximum=MAX_SEQUENCE)
    intermediary_id = _string(raw, "intermediaryId", "/intermediaryId", errors, required=False)

    payload: dict[str, Any] = {}
    if known_type:
        assert isinstance(event_type, str)
        required, optional = PAYLOAD_FIELDS[event_type]
        allowed = set(ENVELOPE_FIELDS) | set(required) | set(optional)
        errors.extend(_unknown_properties(raw, allowed, ""))
        payload = _PAYLOAD_PARSERS[event_type](raw, errors)

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
    )


def _string(
    obj: Mapping[str, Any],
    key: str,
    pointer: str,
    errors: list[FieldError],
    *,
    required: bool,
    max_length: int | None = None,
) -> str | None:
    if key not in obj:
        if required:
            errors.append(FieldError(pointer, "required"))
        return None
    value = obj[key]
    if not isinstance(value, str) or not value:
        errors.append(FieldError(pointer, "must be a non-empty string"))
        return None
    if max_length is not None and len(value) > max_length:
        errors.append(FieldError(pointer, f"must be at most {max_length} characters"))
        return None
    return value


def _integer(
    obj: Mapping[str, Any], key: str, pointer: str, errors: list[FieldError], *, maximum: int
) -> int | None:
    """An optional integer ≥ 0. ``3.0`` counts as 3, as in JSON Schema; ``true`` does not."""
    if key not in obj:
        return None
    value = obj[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        errors.append(FieldError(pointer, f"must be an integer between 0 and {maximum}"))
        return None
    return value


def _occurred_at(raw: Mapping[str, Any], errors: list[FieldError]) -> datetime | None:
    if "occurredAt" not in raw:
        errors.append(FieldError("/occurredAt", "required"))
        return None
    value = raw["occurredAt"]
    match = RFC3339_DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        errors.append(
            FieldError("/occurredAt", "must be an RFC 3339 date-time with a zone, e.g. 2026-02-13T09:25:57Z")
        )
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_hours, off_minutes = match.groups()
    offset = timedelta(0)
    if not zulu:
        offset = timedelta(hours=int(off_hours), minutes=int(off_minutes)) * (-1 if sign == "-" else 1)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(offset),
        )
    except ValueError:
        errors.append(FieldError("/occurredAt", "is not a real calendar date"))
        return None


def _unknown_properties(obj: Mapping[str, Any], allowed: set[str], prefix: str) -> list[FieldError]:
    return [FieldError(prefix + json_pointer(key), "unknown property") for key in obj if key not in allowed]


def _parse_upserted(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    if "listing" not in raw:
        errors.append(FieldError("/listing", "required"))
        return {}
    listing = raw["listing"]
    if not isinstance(listing, dict):
        errors.append(FieldError("/listing", "must be an object"))
        return {}
    errors.extend(_unknown_properties(listing, set(LISTING_FIELDS), "/listing"))
    parsed: dict[str, Any] = {}

    if "portals" in listing:
        parsed["portals"] = _portals(listing["portals"], errors)
    for key, is_required in (("data", True), ("specific", False)):
        if key not in listing:
            if is_required:
                errors.append(FieldError(f"/listing/{key}", "required"))
            continue
        if not isinstance(listing[key], dict):
            errors.append(FieldError(f"/listing/{key}", "must be an object (AVIV's " + key + ")"))
            continue
        parsed[key] = copy.deepcopy(listing[key])

    media = listing.get("media")
    if "media" not in listing:
        errors.append(FieldError("/listing/media", "required (an empty array when the listing has no media)"))
    elif not isinstance(media, list):
        errors.append(FieldError("/listing/media", "must be an array"))
    else:
        errors.extend(validate_media_list(media, "/listing/media"))
        parsed["media"] = copy.deepcopy(media)
    return {"listing": parsed}


def _portals(value: Any, errors: list[FieldError]) -> list[str]:
    if not isinstance(value, list):
        errors.append(FieldError("/listing/portals", "must be an array"))
        return []
    if len(value) > MAX_PORTALS:
        errors.append(FieldError("/listing/portals", f"at most {MAX_PORTALS} portals"))
    seen: set[str] = set()
    for index, portal in enumerate(value):
        pointer = f"/listing/portals/{index}"
        if not isinstance(portal, str) or portal not in PORTALS:
            errors.append(FieldError(pointer, "unknown portal; expected one of " + ", ".join(PORTALS)))
        elif portal in seen:
            errors.append(FieldError(pointer, f"portal {portal} is listed twice"))
        else:
            seen.add(portal)
    return list(value)


def _single_media(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """The ``media`` field of media.added / media.updated, checked as a one-item list (pointers fixed)."""
    if "media" not in raw:
        errors.append(FieldError("/media", "required"))
        return {}
    media = raw["media"]
    if not isinstance(media, dict):
        errors.append(FieldError("/media", "must be an object"))
        return {}
    item_prefix = "/media/0"
    for error in validate_media_list([media], "/media"):
        pointer = error.pointer
        if pointer == item_prefix or pointer.startswith(item_prefix + "/"):
            pointer = "/media" + pointer[len(item_prefix) :]
        errors.append(FieldError(pointer, error.reason))
    return {"media": copy.deepcopy(media)}


def _parse_added(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    parsed = _single_media(raw, errors)
    position = _integer(raw, "position", "/position", errors, maximum=MAX_SEQUENCE)
    if position is not None:
        parsed["position"] = position
    return parsed


def _parse_updated(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    return _single_media(raw, errors)


def _parse_removed(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    media_id = _string(raw, "mediaId", "/mediaId", errors, required=True)
    return {} if media_id is None else {"mediaId": media_id}


def _parse_reordered(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    if "order" not in raw:
        errors.append(FieldError("/order", "required"))
        return {}
    order = raw["order"]
    if not isinstance(order, list):
        errors.append(FieldError("/order", "must be an array of media ids"))
        return {}
    seen: set[str] = set()
    for index, media_id in enumerate(order):
        if not isinstance(media_id, str) or not media_id:
            errors.append(FieldError(f"/order/{index}", "must be a non-empty string (a media id)"))
        elif media_id in seen:
            errors.append(FieldError(f"/order/{index}", f"media id {media_id!r} is listed twice"))
        else:
            seen.add(media_id)
    return {"order": list(order)}


def _parse_deleted(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    return {}


_PAYLOAD_PARSERS: Mapping[str, Callable[[Mapping[str, Any], list[FieldError]], dict[str, Any]]] = (
    MappingProxyType(
        {
            LISTING_UPSERTED: _parse_upserted,
            MEDIA_ADDED: _parse_added,
            MEDIA_UPDATED: _parse_updated,
            MEDIA_REMOVED: _parse_removed,
            MEDIA_REORDERED: _parse_reordered,
            LISTING_DELETED: _parse_deleted,
        }
    )
)


# --------------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------------


def apply_event(current: DesiredListing | None, event: ListingEvent, now: datetime) -> ApplyResult:
    """Fold ``event`` into ``current`` (``None``: the listing is new) and return a new desired state.

    Pure: ``current`` is never mutated. Raises :class:`ValidationFailed` when the event does not fit
    the current media (pointers into the webhook body) and ``ValueError`` on a programming error
    (another listing's state, a naive ``now``). A stale event (``sequence`` ≤ the last applied one) is
    ignored before anything else is checked: it describes a state that has already been superseded.
    """
    if current is not None and current.listing_id != event.listing_id:
        raise ValueError(f"event for listing {event.listing_id!r} applied to listing {current.listing_id!r}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    before = (
        current
        if current is not None
        else DesiredListing(
            listing_id=event.listing_id, owner_id=event.owner_id, intermediary_id=event.intermediary_id
        )
    )
    if (
        event.sequence is not None
        and before.last_sequence is not None
        and event.sequence <= before.last_sequence
    ):
        return ApplyResult(desired=_copy(before), changed=False, ignored_reason=STALE_SEQUENCE)

    after = _copy(before)
    reason = _APPLIERS[event.type](after, event.payload)
    after.owner_id = event.owner_id
    if event.intermediary_id is not None:  # absent = keep: media events need not repeat it
        after.intermediary_id = event.intermediary_id
    if event.sequence is not None:
        after.last_sequence = event.sequence

    needs_sync = _sync_view(after) != _sync_view(before)
    changed = needs_sync or _bookkeeping_view(after) != _bookkeeping_view(before)
    ignored_reason = None if needs_sync else reason
    if not changed:
        return ApplyResult(desired=_copy(before), changed=False, ignored_reason=ignored_reason)
    after.version = before.version + 1
    after.updated_at = format_moment(now)
    return ApplyResult(desired=after, changed=True, ignored_reason=ignored_reason, needs_sync=needs_sync)


def _copy(listing: DesiredListing) -> DesiredListing:
    """A copy the appliers may change: its own media and portals lists (``Media`` is immutable).

    ``data`` and ``specific`` are shared: appliers only ever replace them (with deep copies of the
    event's), never change them in place, so a deep copy of every listing per event is not needed.
    """
    return dataclasses.replace(
        listing,
        media=list(listing.media),
        portals=list(listing.portals) if listing.portals is not None else None,
    )


def _sync_view(listing: DesiredListing) -> tuple[Any, ...]:
    """What sync reads: a difference here must reach AVIV."""
    return (
        listing.portals,
        listing.data,
        listing.specific,
        listing.media,
        listing.deleted,
        listing.intermediary_id,
    )


def _bookkeeping_view(listing: DesiredListing) -> tuple[Any, ...]:
    return (listing.owner_id, listing.last_sequence)


def _same_url(left: str, right: str) -> bool:
    """AVIV refuses two media with one URL, timestamps aside (400 "Duplicated media")."""
    return strip_timestamp(left) == strip_timestamp(right)


def _url_clash(listing: DesiredListing, media: Media) -> FieldError | None:
    for other in listing.media:
        if other.id != media.id and _same_url(other.url, media.url):
            return FieldError("/media/url", f"media {other.id!r} already has this URL (timestamp ignored)")
    return None


def _index_of(listing: DesiredListing, media_id: str) -> int | None:
    return next((index for index, media in enumerate(listing.media) if media.id == media_id), None)


def _keep_retry_version(previous: Media | None, incoming: Media) -> Media:
    """Keep vitrine's automatic-retry version (``v3#retry1``) when the CRM re-sends the same media
    at its own version (``v3``): the bytes did not change, so AVIV must not download it again."""
    if (
        previous is not None
        and previous.url == incoming.url
        and previous.version != incoming.version
        and base_media_version(previous.version) == incoming.version
    ):
        return dataclasses.replace(incoming, version=previous.version)
    return incoming


def _apply_upserted(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    state = payload["listing"]
    listing.portals = list(state["portals"]) if "portals" in state else None
    listing.data = copy.deepcopy(state["data"])
    listing.specific = copy.deepcopy(state["specific"]) if "specific" in state else None
    previous = {media.id: media for media in listing.media}
    listing.media = [
        _keep_retry_version(previous.get(str(item["id"])), Media.from_dict(item)) for item in state["media"]
    ]
    listing.deleted = False
    return None


def _apply_added(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    media = Media.from_dict(payload["media"])
    position: int | None = payload.get("position")
    index = _index_of(listing, media.id)
    if index is not None and listing.media[index] == media and position in (None, index):
        return None  # a retried media.added, already applied: nothing changes
    errors: list[FieldError] = []
    if index is not None:
        errors.append(FieldError("/media/id", "a media with this id already exists (use media.updated)"))
    clash = _url_clash(listing, media)
    if clash is not None:
        errors.append(clash)
    if position is not None and position > len(listing.media):
        errors.append(
            FieldError("/position", f"must be between 0 and {len(listing.media)} (the media count)")
        )
    if errors:
        raise ValidationFailed(errors, "media.added does not fit the listing")
    listing.media.insert(len(listing.media) if position is None else position, media)
    return None


def _apply_updated(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    media = Media.from_dict(payload["media"])
    index = _index_of(listing, media.id)
    if index is None:
        raise ValidationFailed(
            [FieldError("/media/id", "no media with this id on the listing (use media.added)")],
            "media.updated does not fit the listing",
        )
    clash = _url_clash(listing, media)
    if clash is not None:
        raise ValidationFailed([clash], "media.updated does not fit the listing")
    listing.media[index] = _keep_retry_version(listing.media[index], media)
    return None


def _apply_removed(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    index = _index_of(listing, payload["mediaId"])
    if index is None:
        return UNKNOWN_MEDIA  # already gone, or never arrived: removing it again is harmless
    del listing.media[index]
    return None


def _apply_reordered(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    order: Sequence[str] = payload["order"]
    by_id = {media.id: media for media in listing.media}
    errors = [
        FieldError(f"/order/{index}", f"no media {media_id!r} on the listing")
        for index, media_id in enumerate(order)
        if media_id not in by_id
    ]
    listed = set(order)
    missing = [media.id for media in listing.media if media.id not in listed]
    if missing:
        errors.append(
            FieldError(
                "/order", "must list every media id of the listing once; missing: " + ", ".join(missing)
            )
        )
    if errors:
        raise ValidationFailed(errors, "media.reordered does not fit the listing")
    listing.media = [by_id[media_id] for media_id in order]
    return None


def _apply_deleted(listing: DesiredListing, payload: Mapping[str, Any]) -> str | None:
    # data, portals and media are kept: a later listing.upserted replaces them anyway, and until then
    # the last known state is what an operator wants to see.
    listing.deleted = True
    return None


_APPLIERS: Mapping[str, Callable[[DesiredListing, Mapping[str, Any]], str | None]] = MappingProxyType(
    {
        LISTING_UPSERTED: _apply_upserted,
        MEDIA_ADDED: _apply_added,
        MEDIA_UPDATED: _apply_updated,
        MEDIA_REMOVED: _apply_removed,
        MEDIA_REORDERED: _apply_reordered,
        LISTING_DELETED: _apply_deleted,
    }
)
