"""The type-specific fields of each webhook event type, checked on their own.

What depends on the listing's current media (unknown ids, an order that is not a permutation…)
is left to :mod:`vitrine.core.events.apply`. Media fields are checked by
:func:`vitrine.core.validation.validate_media_list`, the one place that knows AVIV's media rules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from vitrine.core.errors import FieldError
from vitrine.core.events.fields import read_integer, read_string, unknown_properties
from vitrine.core.events.vocabulary import (
    LISTING_DELETED,
    LISTING_FIELDS,
    LISTING_UPSERTED,
    MAX_PORTALS,
    MAX_SEQUENCE,
    MEDIA_ADDED,
    MEDIA_REMOVED,
    MEDIA_REORDERED,
    MEDIA_UPDATED,
)
from vitrine.core.model import PORTALS
from vitrine.core.validation import validate_media_list


def _parse_upserted(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    if "listing" not in raw:
        errors.append(FieldError("/listing", "required"))
        return {}
    listing = raw["listing"]
    if not isinstance(listing, dict):
        errors.append(FieldError("/listing", "must be an object"))
        return {}
    errors.extend(unknown_properties(listing, set(LISTING_FIELDS), "/listing"))
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
    position = read_integer(raw, "position", "/position", errors, maximum=MAX_SEQUENCE)
    if position is not None:
        parsed["position"] = position
    return parsed


def _parse_updated(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    return _single_media(raw, errors)


def _parse_removed(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    media_id = read_string(raw, "mediaId", "/mediaId", errors, required=True)
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


PAYLOAD_PARSERS: Mapping[str, Callable[[Mapping[str, Any], list[FieldError]], dict[str, Any]]] = (
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
