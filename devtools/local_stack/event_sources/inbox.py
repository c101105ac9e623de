"""The owner's inbox, locally: an SQS queue subscribed to the notifications topic, drained by a thread.

Like an owner's integration, the queue receives the JSON document (SNS's ``default`` message); the
inbox also shows each one as the e-mail an owner subscribed by e-mail reads (its subject and text,
rendered by the same code as the SNS adapter's ``email`` message), printed and kept in a mailbox
file beside the JSON lines.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.local_stack.event_sources.background import BackgroundThread
from vitrine.core.notification_text.email import OwnerMessage, render_message


@dataclass(frozen=True)
class InboxNotification:
    """One SNS notification as the owner would receive it."""

    message: Any
    """The SNS ``Message``, parsed when it is JSON."""
    attributes: dict[str, str]
    subject: str | None
    envelope: dict[str, Any]

    @property
    def email(self) -> OwnerMessage | None:
        """The notification as an e-mail subscriber reads it (None: not one of vitrine's notifications)."""
        if isinstance(self.message, dict) and "schemaVersion" in self.message and "kind" in self.message:
            return render_message(self.message)
        return None


def describe_notification(notification: InboxNotification) -> str:
    """A readable multi-line rendering for the terminal: the e-mail an owner would read."""
    header = " ".join(f"{k}={v}" for k, v in sorted(notification.attributes.items()))
    title = f"[notification] {notification.subject or ''} {header}".rstrip()
    email = notification.email
    if email is not None:
        body = email.text
    elif isinstance(notification.message, str):
        body = notification.message
    else:
        body = json.dumps(notification.message, indent=2, ensure_ascii=False)
    return title + "\n" + "\n".join(("    " + line).rstrip() for line in body.splitlines())


def mailbox_entry(notification: InboxNotification) -> str:
    """One e-mail of the readable mailbox file: its subject line, its text, a separator."""
    email = notification.email
    text = email.text if email is not None else json.dumps(notification.message, ensure_ascii=False) + "\n"
    return f"Subject: {notification.subject or ''}\n\n{text}\n{'=' * 72}\n\n"


class SnsInbox(BackgroundThread):
    """An SQS queue subscribed to a topic (non-raw delivery), drained by a thread.

    Every notification is kept in :attr:`notifications`, optionally printed, and its message is
    appended as one JSON line to ``path`` and as a readable e-mail to ``path`` with ``.txt``.
    """

    def __init__(
        self,
        sqs_client: Any,
        sns_client: Any,
        topic_arn: str,
        queue_name: str,
        path: Path | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.sqs = sqs_client
        self.path = path
        self.echo = echo
        self.notifications: list[InboxNotification] = []
        self._lock = threading.Condition()
        super().__init__(thread_name="sns-inbox")
        self.queue_url: str = sqs_client.create_queue(QueueName=queue_name)["QueueUrl"]
        self.queue_arn: str = sqs_client.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.subscription_arn: str = sns_client.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def poll_once(self, wait_time_seconds: int = 1) -> list[InboxNotification]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_time_seconds
        )
        received = []
        for message in answer.get("Messages") or []:
            notification = self._parse(message["Body"])
            self._record(notification)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            received.append(notification)
        return received

    def wait_for(
        self, predicate: Callable[[InboxNotification], bool] = lambda _: True, timeout: float = 10.0
    ) -> InboxNotification:
        """The first notification (already received or still to come) matching ``predicate``.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for notification in self.notifications:
                    if predicate(notification):
                        return notification
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching notification within {timeout} s")
                self._lock.wait(remaining)

    @staticmethod
    def _parse(body: str) -> InboxNotification:
        envelope: dict[str, Any] = json.loads(body)
        raw_message = envelope.get("Message", "")
        try:
            message: Any = json.loads(raw_message)
        except (TypeError, ValueError):
            message = raw_message
        attributes = {
            name: str(value.get("Value")) for name, value in (envelope.get("MessageAttributes") or {}).items()
        }
        return InboxNotification(message, attributes, envelope.get("Subject"), envelope)

    def _record(self, notification: InboxNotification) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(notification.message, ensure_ascii=False, separators=(",", ":")) + "\n")
            with self.path.with_suffix(".txt").open("a", encoding="utf-8") as fh:
                fh.write(mailbox_entry(notification))
        if self.echo is not None:
            self.echo(describe_notification(notification))
        with self._lock:
            self.notifications.append(notification)
            self._lock.notify_all()

    def _run(self) -> None:
        self._poll_until_stopped(self.poll_once, "inbox polling failed; retrying")
