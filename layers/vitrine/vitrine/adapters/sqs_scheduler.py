"""SQS adapter: the single pending sync message of a listing, delayed with per-message DelaySeconds."""

from __future__ import annotations

import json
from typing import Any

import boto3

from vitrine.core.consolidation import SQS_MAX_DELAY_SECONDS


def sync_message_body(listing_id: str) -> str:
    """The message only names the listing: sync is level-triggered and reads the state itself."""
    return json.dumps({"listingId": listing_id}, separators=(",", ":"))


def parse_sync_message(body: str) -> str:
    """The listing id of a sync message; ValueError when it is not one of ours."""
    try:
        listing_id = json.loads(body)["listingId"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a sync message: {body[:200]!r}") from exc
    if not isinstance(listing_id, str) or not listing_id:
        raise ValueError(f"not a sync message: {body[:200]!r}")
    return listing_id


class SqsSyncScheduler:
    """Sends, re-delays and backs off sync messages on the sync queue."""

    def __init__(self, queue_url: str, sqs_client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs_client or boto3.client("sqs")

    def schedule(self, listing_id: str, delay_seconds: int) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=sync_message_body(listing_id),
            DelaySeconds=max(0, min(SQS_MAX_DELAY_SECONDS, int(delay_seconds))),
        )

    def back_off(self, receipt_handle: str, delay_seconds: int) -> None:
        """Make a failed message visible again only after ``delay_seconds`` (growing retry delays)."""
        self._sqs.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(43_200, int(delay_seconds))),
        )
