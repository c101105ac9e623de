"""Properties of ingest: the desired state is the events applied one by one, whatever the delivery.

Each example is one listing's CRM history delivered through the production ingest (the DynamoDB
store on moto in-process): reordered, with duplicates (the same webhook-id again) and stale
re-deliveries (an old event delivered late, under a new webhook-id).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.properties.histories import (
    PropertyTable,
    Receiver,
    content,
    fold,
    histories,
    listing_of,
    property_table,
    shown,
)
from tests.support.proof import report_figures, scaled
from vitrine.core.model import DesiredListing

EXAMPLES = scaled(25, 1_000)
DELIVERIES = {"examples": 0, "deliveries": 0}


@pytest.fixture(scope="module")
def table() -> Iterator[PropertyTable]:
    with property_table() as created:
        yield created
    report_figures("properties_events", DELIVERIES)


def _deliver(table: PropertyTable, deliveries: list[tuple[bytes, str]]) -> DesiredListing | None:
    receiver = Receiver(table.store)
    for body, webhook_id in deliveries:
        receiver.deliver(body, webhook_id)
    DELIVERIES["examples"] += 1
    DELIVERIES["deliveries"] += len(deliveries)
    listing_id = listing_of(deliveries[0][0])
    stored = table.store.load_desired(listing_id)
    table.forget(listing_id)
    return stored


@st.composite
def deliveries_of(draw: st.DrawFn, bodies: list[bytes], shuffle: bool) -> list[tuple[bytes, str]]:
    """Each event once or more under its webhook-id, some re-sent later under a new id (stale)."""
    sent = [(body, f"wh-{index}") for index, body in enumerate(bodies)]
    sent += [draw(st.sampled_from(sent)) for _ in range(draw(st.integers(0, 4)))]  # retries
    sent += [(draw(st.sampled_from(bodies)), f"late-{n}") for n in range(draw(st.integers(0, 3)))]
    if shuffle:
        return draw(st.permutations(sent))
    first_delivery = {body: index for index, (body, _) in reversed(list(enumerate(sent)))}
    return sorted(sent, key=lambda item: first_delivery[item[0]])  # the CRM's order, copies after


@settings(max_examples=EXAMPLES)
@given(st.data(), histories())
def test_the_stored_state_is_the_delivered_events_applied_one_by_one_in_any_order(
    table: PropertyTable, data: st.DataObject, bodies: list[bytes]
) -> None:
    deliveries = data.draw(deliveries_of(bodies, shuffle=True))
    assert content(_deliver(table, deliveries)) == content(fold(deliveries))


@settings(max_examples=EXAMPLES)
@given(st.data(), histories())
def test_duplicates_and_stale_re_deliveries_change_nothing_the_crms_order_would_not(
    table: PropertyTable, data: st.DataObject, bodies: list[bytes]
) -> None:
    deliveries = data.draw(deliveries_of(bodies, shuffle=False))
    in_order = [(body, f"wh-{index}") for index, body in enumerate(bodies)]
    assert content(_deliver(table, deliveries)) == content(fold(in_order))


@settings(max_examples=EXAMPLES)
@given(st.data(), histories(kinds=("listing.upserted", "listing.deleted")))
def test_whole_state_events_end_in_the_latest_state_whatever_the_delivery_order(
    table: PropertyTable, data: st.DataObject, bodies: list[bytes]
) -> None:
    deliveries = data.draw(deliveries_of(bodies, shuffle=True))
    latest = fold([(body, f"wh-{index}") for index, body in enumerate(bodies)])
    stored = _deliver(table, deliveries)
    assert stored is not None and latest is not None
    assert shown(stored) == shown(latest)
    assert stored.last_sequence == len(bodies)
