"""Cases generated from ``docs/openapi.yaml`` by schemathesis, as :class:`FuzzCase` the harness sends.

Schemathesis draws bodies (and extra headers) from the document: positive mode follows the request
schemas (the webhook event's is ``schemas/webhook-event.schema.json``), negative mode breaks them.
The harness then signs each body validly, as the CRM would, so the body is what gets tested.
"""

from __future__ import annotations

import functools
import json
import re
import string
import time
from typing import Any
from urllib.parse import quote, urlencode

import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.fuzz.answers import OPENAPI_PATH
from tests.fuzz.mutations import (
    ACCEPTABLE,
    DEEP_LEVELS,
    NOT_JSON,
    UNSUPPORTED,
    FuzzCase,
    encode,
    expected_for,
)
from vitrine.core.owner_links import owner_page_path

WEBHOOK = "/webhooks/listings"
PUSH = "/aviv/{token}/classifieds/{classifiedId}/statuses"
OWNER_PAGE = "/owners/{ownerId}/listings"
SIGNATURE_HEADERS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"})
JSON_TYPES = ("application/json",)
# The path segment Powertools' router matches for a ``<classified_id>``; any other is no route (404).
ROUTED_SEGMENT = re.compile(r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+")


@functools.cache
def api() -> Any:
    return schemathesis.openapi.from_path(str(OPENAPI_PATH))


def operation_cases(path: str, mode: GenerationMode) -> st.SearchStrategy[Any]:
    return api()[path]["POST"].as_strategy(generation_mode=mode)


def _body_bytes(case: Any) -> bytes:
    body = case.body
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and case.media_type not in JSON_TYPES:
        return body.encode("utf-8", "surrogatepass")
    return encode(body)


def _extra_headers(case: Any) -> dict[str, str]:
    """Generated headers worth sending: not the signature's, printable, on one line."""
    extra = {}
    for name, value in (case.headers or {}).items():
        if name.lower() in SIGNATURE_HEADERS or not isinstance(value, str):
            continue
        if all(char in string.printable and char not in "\r\n" for char in name + value) and name.strip():
            extra[name] = value
    return extra


def webhook_case(case: Any, mode: GenerationMode) -> FuzzCase:
    body = _body_bytes(case)
    media_type = case.media_type or "application/json"
    listing_id = case.body.get("listingId") if isinstance(case.body, dict) else None
    if media_type not in JSON_TYPES:
        expected = UNSUPPORTED
    elif isinstance(case.body, bytes):
        expected = NOT_JSON | ACCEPTABLE
    else:
        expected = expected_for(case.body)
    return FuzzCase(
        f"generated_{mode.value}",
        body,
        expected,
        headers={"Content-Type": media_type, **_extra_headers(case)},
        listing_id=listing_id if isinstance(listing_id, str) else None,
    )


@st.composite
def push_case(draw: st.DrawFn, token: str) -> FuzzCase:
    """AVIV's push: the right token or a wrong one, a generated status body, a deep or non-JSON one."""
    right = draw(st.booleans())
    classified_id = draw(
        st.one_of(
            st.uuids().map(str),
            st.text(
                st.characters(exclude_characters="/", exclude_categories=["Cs"]), min_size=1, max_size=40
            ),
        )
    )
    path_token = (
        token if right else draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=60))
    )
    path = f"/aviv/{quote(path_token, safe='')}/classifieds/{quote(classified_id, safe='')}/statuses"
    shape = draw(st.sampled_from(["positive", "negative", "deep", "not_json", "content_type"]))
    content_type = "application/json"
    if shape in ("positive", "negative"):
        generated = draw(operation_cases(PUSH, GenerationMode(shape)))
        body = _body_bytes(generated)
        document = generated.body
        valid = isinstance(document, dict) and isinstance(document.get("status"), str)
        expected = frozenset({201}) if valid else frozenset({400})
    elif shape == "deep":
        depth = draw(st.integers(*DEEP_LEVELS))
        body = ("[" * depth + "]" * depth).encode()
        expected = frozenset({400})
    elif shape == "not_json":
        body = draw(st.binary(max_size=100).filter(lambda raw: not _is_json(raw)))
        expected = frozenset({400})
    else:
        body = json.dumps({"status": "CREATED"}).encode()
        content_type = draw(
            st.sampled_from(["text/plain", "application/xml", "application/x-www-form-urlencoded"])
        )
        expected = UNSUPPORTED
    if not right:
        expected = frozenset({403}) | (expected & UNSUPPORTED)
    if not ROUTED_SEGMENT.fullmatch(classified_id):
        expected = frozenset({404})  # the function's router matches no route: a 404 problem+json
    return FuzzCase(
        f"push_{shape}_{'token' if right else 'wrong_token'}",
        body,
        expected,
        headers={"Content-Type": content_type},
        sign=False,
        path=path,
        path_template=PUSH,
    )


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


@st.composite
def owner_page_case(draw: st.DrawFn, secret: bytes) -> FuzzCase:
    """The owner page: a signed link (200), or an expired, tampered, partial or made-up one (403)."""
    owner_id = draw(
        st.one_of(
            st.just("agence-fuzz"),
            st.text(
                st.characters(exclude_characters="/", exclude_categories=["Cs"]), min_size=1, max_size=40
            ),
        )
    )
    now = int(time.time())
    shape = draw(st.sampled_from(["signed", "expired", "tampered", "partial", "made_up"]))
    if shape == "signed":
        path = owner_page_path(secret, owner_id, now + draw(st.integers(60, 10**7)))
    elif shape == "expired":
        path = owner_page_path(secret, owner_id, now - draw(st.integers(0, 10**7)))
    elif shape == "tampered":
        signed_path = owner_page_path(secret, owner_id, now + 3_600)
        path = signed_path[:-1] + ("A" if signed_path[-1] != "A" else "B")
    else:
        base = OWNER_PAGE.replace("{ownerId}", quote(owner_id, safe=""))
        query = draw(st.dictionaries(st.sampled_from(["expires", "signature", "x"]), st.text(max_size=30)))
        path = base + ("?" + urlencode(query) if query and shape == "made_up" else "")
    accept = draw(st.sampled_from(["text/html", "application/json", "*/*"]))
    return FuzzCase(
        f"owner_page_{shape}",
        b"",
        frozenset({200}) if shape == "signed" else frozenset({403}),
        headers={"Accept": accept},
        sign=False,
        path=path,
        path_template=OWNER_PAGE,
        method="GET",
    )
