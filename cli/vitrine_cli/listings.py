"""Which listings a command is about: all of them, one owner's, or those with an open problem.

An owner's listings come from the sparse ``OwnerIndex`` (the owner page's), listings with an open
problem from the sparse ``ProblemIndex`` (the ``OpenProblems`` gauge's): Queries that read only
what they name. Only ``--all`` scans the table, projected to the keys: every listing is what it
asks for. Index reads are eventually consistent, like the functions' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vitrine.adapters.dynamo.table import (
    OWNER_INDEX,
    PROBLEM_INDEX,
    PROBLEM_SHARD_COUNT,
    SK_DESIRED,
    SK_STATUS,
    listing_id_of,
    query_items,
)
from vitrine_cli.connection import Connection


def _scan_listing_ids(conn: Connection) -> Iterator[str]:
    paginator = conn.dynamodb.get_paginator("scan")
    pages = paginator.paginate(
        TableName=conn.target.state_table,
        FilterExpression="sk = :sk",
        ExpressionAttributeValues={":sk": {"S": SK_DESIRED}},
        ProjectionExpression="pk",
    )
    for page in pages:
        for item in page.get("Items", []):
            yield listing_id_of(item["pk"]["S"])


def _query_listing_ids(conn: Connection, index: str, condition: str, values: dict[str, Any]) -> set[str]:
    request = {
        "TableName": conn.target.state_table,
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    return {listing_id_of(item["pk"]["S"]) for item in query_items(conn.dynamodb, request)}


def _owners(conn: Connection, owner: str, sk: str) -> set[str]:
    """The listings of ``owner`` that have an ``sk`` item (DESIRED: every one; STATUS: reconciled ones)."""
    values = {":owner": {"S": owner}, ":sk": {"S": sk}}
    return _query_listing_ids(conn, OWNER_INDEX, "ownerId = :owner AND sk = :sk", values)


def listing_ids(conn: Connection, owner: str | None = None) -> list[str]:
    """Every listing (or ``owner``'s), sorted."""
    if owner is None:
        return sorted(set(_scan_listing_ids(conn)))
    return sorted(_owners(conn, owner, SK_DESIRED))


def listings_with_open_problems(conn: Connection, owner: str | None = None) -> list[str]:
    """Listings whose reconciliation state holds an open problem (of ``owner`` if given), sorted."""
    troubled: set[str] = set()
    for shard in range(PROBLEM_SHARD_COUNT):
        values = {":shard": {"S": f"PROBLEM#{shard}"}}
        troubled |= _query_listing_ids(conn, PROBLEM_INDEX, "problemShard = :shard", values)
    if owner is not None:
        troubled &= _owners(conn, owner, SK_STATUS)
    return sorted(troubled)
