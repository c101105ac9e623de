"""Header attacks on a valid webhook, and a webhook-id reused: what the signature check must refuse.

Each attack draws the headers of one request whose body is a valid event: several signatures,
bad base64, timestamps that are not unix seconds or are too far off, very long or very many
headers, missing headers, another secret, a signature over other bytes, header names in any case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from hypothesis import strategies as st

from tests.fuzz.mutations import (
    OTHER_SECRET,
    SIGNED,
    UNSIGNED,
    FuzzCase,
    encode,
    signed,
    unique_number,
    valid_upsert,
    with_value,
)
from vitrine.core.webhook_signing import TOLERANCE_SECONDS


@st.composite
def header_attack(draw: st.DrawFn, attack: str) -> FuzzCase:
    event = draw(valid_upsert())
    body = encode(event)
    headers, expected = HEADER_ATTACKS[attack](draw, body)
    return FuzzCase(
        f"header_{attack}", body, expected, headers=headers, listing_id=event["listingId"], sign=False
    )


def _several_signatures(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    headers = signed(body)
    good = headers["webhook-signature"]
    bad = signed(body, webhook_id=headers["webhook-id"], secret=OTHER_SECRET)["webhook-signature"]
    entries = draw(
        st.lists(
            st.sampled_from([bad, "v1a," + good[3:], "v2," + good[3:], "v1,", good]), min_size=2, max_size=60
        )
    )
    headers["webhook-signature"] = " ".join(entries)
    return headers, SIGNED if good in entries else UNSIGNED


def _bad_base64(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    headers = signed(body)
    garbage = draw(st.sampled_from(["!!!!", "v1", "====", "a", "\u00e9\u00e9", "AAAA" * 2_000]))
    headers["webhook-signature"] = draw(st.sampled_from(["v1,", "", "v1"])) + garbage
    return headers, UNSIGNED


def _timestamp_text(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    now = int(time.time())
    text = draw(
        st.sampled_from(
            [f"{now}a", f"{now}.0", f" {now}", f"+{now}", "1.7e9", "-1", "", "0x10", f"{now * 1000}"]
        )
    )
    headers = signed(body)
    headers["webhook-timestamp"] = text
    return headers, UNSIGNED


CLOCK_MARGIN = 60
"""Seconds kept clear of the 300 s tolerance on both sides: the case is signed with this clock and
checked a moment later with the stack's, so an offset of 301 s can arrive as 300 s and be accepted.
The exact boundary is the unit tests' job (tests/unit/core/test_webhook_signing.py, fixed clock)."""


def _timestamp_far(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    low = TOLERANCE_SECONDS + CLOCK_MARGIN
    offset = draw(st.one_of(st.integers(low, 10**10), st.integers(-(10**9), -low)))
    at = max(0, int(time.time()) + offset)
    return signed(body, at=at), UNSIGNED


def _timestamp_near(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    high = TOLERANCE_SECONDS - CLOCK_MARGIN
    return signed(body, at=int(time.time()) + draw(st.integers(-high, high))), SIGNED


def _long_headers(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    """A very long webhook-id, or many extra headers: signed, or refused by the gateway (431)."""
    if draw(st.booleans()):
        headers = signed(body, webhook_id="msg_" + "x" * draw(st.integers(1_000, 80_000)))
    else:
        headers = signed(body)
        headers.update({f"x-fuzz-{n}": "y" * 50 for n in range(draw(st.integers(10, 150)))})
    return headers, frozenset({202, 400, 431})


def _missing(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    headers = signed(body)
    for name in draw(
        st.sets(st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]), min_size=1)
    ):
        if draw(st.booleans()):
            del headers[name]
        else:
            headers[name] = ""
    return headers, UNSIGNED


def _wrong_secret(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    return signed(body, secret=OTHER_SECRET), UNSIGNED


def _other_body(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    """Signed for one byte more or less: the signature covers the exact bytes."""
    return signed(body + b" " if draw(st.booleans()) else body[:-1] + b" }"), UNSIGNED


def _name_case(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], frozenset[int]]:
    headers = signed(body)
    style = draw(st.sampled_from([str.upper, str.title, str.lower]))
    return {style(name): value for name, value in headers.items()}, SIGNED


HEADER_ATTACKS: Mapping[str, Callable[[st.DrawFn, bytes], tuple[dict[str, str], frozenset[int]]]] = {
    "several_signatures": _several_signatures,
    "bad_base64": _bad_base64,
    "timestamp_not_numeric": _timestamp_text,
    "timestamp_far": _timestamp_far,
    "timestamp_near": _timestamp_near,
    "long_headers": _long_headers,
    "missing": _missing,
    "wrong_secret": _wrong_secret,
    "signed_other_body": _other_body,
    "name_case": _name_case,
}


@st.composite
def reused_webhook_id(draw: st.DrawFn) -> FuzzCase:
    """A delivery, then the same webhook-id: with the same body a duplicate (202), with another a 409."""
    event = draw(valid_upsert())
    body = encode(event)
    webhook_id = f"msg_reused_{unique_number()}"
    same = draw(st.booleans())
    second = body if same else encode(with_value(event, ("ownerId",), "agence-autre"))
    follow_up = FuzzCase(
        "reused_id_same_body" if same else "reused_id_other_body",
        second,
        SIGNED if same else frozenset({409}),
        listing_id=event["listingId"],
        webhook_id=webhook_id,
    )
    return FuzzCase(
        "reused_id_first",
        body,
        SIGNED,
        listing_id=event["listingId"],
        webhook_id=webhook_id,
        follow_up=follow_up,
    )
