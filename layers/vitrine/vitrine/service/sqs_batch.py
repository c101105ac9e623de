"""An SQS event's records handled one by one, failures reported as a partial batch response.

Why not Powertools' batch utility: importing it costs about a fifth of ``import boto3`` on every
cold start (it loads asyncio and every event data class; docs/benchmarks.md), for a loop this
short. The semantics are those of its ``BatchProcessor(EventType.SQS)`` with
``process_partial_response``: every record is tried, in order; a record whose handler raises is
named in ``batchItemFailures`` by its ``messageId``; when every record failed, the invocation itself
fails (the whole batch comes back, and Lambda counts an error).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


class EntireBatchFailed(Exception):
    """Every record of the batch failed: raised so the invocation fails; the first error is its cause."""


@dataclass(frozen=True)
class SqsMessage:
    """One record of an SQS event; fields are read when asked for, so a record missing one fails in
    its handler (and only that record), not before."""

    record: Mapping[str, Any]

    @property
    def message_id(self) -> str:
        return str(self.record["messageId"])

    @property
    def body(self) -> str:
        return str(self.record["body"])

    @property
    def receipt_handle(self) -> str:
        return str(self.record["receiptHandle"])

    @property
    def approximate_receive_count(self) -> str:
        """``ApproximateReceiveCount`` as SQS sends it (a string; SQS always sets it)."""
        return str(self.record["attributes"]["ApproximateReceiveCount"])


def process_partial_batch(
    event: Mapping[str, Any], handle_message: Callable[[SqsMessage], object]
) -> PartialBatchResponse:
    """Run ``handle_message`` on each record; the failed ones' ids, for redelivery of those only."""
    records = event.get("Records")
    if not records or not isinstance(records, list):
        raise ValueError("not an SQS event: 'Records' must be a non-empty list")
    failed: list[BatchItemFailure] = []
    errors: list[Exception] = []
    for record in records:
        message = SqsMessage(record)
        try:
            handle_message(message)
        except Exception as exc:
            errors.append(exc)
            failed.append({"itemIdentifier": message.message_id})
    if errors and len(errors) == len(records):
        raise EntireBatchFailed(f"all {len(records)} records failed processing") from errors[0]
    return {"batchItemFailures": failed}
