"""SnsNotifier on moto: attributes for filter policies, an ASCII subject, JSON for all but SMS, size cap."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.aws import REGION, mocked_aws
from vitrine.adapters.sns_notifier import MAX_MESSAGE_BYTES, SnsNotifier
from vitrine.core.reconcile.records import Notification


@pytest.fixture
def sns_and_inbox() -> Iterator[tuple[Any, str, Any, str]]:
    with mocked_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="vitrine-NotificationsTopic")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        yield sns, topic, sqs, queue


def received(sqs: Any, queue: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def notification(
    media: int = 1, subject: str = "2 photos of listing ABC-12 could not be downloaded by SeLoger"
) -> Notification:
    body = {
        "kind": "media_error",
        "listingId": "ABC-12",
        "media": [
            {"id": f"m{i}", "url": f"https://media.example/{i}.jpg", "title": "Séjour ☀" * 3}
            for i in range(media)
        ],
    }
    return Notification(
        "media_error:0123456789abcdef", "media_error", "warning", "owner-7", "ABC-12", subject, body
    )


def test_a_notification_carries_its_filter_attributes_and_json_body(
    sns_and_inbox: tuple[Any, str, Any, str],
) -> None:
    sns, topic, sqs, queue = sns_and_inbox
    SnsNotifier(topic, sns).publish(notification())
    [envelope] = received(sqs, queue)
    assert envelope["Subject"] == "2 photos of listing ABC-12 could not be downloaded by SeLoger"
    assert {k: v["Value"] for k, v in envelope["MessageAttributes"].items()} == {
        "ownerId": "owner-7",
        "listingId": "ABC-12",
        "kind": "media_error",
        "severity": "warning",
    }
    assert all(v["Type"] == "String" for v in envelope["MessageAttributes"].values())
    assert json.loads(envelope["Message"])["media"][0]["title"] == "Séjour ☀Séjour ☀Séjour ☀"


def test_sms_gets_the_subject_not_the_json(
    sns_and_inbox: tuple[Any, str, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sns, topic, _sqs, _queue = sns_and_inbox
    sent: dict[str, Any] = {}
    monkeypatch.setattr(sns, "publish", lambda **kwargs: sent.update(kwargs) or {"MessageId": "1"})
    SnsNotifier(topic, sns).publish(notification(subject="Photo « séjour » de l'annonce ABC-12\nrefusée"))
    assert sent["MessageStructure"] == "json"
    per_protocol = json.loads(sent["Message"])
    assert per_protocol["sms"] == "vitrine: Photo sejour de l'annonce ABC-12 refusee"
    assert json.loads(per_protocol["default"])["listingId"] == "ABC-12"
    assert sent["Subject"].isascii() and len(sent["Subject"]) <= 99


def test_a_huge_media_list_is_cut_to_fit_sns(sns_and_inbox: tuple[Any, str, Any, str]) -> None:
    sns, topic, sqs, queue = sns_and_inbox
    SnsNotifier(topic, sns).publish(notification(media=3000))
    [envelope] = received(sqs, queue)
    body = json.loads(envelope["Message"])
    assert body["mediaTruncated"] is True and 0 < len(body["media"]) < 3000
    assert len(envelope["Message"].encode()) <= MAX_MESSAGE_BYTES
