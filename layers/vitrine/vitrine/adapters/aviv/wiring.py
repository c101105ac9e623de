"""Production wiring of the AVIV client: credentials and the shared DynamoDB token cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vitrine.adapters.aviv.client import AvivClient
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.secrets import AvivCredentials, aviv_credentials_from_secret
from vitrine.adapters.token_cache import DynamoTokenCache
from vitrine.core.ports import AvivCallObserver
from vitrine.settings import Settings, SettingsError


def build_aviv_client(
    settings: Settings, *, dynamodb_client: Any = None, observer: AvivCallObserver | None = None
) -> AvivClient:
    """Production wiring: credentials from Secrets Manager (or AVIV_CLIENT_ID/SECRET locally) and the
    DynamoDB token cache. Call once per Lambda instance; the functions pass ``AvivCallMetrics`` as
    ``observer``, scripts leave it out (no metrics outside a handler)."""
    credentials: Callable[[], AvivCredentials]
    if settings.aviv_client_id and settings.aviv_client_secret:
        local = AvivCredentials(settings.aviv_client_id, settings.aviv_client_secret)

        def credentials() -> AvivCredentials:
            return local

    elif settings.aviv_secret_arn:
        secret_arn = settings.aviv_secret_arn

        def credentials() -> AvivCredentials:
            return aviv_credentials_from_secret(secret_arn)

    else:
        raise SettingsError("set VITRINE_AVIV_SECRET_ARN (or AVIV_CLIENT_ID and AVIV_CLIENT_SECRET locally)")
    cache = DynamoTokenCache(settings.token_table, dynamodb_client=dynamodb_client)
    return AvivClient(AvivClientConfig.from_settings(settings), credentials, cache, observer=observer)
