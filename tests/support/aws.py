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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from devtools.fake_aws import REGION, aws_env
from devtools.template import create_tables

__all__ = ["REGION", "RecordingClient", "aws_env", "dynamodb_client", "make_tables", "mocked_aws"]


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
