"""Fixtures shared by the service tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.emf import emf_enabled


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Metrics printed as EMF, as when deployed (``tests.support.emf``)."""
    yield from emf_enabled(monkeypatch)
