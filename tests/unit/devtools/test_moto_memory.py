"""A moto server that is never reset keeps no item versions nor whole-table copies alive."""

from __future__ import annotations

import gc

import boto3
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table
from moto.s3.models import FakeKey

from devtools.moto_atomic import make_moto_dynamodb_writes_atomic
from devtools.moto_memory import stop_moto_keeping_every_instance
from devtools.template import create_tables
from tests.support.aws import REGION, aws_env


def live(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def test_writes_and_transactions_leave_no_copies_behind() -> None:
    make_moto_dynamodb_writes_atomic()
    stop_moto_keeping_every_instance()
    with aws_env(REGION), mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        table = create_tables(client, prefix="memory-")["StateTable"]
        tables_before = live(Table)
        for n in range(50):
            client.put_item(TableName=table, Item={"pk": {"S": f"L#{n}"}, "sk": {"S": "D"}, "v": {"N": "0"}})
        for round_ in range(20):
            for n in range(50):
                update = {
                    "TableName": table,
                    "Key": {"pk": {"S": f"L#{n}"}, "sk": {"S": "D"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(round_)}},
                }
                client.transact_write_items(TransactItems=[{"Update": update}])  # fmt: skip

        assert Item.instances_tracked == [] and Table.instances_tracked == []
        assert live(Table) == tables_before, "no whole-table copy outlives its transaction"
        assert live(Item) <= 60, "one live version per item, plus a few in flight"


def test_s3_keys_are_still_tracked_since_moto_closes_their_buffers_through_the_list() -> None:
    stop_moto_keeping_every_instance()
    with aws_env(REGION), mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        location = {"LocationConstraint": REGION}
        s3.create_bucket(Bucket="vitrine-memory-test", CreateBucketConfiguration=location)
        s3.put_object(Bucket="vitrine-memory-test", Key="k", Body=b"x")

        assert FakeKey.instances_tracked
