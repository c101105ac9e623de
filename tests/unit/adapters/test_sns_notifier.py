"""SnsNotifier on moto: JSON for machines, an e-mail text for people, filter attributes, size caps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from devtools.notification_examples import example_notifications
from tests.support.aws import REGION, mocked_aws
from tests.unit.core.reconcile.scenarios import VALIDATOR
from vitrine.adapters.sns_notifier import MAX_EMAIL_BYTES, MAX_MESSAGE_BYTES, SnsNotifier
from vitrine.core.notification_text.email import MAX_LISTED, render_message
from vitrine.core.reconcile.records import Notification

SNS_MAX_BYTES = 256 * 1024


class Topic:
    """A topic on moto with an SQS subscriber (SNS's envelope, or the raw message), and the calls made."""

    def __init__(self, sns: Any, sqs: Any) -> None:
        self.sns, self.sqs = sns, sqs
        self.arn = sns.create_topic(Name="vitrine-NotificationsTopic")["TopicArn"]
        self.published: list[dict[str, Any]] = []
        publish = sns.publish

        def recording(**kwargs: Any) -> Any:
            self.published.append(kwargs)
            return publish(**kwargs)

        sns.publish = recording

    def subscribe_queue(self, name: str, *, raw: bool = False, owner: str | None = None) -> str:
        queue = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {"RawMessageDelivery": "true" if raw else "false"}
        if owner is not None:
            attributes["FilterPolicy"] = json.dumps({"ownerId": [owner]})
        self.sns.subscribe(TopicArn=self.arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        return str(queue)

    def received(self, queue: str) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in messages]


@pytest.fixture
def topic() -> Iterator[Topic]:
    with mocked_aws():
        yield Topic(boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION))


def example(name: str = "media_error", **body: Any) -> Notification:
    notification = example_notifications()[name]
    return replace(notification, body={**notification.body, **body})


def test_an_sqs_subscriber_gets_the_json_document_with_its_filter_attributes(topic: Topic) -> None:
    queue = topic.subscribe_queue("inbox")
    notification = example()
    SnsNotifier(topic.arn, topic.sns).publish(notification)
    [raw] = topic.received(queue)
    envelope = json.loads(raw)
    assert envelope["Subject"] == "2 photos of listing ABC-12 failed on SeLoger"
    assert {k: v["Value"] for k, v in envelope["MessageAttributes"].items()} == {
        "ownerId": "owner-42",
        "listingId": "ABC-12",
        "kind": "media_error",
        "severity": "warning",
    }
    assert all(v["Type"] == "String" for v in envelope["MessageAttributes"].values())
    document = json.loads(envelope["Message"])
    assert document == dict(notification.body)
    assert document["ownerPageUrl"].startswith("https://") and document["locale"] == "en"
    assert [e.message for e in VALIDATOR.iter_errors(document)] == []


def test_a_raw_delivery_subscriber_gets_exactly_the_json_document(topic: Topic) -> None:
    queue = topic.subscribe_queue("raw", raw=True)
    notification = example("quality_warning")
    SnsNotifier(topic.arn, topic.sns).publish(notification)
    [raw] = topic.received(queue)
    assert json.loads(raw) == dict(notification.body)


def test_the_filter_policy_on_the_owner_still_selects_the_messages(topic: Topic) -> None:
    mine, theirs = topic.subscribe_queue("mine", owner="owner-42"), topic.subscribe_queue("theirs", owner="x")
    SnsNotifier(topic.arn, topic.sns).publish(example("stuck"))
    assert len(topic.received(mine)) == 1 and topic.received(theirs) == []


def test_email_subscribers_get_the_readable_text_and_sms_the_subject_line(topic: Topic) -> None:
    notification = example()
    SnsNotifier(topic.arn, topic.sns).publish(notification)
    [call] = topic.published
    assert call["MessageStructure"] == "json"
    per_protocol = json.loads(call["Message"])
    assert set(per_protocol) == {"default", "email", "sms"}
    assert json.loads(per_protocol["default"]) == dict(notification.body)
    assert per_protocol["email"] == render_message(notification.body).text
    assert "{" not in per_protocol["email"]  # no JSON for people
    assert 'Photo 2, "Séjour lumineux"' in per_protocol["email"]
    assert per_protocol["sms"] == "vitrine: " + call["Subject"]


def test_a_french_owner_gets_a_french_subject_folded_to_ascii_and_a_french_email(topic: Topic) -> None:
    SnsNotifier(topic.arn, topic.sns).publish(example(locale="fr"))
    [call] = topic.published
    assert call["Subject"] == "Annonce ABC-12 : echec pour 2 photos sur SeLoger"
    email = json.loads(call["Message"])["email"]
    assert email.startswith("Bonjour,\n\nAnnonce ABC-12 : échec pour 2 photos sur SeLoger.")
    assert "Photo 2, « Séjour lumineux »" in email


def test_a_huge_media_list_is_cut_to_fit_sns_in_the_json_and_in_the_email(topic: Topic) -> None:
    queue = topic.subscribe_queue("inbox")
    entry = dict(example().body["media"][0])
    media = [
        {
            **entry,
            "id": f"m{i}",
            "title": 'Séjour ☀ " ' * 20,
            "position": i,
            "url": f"https://m.example/{i}.jpg",
        }
        for i in range(3000)
    ]
    SnsNotifier(topic.arn, topic.sns).publish(example(media=media))
    [call] = topic.published
    assert len(call["Message"].encode("utf-8")) < SNS_MAX_BYTES
    per_protocol = json.loads(call["Message"])
    assert len(per_protocol["default"].encode()) <= MAX_MESSAGE_BYTES
    assert len(per_protocol["email"].encode()) <= MAX_EMAIL_BYTES
    assert f"... and {3000 - MAX_LISTED} more" in per_protocol["email"]
    body = json.loads(json.loads(topic.received(queue)[0])["Message"])
    assert body["mediaTruncated"] is True and 0 < len(body["media"]) < 3000
