"""Structure-aware mutations of valid webhooks: the requests a schema-driven generator rarely makes.

Each strategy draws one :class:`FuzzCase`: the exact bytes to send, the headers, and the statuses the
case may get. Where the JSON Schema decides (wrong types, odd strings), the expectation is computed
from ``schemas/webhook-event.schema.json``: a schema-valid event may be accepted or refused for not
fitting the listing (202/422), an invalid one must be a 422. The rest is fixed by docs/webhooks.md:
not JSON → 400, too deep → 400, over 1 MiB → 413, not a JSON Content-Type → 415.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.support.classified_samples import with_value
from tests.support.listings import ESTATE_TYPES, sample_data
from vitrine.core.model import MEDIA_CATEGORIES, MEDIA_TYPES
from vitrine.core.webhook_signing import MAX_BODY_BYTES, sign

FUZZ_SECRET = "whsec_" + base64.b64encode(b"vitrine-fuzz-harness-secret-key!").decode()
"""The webhook secret of the fuzzed stack: strategies sign (or mis-sign) on their own."""
OTHER_SECRET = "whsec_" + base64.b64encode(b"not-the-secret-vitrine-trusts!!!").decode()
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "webhook-event.schema.json"
MEDIA_HOST = "http://127.0.0.1:9"  # loopback, nothing listens: AVIV's download fails at once
ACCEPTABLE = frozenset({202, 422})  # a schema-valid event: accepted, or refused for not fitting the listing
INVALID = frozenset({422})
NOT_JSON = frozenset({400})
NON_FINITE = frozenset({400, 422})  # not JSON (NaN) or a number no field can hold (1e99999)
TOO_LARGE = frozenset({413})
UNSUPPORTED = frozenset({415})
SIGNED = frozenset({202})
UNSIGNED = frozenset({401})
DEEP_LEVELS = (1_000, 3_000)  # far beyond any depth limit a JSON API needs

FEW_MEDIA = st.integers(0, 4)

_listing_numbers = itertools.count(1)


@dataclass(frozen=True)
class FuzzCase:
    """One request. ``headers`` are complete unless ``sign`` (the harness then adds a valid signature)."""

    kind: str
    body: bytes
    expected: frozenset[int]
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    listing_id: str | None = None
    sign: bool = True
    webhook_id: str | None = None
    follow_up: FuzzCase | None = None
    path: str = "/webhooks/listings"
    path_template: str = "/webhooks/listings"
    method: str = "POST"

    def describe(self) -> str:
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        return f"{self.kind}: {len(self.body)} bytes {body!r} headers={dict(self.headers)!r}"


@functools.cache
def event_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def expected_for(event: Any) -> frozenset[int]:
    return ACCEPTABLE if event_validator().is_valid(event) else INVALID


def encode(event: Any) -> bytes:
    """UTF-8 JSON; strings a UTF-8 text cannot carry (lone surrogates) go as ``\\uXXXX`` escapes."""
    try:
        return json.dumps(event, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(event, ensure_ascii=True).encode("ascii")


def signed(
    body: bytes, *, webhook_id: str | None = None, secret: str = FUZZ_SECRET, at: int | None = None
) -> dict[str, str]:
    webhook_id = webhook_id or f"msg_fuzz_{next(_listing_numbers)}"
    timestamp = int(time.time()) if at is None else at
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def unique_number() -> int:
    return next(_listing_numbers)


def new_listing_id() -> str:
    return f"fuzz-{unique_number()}"


@st.composite
def media_item(draw: st.DrawFn, listing_id: str, index: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"m{index}",
        "url": f"{MEDIA_HOST}/{listing_id}/photo-{index}.jpg",
        "mediaType": draw(st.sampled_from(MEDIA_TYPES)),
    }
    if draw(st.booleans()):
        item["category"] = draw(st.sampled_from(MEDIA_CATEGORIES))
    if draw(st.booleans()):
        item["title"] = f"Pièce n°{index}"
    if draw(st.booleans()):
        item["version"] = draw(st.one_of(st.integers(0, 99), st.sampled_from(["v1", "v2", "2026-01-01"])))
    return item


@st.composite
def valid_upsert(draw: st.DrawFn, media_count: st.SearchStrategy[int] = FEW_MEDIA) -> dict[str, Any]:
    """A listing.upserted AVIV would accept, on a listing of its own."""
    listing_id = new_listing_id()
    count = draw(media_count)
    return {
        "type": "listing.upserted",
        "listingId": listing_id,
        "ownerId": "agence-fuzz",
        "occurredAt": "2026-11-27T10:00:00+01:00",
        "sequence": draw(st.integers(0, 1_000)),
        "listing": {
            "portals": ["SL"],
            "data": sample_data(listing_id, "BUY", estate_type=draw(st.sampled_from(ESTATE_TYPES))),
            "media": [draw(media_item(listing_id, index)) for index in range(count)],
        },
    }


# Where a mutation may strike in a valid upsert with at least one media.
STRING_PATHS: tuple[tuple[str | int, ...], ...] = (
    ("listingId",),
    ("ownerId",),
    ("occurredAt",),
    ("listing", "media", 0, "id"),
    ("listing", "media", 0, "url"),
    ("listing", "media", 0, "title"),
    ("listing", "data", "location", "city"),
)
ANY_PATHS: tuple[tuple[str | int, ...], ...] = (
    *STRING_PATHS,
    ("type",),
    ("sequence",),
    ("listing",),
    ("listing", "portals"),
    ("listing", "data"),
    ("listing", "media"),
    ("listing", "media", 0),
    ("listing", "media", 0, "mediaType"),
    ("listing", "media", 0, "version"),
    ("listing", "media", 0, "tags"),
)


def json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(st.text(), children, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def _upsert_with_media() -> st.SearchStrategy[dict[str, Any]]:
    return valid_upsert(st.integers(1, 3))


@st.composite
def wrong_type(draw: st.DrawFn) -> FuzzCase:
    event = with_value(draw(_upsert_with_media()), draw(st.sampled_from(ANY_PATHS)), draw(json_values()))
    return FuzzCase("wrong_type", encode(event), expected_for(event), listing_id=_listing_of(event))


def _listing_of(event: Any) -> str | None:
    listing_id = event.get("listingId") if isinstance(event, dict) else None
    return listing_id if isinstance(listing_id, str) else None


@st.composite
def odd_string(draw: st.DrawFn) -> FuzzCase:
    """Unicode of every plane, NUL and control characters, very long strings, in any string field."""
    text = draw(
        st.one_of(
            st.text(st.characters(exclude_categories=["Cs"]), min_size=1),
            st.text(
                st.sampled_from("\x00\x01\x1f\x7f\u0085\u2028\u2029\ufeff\u200b\u202e\u0301 "), min_size=1
            ),
            st.builds(lambda c, n: c * n, st.sampled_from("aé☃\U0001f3e0"), st.integers(1_000, 200_000)),
        )
    )
    path = draw(st.sampled_from(STRING_PATHS))
    base = draw(_upsert_with_media())
    event = with_value(base, path, text)
    kind = "nul" if "\x00" in text else "unicode"
    body = encode(event)
    expected = TOO_LARGE if len(body) > MAX_BODY_BYTES else expected_for(event)
    listing_id = _listing_of(event) if path != ("listingId",) else text
    return FuzzCase(kind, body, expected, listing_id=listing_id)


@st.composite
def lone_surrogate(draw: st.DrawFn) -> FuzzCase:
    """A ``\\ud800``-style escape (valid JSON text, no Unicode character) in a string or a data key."""
    surrogate = chr(draw(st.integers(0xD800, 0xDFFF)))
    base = draw(_upsert_with_media())
    if draw(st.booleans()):
        path = draw(st.sampled_from(STRING_PATHS))
        event = with_value(base, path, draw(st.sampled_from(["", "abc"])) + surrogate)
    else:
        event = with_value(base, ("listing", "data", "x" + surrogate), "value")
    return FuzzCase("lone_surrogate", encode(event), INVALID, listing_id=base["listingId"])


@st.composite
def duplicate_keys(draw: st.DrawFn) -> FuzzCase:
    """A key twice in one object (parsers disagree on which wins): the body is not strict JSON."""
    event = draw(_upsert_with_media())
    text = encode(event).decode("utf-8")
    where = draw(st.sampled_from(['"type": ', '"listingId": ', '"mediaType": ', '"data": ']))
    duplicated = text.replace(where, f'{where}"dup", {where}', 1)
    return FuzzCase("duplicate_keys", duplicated.encode("utf-8"), NOT_JSON, listing_id=event["listingId"])


@st.composite
def numbers_as_strings(draw: st.DrawFn) -> FuzzCase:
    event = draw(_upsert_with_media())
    path = draw(
        st.sampled_from(
            [
                ("sequence",),
                ("listing", "media", 0, "version"),
                ("listing", "data", "prices", "buy", "price", "amount"),
            ]
        )
    )
    current: Any = event
    for part in path:
        if isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = current.get(part) if isinstance(current, dict) else None
    event = with_value(event, path, str(current if current is not None else 7))
    return FuzzCase("numbers_as_strings", encode(event), expected_for(event), listing_id=event["listingId"])


@st.composite
def non_finite(draw: st.DrawFn) -> FuzzCase:
    """Numbers no field can hold: ``1e99999`` reads as infinity, ``NaN``/``Infinity`` are not JSON."""
    event = draw(_upsert_with_media())
    token = draw(st.sampled_from(["1e99999", "-1e99999", "NaN", "Infinity", "-Infinity"]))
    marker = 987654321
    path = draw(
        st.sampled_from(
            [
                ("sequence",),
                ("listing", "data", "prices", "buy", "price", "amount"),
                ("listing", "data", "rooms"),
            ]
        )
    )
    text = encode(with_value(event, path, marker)).decode("utf-8").replace(str(marker), token, 1)
    return FuzzCase("non_finite", text.encode("utf-8"), NON_FINITE, listing_id=event["listingId"])


@st.composite
def deep(draw: st.DrawFn) -> FuzzCase:
    event = draw(valid_upsert())
    depth = draw(st.integers(*DEEP_LEVELS))
    text = encode(with_value(event, ("listing", "data", "deep"), "@@DEEP@@")).decode("utf-8")
    # Built as text: the encoder itself would recurse as deep as the document.
    opening = "".join('{"n": ' if level % 2 == 0 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(depth)))
    body = text.replace('"@@DEEP@@"', f'{opening}"bottom"{closing}', 1).encode("utf-8")
    return FuzzCase("deep", body, NOT_JSON, listing_id=event["listingId"])


@st.composite
def many_media(draw: st.DrawFn) -> FuzzCase:
    event = draw(valid_upsert(st.integers(300, 420)))
    return FuzzCase("many_media", encode(event), ACCEPTABLE, listing_id=event["listingId"])


@st.composite
def sized_body(draw: st.DrawFn) -> FuzzCase:
    """Around the 1 MiB limit, and well over it (6 MB+), padded inside listing.data."""
    target = draw(
        st.one_of(
            st.integers(MAX_BODY_BYTES - 4_096, MAX_BODY_BYTES),
            st.integers(MAX_BODY_BYTES + 1, MAX_BODY_BYTES + 4_096),
            st.integers(6_000_000, 7_000_000),
        )
    )
    event = draw(valid_upsert())
    padded = with_value(event, ("listing", "data", "description"), "")
    room = target - len(encode(padded))
    body = encode(with_value(event, ("listing", "data", "description"), "x" * max(room, 0)))
    kind = "body_6mb" if target > 5_000_000 else "body_1mb"
    expected = TOO_LARGE if len(body) > MAX_BODY_BYTES else ACCEPTABLE
    return FuzzCase(kind, body, expected, listing_id=event["listingId"])


@st.composite
def not_json(draw: st.DrawFn) -> FuzzCase:
    event = draw(valid_upsert())
    text = encode(event)
    body = draw(
        st.one_of(
            st.binary(min_size=1, max_size=200),
            st.floats(0, 1).map(lambda share: text[: max(1, int(share * (len(text) - 1)))]),
            st.just(b"\xff\xfe" + text),
            st.just(text.replace(b"{", b"{'", 1)),
        )
    )
    try:
        decoded = json.loads(body)
    except ValueError:
        return FuzzCase("not_json", body, NOT_JSON, listing_id=event["listingId"])
    return FuzzCase("not_json", body, expected_for(decoded) | NOT_JSON, listing_id=_listing_of(decoded))


@st.composite
def content_type(draw: st.DrawFn) -> FuzzCase:
    """The body signed and valid, sent as anything but JSON."""
    event = draw(valid_upsert())
    body = encode(event)
    declared = draw(
        st.sampled_from(
            [
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/xml",
                "text/html; charset=utf-8",
                "application/octet-stream",
                "application/json; charset=latin-1",
            ]
        )
    )
    headers = {**signed(body), "Content-Type": declared}
    return FuzzCase(
        "content_type", body, UNSUPPORTED, headers=headers, listing_id=event["listingId"], sign=False
    )


MUTATIONS: Mapping[str, Callable[[], st.SearchStrategy[FuzzCase]]] = {
    "wrong_type": wrong_type,
    "odd_string": odd_string,
    "lone_surrogate": lone_surrogate,
    "duplicate_keys": duplicate_keys,
    "numbers_as_strings": numbers_as_strings,
    "non_finite": non_finite,
    "deep": deep,
    "many_media": many_media,
    "sized_body": sized_body,
    "not_json": not_json,
    "content_type": content_type,
}
"""Every structure-aware mutation, by name: each runs with its own case count."""
