"""Reading one envelope field of a webhook event, collecting every error instead of stopping at the first.

Each reader appends a FieldError (pointer into the webhook body) and returns None when the field
is missing or malformed, so :func:`~vitrine.core.events.parse.parse_event` reports every bad field
at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from vitrine.core.errors import FieldError
from vitrine.core.events.vocabulary import RFC3339_DATE_TIME
from vitrine.core.locales import LOCALES
from vitrine.core.validation import json_pointer


def read_string(
    obj: Mapping[str, Any],
    key: str,
    pointer: str,
    errors: list[FieldError],
    *,
    required: bool,
    max_length: int | None = None,
    max_utf8_bytes: int | None = None,
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
    if max_utf8_bytes is not None and len(value.encode("utf-8", "surrogatepass")) > max_utf8_bytes:
        errors.append(FieldError(pointer, f"must be at most {max_utf8_bytes} bytes in UTF-8"))
        return None
    return value


def read_integer(
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


def read_locale(raw: Mapping[str, Any], errors: list[FieldError]) -> str | None:
    """The optional ``locale``: exactly one of ``LOCALES`` (``en``, ``fr``)."""
    if "locale" not in raw:
        return None
    value = raw["locale"]
    if value not in LOCALES or not isinstance(value, str):
        errors.append(FieldError("/locale", "must be one of " + ", ".join(LOCALES)))
        return None
    return value


def read_occurred_at(raw: Mapping[str, Any], errors: list[FieldError]) -> datetime | None:
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


def unknown_properties(obj: Mapping[str, Any], allowed: set[str], prefix: str) -> list[FieldError]:
    return [FieldError(prefix + json_pointer(key), "unknown property") for key in obj if key not in allowed]
