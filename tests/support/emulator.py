"""The real AvivClient pointed at a running AVIV emulator, as the sync and reconcile tests use it."""

from __future__ import annotations

from devtools.aviv_emulator.emulator import AvivEmulator
from vitrine.adapters.aviv.client import AvivClient
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.secrets import AvivCredentials
from vitrine.adapters.token_cache import MemoryTokenCache

USER_AGENT = "vitrine/0.1.0 python-requests/2.34.2 linux/6.1"


def emulator_client(emulator: AvivEmulator) -> AvivClient:
    """A client with its own token cache (one Lambda instance) and tiny retry backoffs (fast tests)."""
    config = AvivClientConfig(
        api_url=emulator.base_url,
        auth_url=emulator.auth_url,
        audience=emulator.base_url,
        user_agent=USER_AGENT,
        default_intermediary_id="agency-test",
        read_timeout=5.0,
        backoff_base=0.01,
        backoff_cap=0.05,
    )
    return AvivClient(
        config,
        lambda: AvivCredentials(emulator.client_id, emulator.client_secret),
        MemoryTokenCache(),
    )
