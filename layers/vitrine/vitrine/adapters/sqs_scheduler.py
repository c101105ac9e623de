"""SQS adapter: the single pending sync message of a listing, delayed with per-message DelaySeconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from vitrine.core.consolidation import SQS_MAX_DELAY_SECONDS


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """What a sync message asks: sync ``listing_id``; ``force`` (an operator's ``vitrine resync``):
    send the current desired state now, even when AVIV already holds exactly that body."""

    listing_id: str
    force: bool = False


def sync_message_body(listing_id: str, *, force: bool = False) -> str:
    """The message only names the listing: sync is level-triggered and reads the state itself."""
    message: dict[str, object] = {"listingId": listing_id}
    if force:
        message["force"] = True
    return json.dumps(message, separators=(",", ":"))


def parse_sync_request(body: str) -> SyncRequest:
    """The request of a sync message; ValueError when it is not one of ours."""
    try:
        message = json.loads(body)
        listing_id, force = message["listingId"], message.get("force", False)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a sync message: {body[:200]!r}") from exc
    if not isinstance(listing_id, str) or not listing_id or not isinstance(force, bool):
        raise ValueError(f"not a sync message: {body[:200]!r}")
    return SyncRequest(listing_id, force)


def parse_sync_message(body: str) -> str:
    """The listing id of a sync message; ValueError when it is not one of ours."""
    return parse_sync_request(body).listing_id


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

    def request_resync(self, listing_id: str) -> None:
        """A forced sync message, delivered now. It is outside the one-pending-message claim: the
        claim's own message still comes, finds the listing clean and is dropped."""
        self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=sync_message_body(listing_id, force=True))

    def back_off(self, receipt_handle: str, delay_seconds: int) -> None:
        """Make a failed message visible again only after ``delay_seconds`` (growing retry delays)."""
        self._sqs.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(43_200, int(delay_seconds))),
        )
