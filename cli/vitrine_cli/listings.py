"""Which listings a command is about: all of them, one owner's, or those with an open problem.

The state table has no index by owner (the functions never need one), so these are paginated Scans
of the table, projected to the keys: fine for an operator's command, never used by the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vitrine.adapters.dynamo.table import SK_DESIRED, SK_STATUS
from vitrine_cli.connection import Connection


def _scan(conn: Connection, filter_expression: str, values: dict[str, Any]) -> Iterator[str]:
    paginator = conn.dynamodb.get_paginator("scan")
    pages = paginator.paginate(
        TableName=conn.target.state_table,
        FilterExpression=filter_expression,
        ExpressionAttributeValues=values,
        ProjectionExpression="listingId",
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            if "S" in item.get("listingId", {}):
                yield item["listingId"]["S"]


def _listings(conn: Connection, sk: str, owner: str | None, condition: str = "") -> list[str]:
    """The listings whose ``sk`` item exists (and matches ``condition``), of ``owner`` if given, sorted."""
    expression = "sk = :sk" + (f" AND {condition}" if condition else "")
    values: dict[str, Any] = {":sk": {"S": sk}}
    if owner is not None:
        expression += " AND ownerId = :owner"
        values[":owner"] = {"S": owner}
    return sorted(_scan(conn, expression, values))


def listing_ids(conn: Connection, owner: str | None = None) -> list[str]:
    """Every listing (or ``owner``'s)."""
    return _listings(conn, SK_DESIRED, owner)


def listings_with_open_problems(conn: Connection, owner: str | None = None) -> list[str]:
    """Listings whose reconciliation state holds an open problem (its ``openProblems`` kinds)."""
    return _listings(conn, SK_STATUS, owner, "attribute_exists(openProblems)")
