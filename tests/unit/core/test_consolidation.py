"""Timing rules of consolidation: quiet window, maximum delay, SQS delay cap, retry back-off."""

from datetime import UTC, datetime, timedelta

from vitrine.core.consolidation import (
    SQS_MAX_DELAY_SECONDS,
    ConsolidationPolicy,
    next_step,
    retry_delay_seconds,
)

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
POLICY = ConsolidationPolicy.from_seconds(consolidation_window=60, max_delay=600)


def step(last_edit: datetime, first_unsent: datetime, now: datetime, dirty: bool = True):
    return next_step(
        dirty=dirty, last_edit_at=last_edit, first_unsent_at=first_unsent, now=now, policy=POLICY
    )


def test_clean_listing_drops_the_message():
    assert step(T0, T0, T0, dirty=False).action == "drop"


def test_waits_for_the_rest_of_the_quiet_window():
    result = step(T0, T0, T0 + timedelta(seconds=20))
    assert (result.action, result.delay_seconds) == ("wait", 40)


def test_syncs_once_quiet_for_the_window():
    assert step(T0, T0, T0 + timedelta(seconds=60)).action == "sync"


def test_an_edit_restarts_the_window():
    last_edit = T0 + timedelta(seconds=50)
    result = step(last_edit, T0, T0 + timedelta(seconds=60))
    assert (result.action, result.delay_seconds) == ("wait", 50)


def test_continuous_edits_are_synced_at_the_maximum_delay():
    first_unsent = T0
    now = T0 + timedelta(seconds=600)
    assert step(now - timedelta(seconds=1), first_unsent, now).action == "sync"
    result = step(T0 + timedelta(seconds=590), first_unsent, T0 + timedelta(seconds=595))
    assert (result.action, result.delay_seconds) == ("wait", 5)


def test_fractional_remaining_rounds_up_and_never_below_one_second():
    result = step(T0, T0, T0 + timedelta(seconds=59, milliseconds=900))
    assert (result.action, result.delay_seconds) == ("wait", 1)


def test_long_waits_are_capped_at_the_sqs_maximum():
    policy = ConsolidationPolicy.from_seconds(consolidation_window=3000, max_delay=3600)
    result = next_step(dirty=True, last_edit_at=T0, first_unsent_at=T0, now=T0, policy=policy)
    assert (result.action, result.delay_seconds) == ("wait", SQS_MAX_DELAY_SECONDS)


def test_unknown_edit_times_sync_now():
    assert (
        next_step(dirty=True, last_edit_at=None, first_unsent_at=None, now=T0, policy=POLICY).action == "sync"
    )


def test_retry_delays_grow_and_are_capped():
    delays = [retry_delay_seconds(n) for n in range(1, 12)]
    assert delays[:4] == [10, 20, 40, 80]
    assert delays == sorted(delays)
    assert max(delays) == SQS_MAX_DELAY_SECONDS
