"""AVIV's OAuth2 client-credentials token: asked for with AVIV's JSON body, read back as an IssuedToken.

The caller caches and shares it (``token_cache``) and refreshes it once on a 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from aws_lambda_powertools import Logger

from vitrine.adapters.aviv.answers import encode_json, json_of
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.aviv.transport import AvivTransport, new_trace_id
from vitrine.adapters.secrets import AvivCredentials
from vitrine.core.errors import AvivProblem, AvivRetryable, AvivUnauthorized
from vitrine.core.tokens import IssuedToken, TokenKey

logger = Logger(service="vitrine", child=True)

# Used when the token endpoint omits expires_in: short enough to be safe, long enough to be cached.
_DEFAULT_TOKEN_LIFETIME_SECONDS = 3600


def fetch_token(
    transport: AvivTransport,
    config: AvivClientConfig,
    credentials: AvivCredentials,
    key: TokenKey,
    clock: Callable[[], float],
) -> IssuedToken:
    """POST auth_url with AVIV's JSON client-credentials body."""
    payload: dict[str, Any] = {
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "grant_type": "client_credentials",
        "audience": key.audience,
    }
    if key.intermediary_id is not None:
        payload["intermediary_id"] = key.intermediary_id
    asked_at = clock()
    path = urlsplit(config.auth_url).path or "/"
    response, sent = transport.send(
        "POST", config.auth_url, path, None, encode_json(payload), None, None, new_trace_id(),
        operation="token",
    )  # fmt: skip
    if 400 <= response.status_code < 500:
        transport.observer.refused("token", response.status_code)
    answer = _token_answer(response, sent)
    expires_in = _positive_number(answer.get("expires_in")) or _DEFAULT_TOKEN_LIFETIME_SECONDS
    token = IssuedToken.issue(
        answer["access_token"],
        expires_in,
        now=asked_at,
        refresh_margin=config.refresh_margin_seconds,
        token_type=str(answer.get("token_type") or "Bearer"),
    )
    logger.info(
        "aviv token issued",
        extra={
            "token_fingerprint": token.fingerprint,
            "expires_in": expires_in,
            "intermediary_id": key.intermediary_id,
        },
    )
    return token


def _token_answer(response: requests.Response, sent: str) -> dict[str, Any]:
    """The token endpoint's JSON answer, which holds an ``access_token``; a refusal or a bad answer raises."""
    if response.status_code >= 400:
        problem = AvivProblem.from_response(response.status_code, json_of(response))
        raise AvivUnauthorized(
            f"AVIV token endpoint refused: {response.status_code} {problem.title}".rstrip(),
            problem,
            response.headers.get("traceparent") or sent,
        )
    answer = json_of(response)
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("access_token"), str)
        or not answer["access_token"]
    ):
        raise AvivRetryable(
            f"AVIV token endpoint answered {response.status_code} without an access_token",
            traceparent=response.headers.get("traceparent") or sent,
        )
    return answer


def _positive_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
