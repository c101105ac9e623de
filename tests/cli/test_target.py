"""Where the CLI points: a deployed stack's outputs and parameters, or make local's stack file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vitrine_cli.errors import ExitCode, Unreachable
from vitrine_cli.target import local_target, stack_target

DESCRIPTION = {
    "Outputs": [
        {
            "OutputKey": "WebhookUrl",
            "OutputValue": "https://abc.execute-api.eu-west-3.amazonaws.com/v1/webhooks/listings",
        },
        {"OutputKey": "StateTableName", "OutputValue": "vitrine-sandbox-StateTable-1"},
        {"OutputKey": "SyncQueueUrl", "OutputValue": "https://sqs/sync"},
        {"OutputKey": "SyncDeadLetterQueueUrl", "OutputValue": "https://sqs/dlq"},
        {"OutputKey": "NotificationsTopicArn", "OutputValue": "arn:aws:sns:eu-west-3:1:topic"},
        {"OutputKey": "AvivCredentialsSecretArn", "OutputValue": "arn:secret:aviv"},
        {"OutputKey": "WebhookSecretArn", "OutputValue": "arn:secret:webhook"},
    ],
    "Parameters": [
        {"ParameterKey": "Environment", "ParameterValue": "production"},
        {"ParameterKey": "DefaultIntermediaryId", "ParameterValue": "agency-9"},
        {"ParameterKey": "DefaultPortals", "ParameterValue": "SL,BD"},
        {"ParameterKey": "ConsolidationWindowSeconds", "ParameterValue": "60"},
    ],
}


def test_a_deployed_stack_is_read_from_its_outputs_and_parameters() -> None:
    target = stack_target("vitrine-sandbox", DESCRIPTION, profile="ops", region="eu-west-3")
    assert target.state_table == "vitrine-sandbox-StateTable-1" and target.profile == "ops"
    assert target.api_url == "https://abc.execute-api.eu-west-3.amazonaws.com/v1", (
        "ApiUrl is derived when absent"
    )
    assert target.aviv_api_url == "https://api.aviv-group.com/caas/v4"
    assert target.aviv_intermediary_id == "agency-9" and target.defaults.default_portals == ("SL", "BD")
    assert target.owner_page_secret is None and not target.is_local


def test_a_stack_without_a_needed_output_cannot_be_used() -> None:
    outputs = [o for o in DESCRIPTION["Outputs"] if o["OutputKey"] != "SyncQueueUrl"]
    with pytest.raises(Unreachable, match="SyncQueueUrl") as raised:
        stack_target("old", {**DESCRIPTION, "Outputs": outputs}, profile=None, region="eu-west-3")
    assert raised.value.code == ExitCode.UNREACHABLE


def test_no_stack_file_means_no_make_local_running(tmp_path: Path) -> None:
    with pytest.raises(Unreachable, match="start `make local`"):
        local_target(tmp_path / "stack.json")


def test_a_stack_file_of_an_older_make_local_asks_for_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps({"webhook_url": "http://127.0.0.1:3000/webhooks/listings"}))
    with pytest.raises(Unreachable, match="restart `make local`"):
        local_target(path)
