"""The moto patch really serialises conditional writes (what real DynamoDB guarantees per item)."""

from __future__ import annotations

import threading

import boto3
from moto import mock_aws

from devtools.moto_atomic import make_moto_dynamodb_writes_atomic
from devtools.template import create_tables
from tests.support.aws import REGION, aws_env


def test_concurrent_conditional_increments_never_lose_an_update():
    make_moto_dynamodb_writes_atomic()
    with aws_env(REGION), mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        table = create_tables(client, prefix="atomic-")["StateTable"]
        key = {"pk": {"S": "LISTING#1"}, "sk": {"S": "DESIRED"}}
        client.put_item(TableName=table, Item={**key, "version": {"N": "0"}})
        successes = []

        def bump() -> None:
            for _ in range(200):
                current = int(client.get_item(TableName=table, Key=key)["Item"]["version"]["N"])
                try:
                    client.update_item(
                        TableName=table,
                        Key=key,
                        UpdateExpression="SET version = :new",
                        ConditionExpression="version = :old",
                        ExpressionAttributeValues={
                            ":new": {"N": str(current + 1)},
                            ":old": {"N": str(current)},
                        },
                    )
                except client.exceptions.ConditionalCheckFailedException:
                    continue
                successes.append(current + 1)

        threads = [threading.Thread(target=bump) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = int(client.get_item(TableName=table, Key=key)["Item"]["version"]["N"])
        assert final == len(successes), "every successful conditional write is counted exactly once"
        assert sorted(successes) == list(range(1, final + 1))
