"""The stack's resources as the layer's own adapters, on explicit clients (a profile, or moto's endpoint).

The CLI reads and writes exactly what the functions do, through the same stores: nothing here
knows an item layout. Secrets are read with the CLI's own Secrets Manager client (not the
functions' cached Powertools provider), and AVIV gets a token of its own, kept in memory.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from vitrine.adapters.aviv.client import AvivClient
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.secrets import AvivCredentials, parse_aviv_credentials, parse_webhook_secrets
from vitrine.adapters.sns_notifier import SnsNotifier
from vitrine.adapters.sqs_scheduler import SqsSyncScheduler
from vitrine.adapters.status_store import StatusStore
from vitrine.adapters.token_cache import MemoryTokenCache
from vitrine.settings import build_user_agent
from vitrine_cli import __version__
from vitrine_cli.errors import Unreachable
from vitrine_cli.target import SecretSource, Target, local_target, stack_target

# Fail fast when an endpoint does not answer: an operator is waiting.
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
_MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _region(explicit: str | None) -> str | None:
    return explicit or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def connect(stack: str | None, profile: str | None, region: str | None) -> Connection:
    """``--stack`` (with ``--profile``/``--region`` or AWS_PROFILE/AWS_REGION), else ``make local``."""
    if stack is None:
        if profile or region:
            raise Unreachable("--profile and --region go with --stack (make local needs neither)")
        target = local_target()
        session = boto3.session.Session(**_MOTO_CREDENTIALS, region_name=target.region)
        return Connection(target, session)
    session = boto3.session.Session(profile_name=profile, region_name=_region(region))
    if not session.region_name:
        raise Unreachable("no AWS region: pass --region or set AWS_REGION (or the profile's region)")
    cloudformation = session.client("cloudformation", config=_CLIENT_CONFIG)
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    target = stack_target(stack, stacks[0], profile=profile, region=session.region_name)
    return Connection(target, session)


class Connection:
    """Clients and adapters of one :class:`Target`, made on first use."""

    def __init__(self, target: Target, session: Any) -> None:
        self.target = target
        self._session = session

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.target.endpoint_url, config=_CLIENT_CONFIG)

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def store(self) -> DynamoStateStore:
        return DynamoStateStore(self.target.state_table, self.dynamodb)

    @cached_property
    def statuses(self) -> StatusStore:
        return StatusStore(self.target.state_table, self.dynamodb)

    @cached_property
    def scheduler(self) -> SqsSyncScheduler:
        return SqsSyncScheduler(self.target.sync_queue_url, self.sqs)

    @cached_property
    def notifier(self) -> SnsNotifier:
        return SnsNotifier(self.target.topic_arn, self.client("sns"))

    @cached_property
    def aviv(self) -> AvivClient:
        target = self.target
        config = AvivClientConfig(
            api_url=target.aviv_api_url,
            auth_url=target.aviv_auth_url,
            audience=target.aviv_api_url,
            user_agent=build_user_agent("vitrine-cli", __version__),
            default_intermediary_id=target.aviv_intermediary_id,
        )
        credentials = self.aviv_credentials()
        return AvivClient(config, lambda: credentials, MemoryTokenCache())

    def aviv_credentials(self) -> AvivCredentials:
        source = self.target.aviv_credentials
        try:
            value = json.loads(self.read_secret(source))
        except ValueError:
            raise Unreachable(f"secret {source} is not JSON with client_id/client_secret") from None
        return parse_aviv_credentials(value, str(source))

    def webhook_secret(self) -> str:
        """The secret that signs (the first, while one is rotated)."""
        source = self.target.webhook_secret
        return parse_webhook_secrets(self.read_secret(source), str(source))[0]

    def owner_page_secret(self) -> bytes:
        """The owner page's signing secret (the first, while one is rotated), as the bytes HMAC uses."""
        source = self.target.owner_page_secret
        if source is None:
            raise Unreachable(f"{self.target.label} has no owner page secret (output OwnerPageSecretArn)")
        return parse_webhook_secrets(self.read_secret(source), str(source))[0].encode("utf-8")

    def read_secret(self, source: SecretSource) -> str:
        if source.file is not None and source.file.is_file():
            return source.file.read_text(encoding="utf-8").strip()
        if source.arn:
            answer = self.client("secretsmanager").get_secret_value(SecretId=source.arn)
            return str(answer.get("SecretString") or "")
        raise Unreachable(f"no secret at {source}: is `make local` running?")
