"""SNS adapter: publish owner notifications on the one vitrine topic.

Owners subscribe (email, SMS, HTTPS, SQS, ...) with a filter policy on the ``ownerId`` message
attribute, so each message carries ``ownerId``, ``listingId``, ``kind`` and ``severity`` as String
attributes. One message, one text per protocol (``MessageStructure="json"``):

* ``default`` — the JSON document of ``schemas/notification.schema.json``, for machines: what SQS,
  Lambda, HTTPS and ``email-json`` subscribers receive;
* ``email`` — the same notification as a person reads it, in plain text and in the owner's language
  (:mod:`vitrine.core.notification_text.email`);
* ``sms`` — the one-line subject (a text message is no place for a document).

The Subject (an e-mail's subject line) is that language's headline: short, readable and ASCII, as SNS
requires.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from vitrine.core.notification_text.email import render_message
from vitrine.core.reconcile.records import Notification
from vitrine.core.reconcile.wording import SUBJECT_MAX_LENGTH, ascii_subject

# SNS refuses messages over 256 KiB (body and attributes together). The JSON body is embedded as a
# JSON string in the per-protocol document, whose escaping grows it: keep a wide margin for it and
# the e-mail text together.
MAX_MESSAGE_BYTES = 150 * 1024
MAX_EMAIL_BYTES = 40 * 1024


def _fit_message(notification: Notification) -> str:
    """The JSON body; a very long media list is cut (and says so) rather than the publish failing."""
    message = notification.message()
    if len(message.encode("utf-8")) <= MAX_MESSAGE_BYTES:
        return message
    body: dict[str, Any] = dict(notification.body)
    media = list(body.get("media") or [])
    while media and len(json.dumps(body, ensure_ascii=False).encode("utf-8")) > MAX_MESSAGE_BYTES:
        media = media[: len(media) // 2]
        body["media"] = media
        body["mediaTruncated"] = True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _fit_text(text: str) -> str:
    """The e-mail text, cut at a paragraph when huge titles or URLs make it too long for SNS."""
    if len(text.encode("utf-8")) <= MAX_EMAIL_BYTES:
        return text
    kept = text.encode("utf-8")[: MAX_EMAIL_BYTES - 16].decode("utf-8", "ignore")
    return kept[: kept.rfind("\n\n")].rstrip() + "\n\n[...]\n"


class SnsNotifier:
    """Publishes :class:`~vitrine.core.reconcile.records.Notification` records to one topic."""

    def __init__(self, topic_arn: str, sns_client: Any | None = None) -> None:
        if not topic_arn:
            raise ValueError("a topic ARN is required to publish notifications (VITRINE_TOPIC_ARN)")
        self.topic_arn = topic_arn
        self._sns = sns_client if sns_client is not None else boto3.client("sns")

    def publish(self, notification: Notification) -> str:
        """Publish one notification; returns SNS's MessageId. Errors propagate (the outbox retries)."""
        attributes = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in notification.attributes().items()
        }
        readable = render_message(notification.body)
        subject = ascii_subject(readable.subject or notification.subject, SUBJECT_MAX_LENGTH)
        per_protocol = {
            "default": _fit_message(notification),
            "email": _fit_text(readable.text),
            "sms": f"vitrine: {subject}",
        }
        answer = self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=subject,
            Message=json.dumps(per_protocol, ensure_ascii=False),
            MessageStructure="json",
            MessageAttributes=attributes,
        )
        return str(answer.get("MessageId", ""))
