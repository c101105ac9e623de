"""The sync function's record handling: consolidation steps, follow-ups, back-off on every failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.emf import flushed
from vitrine.core.errors import AvivRetryable, LeaseHeld
from vitrine.core.model import SyncFailure, SyncState
from vitrine.core.sync import Operation, SyncOutcome, SyncStatus
from vitrine.service.sqs_batch import SqsMessage
from vitrine.service.sync import SyncService, sync_lag_seconds
from vitrine.settings import Settings


def state(**changes: Any) -> SyncState:
    """Times are relative to the real clock the service reads (a module-level "now" goes stale)."""
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "listing_id": "L1",
        "owner_id": "o",
        "version": 2,
        "sent_version": 1,
        "dirty": True,
        "first_unsent_at": now - timedelta(seconds=120),
        "last_edit_at": now - timedelta(seconds=120),
        "lease_owner": None,
        "lease_expires_at": None,
        "has_data": True,
    }
    base.update(changes)
    return SyncState(**base)


class FakeStore:
    def __init__(self, sync_state: SyncState | None) -> None:
        self.state = sync_state
        self.released: list[str] = []
        self.claims = 0
        self.failures: list[tuple[str, SyncFailure]] = []

    def record_sync_failure(self, listing_id: str, failure: SyncFailure) -> None:
        self.failures.append((listing_id, failure))

    def load_sync_state(self, listing_id: str) -> SyncState | None:
        return self.state

    def release_sync_schedule(self, listing_id: str) -> None:
        self.released.append(listing_id)

    def claim_sync_schedule(self, listing_id: str, now: datetime, hold_seconds: int) -> bool:
        self.claims += 1
        return self.state is not None and self.state.dirty


class FakeScheduler:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, int]] = []
        self.backoffs: list[tuple[str, int]] = []

    def schedule(self, listing_id: str, delay_seconds: int) -> None:
        self.scheduled.append((listing_id, delay_seconds))

    def back_off(self, receipt_handle: str, delay_seconds: int) -> None:
        self.backoffs.append((receipt_handle, delay_seconds))


def record(body: str = '{"listingId":"L1"}', receive_count: int = 1) -> SqsMessage:
    return SqsMessage(
        {
            "messageId": "m1",
            "receiptHandle": "rh-1",
            "body": body,
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }
    )


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> SyncService:
    monkeypatch.setenv("VITRINE_DEBOUNCE_SECONDS", "60")
    monkeypatch.setenv("VITRINE_SYNC_RETRY_BASE_SECONDS", "10")
    monkeypatch.setenv("VITRINE_SYNC_MAX_RECEIVES", "8")
    return SyncService(Settings.from_env())


def wire(
    service: SyncService, store: FakeStore, monkeypatch: pytest.MonkeyPatch, outcome: Any = None
) -> FakeScheduler:
    scheduler = FakeScheduler()
    service.__dict__["store"] = store
    service.__dict__["scheduler"] = scheduler
    service.__dict__["aviv"] = object()
    if outcome is not None:
        monkeypatch.setattr("vitrine.service.sync.sync_listing", outcome)
    return scheduler


def test_a_clean_listing_drops_the_message_and_its_claim(
    service: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FakeStore(state(dirty=False))
    wire(service, store, monkeypatch)
    assert service.process_record(record()) == "dropped"
    assert store.released == ["L1"]


def test_a_listing_still_being_edited_re_delays_its_message(
    service: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FakeStore(state(last_edit_at=datetime.now(UTC) - timedelta(seconds=15)))
    scheduler = wire(service, store, monkeypatch)
    assert service.process_record(record()) == "delayed"
    ((listing, delay),) = scheduler.scheduled
    assert listing == "L1" and 44 <= delay <= 46
    assert store.released == [], "the claim stays: the re-delayed message is the pending one"


def test_after_a_sync_the_claim_is_released_and_a_follow_up_scheduled_if_still_dirty(
    service: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FakeStore(state())

    class Outcome:
        status = "sent"
        operation = None
        diff = None

        def to_log(self) -> dict[str, Any]:
            return {}

    scheduler = wire(service, store, monkeypatch, outcome=lambda *a, **k: Outcome())
    assert service.process_record(record()) == "sent"
    assert store.released == ["L1"]
    assert scheduler.scheduled == [("L1", 60)], "edits that landed during the call get one follow-up"


@pytest.mark.parametrize(
    ("error", "receive_count", "expected_delay"),
    [
        (AvivRetryable("503"), 1, 10),
        (AvivRetryable("503"), 3, 40),
        (AvivRetryable("429", retry_after=120), 1, 120),
        (LeaseHeld("busy"), 1, 10),
        (LeaseHeld("busy"), 5, 160),
        (RuntimeError("DynamoDB throttled"), 2, 20),
    ],
)
def test_every_failure_comes_back_after_a_growing_delay(
    service: SyncService,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    receive_count: int,
    expected_delay: int,
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    scheduler = wire(service, FakeStore(state()), monkeypatch, outcome=fail)
    with pytest.raises(type(error)):
        service.process_record(record(receive_count=receive_count))
    assert scheduler.backoffs == [("rh-1", expected_delay)]


def test_a_message_that_is_not_a_sync_message_is_dropped_not_retried(
    service: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = wire(service, FakeStore(state()), monkeypatch)
    assert service.process_record(record(body="hello")) == "malformed"
    assert scheduler.backoffs == [] and scheduler.scheduled == []


@pytest.mark.parametrize(("receive_count", "released"), [(7, False), (8, True)])
def test_the_last_receive_before_the_dlq_releases_the_claim(
    service: SyncService, monkeypatch: pytest.MonkeyPatch, receive_count: int, released: bool
) -> None:
    """Dead-lettered, the listing has no pending sync: the next edit (or the sweep) must schedule one."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AvivRetryable("503")

    store = FakeStore(state())
    wire(service, store, monkeypatch, outcome=fail)
    with pytest.raises(AvivRetryable):
        service.process_record(record(receive_count=receive_count))
    assert store.released == (["L1"] if released else [])


FORCED = '{"listingId":"L1","force":true}'


class SentOutcome:
    status = "sent"
    operation = None
    diff = None

    def to_log(self) -> dict[str, Any]:
        return {}


def test_a_forced_message_syncs_now_with_force_and_leaves_the_claim_to_the_pending_message(
    service: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FakeStore(state(last_edit_at=datetime.now(UTC) - timedelta(seconds=5)))  # mid-burst
    calls: list[dict[str, Any]] = []

    def sync(*args: Any, **kwargs: Any) -> SentOutcome:
        calls.append(kwargs)
        return SentOutcome()

    wire(service, store, monkeypatch, outcome=sync)
    assert service.process_record(record(body=FORCED)) == "sent"
    assert [c["force"] for c in calls] == [True]
    assert store.released == [], "the claim belongs to the listing's own pending message"


def test_a_forced_message_for_an_unknown_listing_is_dropped(
    service: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire(service, FakeStore(None), monkeypatch, outcome=lambda *a, **k: pytest.fail("no sync"))
    assert service.process_record(record(body=FORCED)) == "missing"


@pytest.mark.parametrize(("receive_count", "dead_lettered"), [(3, False), (8, True)])
def test_a_failed_attempt_is_recorded_with_its_count_and_whether_it_was_the_last(
    service: SyncService, monkeypatch: pytest.MonkeyPatch, receive_count: int, dead_lettered: bool
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AvivRetryable("AVIV answered 503")

    store = FakeStore(state())
    wire(service, store, monkeypatch, outcome=fail)
    with pytest.raises(AvivRetryable):
        service.process_record(record(receive_count=receive_count))
    ((listing_id, failure),) = store.failures
    assert listing_id == "L1" and failure.attempts == receive_count
    assert failure.error == "AvivRetryable: AVIV answered 503" and failure.dead_lettered is dead_lettered


def test_a_forced_message_dead_lettered_leaves_the_claim_alone(
    service: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AvivRetryable("503")

    store = FakeStore(state())
    wire(service, store, monkeypatch, outcome=fail)
    with pytest.raises(AvivRetryable):
        service.process_record(record(body=FORCED, receive_count=8))
    assert store.released == []


# -- sync lag ---------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "operation", "expected"),
    [
        ("sent", "POST", 42.5),
        ("sent", "PUT", 42.5),
        ("deleted", "DELETE", 42.5),
        ("skipped", None, None),
        ("rejected", "PUT", None),
        ("deleted", None, None),
    ],
)
def test_sync_lag_runs_from_the_oldest_unsent_edit_to_an_accepted_send_only(
    status: SyncStatus, operation: Operation | None, expected: float | None
) -> None:
    outcome = SyncOutcome("L1", status, operation=operation)
    accepted_at = T0 + timedelta(seconds=42.5)
    assert sync_lag_seconds(outcome, T0, accepted_at=accepted_at) == expected


def test_a_send_of_a_clean_listing_has_no_lag_to_measure() -> None:
    outcome = SyncOutcome("L1", "sent", operation="PUT")
    assert sync_lag_seconds(outcome, None, accepted_at=T0) is None


@pytest.mark.usefixtures("emf")
def test_an_accepted_send_emits_its_sync_lag_in_seconds(
    service: SyncService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first_unsent_at = datetime.now(UTC) - timedelta(seconds=120)
    store = FakeStore(state(first_unsent_at=first_unsent_at, last_edit_at=first_unsent_at))
    outcome = SyncOutcome("L1", "sent", operation="PUT")
    wire(service, store, monkeypatch, outcome=lambda *a, **k: outcome)

    assert service.process_record(record()) == "sent"

    blob = flushed(capsys)
    (lag,) = blob["SyncLagSeconds"]
    assert 120 <= lag < 180
    units = {m["Name"]: m["Unit"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["SyncLagSeconds"] == "Seconds"
