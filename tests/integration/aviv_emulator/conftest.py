"""Each test gets its own emulator (port 0) and shares one media server (reset per test). Waiting on
asynchronous processing goes through ``wait_idle()`` or ``wait_for_status()``, never sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer
from tests.integration.aviv_emulator.support import Api, WebhookReceiver


@pytest.fixture
def media(media_server: MediaServer) -> MediaServer:
    media_server.reset()
    return media_server


@pytest.fixture
def emulator() -> Iterator[AvivEmulator]:
    """A fresh emulator per test (these tests exercise it, so none may see another's state)."""
    with AvivEmulator() as emu:
        yield emu


@pytest.fixture
def api(emulator: AvivEmulator) -> Api:
    return Api(emulator)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.close()
