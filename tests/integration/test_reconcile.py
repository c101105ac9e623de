"""Reconciliation end to end over real HTTP: the sync engine sends to the AVIV emulator, which really
downloads the media from a MediaServer; the reconcile service polls the emulator's statuses, keeps its
state in DynamoDB and publishes to SNS (moto), where SQS queues subscribed to the topic play the owners.

What is asserted is what an owner would receive.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devtools.apigw import ApiGateway
from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.lambda_runtime import LambdaFunction, load_handler
from devtools.media_server import MediaServer
from tests.support.aws import REGION, dynamodb_client, make_tables, mocked_aws
from tests.support.emulator import emulator_client
from tests.support.listings import sample_desired, sample_media
from vitrine.adapters.aviv.client import SUBSCRIBABLE_STATUSES
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.media_probe import MediaProbe
from vitrine.adapters.sns_notifier import SnsNotifier
from vitrine.adapters.sqs_scheduler import SqsSyncScheduler
from vitrine.adapters.status_store import StatusStore
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.model import DesiredListing
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.sync import SyncOutcome, sync_listing
from vitrine.service import reconcile as reconcile_module
from vitrine.service.reconcile import ReconcileService
from vitrine.service.reconcile_report import RunReport
from vitrine.settings import Settings

DEFAULTS = ClassifiedDefaults(source_system="vitrine", source_system_version="0.1.0", default_portals=("SL",))
PUSH_TOKEN = "push-token-0123456789abcdefghijklmnopqrstuvwxyzAB"
# Every run looks at every watched listing again (no backoff), so "no repeat" is really tested.
EAGER = ReconcilePolicy(
    recheck_base=timedelta(0),
    open_problem_recheck=timedelta(0),
    retry_backoff=timedelta(0),
    stuck_after=timedelta(hours=2),
)


class RecordingClient:
    """A boto3 client that remembers which operations were called (to prove the run never scans)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.operations: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute):
            self.operations.append(name)
        return attribute


@dataclass
class Owner:
    """An SQS queue subscribed to the topic (optionally with a filter policy): one owner's inbox."""

    sqs: Any
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def drain(self) -> list[dict[str, Any]]:
        """New notifications: the SNS envelope's parsed Message, plus its attributes and subject."""
        new: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                new.append(
                    {
                        "body": json.loads(envelope["Message"]),
                        "subject": envelope.get("Subject"),
                        "attributes": {
                            k: v["Value"] for k, v in (envelope.get("MessageAttributes") or {}).items()
                        },
                    }
                )
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.received.extend(new)
        return new

    def kinds(self) -> list[str]:
        self.drain()
        return [n["body"]["kind"] for n in self.received]


class World:
    """Everything one test needs, over one moto account, the emulator and the media server."""

    def __init__(
        self, emulator: AvivEmulator, media: MediaServer, policy: ReconcilePolicy, **probe: Any
    ) -> None:
        self.emulator = emulator
        self.media = media
        tables = make_tables()
        self.dynamodb = RecordingClient(dynamodb_client())
        self.store = DynamoStateStore(tables["StateTable"], self.dynamodb)
        self.status_store = StatusStore(tables["StateTable"], self.dynamodb)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.topic_arn = self.sns.create_topic(Name="vitrine-NotificationsTopic")["TopicArn"]
        self.sync_queue_url = self.sqs.create_queue(QueueName="vitrine-SyncQueue")["QueueUrl"]
        self.inbox = self.subscribe("everything")
        # Off when AVIV pushes statuses: a push may confirm (and un-watch) a send before we look.
        self.check_watch = True
        self.aviv = emulator_client(emulator)
        self.settings = replace(
            Settings.from_env(),
            state_table=tables["StateTable"],
            topic_arn=self.topic_arn,
            sync_queue_url=self.sync_queue_url,
            consolidation_window_seconds=1,
            max_delay_seconds=5,
            reconcile_concurrency=4,
        )
        self.service = ReconcileService(
            self.settings,
            policy=policy,
            store=self.store,
            status_store=self.status_store,
            aviv=self.aviv,
            notifier=SnsNotifier(self.topic_arn, self.sns),
            scheduler=SqsSyncScheduler(self.sync_queue_url, self.sqs),
            probe=MediaProbe(timeout_seconds=2.0, **probe),
            push_token=lambda: PUSH_TOKEN,
        )

    def subscribe(self, name: str, filter_policy: dict[str, Any] | None = None) -> Owner:
        queue_url = self.sqs.create_queue(QueueName=f"owner-{name}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        return Owner(self.sqs, queue_url)

    # ---------------------------------------------------------------- the CRM and the sync engine

    def photo_path(self, listing_id: str, index: int) -> str:
        return f"/crm/{listing_id}/photo-{index:03d}.jpg"

    def new_listing(self, listing_id: str, photos: int = 3, **kw: Any) -> DesiredListing:
        media = [
            sample_media(listing_id, i, url=self.media.url(self.photo_path(listing_id, i)))
            for i in range(photos)
        ]
        return self.save(sample_desired(listing_id, media=media, **kw))

    def save(self, listing: DesiredListing) -> DesiredListing:
        """Store ``listing`` as its next version, as ingestion does."""
        current = self.store.load_desired(listing.listing_id)
        listing = replace(listing, version=1 if current is None else current.version + 1)
        self.store.save_desired(listing, None if current is None else current.version, now=datetime.now(UTC))
        return listing

    def change_photo(self, listing_id: str, index: int, *, status: int = 200) -> DesiredListing:
        """The CRM replaces photo ``index`` (new version); its host now answers ``status``."""
        self.media.set_status(self.photo_path(listing_id, index), status)
        listing = self.store.load_desired(listing_id)
        assert listing is not None
        media = list(listing.media)
        media[index] = replace(media[index], version=f"{media[index].version}-new")
        return self.save(replace(listing, media=media))

    def sync(self, listing_id: str) -> SyncOutcome:
        try:
            outcome = sync_listing(
                listing_id,
                store=self.store,
                aviv=self.aviv,
                defaults=DEFAULTS,
                now=datetime.now(UTC),
                lease_owner="sync-worker",
            )
        finally:
            self.emulator.wait_idle()
        self._check_watched(outcome)
        return outcome

    def _check_watched(self, outcome: SyncOutcome) -> None:
        """The contract reconciliation relies on: the sync engine puts what it did in the watch set."""
        carrier = {"sent": "SENT", "deleted": "SENT", "rejected": "DESIRED"}.get(outcome.status)
        if carrier is None or not self.check_watch:
            return
        item = self.dynamodb.get_item(
            TableName=self.store.table_name,
            Key={"pk": {"S": f"LISTING#{outcome.listing_id}"}, "sk": {"S": carrier}},
        )["Item"]
        if not {"watchShard", "watchDue"} <= set(item):
            pytest.fail(
                f"a {outcome.status} listing must enter the WatchIndex: DynamoStateStore must set watchShard "
                f"('WATCH#<crc32 % 4>') and watchDue on the {carrier} item (vitrine.adapters.status_store)"
            )

    def run(self) -> RunReport:
        return self.service.run()

    def status_calls(self, classified_id: str | None = None) -> int:
        return sum(
            1
            for r in self.emulator.requests()
            if r.method == "GET"
            and r.path.endswith("/statuses")
            and (classified_id is None or classified_id in r.path)
        )


@pytest.fixture
def make_world(emulator: AvivEmulator, media_server: MediaServer) -> Iterator[Callable[..., World]]:
    emulator.reset()
    media_server.reset()
    with mocked_aws():
        yield lambda policy=EAGER, **probe: World(emulator, media_server, policy, **probe)


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def media_errors(owner: Owner) -> list[dict[str, Any]]:
    owner.drain()
    return [n for n in owner.received if n["body"]["kind"] == "media_error"]


def published_with_a_404_photo(world: World, listing_id: str = "ABC-12", index: int = 1) -> DesiredListing:
    """A listing live on AVIV (CREATED and confirmed), then photo ``index`` replaced by one that 404s."""
    world.new_listing(listing_id)
    assert world.sync(listing_id).operation == "POST"
    world.run()
    assert world.inbox.kinds() == []
    listing = world.change_photo(listing_id, index, status=404)
    outcome = world.sync(listing_id)
    assert outcome.operation == "PUT"
    latest = world.emulator.latest_status(str(outcome.classified_id))
    assert latest is not None and latest["status"] == "UPDATED_WITH_MEDIA_ERROR"
    return listing


# ------------------------------------------------------------------------------ media errors


def test_a_404_photo_is_notified_once_naming_the_media(world: World) -> None:
    listing = published_with_a_404_photo(world)
    world.run()
    [notification] = media_errors(world.inbox)
    body = notification["body"]
    photo = listing.media[1]
    assert notification["subject"] == "1 photo of listing ABC-12 could not be downloaded by SeLoger"
    assert notification["attributes"] == {
        "ownerId": "owner-1",
        "listingId": "ABC-12",
        "kind": "media_error",
        "severity": "warning",
    }
    assert (body["ownerId"], body["listingId"], body["status"]) == (
        "owner-1",
        "ABC-12",
        "UPDATED_WITH_MEDIA_ERROR",
    )
    assert body["classifiedId"] and body["detectedAt"]
    assert [(m["id"], m["url"], m["title"], m["status"]) for m in body["media"]] == [
        (photo.id, photo.url, photo.title, "DOWNLOADING_FAILED")
    ]

    sent = world.store.load_last_sent("ABC-12")
    assert sent is not None and sent.classified_id
    calls_before = world.status_calls(sent.classified_id)
    for _ in range(5):
        world.run()
    assert world.status_calls(sent.classified_id) == calls_before + 5  # looked at every time...
    assert len(media_errors(world.inbox)) == 1  # ...and told only once


def test_a_second_failing_photo_is_a_new_notification(world: World) -> None:
    published_with_a_404_photo(world)
    world.run()
    assert len(media_errors(world.inbox)) == 1
    world.change_photo("ABC-12", 2, status=404)
    world.sync("ABC-12")
    world.run()
    world.run()
    first, second = media_errors(world.inbox)
    assert [m["id"] for m in first["body"]["media"]] == ["ABC-12-m0001"]
    assert [m["id"] for m in second["body"]["media"]] == ["ABC-12-m0001", "ABC-12-m0002"]
    assert second["subject"] == "2 photos of listing ABC-12 could not be downloaded by SeLoger"


def test_an_unrelated_resend_does_not_notify_the_same_broken_photo_again(world: World) -> None:
    """The problem is "photo 1 fails", not "photo 1 failed in that send": a title-only edit of
    another photo is re-sent (a new PUT, AVIV still reports photo 1) and the owner hears nothing."""
    published_with_a_404_photo(world)
    world.run()
    [first] = media_errors(world.inbox)
    listing = world.store.load_desired("ABC-12")
    assert listing is not None
    media = list(listing.media)
    media[2] = replace(media[2], title="Chambre côté jardin (nouveau titre)")
    world.save(replace(listing, media=media))
    sent_before = world.store.load_last_sent("ABC-12")
    outcome = world.sync("ABC-12")
    assert outcome.operation == "PUT"
    sent_after = world.store.load_last_sent("ABC-12")
    assert sent_before is not None and sent_after is not None
    assert sent_after.sent_at != sent_before.sent_at  # really a new send...
    latest = world.emulator.latest_status(str(outcome.classified_id))
    assert latest is not None and latest["status"] == "UPDATED_WITH_MEDIA_ERROR"  # ...still failing photo 1
    for _ in range(4):
        world.run()
    assert world.inbox.kinds() == ["media_error"]

    world.change_photo("ABC-12", 1, status=200)
    world.sync("ABC-12")
    for _ in range(3):
        world.run()
    assert world.inbox.kinds() == ["media_error", "resolved"]
    resolved = world.inbox.received[-1]["body"]
    assert [r["fingerprint"] for r in resolved["resolves"]] == [first["body"]["id"]]


def test_a_fixed_and_resent_photo_sends_one_resolved(world: World) -> None:
    published_with_a_404_photo(world)
    world.run()
    world.change_photo("ABC-12", 1, status=200)
    world.sync("ABC-12")
    for _ in range(3):
        world.run()
    assert world.inbox.kinds() == ["media_error", "resolved"]
    resolved = world.inbox.received[-1]
    assert resolved["attributes"]["kind"] == "resolved" and resolved["body"]["status"] == "UPDATED"
    assert [r["kind"] for r in resolved["body"]["resolves"]] == ["media_error"]
    sent = world.store.load_last_sent("ABC-12")
    assert sent is not None
    calls = world.status_calls()
    world.run()
    assert world.status_calls() == calls  # confirmed: out of the watch set


# ------------------------------------------------------------------------------ automatic media retry


def test_auto_retry_redownloads_a_fixed_url_once_and_resolves(make_world: Callable[..., World]) -> None:
    world = make_world(replace(EAGER, auto_media_retry=True), allow_private=True)
    listing = published_with_a_404_photo(world)
    path = world.photo_path("ABC-12", 1)
    world.run()
    [first] = media_errors(world.inbox)
    assert first["body"]["media"][0]["reason"] == "the URL answers 404"
    before = world.store.load_last_sent("ABC-12")
    assert before is not None
    failed_url = before.body["media"][1]["url"]

    world.media.set_status(path, 200)  # the host is fixed; the CRM changes nothing
    report = world.run()
    assert report.retried_media == 1
    desired = world.store.load_desired("ABC-12")
    assert desired is not None
    assert desired.media[1].version == f"{listing.media[1].version}#retry1"
    assert [m.version for i, m in enumerate(desired.media) if i != 1] == [
        m.version for i, m in enumerate(listing.media) if i != 1
    ]
    # Delayed by the consolidation window (1 s here), as ingestion's messages are: wait for it.
    answer = world.sqs.receive_message(
        QueueUrl=world.sync_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5
    )
    [message] = answer["Messages"]
    assert json.loads(message["Body"]) == {"listingId": "ABC-12"}  # scheduled through the normal path

    downloads_before = len(world.emulator.downloads())
    outcome = world.sync("ABC-12")  # what the sync worker does with that message
    assert outcome.operation == "PUT"
    new_downloads = world.emulator.downloads()[downloads_before:]
    assert [d.url.split("?")[0] for d in new_downloads] == [world.media.url(path)]  # one re-download
    assert new_downloads[0].ok and new_downloads[0].url != failed_url  # a new timestamp

    world.run()
    world.run()
    assert world.inbox.kinds() == ["media_error", "resolved"]  # no media_error after the first


def test_auto_retry_refuses_a_loopback_url_and_says_so(make_world: Callable[..., World]) -> None:
    world = make_world(replace(EAGER, auto_media_retry=True))  # the production address policy
    published_with_a_404_photo(world)
    world.media.set_status(world.photo_path("ABC-12", 1), 200)
    hits_before = world.media.hits(world.photo_path("ABC-12", 1))
    report = world.run()
    assert report.retried_media == 0
    [notification] = media_errors(world.inbox)
    assert notification["body"]["media"][0]["reason"] == "the URL points to a loopback address (127.0.0.1)"
    assert world.media.hits(world.photo_path("ABC-12", 1)) == hits_before  # never contacted


# ------------------------------------------------------------------------------ rejections


def test_a_rejection_is_notified_once_through_the_same_path_and_resolved_by_a_later_send(
    world: World,
) -> None:
    listing = world.new_listing("REJ-1")
    data = dict(listing.data or {})
    data.pop("prices", None)
    world.save(replace(listing, data=data))
    assert world.sync("REJ-1").status == "rejected"
    for _ in range(4):
        world.run()
    assert world.inbox.kinds() == ["sync_rejected"]
    body = world.inbox.received[0]["body"]
    assert body["status"] == "REJECTED" and body["classifiedId"] is None
    assert any(e["pointer"].startswith("/data") for e in body["errors"])

    world.save(replace(listing, data=listing.data))
    assert world.sync("REJ-1").status == "sent"
    world.run()
    world.run()
    assert world.inbox.kinds() == ["sync_rejected", "resolved"]


def test_a_rejection_fixed_back_to_what_aviv_already_holds_is_resolved_without_a_send(
    world: World,
) -> None:
    """The CRM undoes the refused change: nothing is sent (AVIV holds that body), yet it is over."""
    listing = world.new_listing("REJ-2")
    assert world.sync("REJ-2").operation == "POST"
    world.run()
    data = dict(listing.data or {})
    data.pop("prices", None)
    world.save(replace(listing, data=data))
    assert world.sync("REJ-2").status == "rejected"
    world.run()
    world.run()
    assert world.inbox.kinds() == ["sync_rejected"]

    world.save(replace(listing, data=listing.data))  # the very body sent before the refusal
    posts_and_puts = len([r for r in world.emulator.requests() if r.method in ("POST", "PUT")])
    assert world.sync("REJ-2").status == "skipped"
    for _ in range(3):
        world.run()
    assert world.inbox.kinds() == ["sync_rejected", "resolved"]
    resolved = world.inbox.received[-1]["body"]
    assert [r["kind"] for r in resolved["resolves"]] == ["sync_rejected"]
    assert len([r for r in world.emulator.requests() if r.method in ("POST", "PUT")]) == posts_and_puts
    reads = len(world.dynamodb.operations)
    world.run()
    assert "get_item" not in world.dynamodb.operations[reads:]  # out of the watch set again


def test_a_listing_with_two_due_entries_is_reconciled_once_per_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its SENT and DESIRED entries on two threads at once would both flush one outbox (a duplicate)."""
    listing = world.new_listing("TWO-1")
    world.sync("TWO-1")  # the SENT entry is due...
    data = dict(listing.data or {})
    data.pop("prices", None)
    world.save(replace(listing, data=data))
    assert world.sync("TWO-1").status == "rejected"  # ...and the DESIRED one too
    calls: list[str] = []
    reconcile_listing = world.service.reconcile_listing

    def counted(listing_id: str, **kw: Any) -> Any:
        calls.append(listing_id)
        return reconcile_listing(listing_id, **kw)

    monkeypatch.setattr(world.service, "reconcile_listing", counted)
    world.run()
    assert calls == ["TWO-1"]
    world.run()  # the other entry, first next run
    assert calls == ["TWO-1", "TWO-1"]
    assert world.inbox.kinds() == ["sync_rejected"]


# ------------------------------------------------------------------------------ SNS and the watch set


def test_a_filter_policy_on_owner_id_delivers_only_that_owners_messages(world: World) -> None:
    alice = world.subscribe("alice", {"ownerId": ["owner-alice"]})
    bob = world.subscribe("bob", {"ownerId": ["owner-bob"]})
    for listing_id, owner in (("A-1", "owner-alice"), ("B-1", "owner-bob"), ("B-2", "owner-bob")):
        world.new_listing(listing_id, owner_id=owner)
        world.sync(listing_id)
        world.change_photo(listing_id, 0, status=404)
        world.sync(listing_id)
    world.run()
    assert {n["body"]["listingId"] for n in world.inbox.received or world.inbox.drain()} == {
        "A-1",
        "B-1",
        "B-2",
    }
    assert [(n["body"]["listingId"], n["attributes"]["ownerId"]) for n in alice.drain()] == [
        ("A-1", "owner-alice")
    ]
    assert sorted(n["body"]["listingId"] for n in bob.drain()) == ["B-1", "B-2"]
    assert all(n["attributes"]["ownerId"] == "owner-bob" for n in bob.received)


def test_the_work_set_comes_from_the_index_and_never_a_scan(world: World) -> None:
    for index in range(20):
        world.new_listing(f"CAT-{index:02d}", photos=1)
        world.sync(f"CAT-{index:02d}")
    world.run()  # all confirmed: the watch set is empty now
    for index in (3, 11):
        world.change_photo(f"CAT-{index:02d}", 0)
        world.sync(f"CAT-{index:02d}")
    world.dynamodb.operations.clear()
    calls = world.status_calls()
    report = world.run()
    assert report.reconciled == 2
    assert world.status_calls() - calls == 2  # AVIV is asked about the pending listings only
    assert "scan" not in world.dynamodb.operations
    assert "query" in world.dynamodb.operations


def test_listings_not_reached_within_the_budget_come_first_next_run(world: World) -> None:
    for index in range(6):
        world.new_listing(f"BUD-{index}", photos=1)
        world.sync(f"BUD-{index}")
    ticks = iter(range(10_000))
    world.service.settings = replace(world.settings, reconcile_budget_seconds=3, reconcile_concurrency=1)
    world.service.monotonic = lambda: float(next(ticks))  # one "second" per look at the clock
    first = world.run()
    assert first.budget_exhausted and 0 < first.reconciled < 6
    reached = {r.listing_id for r in first.listings}
    world.service.monotonic = lambda: 0.0  # plenty of time now
    second = world.run()
    assert {r.listing_id for r in second.listings} == {f"BUD-{i}" for i in range(6)} - reached
    assert not second.budget_exhausted


# ------------------------------------------------------------------------------ AVIV status push


@pytest.fixture
def push_api(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiGateway]:
    """The push route of template.yaml served by the real handler, wired to ``world``'s service."""
    monkeypatch.setattr(reconcile_module._instance, "service", world.service)
    handler = LambdaFunction("reconcile", load_handler("functions/reconcile"), max_concurrency=None)
    with ApiGateway([("POST", "/aviv/{token}/classifieds/{classifiedId}/statuses", handler)]) as api:
        yield api


def test_a_push_with_a_wrong_token_is_refused(world: World, push_api: ApiGateway) -> None:
    status = {"portals": ["SL"], "status": "UPDATED", "message": "ok", "statusDate": "2026-03-02T09:00:00Z"}
    wrong = requests.post(
        f"{push_api.base_url}/aviv/not-the-token/classifieds/cl-1/statuses", json=status, timeout=5
    )
    assert wrong.status_code == 403
    right = requests.post(
        f"{push_api.base_url}/aviv/{PUSH_TOKEN}/classifieds/cl-1/statuses", json=status, timeout=5
    )
    assert right.status_code == 201
    assert right.json()["applied"] == "unknown_classified"


def test_a_pushed_status_gives_the_same_notification_as_polling(world: World, push_api: ApiGateway) -> None:
    world.check_watch = False
    world.aviv.subscribe_status_webhook(
        f"{push_api.base_url}/aviv/{PUSH_TOKEN}", sorted(SUBSCRIBABLE_STATUSES), intermediary_id="agency-push"
    )
    for listing_id, agency in (("PUSH-1", "agency-push"), ("POLL-1", "agency-poll")):
        listing = world.new_listing(listing_id)
        world.save(replace(listing, intermediary_id=agency))
        world.sync(listing_id)
        world.change_photo(listing_id, 1, status=404)
        world.sync(listing_id)
    world.run()  # media errors are not pushed (AVIV cannot): polling finds both
    assert sorted(n["body"]["listingId"] for n in media_errors(world.inbox)) == ["POLL-1", "PUSH-1"]

    for listing_id in ("PUSH-1", "POLL-1"):
        world.change_photo(listing_id, 1, status=200)
        world.sync(listing_id)  # AVIV pushes RECEIVED then UPDATED for PUSH-1 while processing
    pushes = [p for p in world.emulator.webhook_pushes() if p.status in ("RECEIVED", "UPDATED")]
    assert pushes and all(p.status_code == 201 for p in pushes)
    resolved_by_push = [n for n in world.inbox.drain() if n["body"]["kind"] == "resolved"]
    assert [n["body"]["listingId"] for n in resolved_by_push] == ["PUSH-1"]  # before any run

    world.run()
    world.run()
    world.inbox.drain()
    resolved = [n for n in world.inbox.received if n["body"]["kind"] == "resolved"]
    assert sorted(n["body"]["listingId"] for n in resolved) == ["POLL-1", "PUSH-1"]  # PUSH-1 not twice
    by_push, by_poll = (
        next(n for n in resolved if n["body"]["listingId"] == name) for name in ("PUSH-1", "POLL-1")
    )
    assert _comparable(by_push) == _comparable(by_poll)


def _comparable(notification: dict[str, Any]) -> dict[str, Any]:
    """A notification without what differs between two listings (ids, times)."""
    volatile = {"id", "listingId", "classifiedId", "detectedAt", "statusDate", "sentAt", "subject", "summary"}
    body = {k: v for k, v in notification["body"].items() if k not in volatile}
    body["resolves"] = [{"kind": r["kind"]} for r in body["resolves"]]
    return {"body": body, "subject": notification["subject"].replace("PUSH-1", "X").replace("POLL-1", "X")}


# ------------------------------------------------------------------------------ make subscribe, sample events


def test_make_subscribe_gives_aviv_the_push_url_and_the_subscribable_statuses(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools import subscribe

    for name, value in {
        "AVIV_CLIENT_ID": world.emulator.client_id,
        "AVIV_CLIENT_SECRET": world.emulator.client_secret,
        "AVIV_API_URL": world.emulator.base_url,
        "AVIV_AUTH_URL": world.emulator.auth_url,
        "AVIV_INTERMEDIARY_ID": "agency-test",
        "VITRINE_TOKEN_TABLE": "vitrine-TokenTable",
    }.items():
        monkeypatch.setenv(name, value)
    api = "https://abc123.execute-api.eu-west-3.amazonaws.com/v1"
    assert subscribe.main(["--api-url", api, "--token", PUSH_TOKEN]) == 0
    [subscription] = world.emulator.state()["webhooks"].values()
    assert subscription["url"] == f"{api}/aviv/{PUSH_TOKEN}"
    assert sorted(subscription["statuses"]) == sorted(SUBSCRIBABLE_STATUSES)
    assert not any(s.endswith("_WITH_MEDIA_ERROR") for s in subscription["statuses"])


def test_the_sample_events_drive_the_handler(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile_module._instance, "service", world.service)
    handler = LambdaFunction("reconcile", load_handler("functions/reconcile"))
    root = Path(__file__).resolve().parents[2] / "events"
    push = json.loads((root / "aviv-status-push.json").read_text())
    assert handler.invoke(push)["statusCode"] == 403  # the sample carries a placeholder token
    push["path"] = push["path"].replace("REPLACE-WITH-THE-PUSH-TOKEN", PUSH_TOKEN)
    push["pathParameters"]["token"] = PUSH_TOKEN
    answer = handler.invoke(push)
    assert answer["statusCode"] == 201 and json.loads(answer["body"])["applied"] == "unknown_classified"
    schedule = json.loads((root / "reconcile-schedule.json").read_text())
    assert handler.invoke(schedule)["failed"] == 0
