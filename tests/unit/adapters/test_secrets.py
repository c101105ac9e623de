"""Secrets read through Powertools Parameters from (moto) Secrets Manager."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from tests.support.aws import REGION, mocked_aws
from vitrine.adapters.secrets import (
    AvivCredentials,
    SecretError,
    aviv_credentials_from_secret,
    owner_page_secrets,
    public_base_url,
    push_token,
    webhook_secrets,
)
from vitrine.settings import SettingsError

CLIENT_SECRET = "very-secret-value"


@pytest.fixture(scope="module")
def secretsmanager() -> Iterator[Any]:
    """One moto account for the module (Powertools' client is built once); names are unique per test."""
    with mocked_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def make_secret(secretsmanager: Any) -> Callable[[str], str]:
    """Creates a secret with the given string and returns its ARN."""

    def make(value: str) -> str:
        arn: str = secretsmanager.create_secret(Name=f"vitrine-test-{next(_names)}", SecretString=value)[
            "ARN"
        ]
        return arn

    return make


_names = itertools.count()


def update_secret(arn: str, value: str) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId=arn, SecretString=value)


# -- AVIV credentials -----------------------------------------------------------------------


def test_credentials_from_json_secret(make_secret: Callable[[str], str]) -> None:
    arn = make_secret(json.dumps({"client_id": "vitrine-client", "client_secret": CLIENT_SECRET}))
    credentials = aviv_credentials_from_secret(arn)
    assert credentials == AvivCredentials("vitrine-client", CLIENT_SECRET)
    assert CLIENT_SECRET not in repr(credentials) and CLIENT_SECRET not in str(credentials)


def test_credentials_accept_camel_case_keys(make_secret: Callable[[str], str]) -> None:
    arn = make_secret(json.dumps({"clientId": "vitrine-client", "clientSecret": CLIENT_SECRET}))
    assert aviv_credentials_from_secret(arn).client_secret == CLIENT_SECRET


def test_credentials_are_cached_for_max_age_then_reread(make_secret: Callable[[str], str]) -> None:
    cached, uncached = (make_secret('{"client_id": "old", "client_secret": "s1"}') for _ in range(2))
    assert aviv_credentials_from_secret(cached).client_id == "old"
    assert aviv_credentials_from_secret(uncached, max_age=0).client_id == "old"
    for arn in (cached, uncached):
        update_secret(arn, '{"client_id": "new", "client_secret": "s2"}')
    assert aviv_credentials_from_secret(cached).client_id == "old"  # within max_age: no Secrets Manager call
    assert aviv_credentials_from_secret(uncached, max_age=0).client_id == "new"


@pytest.mark.parametrize(
    "value",
    [
        "not json " + CLIENT_SECRET,
        '{"client_id": "vitrine-client"}',
        json.dumps({"client_id": "", "client_secret": CLIENT_SECRET}),
        '{"client_id": "vitrine-client", "client_secret": "   "}',
        json.dumps(["vitrine-client", CLIENT_SECRET]),
    ],
)
def test_malformed_credentials_fail_clearly_without_the_value(
    make_secret: Callable[[str], str], value: str
) -> None:
    arn = make_secret(value)
    with pytest.raises(SecretError) as raised:
        aviv_credentials_from_secret(arn)
    assert isinstance(raised.value, SettingsError)
    assert arn in str(raised.value)
    assert CLIENT_SECRET not in str(raised.value)


def test_missing_secret_raises_powertools_error(secretsmanager: Any) -> None:
    with pytest.raises(GetParameterError):
        aviv_credentials_from_secret(f"arn:aws:secretsmanager:{REGION}:123456789012:secret:missing-AbCdEf")


def test_credentials_reject_empty_parts() -> None:
    with pytest.raises(SecretError):
        AvivCredentials("", "x")


# -- webhook secrets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"secrets": ["whsec_a", "whsec_b"]}', ["whsec_a", "whsec_b"]),
        ('["whsec_a", "whsec_b"]', ["whsec_a", "whsec_b"]),
        ("whsec_a whsec_b", ["whsec_a", "whsec_b"]),
        ("whsec_a,whsec_b\n", ["whsec_a", "whsec_b"]),
        ("  whsec_only  ", ["whsec_only"]),
        ('{"secrets": "whsec_a whsec_b"}', ["whsec_a", "whsec_b"]),
    ],
)
def test_webhook_secrets_shapes(make_secret: Callable[[str], str], value: str, expected: list[str]) -> None:
    assert webhook_secrets(make_secret(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        '{"secrets": []}',
        '{"secrets": [1, 2]}',
        '{"other": ["whsec_a"]}',
        "[]",
        '{"secrets": ["whsec_a"',
        "   ",
    ],
)
def test_webhook_secrets_malformed(make_secret: Callable[[str], str], value: str) -> None:
    arn = make_secret(value)
    with pytest.raises(SecretError, match="secret"):
        webhook_secrets(arn)


# -- push token -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("tok-123", "tok-123"), ('{"token": " tok-456 "}', "tok-456")]
)
def test_push_token_shapes(make_secret: Callable[[str], str], value: str, expected: str) -> None:
    assert push_token(make_secret(value)) == expected


@pytest.mark.parametrize("value", ['{"token": ""}', '{"token": 5}', '["tok"]', '{"nope": "tok"}', " "])
def test_push_token_malformed(make_secret: Callable[[str], str], value: Any) -> None:
    arn = make_secret(value)
    with pytest.raises(SecretError):
        push_token(arn)


def test_owner_page_secrets_are_a_list_for_rotation_and_a_generated_string_is_one(
    make_secret: Callable[[str], str],
) -> None:
    assert owner_page_secrets(make_secret("GeneratedPassword48chars")) == [b"GeneratedPassword48chars"]
    assert owner_page_secrets(make_secret('{"secrets": ["new", "old"]}')) == [b"new", b"old"]
    with pytest.raises(SecretError, match="holds no secret"):
        owner_page_secrets(make_secret('{"secrets": []}'))


def test_the_public_base_url_comes_from_its_ssm_parameter_without_trailing_slash(secretsmanager: Any) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/vitrine-test/public-api-url", Value="https://api.example/v1/", Type="String")
    ssm.put_parameter(Name="/vitrine-test/not-a-url", Value="api.example", Type="String")
    assert public_base_url("/vitrine-test/public-api-url") == "https://api.example/v1"
    with pytest.raises(SecretError, match="not an http"):
        public_base_url("/vitrine-test/not-a-url")
