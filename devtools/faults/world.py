"""One vitrine in this process, for one cell of the fault matrix: moto (in process) for DynamoDB, SQS
and SNS, the AVIV emulator and a media host on loopback, the real services and adapters.

Time is the world's own clock (:class:`WorldClock`), moved forward by recovery so leases, claims and
watches expire without waiting. The sync queue is driven like Lambda's SQS event source
(:meth:`CellWorld.deliver`): receive, invoke, delete what succeeded; a message whose invocation
failed or died comes back when :meth:`CellWorld.time_passes` ends its visibility timeout.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from devtools import template as cfn
from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.fake_aws import REGION, aws_env
from devtools.faults.injection import (
    AVIV_STEPS,
    NOTIFIER_STEPS,
    SCHEDULER_STEPS,
    SQS_DELETE_STEP,
    STATUS_STEPS,
    STORE_STEPS,
    CrashingPort,
    FaultyClient,
    Invocation,
    SimulatedCrash,
)
from devtools.local_stack.event_sources.sqs import sqs_event
from devtools.media_server import MediaServer
from vitrine.adapters.aviv.client import AvivClient
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.media_probe import MediaProbe
from vitrine.adapters.secrets import AvivCredentials
from vitrine.adapters.sns_notifier import SnsNotifier
from vitrine.adapters.sqs_scheduler import SqsSyncScheduler
from vitrine.adapters.status_store import StatusStore
from vitrine.adapters.token_cache import MemoryTokenCache
from vitrine.core.errors import AvivNotFound, AvivRejected
from vitrine.core.events.parse import parse_event
from vitrine.core.ingest import ingest_event
from vitrine.core.model import Delivery, body_digest
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.observability import logger
from vitrine.service.reconcile import ReconcileService
from vitrine.service.sqs_batch import SqsMessage
from vitrine.service.sync import SyncService
from vitrine.settings import Settings

USER_AGENT = "vitrine/0.1.0 python-requests/2.34.2 linux/6.1"
INTERMEDIARY = "agency-faults"
LEASE_SECONDS = 20
# Short rechecks, so a few recovery rounds of ROUND_SECONDS see every status and problem again.
FAST_POLICY = ReconcilePolicy(
    recheck_base=timedelta(seconds=1),
    recheck_cap=timedelta(seconds=5),
    open_problem_recheck=timedelta(seconds=10),
    open_problem_recheck_cap=timedelta(seconds=20),
)


@contextmanager
def in_process_aws() -> Iterator[None]:
    """moto in this process, with fake credentials (nothing can reach a real account)."""
    with aws_env(REGION), mock_aws():
        yield


class WorldClock:
    """The time every service of the world reads; recovery moves it forward."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


@dataclasses.dataclass
class Peers:
    """The loopback peers every cell shares: AVIV (emulator) and the CRM's media host."""

    emulator: AvivEmulator
    media: MediaServer

    def reset(self) -> None:
        self.emulator.reset()
        self.media.reset()


class CellWorld:
    """Fresh tables, queues and topic (a prefix of their own) over the shared moto and peers."""

    def __init__(self, peers: Peers, clock: WorldClock | None = None) -> None:
        self.peers = peers
        self.clock = clock or WorldClock()
        prefix = f"fm{uuid.uuid4().hex[:8]}-"
        self.dynamodb = FaultyClient(boto3.client("dynamodb", region_name=REGION))
        self.sqs = FaultyClient(boto3.client("sqs", region_name=REGION))
        self.sns = FaultyClient(boto3.client("sns", region_name=REGION))
        template = cfn.load_template()
        max_receives = str(template["Parameters"]["SyncMaxReceives"]["Default"])
        tables = cfn.create_tables(self.dynamodb.real, prefix, template)
        queues, _arns = cfn.create_queues(self.sqs.real, prefix, {"SyncMaxReceives": max_receives}, template)
        topics = cfn.create_topics(self.sns.real, prefix, template)
        self.queue_url = queues["SyncQueue"]
        self.dead_letter_url = queues["SyncDeadLetterQueue"]
        self.inbox_url = self._subscribe_inbox(prefix, topics["NotificationsTopic"])
        self.settings = dataclasses.replace(
            Settings.from_env(),
            state_table=tables["StateTable"],
            token_table=tables["TokenTable"],
            sync_queue_url=self.queue_url,
            topic_arn=topics["NotificationsTopic"],
            aviv_api_url=peers.emulator.base_url,
            aviv_auth_url=peers.emulator.auth_url,
            consolidation_window_seconds=0,
            max_delay_seconds=0,
            sync_lease_seconds=LEASE_SECONDS,
            sync_retry_base_seconds=1,
            sync_max_receives=int(max_receives),
            reconcile_concurrency=2,
        )
        self.store = DynamoStateStore(self.settings.state_table, self.dynamodb.real)  # the truth, unfaulted
        self.aviv_client = AvivClient(
            AvivClientConfig(
                api_url=peers.emulator.base_url,
                auth_url=peers.emulator.auth_url,
                audience=peers.emulator.base_url,
                user_agent=USER_AGENT,
                default_intermediary_id=INTERMEDIARY,
                connect_timeout=0.5,
                read_timeout=0.5,
                backoff_base=0.01,
                backoff_cap=0.05,
            ),
            lambda: AvivCredentials(peers.emulator.client_id, peers.emulator.client_secret),
            MemoryTokenCache(),
        )
        self._receipts: dict[str, str] = {}  # message id -> latest receipt handle, until deleted

    def _subscribe_inbox(self, prefix: str, topic_arn: str) -> str:
        """An SQS queue on the topic: what owners were told, as delivered."""
        sqs = self.sqs.real
        url: str = sqs.create_queue(QueueName=f"{prefix}Inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.real.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        return url

    # ------------------------------------------------------------------ the functions, per invocation
    def _ports(self, invocation: Invocation) -> dict[str, Any]:
        store = DynamoStateStore(self.settings.state_table, self.dynamodb)
        return {
            "store": CrashingPort(store, invocation, STORE_STEPS),
            "scheduler": CrashingPort(
                SqsSyncScheduler(self.queue_url, self.sqs), invocation, SCHEDULER_STEPS
            ),
            "aviv": CrashingPort(self.aviv_client, invocation, AVIV_STEPS, (AvivNotFound, AvivRejected)),
        }

    def sync_service(self, invocation: Invocation) -> SyncService:
        """A new Lambda instance of the sync function (a crashed one is never reused)."""
        service = SyncService(self.settings, clock=self.clock.now)
        for name, port in self._ports(invocation).items():
            setattr(service, name, port)  # the cached properties, filled with this world's adapters
        return service

    def reconcile_service(self, invocation: Invocation) -> ReconcileService:
        ports = self._ports(invocation)
        return ReconcileService(
            self.settings,
            store=ports["store"],
            status_store=CrashingPort(
                StatusStore(self.settings.state_table, self.dynamodb), invocation, STATUS_STEPS
            ),
            aviv=ports["aviv"],
            notifier=CrashingPort(SnsNotifier(self.settings.topic_arn, self.sns), invocation, NOTIFIER_STEPS),
            scheduler=ports["scheduler"],
            probe=MediaProbe(allow_private=True),
            push_token=lambda: "fault-matrix",
            policy=FAST_POLICY,
            clock=self.clock.now,
        )

    # ------------------------------------------------------------------ the CRM, AWS and time
    def ingest(self, event: dict[str, Any]) -> None:
        """One accepted webhook, as ingest applies it (the CRM's side is not under test here)."""
        raw = json.dumps(event, ensure_ascii=False).encode()
        delivery = Delivery(f"msg_{uuid.uuid4().hex}", body_digest(raw), self.clock.now())
        ingest_event(
            parse_event(event),
            delivery,
            store=self.store,
            scheduler=SqsSyncScheduler(self.queue_url, self.sqs.real),
            clock=self.clock.now,
            consolidation_window=self.settings.consolidation_window_seconds,
            hold_seconds=self.settings.sync_claim_hold_seconds,
            defaults=self.settings.classified_defaults(),
        )

    def deliver(self, invocation: Invocation) -> int:
        """Lambda's SQS event source, once: receive a batch, process each record, delete the processed
        ones. A record that raised stays (retried later); a crash ends the batch. Records received."""
        answer = self.sqs.real.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        )
        messages = answer.get("Messages") or []
        service = self.sync_service(invocation)
        for message in messages:
            self._receipts[message["MessageId"]] = message["ReceiptHandle"]
        try:
            for record in sqs_event(messages, "arn:aws:sqs:eu-west-3:000000000000:sync", REGION)["Records"]:
                if invocation.crashed:
                    break
                try:
                    service.process_record(SqsMessage(record))
                except SimulatedCrash:
                    break
                except Exception:  # noqa: S112 - the record failed: Lambda keeps it for a retry
                    continue
                self._delete(invocation, record["messageId"], record["receiptHandle"])
        finally:
            logger.thread_safe_clear_keys()  # as the handler's per_invocation does
        return len(messages)

    def _delete(self, invocation: Invocation, message_id: str, receipt_handle: str) -> None:
        try:
            invocation.check_alive()
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)
            self._receipts.pop(message_id, None)
            invocation.done(SQS_DELETE_STEP)
        except SimulatedCrash:
            return
        except Exception:
            return  # Lambda could not delete it: it comes back after its visibility timeout

    def reconcile(self, invocation: Invocation) -> bool:
        """One scheduled reconcile run; whether it reached every due listing. A failed or killed
        run, or a listing left for later (AVIV unavailable), is simply the next run's work."""
        try:
            report = self.reconcile_service(invocation).run()
        except (SimulatedCrash, Exception):
            return False
        finally:
            logger.thread_safe_clear_keys()
        return not invocation.crashed and not report.aviv_unavailable and not report.budget_exhausted

    def time_passes(self, seconds: float) -> None:
        """Move the clock; every message received and not deleted is visible again."""
        self.clock.advance(seconds)
        for message_id, receipt_handle in list(self._receipts.items()):
            try:
                self.sqs.real.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
                )
            except Exception:
                self._receipts.pop(message_id, None)  # deleted, or moved to the dead-letter queue

    def queued(self, queue_url: str | None = None) -> int:
        attributes = self.sqs.real.get_queue_attributes(
            QueueUrl=queue_url or self.queue_url, AttributeNames=["All"]
        )["Attributes"]
        names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed")  # fmt: skip
        return sum(int(attributes.get(name, 0)) for name in names)

    def status_outbox(self, listing_id: str) -> tuple[Any, ...]:
        """Notifications decided and not yet published for this listing."""
        return tuple(StatusStore(self.settings.state_table, self.dynamodb.real).load(listing_id).outbox)

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification delivered so far (the inbox is drained: call once, at the end)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = (
                self.sqs.real.receive_message(
                    QueueUrl=self.inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages")
                or []
            )
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.sqs.real.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def disarm(self) -> None:
        for client in (self.dynamodb, self.sqs, self.sns):
            client.disarm()
        self.peers.emulator.clear_faults()
