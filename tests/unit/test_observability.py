"""Metrics across invocations: disabled metrics leave nothing behind, enabled ones print EMF once each."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnitError

from tests.support.emf import dimensions_of, emf_blobs, flushed, metric_names
from vitrine.observability import MetricUnit, add_dimensioned_metric, metrics

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
