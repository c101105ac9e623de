"""DynamoDB units computed from item sizes, as DynamoDB's on-demand billing rounds them."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from devtools.aws_meter import IndexShape, index_write_units, item_size, metered, read_units, write_units
from tests.support.aws import make_tables, mocked_aws


def test_an_item_weighs_its_names_and_values() -> None:
    item = {"pk": {"S": "ab"}, "n": {"N": "12345"}, "b": {"B": b"xyz"}, "ok": {"BOOL": True},
            "l": {"L": [{"S": "a"}]}, "m": {"M": {"k": {"S": "v"}}}}  # fmt: skip

    assert item_size(item) == (2 + 2) + (1 + 3) + (1 + 3) + (2 + 1) + (1 + 3 + 1) + (1 + 3 + 2)


def test_reads_round_up_to_4_kb_and_writes_to_1_kb() -> None:
    assert read_units(0, consistent=False) == 0.5
    assert read_units(4097, consistent=False) == 1.0
    assert read_units(4096, consistent=True) == 1.0
    assert write_units(1) == 1
    assert write_units(1025) == 2


def test_an_index_write_costs_only_when_what_it_holds_changes() -> None:
    dirty = IndexShape("DirtyIndex", ("dirtyShard", "dirtySince"), ("pk", "sk", "dirtyShard", "dirtySince"))
    clean = {"pk": {"S": "L#1"}, "sk": {"S": "DESIRED"}, "doc": {"S": "x" * 3000}}
    entered = {**clean, "dirtyShard": {"S": "DIRTY#1"}, "dirtySince": {"S": "2026-03-02"}}
    moved = {**entered, "dirtySince": {"S": "2026-03-03"}}

    assert index_write_units([dirty], clean, {**clean, "doc": {"S": "y"}}) == 0
    assert index_write_units([dirty], clean, entered) == 1
    assert index_write_units([dirty], entered, moved) == 2  # the key moved: delete and put


@pytest.fixture
def table() -> Iterator[str]:
    with mocked_aws():
        yield make_tables()["StateTable"]


def test_metering_counts_requests_and_the_units_of_what_was_written(table: str) -> None:
    with metered() as meter:
        client = boto3.client("dynamodb")
        key = {"pk": {"S": "LISTING#1"}, "sk": {"S": "DESIRED"}}
        client.put_item(TableName=table, Item={**key, "doc": {"S": "x" * 3000}})
        client.get_item(TableName=table, Key=key)

    assert meter.requests == {"dynamodb:PutItem": 1, "dynamodb:GetItem": 1}
    assert meter.write_units == 3
    assert meter.read_units == 0.5
