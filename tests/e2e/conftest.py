"""End-to-end fixtures: a whole vitrine (moto server, AVIV emulator, real handlers) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.local_stack.stack import LocalStack
from tests.e2e.support import Stack


def start_stack(monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> LocalStack:
    # Retries back off 1 s, 2 s, … instead of 10 s, 20 s, … so failure paths finish quickly.
    monkeypatch.setenv("VITRINE_SYNC_RETRY_BASE_SECONDS", "1")
    settings: dict[str, Any] = {
        "debounce_seconds": 1,
        "max_delay_seconds": 30,
        "reconcile_seconds": 3600,  # the reconcile run is fired explicitly by the tests that need it
    }
    settings.update(overrides)
    local = LocalStack(**settings)
    local.start()
    return local


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    local = start_stack(monkeypatch)
    try:
        yield Stack(local)
    finally:
        local.stop()
