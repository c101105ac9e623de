"""The exact inputs of issue 10's section 0 (the adversarial run's defects), through the local stack:
each answered as the fuzzing run expects of any input, nothing refused kept.
"""

from __future__ import annotations

import json

import pytest

from devtools.local_stack.stack import LocalStack
from tests.fuzz.generated import PUSH
from tests.fuzz.harness import FuzzRun, push_token
from tests.fuzz.mutations import (
    INVALID,
    NON_FINITE,
    NOT_JSON,
    UNSUPPORTED,
    FuzzCase,
    encode,
    new_listing_id,
    signed,
)
from tests.support.listings import sample_data

MARKER = '"@@here@@"'


def upsert(listing_id: str, **changes: object) -> dict[str, object]:
    """A valid listing.upserted."""
    event: dict[str, object] = {
        "type": "listing.upserted",
        "listingId": listing_id,
        "ownerId": "agence-fuzz",
        "occurredAt": "2026-11-27T10:00:00+01:00",
        "listing": {
            "data": sample_data(listing_id),
            "media": [
                {"id": "m0", "url": "http://127.0.0.1:9/m0.jpg", "mediaType": "PICTURE", "title": "Salon"}
            ],
        },
    }
    event.update(changes)
    return event


def with_text(listing_id: str, text: str) -> bytes:
    """An upsert whose ``listing.data.extra`` is ``text``, as raw JSON text."""
    event = upsert(listing_id)
    event["listing"]["data"]["extra"] = "@@here@@"  # type: ignore[index]
    return encode(event).replace(MARKER.encode(), text.encode(), 1)


def check(local: LocalStack, *cases: FuzzCase) -> None:
    run = FuzzRun(local)
    for case in cases:
        run.send(case)
    assert not run.violations, "\n".join(f"{v.status}: {v.problem}" for v in run.violations)


def test_a_lone_surrogate_in_a_media_title_is_a_422(local: LocalStack) -> None:
    listing_id = new_listing_id()
    body = encode(upsert(listing_id)).replace(b'"Salon"', b'"Salon \\ud800"')
    check(local, FuzzCase("lone_surrogate", body, INVALID, listing_id=listing_id))


def test_a_lone_surrogate_in_the_owner_id_is_a_422_and_leaves_the_listing_open_to_valid_webhooks(
    local: LocalStack,
) -> None:
    listing_id = new_listing_id()
    poisoned = encode(upsert(listing_id, ownerId="\ud800"))
    valid = encode(upsert(listing_id))
    check(
        local,
        FuzzCase("lone_surrogate", poisoned, INVALID, listing_id=listing_id),
        FuzzCase("after_surrogate", valid, frozenset({202}), listing_id=listing_id),
    )


def test_listing_data_nested_800_levels_deep_is_a_400(local: LocalStack) -> None:
    listing_id = new_listing_id()
    body = with_text(listing_id, "[" * 800 + "]" * 800)
    check(local, FuzzCase("deep", body, NOT_JSON, listing_id=listing_id))


def test_a_number_that_overflows_to_infinity_is_refused(local: LocalStack) -> None:
    listing_id = new_listing_id()
    body = with_text(listing_id, "1e99999")
    check(local, FuzzCase("non_finite", body, NON_FINITE, listing_id=listing_id))


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_sent_as_anything_but_json_is_a_415(local: LocalStack, content_type: str) -> None:
    listing_id = new_listing_id()
    body = encode(upsert(listing_id))
    headers = {**signed(body), "Content-Type": content_type}
    check(
        local, FuzzCase("content_type", body, UNSUPPORTED, headers=headers, listing_id=listing_id, sign=False)
    )


def test_the_push_route_answers_an_odd_classified_id_with_a_404_problem(local: LocalStack) -> None:
    path = f"/aviv/{push_token(local)}/classifieds/%E2%9C%93%F0%9F%8F%A0/statuses"
    body = json.dumps({"status": "CREATED"}).encode()
    check(local, FuzzCase("push_odd_path", body, frozenset({404}), sign=False, path=path, path_template=PUSH))


def test_the_push_route_answers_a_very_deep_body_with_a_400(local: LocalStack) -> None:
    path = f"/aviv/{push_token(local)}/classifieds/c-1/statuses"
    body = ("[" * 5_000 + "]" * 5_000).encode()
    check(local, FuzzCase("push_deep", body, NOT_JSON, sign=False, path=path, path_template=PUSH))


def test_the_gateway_stand_in_answers_headers_too_large_as_api_gateway_does(local: LocalStack) -> None:
    listing_id = new_listing_id()
    body = encode(upsert(listing_id))
    headers = signed(body, webhook_id="msg_" + "x" * 70_000)
    check(
        local,
        FuzzCase("header_long", body, frozenset({431}), headers=headers, listing_id=listing_id, sign=False),
    )
