"""Strict JSON: depth counted without recursion, lone surrogates and non-finite numbers named."""

from __future__ import annotations

import json

import pytest

from vitrine.core.errors import ValidationFailed
from vitrine.core.strict_json import (
    MAX_DEPTH,
    MAX_REPORTED_VALUES,
    MalformedBody,
    TooDeep,
    decode_strict_json,
    nesting_depth,
    unstorable_values,
)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[["', 0),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["\\"[[[", ["]"]]', 2),
        ('["\\\\", [[]]]', 3),
        ("[" * 10_000 + "]" * 10_000, 10_000),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_a_document_at_the_depth_limit_is_decoded_and_one_level_more_is_too_deep() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert decode_strict_json(at_limit.encode()) is not None

    with pytest.raises(TooDeep, match=f"the limit is {MAX_DEPTH} levels"):
        decode_strict_json(("[" + at_limit + "]").encode())


def test_a_document_deeper_than_the_interpreter_can_parse_is_too_deep_not_a_crash() -> None:
    with pytest.raises(TooDeep):
        decode_strict_json(b"[" * 1_000_000)


def test_a_too_deep_body_is_a_malformed_body() -> None:
    assert issubclass(TooDeep, MalformedBody)


def test_a_surrogate_pair_is_one_character_and_is_accepted() -> None:
    assert decode_strict_json(b'{"t": "\\ud83d\\ude00"}') == {"t": "\U0001f600"}


def test_an_escaped_backslash_before_u_is_text_not_a_surrogate() -> None:
    assert decode_strict_json(b'{"t": "\\\\ud800"}') == {"t": "\\ud800"}


def test_every_unstorable_value_is_named_in_document_order() -> None:
    body = b'{"a": "\\ud800", "b": [1.5, NaN, {"c": "ok", "d\\udfff": 1}], "e": -1e999}'

    with pytest.raises(ValidationFailed) as caught:
        decode_strict_json(body)

    assert [error.pointer for error in caught.value.errors] == ["/a", "/b/1", "/b/2", "/e"]
    assert "\\ud800 at character 0" in caught.value.errors[0].reason
    assert caught.value.errors[2].reason.startswith("a property name")


def test_pointers_escape_slash_and_tilde() -> None:
    assert [e.pointer for e in unstorable_values({"a/b~c": "\udc00"})] == ["/a~1b~0c"]


def test_the_number_of_named_values_is_bounded() -> None:
    body = json.dumps(["\ud800"] * (MAX_REPORTED_VALUES * 3)).encode()

    with pytest.raises(ValidationFailed) as caught:
        decode_strict_json(body)

    assert len(caught.value.errors) == MAX_REPORTED_VALUES


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1, "a": 2}', '"é"'.encode("latin-1")])
def test_what_is_not_one_strict_json_document_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        decode_strict_json(body)
