"""Create AWS resources *from template.yaml*, so tests, `make local` and the deployed stack cannot drift.

Only the resource types vitrine uses are understood (DynamoDB tables, SQS queues, SNS topics,
Secrets Manager secrets, SSM parameters); CloudFormation intrinsics are resolved as far as local setup needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form intrinsics as {"Fn::X": ...} dicts."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = {"Ref": "Ref", "Condition": "Condition"}.get(suffix, f"Fn::{suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The parsed template (cached: it does not change during a run)."""
    with path.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return loaded


def resources_of_type(
    resource_type: str, template: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    template = template or load_template()
    return {name: res for name, res in template["Resources"].items() if res.get("Type") == resource_type}


def function_environment_keys(template: dict[str, Any] | None = None) -> set[str]:
    """Environment variables every function gets (Globals), for settings tests."""
    template = template or load_template()
    return set(template["Globals"]["Function"]["Environment"]["Variables"])


def api_routes(template: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """(method, path, function logical id) for every Api event in the template."""
    template = template or load_template()
    routes = []
    for name, res in resources_of_type("AWS::Serverless::Function", template).items():
        for event in (res.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                props = event["Properties"]
                routes.append((props["Method"].upper(), props["Path"], name))
    return routes


@dataclass
class LocalResources:
    """Physical names of what `create_all` made, keyed by template logical id."""

    tables: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    queue_arns: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic ARN
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> secret ARN
    parameters: dict[str, str] = field(default_factory=dict)  # logical id -> SSM parameter name


def create_tables(
    dynamodb: Any, prefix: str = "vitrine-", template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Create every AWS::DynamoDB::Table of the template; returns logical id -> table name."""
    names: dict[str, str] = {}
    for logical_id, res in resources_of_type("AWS::DynamoDB::Table", template).items():
        props = res["Properties"]
        table_name = f"{prefix}{logical_id}"
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("SSESpecification", {}).get("SSEEnabled"):
            kwargs["SSESpecification"] = {"Enabled": True}
        dynamodb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        names[logical_id] = table_name
    return names


def _queue_attributes(
    props: dict[str, Any], arns: dict[str, str], parameters: dict[str, str]
) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
        if key in props:
            attrs[key] = str(props[key])
    redrive = props.get("RedrivePolicy")
    if redrive:
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        max_receive = redrive["maxReceiveCount"]
        if isinstance(max_receive, dict):
            max_receive = parameters.get(max_receive["Ref"]) or _parameter_default(max_receive["Ref"])
        attrs["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arns[target], "maxReceiveCount": int(max_receive)}
        )
    return attrs


def _parameter_default(name: str, template: dict[str, Any] | None = None) -> str:
    template = template or load_template()
    return str(template["Parameters"][name]["Default"])


def create_queues(
    sqs: Any,
    prefix: str = "vitrine-",
    parameters: dict[str, str] | None = None,
    template: dict[str, Any] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Create every AWS::SQS::Queue (dead-letter targets first); returns (urls, arns) by logical id."""
    parameters = parameters or {}
    queues = resources_of_type("AWS::SQS::Queue", template)
    ordered = sorted(queues.items(), key=lambda kv: "RedrivePolicy" in kv[1].get("Properties", {}))
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for logical_id, res in ordered:
        attrs = _queue_attributes(res.get("Properties", {}), arns, parameters)
        url = sqs.create_queue(QueueName=f"{prefix}{logical_id}", Attributes=attrs)["QueueUrl"]
        urls[logical_id] = url
        arns[logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    return urls, arns


def create_topics(
    sns: Any, prefix: str = "vitrine-", template: dict[str, Any] | None = None
) -> dict[str, str]:
    return {
        logical_id: sns.create_topic(Name=f"{prefix}{logical_id}")["TopicArn"]
        for logical_id in resources_of_type("AWS::SNS::Topic", template)
    }


def create_secrets(
    secretsmanager: Any,
    values: dict[str, str],
    prefix: str = "vitrine-",
    template: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Create every AWS::SecretsManager::Secret, with ``values[logical_id]`` as its string."""
    arns: dict[str, str] = {}
    for logical_id in resources_of_type("AWS::SecretsManager::Secret", template):
        secret_string = values.get(logical_id, "{}")
        arns[logical_id] = secretsmanager.create_secret(
            Name=f"{prefix}{logical_id}", SecretString=secret_string
        )["ARN"]
    return arns


def create_parameters(
    ssm: Any,
    values: dict[str, str],
    prefix: str = "vitrine-",
    template: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Create every AWS::SSM::Parameter as ``/<prefix><logical id>`` holding ``values[logical_id]``."""
    names: dict[str, str] = {}
    for logical_id in resources_of_type("AWS::SSM::Parameter", template):
        if logical_id not in values:
            raise ValueError(f"no local value for the SSM parameter {logical_id} of template.yaml")
        name = f"/{prefix}{logical_id}"
        ssm.put_parameter(Name=name, Value=values[logical_id], Type="String", Overwrite=True)
        names[logical_id] = name
    return names
