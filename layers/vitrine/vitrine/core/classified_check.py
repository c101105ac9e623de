"""Check a whole classified against AVIV's official ``AvivClassified`` schema, every error at once.

The schema is :mod:`vitrine.core.aviv_classified_schema`, generated from AVIV's OpenAPI export by
``make aviv-contract``; this module interprets exactly the keywords it uses (``SUPPORTED_KEYWORDS``,
a test keeps the two in step). A schema library would do the same but cost its import on every
cold start. The verdict is the one jsonschema's Draft 7 validator gives (a differential test
holds the two together), with ``format`` checked for ``url``, ``uri`` and ``uuid`` as AVIV does.

Errors are reported where they are: ``required`` names the missing property, ``additionalProperties``
the unknown one. A value of the wrong ``type`` gets that one error, not one per other keyword. When
no branch of a ``oneOf``/``anyOf`` fits, the errors of the closest branch are reported: the one with
the fewest errors, the first listed on a tie.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from datetime import date
from typing import Any

from vitrine.core.aviv_classified_schema import DEFINITIONS, ROOT


@dataclass(frozen=True)
class SchemaViolation:
    """One way a classified breaks the schema: where (RFC 6901 pointer into it) and why."""

    pointer: str
    reason: str


Schema = Mapping[str, Any]
Violations = list[SchemaViolation]
# A keyword's check: (value, the keyword's argument, the schema holding it, pointer, found).
Check = Callable[[Any, Any, Schema, str, Violations], None]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)
# Absolute http(s) URL with a host; no whitespace or control characters anywhere.
_URL = re.compile(r"(?i:https?)://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_classified(classified: Mapping[str, Any]) -> list[SchemaViolation]:
    """Every violation of ``AvivClassified`` in ``classified`` (empty when AVIV's schema accepts it),
    sorted by pointer (array indexes in numeric order), then reason."""
    found: Violations = []
    _check(classified, DEFINITIONS[ROOT], "", found)
    return sorted(set(found), key=_sort_key)


def _sort_key(violation: SchemaViolation) -> tuple[list[tuple[int, int, str]], str]:
    tokens = violation.pointer.split("/")[1:]
    return [(0, int(t), "") if t.isascii() and t.isdigit() else (1, 0, t) for t in tokens], violation.reason


def _child(pointer: str, token: object) -> str:
    text = str(token)
    if "~" in text or "/" in text:
        text = text.replace("~", "~0").replace("/", "~1")
    return pointer + "/" + text


def _check(value: Any, schema: Schema | bool, pointer: str, found: Violations) -> None:
    """Append to ``found`` how ``value`` (at ``pointer``) breaks ``schema``."""
    if isinstance(schema, bool):
        if not schema:
            found.append(SchemaViolation(pointer, "is not allowed"))
        return
    ref = schema.get("$ref")
    if ref is not None:  # Draft 7: a reference's siblings are ignored (the generator drops them)
        _check(value, DEFINITIONS[ref], pointer, found)
        return
    expected = schema.get("type")
    nullable = schema.get("nullable") is True  # OpenAPI 3.0's way of allowing null
    if expected is not None and not _has_type(value, expected, nullable):
        found.append(SchemaViolation(pointer, "must be " + _type_words(expected, nullable)))
        return
    if value is None and nullable:
        return
    for keyword, argument in schema.items():
        check = _CHECKS.get(keyword)
        if check is not None:
            check(value, argument, schema, pointer, found)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    """JSON has one number type: 2.0 is an integer (as for jsonschema and AJV), ``True`` is not."""
    return _is_number(value) and (isinstance(value, int) or value.is_integer())


_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda value: isinstance(value, str), "a string"),
    "number": (_is_number, "a number"),
    "integer": (_is_integer, "an integer"),
    "boolean": (lambda value: isinstance(value, bool), "a boolean"),
    "object": (lambda value: isinstance(value, Mapping), "an object"),
    "array": (lambda value: isinstance(value, (list, tuple)), "an array"),
    "null": (lambda value: value is None, "null"),
}


def _has_type(value: Any, expected: str | list[str], nullable: bool) -> bool:
    if isinstance(expected, str) and _TYPES[expected][0](value):  # the usual case, first
        return True
    names = [expected] if isinstance(expected, str) else expected
    return (nullable and value is None) or any(_TYPES[name][0](value) for name in names)


def _type_words(expected: str | list[str], nullable: bool) -> str:
    names = [expected] if isinstance(expected, str) else expected
    return " or ".join([*(_TYPES[name][1] for name in names), *(["null"] if nullable else [])])


# --- keywords: each checks only the kind of value it applies to (Draft 7) -----------------------------


def _enum(value: Any, allowed: list[Any], schema: Schema, pointer: str, found: Violations) -> None:
    if isinstance(value, str):  # the usual case, at C speed
        known = value in allowed
    else:  # JSON's true is not 1
        known = any(value == item and isinstance(value, bool) == isinstance(item, bool) for item in allowed)
    if not known:
        found.append(SchemaViolation(pointer, "must be one of: " + ", ".join(map(str, allowed))))


def _required(value: Any, names: list[str], schema: Schema, pointer: str, found: Violations) -> None:
    if isinstance(value, Mapping):
        found.extend(
            SchemaViolation(_child(pointer, name), "is required") for name in names if name not in value
        )


def _properties(value: Any, properties: Schema, schema: Schema, pointer: str, found: Violations) -> None:
    if isinstance(value, Mapping):  # the value's few keys, not the schema's many (184 languages)
        for name, item in value.items():
            sub_schema = properties.get(name)
            if sub_schema is not None:
                _check(item, sub_schema, _child(pointer, name), found)


def _additional_properties(
    value: Any, allowed: Schema | bool, schema: Schema, pointer: str, found: Violations
) -> None:
    if not isinstance(value, Mapping):
        return
    known = schema.get("properties", {})
    for name in value:
        if name in known:
            continue
        if allowed is False:
            found.append(SchemaViolation(_child(pointer, name), f"unknown property '{name}'"))
        else:
            _check(value[name], allowed, _child(pointer, name), found)


def _items(value: Any, items: Any, schema: Schema, pointer: str, found: Violations) -> None:
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, items, _child(pointer, index), found)


def _unique_items(value: Any, unique: bool, schema: Schema, pointer: str, found: Violations) -> None:
    if not unique or not isinstance(value, (list, tuple)):
        return
    marked = [(isinstance(item, bool), item) for item in value]  # True and 1 differ in JSON
    try:
        duplicated = len(set(marked)) < len(marked)
    except TypeError:  # objects or arrays as items: compare pairwise
        duplicated = any(item in marked[:index] for index, item in enumerate(marked))
    if duplicated:
        found.append(SchemaViolation(pointer, "must not contain duplicate items"))


def _size(unit: str, applies_to: type[Sized] | tuple[type[Sized], ...], at_least: bool) -> Check:
    """A bound on the length of the values of type ``applies_to`` (others pass)."""

    def check(value: Any, limit: int, schema: Schema, pointer: str, found: Violations) -> None:
        if isinstance(value, applies_to) and (len(value) < limit if at_least else len(value) > limit):
            bound = "at least" if at_least else "at most"
            found.append(SchemaViolation(pointer, f"must have {bound} {limit} {unit}"))

    return check


def _bound(lower: bool, exclusive_flag: str | None) -> Check:
    """``minimum``/``maximum`` (OpenAPI 3.0 makes them exclusive with a boolean flag), or, with no
    flag, Draft 6's numeric ``exclusiveMinimum``/``exclusiveMaximum``."""

    def check(value: Any, limit: Any, schema: Schema, pointer: str, found: Violations) -> None:
        if not _is_number(value) or isinstance(limit, bool):
            return
        strict = exclusive_flag is None or schema.get(exclusive_flag) is True
        if lower:
            inside = value > limit if strict else value >= limit
        else:
            inside = value < limit if strict else value <= limit
        if not inside:
            sign = (">" if lower else "<") + ("" if strict else "=")
            found.append(SchemaViolation(pointer, f"must be {sign} {limit}"))

    return check


def _pattern(value: Any, pattern: str, schema: Schema, pointer: str, found: Violations) -> None:
    if isinstance(value, str) and re.search(pattern, value) is None:
        found.append(SchemaViolation(pointer, f'must match pattern "{pattern}"'))


def _is_date(text: str) -> bool:
    try:
        return _DATE.fullmatch(text) is not None and bool(date.fromisoformat(text))
    except ValueError:
        return False


def _is_date_time(text: str) -> bool:
    match = _DATE_TIME.fullmatch(text)
    try:
        return match is not None and bool(date(*map(int, match.group(1, 2, 3))))
    except ValueError:  # a day the month does not have, or year 0
        return False


# Formats AVIV checks, with what a valid value is; any other format (``float``…) is not checked.
_FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "date": (_is_date, "a valid date (YYYY-MM-DD)"),
    "date-time": (_is_date_time, "a valid date-time (RFC 3339, with its offset)"),
    "email": (lambda text: "@" in text, "a valid email address"),
    "url": (lambda text: _URL.fullmatch(text) is not None, "an absolute http(s) URL"),
    "uri": (lambda text: _URI.fullmatch(text) is not None, "an absolute URI"),
    "uuid": (lambda text: _UUID.fullmatch(text) is not None, "a valid UUID"),
}


def _format(value: Any, name: str, schema: Schema, pointer: str, found: Violations) -> None:
    known = _FORMATS.get(name)
    if known is not None and isinstance(value, str) and not known[0](value):
        found.append(SchemaViolation(pointer, "must be " + known[1]))


def _all_of(value: Any, branches: list[Any], schema: Schema, pointer: str, found: Violations) -> None:
    for branch in branches:
        _check(value, branch, pointer, found)


def _closest_branch(value: Any, branches: list[Any], pointer: str) -> tuple[int, Violations]:
    """How many branches ``value`` fits, and the errors of the closest one (fewest, first on a tie)."""
    fitting, closest = 0, None
    for branch in branches:
        errors: Violations = []
        _check(value, branch, pointer, errors)
        fitting += not errors
        if closest is None or len(errors) < len(closest):
            closest = errors
    return fitting, closest or []


def _any_of(value: Any, branches: list[Any], schema: Schema, pointer: str, found: Violations) -> None:
    fitting, closest = _closest_branch(value, branches, pointer)
    if not fitting:
        found.extend(closest)


def _one_of(value: Any, branches: list[Any], schema: Schema, pointer: str, found: Violations) -> None:
    fitting, closest = _closest_branch(value, branches, pointer)
    if not fitting:
        found.extend(closest)
    elif fitting > 1:
        found.append(SchemaViolation(pointer, f"must match exactly one allowed shape, not {fitting}"))


_CHECKS: dict[str, Check] = {
    "enum": _enum,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "items": _items,
    "uniqueItems": _unique_items,
    "minItems": _size("items", (list, tuple), at_least=True),
    "maxItems": _size("items", (list, tuple), at_least=False),
    "minLength": _size("characters", str, at_least=True),
    "maxLength": _size("characters", str, at_least=False),
    "minimum": _bound(lower=True, exclusive_flag="exclusiveMinimum"),
    "maximum": _bound(lower=False, exclusive_flag="exclusiveMaximum"),
    "exclusiveMinimum": _bound(lower=True, exclusive_flag=None),
    "exclusiveMaximum": _bound(lower=False, exclusive_flag=None),
    "pattern": _pattern,
    "format": _format,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
}
# What the generated schema may use: these, and ``$ref``, ``type`` and ``nullable`` (read by _check).
SUPPORTED_KEYWORDS: frozenset[str] = frozenset({*_CHECKS, "$ref", "type", "nullable"})
