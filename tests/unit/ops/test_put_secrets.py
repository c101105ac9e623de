"""``make secrets``: the stack's outputs name the secrets; values come from the environment or prompts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops.put_secrets import (
    SecretsError,
    main,
    parse_webhook_secrets,
    stack_target,
    stored_webhook_secrets,
)
from tests.support.aws import REGION, mocked_aws

OLD = "whsec_b2xkLWtleS1vbGQta2V5LW9sZC1rZXk="
NEW = "whsec_bmV3LWtleS1uZXcta2V5LW5ldy1rZXk="
STACK = "vitrine-sandbox"

# The outputs of template.yaml that make secrets reads, on a stack moto can deploy (its CloudFormation
# does not create secrets: they are made beside it and their ARNs passed in).
TINY_STACK = {
    "Parameters": {"WebhookArn": {"Type": "String"}, "AvivArn": {"Type": "String"}},
    "Resources": {"Anything": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "WebhookSecretArn": {"Value": {"Ref": "WebhookArn"}},
        "AvivCredentialsSecretArn": {"Value": {"Ref": "AvivArn"}},
    },
}


@pytest.fixture
def session() -> Iterator[Any]:
    with mocked_aws():
        session = boto3.session.Session(region_name=REGION)
        secretsmanager = session.client("secretsmanager")
        webhook = secretsmanager.create_secret(Name="webhook", SecretString=json.dumps({"secrets": [OLD]}))
        aviv = secretsmanager.create_secret(
            Name="aviv", SecretString=json.dumps({"client_id": "", "client_secret": ""})
        )
        session.client("cloudformation").create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(TINY_STACK),
            Parameters=[
                {"ParameterKey": "WebhookArn", "ParameterValue": webhook["ARN"]},
                {"ParameterKey": "AvivArn", "ParameterValue": aviv["ARN"]},
            ],
        )
        yield session


def secret(session: Any, output: str) -> Any:
    stack = session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    arn = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}[output]
    return json.loads(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def run(
    session: Any, *args: str, environ: dict[str, str] | None = None, answers: list[str] | None = None
) -> int:
    replies = iter(answers or [])
    prompt = (lambda _question: next(replies)) if answers is not None else None
    return main(["--env", "sandbox", *args], environ=environ or {}, prompt=prompt, session=session)


def test_the_environment_fills_both_secrets_named_by_the_stack_outputs(session: Any) -> None:
    environ = {"VITRINE_WEBHOOK_SECRETS": NEW, "AVIV_CLIENT_ID": "client", "AVIV_CLIENT_SECRET": "s3cret"}
    assert run(session, environ=environ) == 0
    assert secret(session, "WebhookSecretArn") == {"secrets": [NEW]}
    assert secret(session, "AvivCredentialsSecretArn") == {"client_id": "client", "client_secret": "s3cret"}


def test_keep_existing_adds_the_new_secret_before_the_old_one_for_a_rotation(session: Any) -> None:
    environ = {"VITRINE_WEBHOOK_SECRETS": NEW}
    assert run(session, "--keep-existing", "--skip-aviv", environ=environ) == 0
    assert secret(session, "WebhookSecretArn") == {"secrets": [NEW, OLD]}
    assert run(session, "--skip-aviv", environ=environ) == 0
    assert secret(session, "WebhookSecretArn") == {"secrets": [NEW]}


def test_prompts_are_asked_when_the_environment_is_silent(session: Any) -> None:
    assert run(session, answers=[f"{NEW}, {OLD}", "client", "s3cret"]) == 0
    assert secret(session, "WebhookSecretArn") == {"secrets": [NEW, OLD]}
    assert secret(session, "AvivCredentialsSecretArn")["client_id"] == "client"


def test_empty_answers_and_no_terminal_leave_the_secrets_as_they_are(session: Any) -> None:
    assert run(session, answers=["", ""]) == 0
    assert run(session) == 0
    assert secret(session, "WebhookSecretArn") == {"secrets": [OLD]}
    assert secret(session, "AvivCredentialsSecretArn") == {"client_id": "", "client_secret": ""}


def test_values_are_never_printed(session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"VITRINE_WEBHOOK_SECRETS": NEW, "AVIV_CLIENT_ID": "c", "AVIV_CLIENT_SECRET": "s3cret"}
    run(session, environ=environ)
    printed = capsys.readouterr()
    assert NEW not in printed.out + printed.err
    assert "s3cret" not in printed.out + printed.err


def test_a_malformed_webhook_secret_is_refused_and_nothing_is_stored(session: Any) -> None:
    assert run(session, "--skip-aviv", environ={"VITRINE_WEBHOOK_SECRETS": "not-a-secret"}) == 2
    assert secret(session, "WebhookSecretArn") == {"secrets": [OLD]}


def test_a_client_id_without_its_secret_is_refused(session: Any) -> None:
    assert run(session, "--skip-webhook", environ={"AVIV_CLIENT_ID": "client"}) == 2


def test_a_stack_that_does_not_exist_is_an_aws_error_not_a_traceback(session: Any) -> None:
    assert run(session, "--stack", "nope", environ={"VITRINE_WEBHOOK_SECRETS": NEW}) == 1


def test_webhook_secrets_must_be_whsec_and_base64() -> None:
    assert parse_webhook_secrets(f" {NEW},{OLD}\n") == [NEW, OLD]
    for bad in ("whsec_", "whsec_***", "abc"):
        with pytest.raises(SecretsError):
            parse_webhook_secrets(bad)


def test_the_stack_and_region_are_samconfigs() -> None:
    target = stack_target("production")
    assert (target.stack_name, target.region) == ("vitrine-production", "eu-west-3")
    with pytest.raises(SecretsError):
        stack_target("staging")


def test_a_bare_list_in_the_webhook_secret_is_read_too(tmp_path: Path) -> None:
    class Stored:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            return {"SecretString": json.dumps([OLD])}

    assert stored_webhook_secrets(Stored(), "arn") == [OLD]
