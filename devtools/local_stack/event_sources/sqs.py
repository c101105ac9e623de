"""Lambda's SQS event source, locally: what feeds the sync function real batches from the sync queue."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from devtools.lambda_runtime import DEFAULT_REGION, Handler, LambdaFunction
from devtools.local_stack.event_sources.background import BackgroundThread, invoke

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What one poll did: message ids received, deleted (processed) and left for a retry."""

    received: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str | None = None


def _lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        converted[name] = item
    return converted


def sqs_event(
    messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The event Lambda's SQS event source gives a function for ``receive_message``'s messages."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {k: str(v) for k, v in (message.get("Attributes") or {}).items()},
            "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes") or {}),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def _failed_item_ids(response: Any, batch_ids: Sequence[str]) -> list[str]:
    """``batchItemFailures`` → ids to keep; a malformed answer fails the whole batch, as on Lambda."""
    if response is None or response == "" or (isinstance(response, Mapping) and not response):
        return []
    if not isinstance(response, Mapping):
        log.error("SQS handler returned %r; treating the whole batch as failed", response)
        return list(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        log.error("batchItemFailures is not a list (%r); treating the whole batch as failed", failures)
        return list(batch_ids)
    failed: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in batch_ids:
            log.error(
                "batchItemFailures names %r, not a message of the batch: whole batch failed", identifier
            )
            return list(batch_ids)
        failed.append(identifier)
    return failed


class SqsEventSourceMapping(BackgroundThread):
    """Lambda's SQS event source: poll a queue, invoke the handler per batch, delete what succeeded.

    With ``report_batch_item_failures`` (the template's ``FunctionResponseTypes``), the ids in the
    answer's ``batchItemFailures`` stay in the queue; a handler error keeps the whole batch. Kept
    messages come back once their visibility timeout ends, and moto moves them to the dead-letter
    queue after the redrive policy's ``maxReceiveCount``. At most 10 messages per batch (one receive).
    """

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler | LambdaFunction,
        batch_size: int = 10,
        *,
        report_batch_item_failures: bool = True,
        wait_time_seconds: int = 1,
        region: str = DEFAULT_REGION,
        name: str | None = None,
    ) -> None:
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.batch_size = max(1, min(batch_size, 10))
        self.report_batch_item_failures = report_batch_item_failures
        self.wait_time_seconds = wait_time_seconds
        self.region = region
        self.name = name or queue_arn.rsplit(":", 1)[-1]
        super().__init__(thread_name=f"sqs-{self.name}")

    def poll_once(self, wait_time_seconds: int | None = None) -> BatchResult:
        """One receive, one invocation (if anything came), one delete of what succeeded."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_time_seconds if wait_time_seconds is None else wait_time_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        result = BatchResult(received=[m["MessageId"] for m in messages])
        if not messages:
            return result
        try:
            response = invoke(self.handler, sqs_event(messages, self.queue_arn, self.region), self.name)
        except Exception:
            result.error = traceback.format_exc()
            log.error(
                "%s: function error, the batch of %d stays queued\n%s", self.name, len(messages), result.error
            )
            result.failed = list(result.received)
            return result
        result.failed = _failed_item_ids(response, result.received) if self.report_batch_item_failures else []
        result.deleted = self._delete([m for m in messages if m["MessageId"] not in result.failed])
        return result

    def _delete(self, done: Sequence[Mapping[str, Any]]) -> list[str]:
        """Delete the processed messages; the ids actually deleted."""
        if not done:
            return []
        deleted = self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
        for failure in deleted.get("Failed") or []:
            log.error("%s: could not delete a processed message: %s", self.name, failure)
        failed_indexes = {int(f["Id"]) for f in deleted.get("Failed") or []}
        return [m["MessageId"] for i, m in enumerate(done) if i not in failed_indexes]

    def _run(self) -> None:
        self._poll_until_stopped(self.poll_once, f"{self.name}: polling failed; retrying")
