"""Secrets from AWS Secrets Manager (and the API's public URL from SSM Parameter Store) through
Powertools Parameters (cached ``max_age`` seconds).

Reading through the Powertools cache means a warm instance hits Secrets Manager at most once
per ``max_age`` and still picks up a rotation without a redeploy. Error messages name the
secret and what is wrong with its shape, never its value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

from vitrine.settings import SettingsError

DEFAULT_MAX_AGE_SECONDS = 300


class SecretError(SettingsError):
    """A secret exists but is empty or malformed: refuse to run rather than call AVIV with garbage."""


@dataclass(frozen=True, slots=True)
class AvivCredentials:
    """AVIV OAuth client credentials. The secret stays out of reprs (and so out of logs)."""

    client_id: str
    client_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise SecretError("AVIV credentials need a non-empty client_id and client_secret")


def aviv_credentials_from_secret(secret_arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> AvivCredentials:
    """``{"client_id": ..., "client_secret": ...}`` (camelCase ``clientId``/``clientSecret`` accepted)."""
    try:
        value: Any = parameters.get_secret(secret_arn, transform="json", max_age=max_age)
    except TransformParameterError:
        raise SecretError(f"secret {secret_arn} is not a JSON object with client_id/client_secret") from None
    return parse_aviv_credentials(value, secret_arn)


def parse_aviv_credentials(value: Any, secret_arn: str) -> AvivCredentials:
    """The credentials in a parsed secret value (also what the ``vitrine`` CLI reads with its own client)."""
    if not isinstance(value, dict):
        raise SecretError(f"secret {secret_arn} is not a JSON object with client_id/client_secret")
    client_id = _first_string(value, "client_id", "clientId")
    client_secret = _first_string(value, "client_secret", "clientSecret")
    if not client_id or not client_secret:
        raise SecretError(f"secret {secret_arn} lacks a non-empty client_id or client_secret")
    return AvivCredentials(client_id=client_id, client_secret=client_secret)


def webhook_secrets(secret_arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> list[str]:
    """CRM webhook signing secrets (several while one is being rotated), in the stored order."""
    return secret_list(secret_arn, max_age)


def owner_page_secrets(secret_arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> list[bytes]:
    """Owner status page signing keys (the first signs, any verifies), in the stored order."""
    return [secret.encode("utf-8") for secret in secret_list(secret_arn, max_age)]


def secret_list(secret_arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> list[str]:
    """A list of secrets kept for rotation (the first is the newest), in the stored order.

    Accepted shapes: ``{"secrets": ["a", "b"]}``, ``["a", "b"]``, or a plain string ``"a b"``
    (whitespace- or comma-separated; what a generated secret is).
    """
    return parse_webhook_secrets(_secret_string(secret_arn, max_age), secret_arn)


def parse_webhook_secrets(raw: str, secret_arn: str) -> list[str]:
    """The secrets in a secret's string, in the stored order (the shapes :func:`webhook_secrets` accepts).

    The owner page's secret takes the same shapes (several while one is rotated; the first signs).
    """
    parsed = _maybe_json(raw, secret_arn)
    candidates: Any
    if isinstance(parsed, dict):
        candidates = parsed.get("secrets")
        if isinstance(candidates, str):
            candidates = candidates.replace(",", " ").split()
    elif isinstance(parsed, list):
        candidates = parsed
    elif parsed is None:
        candidates = raw.replace(",", " ").split()
    else:
        candidates = None
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        raise SecretError(f'secret {secret_arn} must be {{"secrets": [...]}}, a JSON list or a plain string')
    secrets = [c.strip() for c in candidates if c.strip()]
    if not secrets:
        raise SecretError(f"secret {secret_arn} holds no secret")
    return secrets


def public_base_url(parameter_name: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> str:
    """The API's public base URL from its SSM parameter (``https://…/v1``, no trailing slash)."""
    value: Any = parameters.get_parameter(parameter_name, max_age=max_age)
    url = value.strip().rstrip("/") if isinstance(value, str) else ""
    if not url.startswith(("https://", "http://")):
        raise SecretError(f"parameter {parameter_name} is not an http(s) URL")
    return url


def push_token(secret_arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> str:
    """The shared token AVIV's status pushes must carry: a plain string or ``{"token": ...}``."""
    raw = _secret_string(secret_arn, max_age)
    parsed = _maybe_json(raw, secret_arn)
    token: Any
    if parsed is None:
        token = raw.strip()
    elif isinstance(parsed, dict):
        token = parsed.get("token")
    else:
        token = None
    if not isinstance(token, str) or not token.strip():
        raise SecretError(f'secret {secret_arn} must be a non-empty string or {{"token": "..."}}')
    return token.strip()


def _secret_string(secret_arn: str, max_age: int) -> str:
    value: Any = parameters.get_secret(secret_arn, max_age=max_age)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="strict")
    if not isinstance(value, str) or not value.strip():
        raise SecretError(f"secret {secret_arn} is empty")
    return value


def _maybe_json(raw: str, secret_arn: str) -> Any:
    """Parsed JSON when the string looks like a JSON object or list; None for a plain string."""
    text = raw.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise SecretError(f"secret {secret_arn} looks like JSON but does not parse") from None


def _first_string(value: dict[str, Any], *names: str) -> str:
    for name in names:
        candidate = value.get(name)
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return ""
