"""What one scheduled reconcile run measures: its duration and the open-problems gauge, as EMF."""

from __future__ import annotations

import pytest

from tests.support.emf import flushed
from tests.unit.service.test_reconcile_budget import FakeClock, SlowListings, service_with

pytestmark = pytest.mark.usefixtures("emf")


def test_a_run_reports_its_duration_and_the_problems_open_at_its_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock()
    service = service_with(clock, budget=240)
    service.status_store.open_problems = 7  # type: ignore[attr-defined]
    service.reconcile_listing = SlowListings(clock, seconds=0.5)  # type: ignore[method-assign]

    report = service.run(remaining_ms=900_000)

    blob = flushed(capsys)
    assert blob["ReconcileDurationMs"] == [50 * 500.0]
    assert blob["OpenProblems"] == [7.0] and report.open_problems == 7
    units = {m["Name"]: m["Unit"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["ReconcileDurationMs"] == "Milliseconds" and units["OpenProblems"] == "Count"


def test_a_gauge_that_cannot_be_read_is_left_out_and_the_run_still_succeeds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock()
    service = service_with(clock, budget=240)

    def unreadable() -> int:
        raise RuntimeError("ProblemIndex throttled")

    service.status_store.open_problem_count = unreadable  # type: ignore[method-assign]
    service.reconcile_listing = SlowListings(clock, seconds=0.1)  # type: ignore[method-assign]

    report = service.run(remaining_ms=900_000)

    blob = flushed(capsys)
    assert "OpenProblems" not in blob and "ReconcileDurationMs" in blob
    assert report.open_problems is None and report.reconciled == 50
