"""``make secrets ENV=…``: fill a deployed stack's webhook and AVIV secrets.

The stack name and region come from ``samconfig.toml`` (``[ENV.deploy.parameters]``), the secrets'
ARNs from the stack's outputs, the values from the environment or, on a terminal, from hidden
prompts. Values are never taken as arguments (shell history) nor printed. An empty answer, or a
variable missing without a terminal, leaves that secret as it is.

    VITRINE_WEBHOOK_SECRETS   one or more ``whsec_…``, separated by spaces or commas
    AVIV_CLIENT_ID            AVIV OAuth client id
    AVIV_CLIENT_SECRET        AVIV OAuth client secret

``--keep-existing`` adds the webhook secrets to those already stored: the first step of a rotation
with overlap (docs/operations.md).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import json
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

SAMCONFIG = Path(__file__).resolve().parent.parent / "samconfig.toml"
WEBHOOK_OUTPUT = "WebhookSecretArn"
AVIV_OUTPUT = "AvivCredentialsSecretArn"
WEBHOOK_PREFIX = "whsec_"

Prompt = Callable[[str], str]


class SecretsError(Exception):
    """A problem the operator can fix (unknown environment, missing output, malformed value)."""


@dataclass(frozen=True)
class StackTarget:
    stack_name: str
    region: str | None


@dataclass(frozen=True)
class AvivCredentials:
    client_id: str
    client_secret: str


def stack_target(environment: str, samconfig: Path = SAMCONFIG) -> StackTarget:
    """The stack name and region ``sam deploy --config-env ENVIRONMENT`` deploys to."""
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    try:
        deploy = config[environment]["deploy"]["parameters"]
    except KeyError:
        raise SecretsError(f"samconfig.toml has no [{environment}.deploy.parameters]") from None
    region = deploy.get("region") or config.get("default", {}).get("global", {}).get("parameters", {}).get(
        "region"
    )
    return StackTarget(stack_name=deploy["stack_name"], region=region)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def parse_webhook_secrets(text: str) -> list[str]:
    """``whsec_<base64>`` entries separated by spaces or commas; anything else is refused."""
    secrets = [part for part in re.split(r"[\s,]+", text.strip()) if part]
    for position, secret in enumerate(secrets, start=1):
        if not secret.startswith(WEBHOOK_PREFIX):
            raise SecretsError(f"webhook secret #{position} does not start with {WEBHOOK_PREFIX}")
        try:
            key = base64.b64decode(secret[len(WEBHOOK_PREFIX) :], validate=True)
        except binascii.Error:
            raise SecretsError(f"webhook secret #{position} is not {WEBHOOK_PREFIX}<base64>") from None
        if not key:
            raise SecretsError(f"webhook secret #{position} is empty")
    return secrets


def stored_webhook_secrets(secretsmanager: Any, arn: str) -> list[str]:
    """The list in ``{"secrets": [...]}`` (what the template creates and ingest reads)."""
    raw = secretsmanager.get_secret_value(SecretId=arn)["SecretString"]
    value = json.loads(raw) if raw.strip() else {}
    stored = value.get("secrets", []) if isinstance(value, dict) else value
    return [s for s in stored if isinstance(s, str)]


def put_webhook_secrets(secretsmanager: Any, arn: str, secrets: list[str], *, keep_existing: bool) -> int:
    """Store the list (new ones first, no repeats); returns how many secrets are now active."""
    combined = list(secrets)
    if keep_existing:
        combined += [s for s in stored_webhook_secrets(secretsmanager, arn) if s not in combined]
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"secrets": combined}))
    return len(combined)


def put_aviv_credentials(secretsmanager: Any, arn: str, credentials: AvivCredentials) -> None:
    value = {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps(value))


def _value(environ: Mapping[str, str], name: str, question: str, prompt: Prompt | None) -> str:
    """The variable, else the answer to a hidden prompt (no terminal: empty)."""
    value = environ.get(name, "").strip()
    if not value and prompt is not None:
        value = prompt(question).strip()
    return value


def webhook_secrets_to_put(environ: Mapping[str, str], prompt: Prompt | None) -> list[str]:
    question = "CRM webhook secret(s), whsec_… (empty: keep): "
    text = _value(environ, "VITRINE_WEBHOOK_SECRETS", question, prompt)
    return parse_webhook_secrets(text) if text else []


def aviv_credentials_to_put(environ: Mapping[str, str], prompt: Prompt | None) -> AvivCredentials | None:
    client_id = _value(environ, "AVIV_CLIENT_ID", "AVIV client id (empty: keep): ", prompt)
    if not client_id:
        return None
    client_secret = _value(environ, "AVIV_CLIENT_SECRET", "AVIV client secret: ", prompt)
    if not client_secret:
        raise SecretsError("an AVIV client id needs its client secret (AVIV_CLIENT_SECRET)")
    return AvivCredentials(client_id, client_secret)


def _output(outputs: Mapping[str, str], key: str, stack_name: str) -> str:
    if key not in outputs:
        raise SecretsError(f"stack {stack_name} has no {key} output: is it a vitrine stack, deployed?")
    return outputs[key]


def fill_secrets(
    args: argparse.Namespace,
    outputs: Mapping[str, str],
    secretsmanager: Any,
    environ: Mapping[str, str],
    prompt: Prompt | None,
) -> list[str]:
    """Put what was given; returns one line per secret saying what happened (no values)."""
    report = []
    if not args.skip_webhook:
        arn = _output(outputs, WEBHOOK_OUTPUT, args.stack)
        secrets = webhook_secrets_to_put(environ, prompt)
        if secrets:
            active = put_webhook_secrets(secretsmanager, arn, secrets, keep_existing=args.keep_existing)
            report.append(f"webhook secret: {active} active ({len(secrets)} given) in {arn}")
        else:
            report.append("webhook secret: unchanged")
    if not args.skip_aviv:
        arn = _output(outputs, AVIV_OUTPUT, args.stack)
        credentials = aviv_credentials_to_put(environ, prompt)
        if credentials:
            put_aviv_credentials(secretsmanager, arn, credentials)
            report.append(f"AVIV credentials: client {credentials.client_id} in {arn}")
        else:
            report.append("AVIV credentials: unchanged")
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.put_secrets", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="sandbox", help="samconfig.toml environment (default sandbox)")
    parser.add_argument("--stack", help="stack name (default: the environment's in samconfig.toml)")
    parser.add_argument("--region", help="AWS region (default: the environment's in samconfig.toml)")
    parser.add_argument("--keep-existing", action="store_true", help="add webhook secrets to the stored ones")
    parser.add_argument("--skip-webhook", action="store_true", help="leave the webhook secret alone")
    parser.add_argument("--skip-aviv", action="store_true", help="leave the AVIV credentials alone")
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
    session: Any = None,
) -> int:
    args = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    if prompt is None and sys.stdin.isatty():
        prompt = getpass.getpass
    try:
        target = stack_target(args.env)
        args.stack = args.stack or target.stack_name
        session = session or boto3.session.Session(region_name=args.region or target.region)
        outputs = stack_outputs(session.client("cloudformation"), args.stack)
        lines = fill_secrets(args, outputs, session.client("secretsmanager"), environ, prompt)
    except SecretsError as exc:
        print(f"make secrets: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"make secrets: AWS refused: {exc}", file=sys.stderr)
        return 1
    print(f"stack {args.stack}:")
    for line in lines:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
