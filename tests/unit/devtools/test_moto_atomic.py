"""The moto patch really serialises conditional writes (what real DynamoDB guarantees per item)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools.moto_atomic import make_moto_dynamodb_writes_atomic
from devtools.template import create_tables
from tests.support.aws import REGION, aws_env


@pytest.fixture
def aws_table() -> Iterator[tuple[Any, str]]:
    make_moto_dynamodb_writes_atomic()
    with aws_env(REGION), mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        yield client, create_tables(client, prefix="atomic-")["StateTable"]


def key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"LISTING#{n}"}, "sk": {"S": "DESIRED"}}


def get(client: Any, table: str, n: int) -> int | None:
    item = client.get_item(TableName=table, Key=key(n)).get("Item")
    return None if item is None else int(item["v"]["N"])


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


def test_transactions_never_race_reads_that_touch_the_table(aws_table: tuple[Any, str]) -> None:
    """moto backed a transaction up by iterating the whole table while other threads read it, and
    a read of a missing key adds an entry (moto's items are a defaultdict): "dictionary changed size
    during iteration" under load."""
    client, table = aws_table
    for n in range(150):
        client.put_item(
            TableName=table, Item={"pk": {"S": f"LISTING#{n}"}, "sk": {"S": "DESIRED"}, "v": {"N": "0"}}
        )
    errors: list[BaseException] = []

    def transact() -> None:
        for n in range(40):
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": key(n),
                                "UpdateExpression": "SET v = v + :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        },
                        {"Put": {"TableName": table, "Item": {**key(1000 + n), "v": {"N": "1"}}}},
                    ]
                )
            except Exception as error:
                errors.append(error)

    def read_missing() -> None:
        for n in range(1500):
            try:
                client.get_item(TableName=table, Key={"pk": {"S": f"MISSING#{n}"}, "sk": {"S": "DESIRED"}})
                if n % 50 == 0:
                    client.query(
                        TableName=table,
                        KeyConditionExpression="pk = :pk",
                        ExpressionAttributeValues={":pk": {"S": f"ALSO-MISSING#{n}"}},
                    )
            except Exception as error:
                errors.append(error)

    threads = [threading.Thread(target=transact), *(threading.Thread(target=read_missing) for _ in range(3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert all(get(client, table, n) == 1 for n in range(40)), "every transaction applied once"


def test_a_cancelled_transaction_leaves_every_item_it_named_as_it_was(aws_table: tuple[Any, str]) -> None:
    client, table = aws_table
    client.put_item(
        TableName=table, Item={**key(1), "v": {"N": "5"}, "doc": {"M": {"a": {"L": [{"N": "1"}]}}}}
    )
    client.put_item(TableName=table, Item={**key(2), "v": {"N": "0"}})
    client.put_item(TableName=table, Item={**key(4), "v": {"N": "0"}})

    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": key(1),
                        "UpdateExpression": "SET v = :nine, doc.a[0] = :nine REMOVE gone",
                        "ExpressionAttributeValues": {":nine": {"N": "9"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {**key(3), "v": {"N": "3"}}}},
                {"Delete": {"TableName": table, "Key": key(2)}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key(4),
                        "ConditionExpression": "v = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    first = client.get_item(TableName=table, Key=key(1))["Item"]
    assert (first["v"], first["doc"]) == ({"N": "5"}, {"M": {"a": {"L": [{"N": "1"}]}}})
    assert get(client, table, 2) == 0
    assert "Item" not in client.get_item(TableName=table, Key=key(3))
