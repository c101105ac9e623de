"""Strict JSON for what vitrine receives over HTTP: bounded depth, text it can store, finite numbers.

Python's ``json`` accepts more than vitrine can keep: ``NaN``/``Infinity`` literals and numbers
that overflow to ±inf (later sent to AVIV as non-standard JSON), lone UTF-16 surrogates such as
``"\\ud800"`` (valid JSON text, but not Unicode: encoding them to UTF-8 for storage fails), and
documents nested deeper than the interpreter's recursion limit allows ``copy.deepcopy`` to copy.
Both HTTP routes (CRM webhooks, AVIV status pushes) decode their bodies here, so each of these is
refused with a specific error before anything is stored:

* not one strict JSON document, or nested deeper than :data:`MAX_DEPTH` → :class:`MalformedBody` (400);
* a lone surrogate or a non-finite number → ``ValidationFailed`` naming each such field (422).
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from vitrine.core.errors import FieldError, ValidationFailed, VitrineError
from vitrine.core.validation import json_pointer

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (the top-level object is level 1).

A webhook's ``listing.data`` is AVIV's classified, about 6 levels deep; 64 leaves ample room while
keeping every recursive walk of a document (copy, compare, serialise) far from Python's limit.
"""

MAX_REPORTED_VALUES = 100
"""At most this many unstorable values are named in one answer (the answer stays small)."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# Lone surrogates can only come from \u escapes: UTF-8 decoding already refuses encoded ones.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class MalformedBody(VitrineError):
    """The body is not one strict JSON document (answer 400); see :func:`decode_strict_json`."""


class TooDeep(MalformedBody):
    """The document nests arrays and objects deeper than :data:`MAX_DEPTH` (answer 400)."""


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON ``text``, counted without parsing nor recursion.

    Strings are blanked first (a bracket inside one is text), then the brackets left are summed
    as +1/-1 in one pass; the deepest running sum is the depth.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def decode_strict_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Decode one JSON document that vitrine can store and send on.

    Raises :class:`MalformedBody` (:class:`TooDeep`) for a body that is not UTF-8 JSON, repeats a
    key in one object (parsers resolve that differently) or nests deeper than ``max_depth``, and
    :class:`~vitrine.core.errors.ValidationFailed` naming each lone surrogate or non-finite number.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from exc
    depth = nesting_depth(text)
    if depth > max_depth:
        raise TooDeep(f"body nests arrays and objects {depth} levels deep; the limit is {max_depth} levels")
    non_finite: list[float] = []

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            non_finite.append(value)
        return value

    def constant(name: str) -> float:
        return number(name)  # NaN, Infinity, -Infinity: reported with their pointer below

    try:
        document = json.loads(
            text, object_pairs_hook=_unique_keys, parse_float=number, parse_constant=constant
        )
    except (ValueError, RecursionError) as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from exc
    if non_finite or _SURROGATE_ESCAPE.search(text):
        errors = unstorable_values(document)
        if errors:
            raise ValidationFailed(errors, "the body holds values that cannot be stored")
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedBody(f"body is not valid JSON: key {key!r} appears twice in one object")
        out[key] = value
    return out


def unstorable_values(document: Any) -> list[FieldError]:
    """Each value that is JSON but not storable text or a finite number, named by its pointer.

    An iterative walk in document order (the depth is already bounded, but no recursion is
    needed); a property name holding a surrogate is reported on its object, since a pointer
    cannot name it in Unicode.
    """
    errors: list[FieldError] = []
    stack: list[tuple[str, Any]] = [("", document)]
    while stack and len(errors) < MAX_REPORTED_VALUES:
        pointer, value = stack.pop()
        if isinstance(value, str):
            reason = _surrogate_reason(value)
            if reason is not None:
                errors.append(FieldError(pointer, reason))
        elif isinstance(value, float) and not math.isfinite(value):
            errors.append(
                FieldError(
                    pointer,
                    "must be a finite number: NaN, Infinity and numbers beyond ±1.8e308 cannot be "
                    "stored nor sent to AVIV",
                )
            )
        elif isinstance(value, dict):
            children: list[tuple[str, Any]] = []
            for key, child in value.items():
                reason = _surrogate_reason(key)
                if reason is not None:
                    errors.append(FieldError(pointer, "a property name " + reason.removeprefix("must ")))
                else:
                    children.append((pointer + json_pointer(key), child))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{index}", child) for index, child in reversed(list(enumerate(value))))
    return errors


def _surrogate_reason(text: str) -> str | None:
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return (
        f"must be Unicode text: it holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x} at "
        f"character {found.start()}), which cannot be stored; send the character's full "
        "surrogate pair or the character itself"
    )
