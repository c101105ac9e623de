"""Sync messages: the body names the listing, and a forced resync says so."""

from __future__ import annotations

import pytest

from vitrine.adapters.sqs_scheduler import (
    SyncRequest,
    parse_sync_message,
    parse_sync_request,
    sync_message_body,
)


def test_a_sync_message_names_only_the_listing() -> None:
    assert sync_message_body("L-1") == '{"listingId":"L-1"}'
    assert parse_sync_request(sync_message_body("L-1")) == SyncRequest("L-1", force=False)


def test_a_forced_message_round_trips() -> None:
    body = sync_message_body("L-1", force=True)
    assert parse_sync_request(body) == SyncRequest("L-1", force=True)
    assert parse_sync_message(body) == "L-1"


@pytest.mark.parametrize(
    "body", ["hello", "[]", '{"listingId":""}', '{"listingId":3}', '{"listingId":"L","force":"yes"}']
)
def test_anything_else_is_not_a_sync_message(body: str) -> None:
    with pytest.raises(ValueError, match="not a sync message"):
        parse_sync_request(body)
