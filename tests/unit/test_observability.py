"""Metrics across invocations: disabled metrics leave nothing behind, enabled ones print EMF once each;
log keys belong to one invocation."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnitError

from devtools.lambda_runtime import FakeLambdaContext
from tests.support.emf import dimensions_of, emf_blobs, flushed, metric_names
from vitrine.observability import (
    MetricUnit,
    add_dimensioned_metric,
    log_keys,
    logger,
    metrics,
    per_invocation,
)

INVOCATIONS = 250  # past powertools' 100-values threshold, where it used to print even when disabled


@metrics.log_metrics
def _handler(event: int, context: Any) -> str:
    """Adds metrics the way vitrine's handlers do: a fixed name and a name that varies."""
    metrics.add_metric(name="Handled", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"Kind_{event % 3}", unit=MetricUnit.Count, value=1)
    return "ok"


@pytest.fixture(autouse=True)
def _fresh_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The metric set is process-wide: start and end each test with it empty."""
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def test_disabled_metrics_accumulate_nothing_and_print_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for event in range(INVOCATIONS):
        assert _handler(event, None) == "ok"
        assert metrics.provider.metric_set == {}
    assert capsys.readouterr().out == ""


def test_disabled_metrics_are_still_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with pytest.raises(MetricUnitError):
        metrics.add_metric(name="Handled", unit="Furlongs", value=1)


def test_enabled_metrics_print_one_emf_blob_per_invocation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    invocations = 5
    for event in range(invocations):
        _handler(event, None)
        assert metrics.provider.metric_set == {}

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(blobs) == invocations
    for event, blob in enumerate(blobs):
        assert blob["Handled"] == [1.0]
        assert blob[f"Kind_{event % 3}"] == [1.0]
        assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == metrics.namespace
        assert blob["service"] == metrics.service


def test_a_dimensioned_metric_is_printed_at_once_on_its_own_with_the_service_dimension(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics.add_metric(name="Handled", unit=MetricUnit.Count, value=1)

    add_dimensioned_metric("Refused", MetricUnit.Count, 1, {"reason": "signature"})

    (blob,) = emf_blobs(capsys.readouterr().out)
    assert dimensions_of(blob) == {"service": metrics.service, "reason": "signature"}
    assert metric_names(blob) == {"Refused"} and blob["Refused"] == [1.0]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == metrics.namespace
    # The invocation's shared metrics keep only the service dimension.
    assert "reason" not in flushed(capsys)


def test_a_disabled_dimensioned_metric_prints_nothing_but_is_still_validated(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    add_dimensioned_metric("Refused", MetricUnit.Count, 1, {"reason": "signature"})
    assert capsys.readouterr().out == ""
    with pytest.raises(MetricUnitError):
        add_dimensioned_metric("Refused", "Furlongs", 1, {"reason": "signature"})  # type: ignore[arg-type]


def test_metrics_added_from_many_threads_are_all_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)

    def add_some() -> None:
        for _ in range(20):
            metrics.add_metric(name="Threaded", unit=MetricUnit.Count, value=1)

    threads = [threading.Thread(target=add_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(metrics.provider.metric_set["Threaded"]["Value"]) == 80


# --------------------------------------------------------------------------------------------------
# Log keys are kept per invocation (the local stack runs several invocations at once in one process)
# --------------------------------------------------------------------------------------------------


class Lines(logging.Handler):
    """Every line the service's logger writes, formatted as Powertools formats it (in the logging thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logger.registered_formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    recorder = Lines()
    logger._logger.addHandler(recorder)
    try:
        yield recorder
    finally:
        logger._logger.removeHandler(recorder)


def test_two_concurrent_invocations_never_see_each_others_listing(lines: Lines) -> None:
    both_keyed = threading.Barrier(2)

    @per_invocation
    def handler(event: str, context: Any) -> None:
        log_keys(listing_id=event)
        both_keyed.wait(timeout=10)  # each has set its listing before either logs
        for n in range(50):
            logger.info("working", extra={"step": n, "expected": event})

    threads = [
        threading.Thread(target=handler, args=(listing, FakeLambdaContext(aws_request_id=f"req-{listing}")))
        for listing in ("L-A", "L-B")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    working = [line for line in lines.lines if line["message"] == "working"]
    assert len(working) == 100
    assert all(line["listing_id"] == line["expected"] for line in working)
    assert all(line["function_request_id"] == f"req-{line['expected']}" for line in working)


def test_an_invocation_starts_without_the_previous_ones_keys(lines: Lines) -> None:
    @per_invocation
    def handler(event: str | None, context: Any) -> None:
        if event is not None:
            log_keys(listing_id=event)
        logger.info("done")

    handler("L-A", FakeLambdaContext())
    handler(None, FakeLambdaContext())

    first, second = lines.lines
    assert first["listing_id"] == "L-A" and first["cold_start"] is True
    assert "listing_id" not in second and second["cold_start"] is False
