"""Integration fixtures: the AVIV emulator and the CRM's media host, one of each per test module.

A module that needs them fresh for every test (``test_aviv_emulator``'s ``emulator``) overrides the
fixture locally; the others call ``reset()`` where a test must start from an empty emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer


@pytest.fixture(scope="module")
def emulator() -> Iterator[AvivEmulator]:
    with AvivEmulator() as running:
        yield running


@pytest.fixture(scope="module")
def media_server() -> Iterator[MediaServer]:
    with MediaServer() as running:
        yield running
