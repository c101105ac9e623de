"""The reconcile run's time budget, on a fake clock: no listing is started too late to finish before
the Lambda timeout, whatever the configured budget says."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from threading import Lock
from typing import Any

import pytest

from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.status_store import WatchEntry
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.service.reconcile import ReconcileService
from vitrine.service.reconcile_budget import (
    AWS_CALLS_ALLOWANCE_SECONDS,
    MAX_URL_CHECKS_PER_LISTING,
    TOKEN_WAIT_ALLOWANCE_SECONDS,
    listing_tail_seconds,
    listing_worst_case_seconds,
)
from vitrine.service.reconcile_report import ListingReport
from vitrine.settings import Settings

LAMBDA_TIMEOUT_SECONDS = 300.0
AVIV = AvivClientConfig(
    api_url="https://aviv.example/caas/v4",
    auth_url="https://auth.aviv.example/oauth/token",
    audience="https://aviv.example/caas/v4",
    user_agent="vitrine/0.1.0 python-requests/2.34.2 linux/6.1",
    default_intermediary_id=None,
)


class FakeClock:
    """``monotonic`` for the service; a fake listing moves it forward by the time it "takes"."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass
class FakeAviv:
    config: AvivClientConfig = AVIV

    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        return nullcontext()


@dataclass
class FakeStore:
    def dirty_listings(self, **_kw: Any) -> list[str]:
        return []


@dataclass
class FakeStatusStore:
    listings: int
    open_problems: int = 0

    def due_watches(self, now: datetime) -> Iterator[WatchEntry]:
        for index in range(self.listings):
            yield WatchEntry(
                due=f"2026-03-02T09:00:{index:02d}.000000Z", listing_id=f"L-{index:02d}", sk="SENT"
            )

    def open_problem_count(self) -> int:
        return self.open_problems


@dataclass
class SlowListings:
    """Each listing "takes" ``seconds`` of the fake clock; when each started is recorded."""

    clock: FakeClock
    seconds: float
    started_at: list[float] = field(default_factory=list)

    def __call__(self, listing_id: str, **_kw: Any) -> ListingReport:
        self.started_at.append(self.clock())
        self.clock.advance(self.seconds)
        return ListingReport(listing_id)


@dataclass
class LimitedAviv:
    """Records the time limit the run gives each listing's AVIV calls."""

    config: AvivClientConfig = AVIV
    limits: list[float] = field(default_factory=list)

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        self.limits.append(seconds)
        yield


def service_with(
    clock: FakeClock,
    *,
    budget: int,
    concurrency: int = 1,
    policy: ReconcilePolicy | None = None,
    aviv: Any = None,
) -> ReconcileService:
    settings = replace(
        Settings.from_env(), reconcile_budget_seconds=budget, reconcile_concurrency=concurrency
    )
    return ReconcileService(
        settings,
        policy=policy or ReconcilePolicy(),
        store=FakeStore(),  # type: ignore[arg-type]
        status_store=FakeStatusStore(listings=50),  # type: ignore[arg-type]
        aviv=aviv or FakeAviv(),  # type: ignore[arg-type]
        notifier=object(),  # type: ignore[arg-type]
        scheduler=object(),  # type: ignore[arg-type]
        probe=type("Probe", (), {"timeout_seconds": 5.0})(),
        push_token=lambda: "",
        monotonic=clock,
    )


def test_the_worst_case_of_one_listing_comes_from_the_aviv_clients_limits() -> None:
    # 3 attempts x (3 s connect + 10 s read) + 2 waits of at most the longest Retry-After (32 s)
    status_call = 3 * (3.0 + 10.0) + 2 * AVIV.max_retry_after
    assert AVIV.max_retry_after >= AVIV.backoff_cap
    assert listing_worst_case_seconds(AVIV, probe_timeout_seconds=None) == pytest.approx(
        status_call + AWS_CALLS_ALLOWANCE_SECONDS
    )
    assert listing_worst_case_seconds(AVIV, probe_timeout_seconds=5.0) == pytest.approx(
        status_call + MAX_URL_CHECKS_PER_LISTING * 5.0 + AWS_CALLS_ALLOWANCE_SECONDS
    )
    patient = replace(AVIV, max_attempts=5, read_timeout=20.0)
    assert listing_worst_case_seconds(patient, probe_timeout_seconds=None) > listing_worst_case_seconds(
        AVIV, probe_timeout_seconds=None
    )


@pytest.mark.parametrize("auto_media_retry", [False, True])
def test_no_listing_starts_too_late_to_finish_before_the_timeout(auto_media_retry: bool) -> None:
    """A 240 s budget in a 300 s Lambda: a listing started at 200 s with a slow AVIV would overrun."""
    clock = FakeClock()
    service = service_with(clock, budget=240, policy=ReconcilePolicy(auto_media_retry=auto_media_retry))
    listings = SlowListings(clock, seconds=50.0)
    service.reconcile_listing = listings  # type: ignore[method-assign]
    report = service.run(remaining_ms=int(LAMBDA_TIMEOUT_SECONDS * 1000))
    margin = service.listing_margin_seconds()
    assert margin == listing_worst_case_seconds(AVIV, probe_timeout_seconds=5.0 if auto_media_retry else None)
    assert report.budget_exhausted and listings.started_at
    assert all(start + margin <= LAMBDA_TIMEOUT_SECONDS for start in listings.started_at)
    assert report.reconciled == len(listings.started_at) == int((LAMBDA_TIMEOUT_SECONDS - margin) // 50) + 1


def test_the_configured_budget_still_applies_when_it_is_the_shorter() -> None:
    clock = FakeClock()
    service = service_with(clock, budget=100)
    listings = SlowListings(clock, seconds=30.0)
    service.reconcile_listing = listings  # type: ignore[method-assign]
    service.run(remaining_ms=900_000)
    assert listings.started_at == [0.0, 30.0, 60.0, 90.0]


def test_the_clock_is_read_after_waiting_for_a_free_thread() -> None:
    """With every thread busy, the dispatcher waits; the deadline may pass meanwhile."""
    clock = FakeClock()
    service = service_with(clock, budget=100, concurrency=1)
    listings = SlowListings(clock, seconds=60.0)
    service.reconcile_listing = listings  # type: ignore[method-assign]
    service.run()
    assert listings.started_at == [0.0, 60.0]  # not a third one at 120 s


def test_less_time_left_than_one_listing_needs_starts_nothing() -> None:
    clock = FakeClock()
    service = service_with(clock, budget=240)
    listings = SlowListings(clock, seconds=1.0)
    service.reconcile_listing = listings  # type: ignore[method-assign]
    report = service.run(remaining_ms=int(service.listing_margin_seconds() * 1000) - 1)
    assert listings.started_at == [] and report.budget_exhausted


@pytest.mark.parametrize("auto_media_retry", [False, True])
def test_each_listing_s_aviv_calls_must_end_a_tail_before_the_lambda_does(auto_media_retry: bool) -> None:
    """The start cutoff assumes a cached token; a token fetch can take longer, so the AVIV client
    is told when to give up: the Lambda's end minus what a listing needs after its AVIV calls."""
    clock = FakeClock()
    aviv = LimitedAviv()
    policy = ReconcilePolicy(auto_media_retry=auto_media_retry)
    service = service_with(clock, budget=240, policy=policy, aviv=aviv)
    listings = SlowListings(clock, seconds=50.0)
    service.reconcile_listing = listings  # type: ignore[method-assign]
    service.run(remaining_ms=int(LAMBDA_TIMEOUT_SECONDS * 1000))
    tail = listing_tail_seconds(probe_timeout_seconds=5.0 if auto_media_retry else None)
    assert tail == AWS_CALLS_ALLOWANCE_SECONDS + TOKEN_WAIT_ALLOWANCE_SECONDS + (
        MAX_URL_CHECKS_PER_LISTING * 5.0 if auto_media_retry else 0.0
    )
    assert aviv.limits == [LAMBDA_TIMEOUT_SECONDS - tail - start for start in listings.started_at]


def test_without_a_lambda_deadline_aviv_calls_get_no_extra_limit() -> None:
    clock = FakeClock()
    aviv = LimitedAviv()
    service = service_with(clock, budget=100, aviv=aviv)
    service.reconcile_listing = SlowListings(clock, seconds=30.0)  # type: ignore[method-assign]
    service.run()
    assert aviv.limits == []
