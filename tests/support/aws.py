"""Shared moto helpers: fake credentials in region eu-west-3, tables made from template.yaml.

Usage::

    @pytest.fixture
    def aws() -> Iterator[None]:
        with mocked_aws():
            yield

    def test_x(aws):
        tables = make_tables()          # {"StateTable": "vitrine-StateTable", "TokenTable": ...}
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from devtools.template import create_tables

REGION = "eu-west-3"

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# Anything that could point boto3 at a real account or endpoint.
_REMOVED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE")  # fmt: skip


@contextmanager
def aws_env(region: str = REGION) -> Iterator[None]:
    """Fake credentials and ``region`` in os.environ for the duration; the previous values come back."""
    saved = {name: os.environ.get(name) for name in (*_FAKE_ENV, *_REMOVED_ENV)}
    try:
        for name in _REMOVED_ENV:
            os.environ.pop(name, None)
        os.environ.update(_FAKE_ENV)
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = region
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def mocked_aws(region: str = REGION) -> Iterator[None]:
    """``aws_env`` + moto's ``mock_aws``, with Powertools' parameter cache emptied on both sides
    (its provider holds a boto3 client and cached secret values across tests)."""
    with aws_env(region), mock_aws():
        parameters.clear_caches()
        try:
            yield
        finally:
            parameters.clear_caches()


def dynamodb_client(region: str = REGION) -> Any:
    return boto3.client("dynamodb", region_name=region)


def make_tables(prefix: str = "vitrine-", region: str = REGION) -> dict[str, str]:
    """Every DynamoDB table of template.yaml (inside ``mocked_aws``); logical id -> table name."""
    return create_tables(dynamodb_client(region), prefix=prefix)


class RecordingClient:
    """A boto3 client that remembers the operations called on it (to prove, e.g., that no Scan happens)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self._client, name)
