"""``make subscribe``: ask AVIV to push classified statuses to the deployed stack (``PUT /webhooks``).

AVIV then POSTs each status to ``<push URL>/classifieds/{classifiedId}/statuses``; the push URL is
``<API base>/aviv/<token>``, the token being the stack's ``AvivPushTokenSecret`` (AVIV signs nothing,
so the secret path segment is what proves a push is AVIV's). Only the subscribable statuses are
asked for: AVIV cannot push ``*_WITH_MEDIA_ERROR``, which the reconcile schedule keeps polling.

Everything is read from the CloudFormation stack unless given:

    python -m devtools.subscribe --stack-name vitrine                 # subscribe
    python -m devtools.subscribe --stack-name vitrine --dry-run       # show what would be sent
    python -m devtools.subscribe --api-url https://x.execute-api.eu-west-3.amazonaws.com/v1 \\
        --token "$TOKEN" --aviv-api-url https://api.aviv-group.com/sandbox/caas/v4
    python -m devtools.subscribe --stack-name vitrine --unsubscribe   # DELETE /webhooks

AVIV credentials come from the stack's credentials secret (or ``AVIV_CLIENT_ID``/``AVIV_CLIENT_SECRET``);
one subscription exists per intermediary (``--intermediary-id``, default the stack's).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from vitrine.adapters.aviv.client import SUBSCRIBABLE_STATUSES, AvivClient
from vitrine.adapters.aviv.wiring import build_aviv_client
from vitrine.settings import AVIV_PRODUCTION_URL, AVIV_SANDBOX_URL, Settings

WEBHOOK_SUFFIX = "/webhooks/listings"
PUSH_SEGMENT = "/aviv/"


@dataclass(frozen=True)
class StackFacts:
    """What ``make subscribe`` needs from the deployed stack."""

    api_base_url: str | None = None
    push_token: str | None = None
    aviv_secret_arn: str | None = None
    token_table: str | None = None
    aviv_api_url: str | None = None
    intermediary_id: str | None = None


def push_url(api_base_url: str, token: str) -> str:
    """The URL AVIV is given; it appends ``/classifieds/{classifiedId}/statuses`` itself."""
    if not token or "/" in token:
        raise ValueError("the push token must be a non-empty path segment")
    return api_base_url.rstrip("/") + PUSH_SEGMENT + token


def api_base_from_webhook_url(webhook_url: str) -> str:
    """The stack's ``WebhookUrl`` output is ``<API base>/webhooks/listings``."""
    if not webhook_url.endswith(WEBHOOK_SUFFIX):
        raise ValueError(f"unexpected WebhookUrl {webhook_url!r} (expected …{WEBHOOK_SUFFIX})")
    return webhook_url[: -len(WEBHOOK_SUFFIX)]


def read_stack(stack_name: str, cloudformation: Any, secretsmanager: Any) -> StackFacts:
    """Outputs, physical resources and the push token of a deployed vitrine stack."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    resources: dict[str, str] = {}
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            resources[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    token_secret = resources.get("AvivPushTokenSecret")
    token = secretsmanager.get_secret_value(SecretId=token_secret)["SecretString"] if token_secret else None
    environment = parameters.get("Environment", "sandbox")
    return StackFacts(
        api_base_url=api_base_from_webhook_url(outputs["WebhookUrl"]) if "WebhookUrl" in outputs else None,
        push_token=token.strip() if token else None,
        aviv_secret_arn=parameters.get("AvivCredentialsSecretArn") or resources.get("AvivCredentialsSecret"),
        token_table=resources.get("TokenTable"),
        aviv_api_url=AVIV_PRODUCTION_URL if environment == "production" else AVIV_SANDBOX_URL,
        intermediary_id=parameters.get("DefaultIntermediaryId") or None,
    )


def _settings(facts: StackFacts, args: argparse.Namespace) -> Settings:
    """Settings for the AVIV client: the environment's, completed from the arguments and the stack."""
    settings = Settings.from_env()
    api_url = args.aviv_api_url or (None if os.environ.get("AVIV_API_URL") else facts.aviv_api_url)
    if api_url:
        api_url = api_url.rstrip("/")
        audience = os.environ.get("AVIV_AUDIENCE") or api_url
        settings = replace(settings, aviv_api_url=api_url, aviv_audience=audience)
    if facts.aviv_secret_arn and not os.environ.get("VITRINE_AVIV_SECRET_ARN"):
        settings = replace(settings, aviv_secret_arn=facts.aviv_secret_arn)
    if facts.token_table and not os.environ.get("VITRINE_TOKEN_TABLE"):
        settings = replace(settings, token_table=facts.token_table)
    intermediary = args.intermediary_id or settings.default_intermediary_id or facts.intermediary_id
    return replace(settings, default_intermediary_id=intermediary)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.subscribe", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=os.environ.get("VITRINE_STACK_NAME", "vitrine"))
    parser.add_argument("--region", default=None, help="AWS region of the stack (default: your AWS config)")
    parser.add_argument("--api-url", help="API base URL incl. stage, e.g. https://id.execute-api.…/v1")
    parser.add_argument("--token", help="the push token (default: the stack's AvivPushTokenSecret)")
    parser.add_argument("--aviv-api-url", help="AVIV base URL (default: from the stack's Environment)")
    parser.add_argument("--intermediary-id", help="agency whose classifieds' statuses are pushed")
    parser.add_argument(
        "--statuses",
        nargs="+",
        default=sorted(SUBSCRIBABLE_STATUSES),
        help="statuses to push (default: every subscribable one)",
    )
    parser.add_argument("--unsubscribe", action="store_true", help="DELETE /webhooks instead")
    parser.add_argument("--dry-run", action="store_true", help="print the request, send nothing")
    return parser


def _stack_facts(args: argparse.Namespace, parser: argparse.ArgumentParser) -> StackFacts:
    """The deployed stack's facts, read only when the arguments leave the URL or the credentials open."""
    needs_credentials = not args.dry_run and not os.environ.get("AVIV_CLIENT_ID")
    if args.api_url and args.token and not needs_credentials:
        return StackFacts()
    try:
        session = boto3.session.Session(region_name=args.region)
        return read_stack(args.stack_name, session.client("cloudformation"), session.client("secretsmanager"))
    except (BotoCoreError, ClientError, KeyError, ValueError) as exc:
        parser.error(f"cannot read stack {args.stack_name!r}: {exc}")


def _send(client: AvivClient, args: argparse.Namespace, url: str, shown: str) -> None:
    """Subscribe (or unsubscribe) through the AVIV client, and say what AVIV will now do."""
    if args.unsubscribe:
        client.unsubscribe_status_webhook(intermediary_id=args.intermediary_id)
        print("AVIV status pushes unsubscribed")
        return
    client.subscribe_status_webhook(url, args.statuses, intermediary_id=args.intermediary_id)
    print(f"AVIV will push {len(args.statuses)} statuses to {shown}/classifieds/{{classifiedId}}/statuses")
    print("(*_WITH_MEDIA_ERROR cannot be pushed: the reconcile schedule keeps polling for them)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    facts = _stack_facts(args, parser)
    api_base = args.api_url or facts.api_base_url
    token = args.token or facts.push_token
    if not api_base or not token:
        parser.error("cannot tell the push URL: give --api-url and --token, or a deployed --stack-name")
    url = push_url(api_base, token)
    shown = push_url(api_base, token[:4] + "…")

    unknown = sorted(set(args.statuses) - SUBSCRIBABLE_STATUSES)
    if unknown:
        parser.error(f"AVIV cannot push {unknown}; subscribable: {sorted(SUBSCRIBABLE_STATUSES)}")
    if args.dry_run:
        action = (
            "DELETE /webhooks" if args.unsubscribe else f"PUT /webhooks url={shown} statuses={args.statuses}"
        )
        print(f"would send: {action}")
        return 0
    _send(build_aviv_client(_settings(facts, args)), args, url, shown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
