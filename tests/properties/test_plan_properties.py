"""Properties of planning: a no-op diff against itself, byte-for-byte determinism, AVIV-valid bodies."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.properties.strategies import DEFAULTS, T0, desired_listings, later
from tests.support.aviv_schema import schema_errors
from tests.support.proof import report_figures
from vitrine.adapters.dynamo.desired_item import desired_attributes, desired_from_item
from vitrine.core.classified_check import check_classified
from vitrine.core.diff import diff_classified
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.plan import SyncPlan, plan_sync
from vitrine.core.timestamps import format_timestamp

OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Iterator[None]:
    yield
    report_figures("properties_plan", {"examples": dict(OUTCOMES)})


def sent(plan: SyncPlan, desired: DesiredListing) -> LastSent:
    """What the sync records once AVIV accepted ``plan``."""
    return LastSent(
        listing_id=desired.listing_id,
        classified_id="c-1",
        body=json.loads(json.dumps(plan.body)),  # as read back from storage
        media=list(plan.sent_media),
        desired_version=desired.version,
        sent_at=format_timestamp(T0),
    )


@given(desired_listings(), st.integers(0, 10**6))
def test_the_diff_of_a_sent_body_with_itself_is_a_no_op_and_replanning_sends_nothing(
    desired: DesiredListing, seconds_later: int
) -> None:
    OUTCOMES["diff_with_itself"] += 1
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    last_sent = sent(plan, desired)
    assert diff_classified(last_sent, plan.body, plan.stamped).is_noop
    again = plan_sync(desired, last_sent, None, DEFAULTS, later(T0, seconds_later))
    assert again.diff.is_noop
    assert again.body == last_sent.body


@given(desired_listings(), st.integers(0, 10**6))
def test_planning_is_deterministic_byte_for_byte_even_from_the_stored_copy_of_the_state(
    desired: DesiredListing, seconds_later: int
) -> None:
    OUTCOMES["deterministic"] += 1
    now = later(T0, seconds_later)
    last_sent = sent(plan_sync(desired, None, None, DEFAULTS, T0), desired)
    attributes = {name: value for name, value in desired_attributes(desired).items() if value is not None}
    stored = desired_from_item(desired.listing_id, attributes)
    for previous in (None, last_sent):
        bodies = {
            json.dumps(plan_sync(state, previous, None, DEFAULTS, now).body, ensure_ascii=False).encode()
            for state in (desired, stored, desired, stored)
        }
        assert len(bodies) == 1, bodies


@given(desired_listings(max_media=40))
def test_the_builders_body_for_a_valid_desired_listing_passes_avivs_official_schema(
    desired: DesiredListing,
) -> None:
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    official = schema_errors(plan.body)
    ours = check_classified(plan.body)
    OUTCOMES["valid" if plan.is_valid else "refused_before_sending"] += 1
    assert bool(official) == bool(ours), (official, ours)
    if plan.is_valid:
        assert official == [], official
