"""Property of consolidation: any burst of edits reaches AVIV as one send carrying the final state.

A burst is a listing's CRM history with every gap shorter than the consolidation window and the
whole burst shorter than the maximum delay. Time is virtual: edits go through the production
ingest, the one pending sync message is processed when due (``next_step`` → wait, or
``sync_listing`` against an in-memory AVIV), exactly as the sync function does it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.properties.histories import (
    HOLD_SECONDS,
    WINDOW_SECONDS,
    PropertyTable,
    Receiver,
    histories,
    listing_of,
    property_table,
)
from tests.properties.strategies import DEFAULTS, T0
from tests.support.proof import report_figures, scaled
from tests.unit.core.test_sync import FakeAviv
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.consolidation import ConsolidationPolicy, next_step
from vitrine.core.plan import plan_sync
from vitrine.core.scheduling import ensure_sync_scheduled
from vitrine.core.sync import sync_listing

MAX_DELAY_SECONDS = 600
POLICY = ConsolidationPolicy.from_seconds(WINDOW_SECONDS, MAX_DELAY_SECONDS)
FIGURES = {"bursts": 0, "edits": 0, "aviv_writes": 0}


@pytest.fixture(scope="module")
def table() -> Iterator[PropertyTable]:
    with property_table() as created:
        yield created
    report_figures("properties_consolidation", FIGURES)


class VirtualSync:
    """The sync function at virtual time: one handler for the due messages of one listing."""

    def __init__(self, store: DynamoStateStore, receiver: Receiver) -> None:
        self.store = store
        self.receiver = receiver
        self.aviv = FakeAviv()
        self.sent_at: list[datetime] = []

    def due(self) -> list[tuple[datetime, str]]:
        messages = [
            (at + timedelta(seconds=delay), listing) for listing, delay, at in self.receiver.scheduled
        ]
        self.receiver.scheduled.clear()
        return messages

    def process(self, listing_id: str, now: datetime) -> None:
        self.receiver.now = now
        state = self.store.load_sync_state(listing_id)
        assert state is not None
        step = next_step(
            dirty=state.dirty,
            last_edit_at=state.last_edit_at,
            first_unsent_at=state.first_unsent_at,
            now=now,
            policy=POLICY,
        )
        if step.action == "wait":
            self.receiver.schedule(listing_id, step.delay_seconds)
            return
        if step.action == "sync":
            sync_listing(
                listing_id, store=self.store, aviv=self.aviv, defaults=DEFAULTS, now=now, lease_owner="p"
            )
            self.sent_at.append(now)
        self.store.release_sync_schedule(listing_id)
        if step.action == "sync":
            ensure_sync_scheduled(
                listing_id,
                store=self.store,
                scheduler=self.receiver,
                now=now,
                delay_seconds=WINDOW_SECONDS,
                hold_seconds=HOLD_SECONDS,
            )


@settings(max_examples=scaled(25, 1_000))
@given(
    histories(kinds=("listing.upserted", "media.added", "media.updated", "media.removed", "media.reordered")),
    st.data(),
)
def test_a_burst_of_edits_reaches_aviv_as_one_send_of_the_final_state(
    table: PropertyTable, bodies: list[bytes], data: st.DataObject
) -> None:
    store = table.store
    budget = MAX_DELAY_SECONDS - WINDOW_SECONDS - 1
    gaps = data.draw(
        st.lists(
            st.integers(0, min(WINDOW_SECONDS - 1, budget // len(bodies))),
            min_size=len(bodies),
            max_size=len(bodies),
        )
    )
    receiver = Receiver(store)
    sync = VirtualSync(store, receiver)
    pending: list[tuple[datetime, str]] = []
    edit_at = T0
    for body, gap in zip(bodies, gaps, strict=True):
        edit_at += timedelta(seconds=gap)
        while pending and pending[0][0] <= edit_at:
            due_at, listing_id = heapq.heappop(pending)
            sync.process(listing_id, due_at)
            for message in sync.due():
                heapq.heappush(pending, message)
        receiver.now = edit_at
        receiver.deliver(body, f"wh-{edit_at.timestamp()}-{len(receiver.answers)}")
        for message in sync.due():
            heapq.heappush(pending, message)
    while pending:
        due_at, listing_id = heapq.heappop(pending)
        sync.process(listing_id, due_at)
        for message in sync.due():
            heapq.heappush(pending, message)

    writes = [call for call in sync.aviv.calls if call[0] in ("POST", "PUT")]
    FIGURES["bursts"] += 1
    FIGURES["edits"] += len(bodies)
    FIGURES["aviv_writes"] += len(writes)
    assert len(writes) == 1, [call[0] for call in sync.aviv.calls]
    listing_id = listing_of(bodies[0])
    final = store.load_desired(listing_id)
    table.forget(listing_id)
    assert final is not None
    assert writes[0][2] == plan_sync(final, None, None, DEFAULTS, sync.sent_at[0]).body
