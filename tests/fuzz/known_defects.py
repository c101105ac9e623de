"""The defects of issue 10's section 0, recognised by their exact inputs while their fix is not merged.

Until ``SECTION0_FIXED`` is true, a fuzzing violation caused by one of these inputs is counted apart
(``known_defects_section_0`` in the figures) instead of failing the run; every other violation fails
it. The exact inputs are also pinned one by one, strictly expected to fail, in
``test_section0_regressions.py``: once the fix lands those tests pass unexpectedly and fail the
suite, which is the reminder to set ``SECTION0_FIXED = True`` (and drop this tolerance).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fuzz.answers import Answer
    from tests.fuzz.mutations import FuzzCase

SECTION0_FIXED = False
"""True once the section 0 fixes (branch w1-defects) are on this branch."""
SECTION0_REASON = "issue 10 section 0 defect, fixed on w1-defects (not merged yet)"
GATEWAY_OWN_REFUSALS = (400, 413, 414, 431)


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def has_lone_surrogate(body: bytes) -> bool:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return any(any("\ud800" <= char <= "\udfff" for char in text) for text in _strings(document))


def has_non_finite_number(body: bytes) -> bool:
    found: list[bool] = []

    def number(text: str) -> float:
        value = float(text)
        found.append(value in (float("inf"), float("-inf")))
        return value

    def constant(name: str) -> float:
        found.append(True)
        return float(name)

    try:
        json.loads(body, parse_float=number, parse_constant=constant)
    except (ValueError, RecursionError):
        return False
    return any(found)


def section0_defect(case: FuzzCase, answer: Answer | None, *, poisoned: bool = False) -> str | None:
    """Which section 0 defect explains a violation of ``case`` (None: none, it is a new one)."""
    if SECTION0_FIXED:
        return None
    if case.kind == "lone_surrogate" or has_lone_surrogate(case.body):
        return "lone surrogates (502/503, a stuck listing)"
    if poisoned and answer is not None and answer.status == 503:
        return "a listing stuck by an earlier lone surrogate in ownerId (503)"
    if "deep" in case.kind:
        return "deep nesting (202 or 502, not 400)"
    if case.kind == "non_finite" or has_non_finite_number(case.body):
        return "non-finite numbers (202, then Infinity sent to AVIV)"
    if "content_type" in case.kind:
        return "Content-Type not checked (not 415)"
    if answer is not None and answer.status == 404 and "problem+json" not in answer.content_type:
        return "the push route's 404 for an odd path is not problem+json"
    if answer is not None and answer.status in GATEWAY_OWN_REFUSALS and "json" not in answer.content_type:
        return "the API Gateway stand-in's own 4xx are not {message} JSON"
    return None
