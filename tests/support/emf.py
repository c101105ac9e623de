"""Reading what Powertools printed: CloudWatch EMF blobs among stdout lines, and a fixture to see them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from vitrine.observability import metrics


def emf_blobs(stdout: str) -> list[dict[str, Any]]:
    """Every EMF document printed (log lines and other output are skipped)."""
    blobs = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def dimensions_of(blob: dict[str, Any]) -> dict[str, str]:
    """The blob's dimension names and their values."""
    (names,) = blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    return {name: blob[name] for name in names}


def metric_names(blob: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def single_metrics(stdout: str, name: str) -> list[dict[str, str]]:
    """The dimensions of every blob holding only ``name`` (what ``add_dimensioned_metric`` prints)."""
    return [dimensions_of(b) for b in emf_blobs(stdout) if metric_names(b) == {name}]


def flushed(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Flush the shared metric set as a handler's end would; its one EMF blob (asserts there is one)."""
    capsys.readouterr()
    metrics.flush_metrics()
    (blob,) = emf_blobs(capsys.readouterr().out)
    return blob


def emf_enabled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Metrics printed as when deployed, starting and ending with an empty process-wide set; a test
    module's fixture delegates to it (``yield from emf_enabled(monkeypatch)``)."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
