"""Reconcile service: one scheduled run (sweep + status polling) or one AVIV status push.

A run does two things, inside a time budget so it never reaches the Lambda timeout:

1. **Sweep**: listings left dirty (a lost or dead-lettered sync message) get a sync scheduled
   again, found through the sparse DirtyIndex and scheduled with the same claim ingestion uses.
2. **Watch set**: listings whose last send AVIV has not confirmed, whose rejection is not over
   (not told yet, or no later version handled yet), or with an open problem, found through the
   sparse WatchIndex (Query, never Scan), due first = waiting longest. Each is reconciled (one
   ``GET …/statuses?filter=latest`` for a send) on a bounded thread pool. When the budget runs
   out no new listing is started; those not reached keep their ``watchDue`` and therefore come
   first next run.

Per listing: read the STATUS, SENT and DESIRED items, ask AVIV, let the pure core decide
(``vitrine.core.reconcile``), store the decision with its notifications in an outbox (conditional
write), publish them, empty the outbox, then move or remove the watch entry (conditional on the
send still being the one reconciled). A crash between publishing and emptying the outbox can
repeat a notification; nothing can lose one.

Automatic media retry (off by default): a DOWNLOADING_FAILED media whose URL now answers with an
image/video gets a new *retry version* (``v3`` → ``v3#retry1``) in the desired state — the same
conditional, versioned write ingestion makes — and a sync is scheduled through the normal
consolidation path. The sync engine gives a media a new timestamp exactly when its version
changes, so AVIV downloads that one media again and nothing else.

An AVIV status push (``POST /aviv/{token}/classifieds/{classifiedId}/statuses``) is applied by the
very same per-listing code, with the pushed status in place of the polled one.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from threading import Lock
from typing import TYPE_CHECKING, Any, Protocol

from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.dynamo.table import SK_DESIRED, SK_SENT
from vitrine.adapters.status_store import StatusStore
from vitrine.core.errors import AvivNotFound, AvivRetryable, ConcurrentModification
from vitrine.core.ingest import ensure_sync_scheduled
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.moments import format_moment
from vitrine.core.reconcile import (
    Decision,
    FailedMedia,
    ListingContext,
    Notification,
    ReconcilePolicy,
    StatusState,
    UrlCheck,
    interpret_status,
    media_due_for_check,
    reconcile_rejection,
    reconcile_send,
    roll_to_send,
    with_retry_versions,
)
from vitrine.observability import MetricUnit, logger, metrics
from vitrine.service import PerInstance
from vitrine.settings import Settings

if TYPE_CHECKING:
    # Imported where used: a scheduled run never needs the HTTP layer (powertools' event handler),
    # and the SQS and SNS adapters are built on a run's first use.
    from aws_lambda_powertools.event_handler import Response

    from vitrine.adapters.aviv_client import AvivClientConfig
    from vitrine.adapters.sqs_scheduler import SqsSyncScheduler

# URL checks (5 s each at most) per listing and run; further failed media are checked next run.
MAX_URL_CHECKS_PER_LISTING = 4
# A listing's DynamoDB reads and writes and its SNS publishes, on top of its AVIV call and URL
# checks, in the worst case this margin allows for (each is normally a few milliseconds).
AWS_CALLS_ALLOWANCE_SECONDS = 10.0
# Waiting for another instance's token refresh (DynamoTokenCache: its 10 s lease + 5 s at most).
TOKEN_WAIT_ALLOWANCE_SECONDS = 15.0
# A run sweeps at most this many dirty listings (the rest next run); each costs one conditional write.
MAX_SWEEP_PER_RUN = 1000
# Re-reading and re-deciding after a lost write race (a push and a run on the same listing).
MAX_LISTING_ATTEMPTS = 3
# When publishing failed, the listing is looked at again this soon (the outbox is retried).
OUTBOX_RETRY = timedelta(minutes=1)


class AvivStatusPort(Protocol):
    """The part of the AVIV client reconciliation needs."""

    def latest_status(
        self, classified_id: str, *, intermediary_id: str | None = None
    ) -> dict[str, Any] | None: ...

    def get(self, classified_id: str, *, intermediary_id: str | None = None) -> Any: ...


class NotifierPort(Protocol):
    def publish(self, notification: Notification) -> str: ...


class UrlProbePort(Protocol):
    def probe(self, url: str) -> Any: ...


def listing_worst_case_seconds(
    aviv: AvivClientConfig,
    *,
    probe_timeout_seconds: float | None,
    url_checks: int = MAX_URL_CHECKS_PER_LISTING,
) -> float:
    """How long reconciling one listing can take at worst, from the AVIV client's own limits.

    The status call (with the token cached; see ReconcileService.run for the rest): every attempt
    may use its whole connect and read timeouts, and between two attempts the client waits at most
    the longest ``Retry-After`` it honours (its backoff is capped lower). Then the URL checks
    (``probe_timeout_seconds`` each; None when automatic media retry is off and nothing is
    checked) and the DynamoDB/SNS calls. A run stops starting listings this long before its Lambda
    timeout, so the last one started still finishes in time.
    """
    per_attempt = aviv.connect_timeout + aviv.read_timeout
    longest_wait = max(aviv.backoff_cap, aviv.max_retry_after)
    status_call = aviv.max_attempts * per_attempt + (aviv.max_attempts - 1) * longest_wait
    return status_call + _after_aviv_seconds(probe_timeout_seconds, url_checks)


def _after_aviv_seconds(probe_timeout_seconds: float | None, url_checks: int) -> float:
    """A listing's URL checks and its DynamoDB/SNS calls, at worst."""
    probes = url_checks * probe_timeout_seconds if probe_timeout_seconds is not None else 0.0
    return probes + AWS_CALLS_ALLOWANCE_SECONDS


def listing_tail_seconds(
    *, probe_timeout_seconds: float | None, url_checks: int = MAX_URL_CHECKS_PER_LISTING
) -> float:
    """What a listing may still need once its AVIV calls are over (or cut short): URL checks,
    DynamoDB/SNS calls, and a wait on a token refresh the AVIV client's time limit does not cover."""
    return _after_aviv_seconds(probe_timeout_seconds, url_checks) + TOKEN_WAIT_ALLOWANCE_SECONDS


def policy_from_settings(settings: Settings) -> ReconcilePolicy:
    return ReconcilePolicy(
        stuck_after=timedelta(seconds=settings.stuck_after_seconds),
        auto_media_retry=settings.auto_media_retry,
        retry_attempts=settings.auto_media_retry_attempts,
    )


@dataclass
class ListingReport:
    """What reconciling one listing did (for logs, metrics and tests)."""

    listing_id: str
    outcome: str = "nothing"
    notifications: list[Notification] = field(default_factory=list)
    retried_media: list[str] = field(default_factory=list)
    status: str | None = None
    watch: str | None = None

    def to_log(self) -> dict[str, Any]:
        return {
            "listing_id": self.listing_id,
            "outcome": self.outcome,
            "status": self.status,
            "notifications": [n.kind for n in self.notifications],
            "retried_media": self.retried_media,
            "watch": self.watch,
        }


@dataclass
class RunReport:
    """One scheduled run, as returned by the handler and logged."""

    swept: int = 0
    sync_scheduled: int = 0
    reconciled: int = 0
    notifications: int = 0
    retried_media: int = 0
    aviv_unavailable: int = 0
    failed: int = 0
    budget_exhausted: bool = False
    seconds: float = 0.0
    listings: list[ListingReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "swept": self.swept,
            "syncScheduled": self.sync_scheduled,
            "reconciled": self.reconciled,
            "notifications": self.notifications,
            "retriedMedia": self.retried_media,
            "avivUnavailable": self.aviv_unavailable,
            "failed": self.failed,
            "budgetExhausted": self.budget_exhausted,
            "seconds": round(self.seconds, 3),
        }


class ReconcileRunFailed(RuntimeError):
    """Some listings failed for a reason other than AVIV being unavailable: fail the invocation
    (after every other listing was handled) so the reconcile-errors alarm fires."""


class ReconcileService:
    """Built once per Lambda instance; every adapter can be injected (tests, benchmarks)."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy: ReconcilePolicy | None = None,
        store: DynamoStateStore | None = None,
        status_store: StatusStore | None = None,
        aviv: AvivStatusPort | None = None,
        notifier: NotifierPort | None = None,
        scheduler: SqsSyncScheduler | Any | None = None,
        probe: UrlProbePort | None = None,
        push_token: Callable[[], str] | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.policy = policy or policy_from_settings(settings)
        self.hold_seconds = settings.sync_claim_hold_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        # The budget is measured on this (tests pass a fake one to exhaust it deterministically).
        self.monotonic = monotonic
        # Injected adapters win over the lazily built production ones (cached_property is per instance).
        for name, value in (
            ("store", store),
            ("status_store", status_store),
            ("aviv", aviv),
            ("notifier", notifier),
            ("scheduler", scheduler),
            ("probe", probe),
        ):
            if value is not None:
                self.__dict__[name] = value
        self._push_token = push_token
        self._report_lock = Lock()

    # ------------------------------------------------------------------ adapters

    @cached_property
    def store(self) -> DynamoStateStore:
        return DynamoStateStore(self.settings.state_table)

    @cached_property
    def status_store(self) -> StatusStore:
        return StatusStore(self.settings.state_table)

    @cached_property
    def aviv(self) -> AvivStatusPort:
        from vitrine.adapters.aviv_client import build_aviv_client

        return build_aviv_client(self.settings)

    @cached_property
    def notifier(self) -> NotifierPort:
        from vitrine.adapters.sns_notifier import SnsNotifier

        return SnsNotifier(self.settings.topic_arn)

    @cached_property
    def scheduler(self) -> SqsSyncScheduler:
        from vitrine.adapters.sqs_scheduler import SqsSyncScheduler

        return SqsSyncScheduler(self.settings.sync_queue_url)

    @cached_property
    def probe(self) -> UrlProbePort:
        from vitrine.adapters.media_probe import MediaProbe  # only runs with automatic media retry

        return MediaProbe(allow_private=self.settings.allow_private_media_urls)

    def _build_adapters(self) -> None:
        """Build the lazy adapters before the thread pool shares them (one client each)."""
        names = ["store", "status_store", "aviv", "notifier", "scheduler"]
        if self.policy.auto_media_retry:
            names.append("probe")
        for name in names:
            getattr(self, name)

    def listing_margin_seconds(self) -> float:
        """The worst-case time of one listing with the AVIV client and the URL probe this run uses."""
        from vitrine.adapters.aviv_client import AvivClientConfig

        config = getattr(self.aviv, "config", None)
        if not isinstance(config, AvivClientConfig):
            config = AvivClientConfig.from_settings(self.settings)  # what build_aviv_client uses
        return listing_worst_case_seconds(config, probe_timeout_seconds=self._probe_timeout())

    def _probe_timeout(self) -> float | None:
        if not self.policy.auto_media_retry:
            return None
        from vitrine.adapters.media_probe import DEFAULT_TIMEOUT_SECONDS

        return float(getattr(self.probe, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS))

    def _aviv_time_limit(self, aviv_ends_at: float | None) -> AbstractContextManager[None]:
        """The AVIV client's time limit for this thread's calls, when the run knows its end."""
        time_limit = getattr(self.aviv, "time_limit", None)
        if aviv_ends_at is None or time_limit is None:
            return nullcontext()
        limited: AbstractContextManager[None] = time_limit(aviv_ends_at - self.monotonic())
        return limited

    def expected_push_token(self) -> str:
        if self._push_token is not None:
            return self._push_token()
        from vitrine.adapters.secrets import push_token

        return push_token(self.settings.push_token_secret_arn)

    # ------------------------------------------------------------------ the scheduled run

    def run(self, *, remaining_ms: int | None = None) -> RunReport:
        """Sweep, then reconcile due listings until done or out of budget.

        The budget stops *starting* listings; one already started can take up to
        :meth:`listing_margin_seconds`. So with the Lambda's remaining time known, the last start is
        at the earlier of the budget and the remaining time minus that margin. The margin assumes a
        cached AVIV token; a token fetch or refresh can take longer, so every AVIV call is also
        given a time limit (:meth:`AvivClient.time_limit`) that leaves the listing's tail time
        before the Lambda's end: a call cut short leaves its listing for the next run.
        """
        started = self.monotonic()
        report = RunReport()
        self._build_adapters()
        budget = float(self.settings.reconcile_budget_seconds)
        if remaining_ms is not None:
            margin = self.listing_margin_seconds()
            if remaining_ms / 1000 <= margin:
                logger.warning(
                    "the time left is shorter than one listing's worst case: nothing is started",
                    extra={"remaining_ms": remaining_ms, "listing_margin_seconds": margin},
                )
            budget = min(budget, remaining_ms / 1000 - margin)
        deadline = started + max(0.0, budget)
        aviv_ends_at = (
            started + remaining_ms / 1000 - listing_tail_seconds(probe_timeout_seconds=self._probe_timeout())
            if remaining_ms is not None
            else None
        )
        now = self.clock()
        self._sweep(now, deadline, report)
        self._reconcile_due(now, deadline, report, aviv_ends_at)
        report.seconds = self.monotonic() - started
        self._run_metrics(report)
        logger.info("reconcile run finished", extra={"run": report.to_dict()})
        if report.failed:
            raise ReconcileRunFailed(f"{report.failed} listing(s) could not be reconciled; see the logs")
        return report

    def _sweep(self, now: datetime, deadline: float, report: RunReport) -> None:
        """Re-schedule listings still dirty after a consolidation window (their message was lost)."""
        older_than = now - timedelta(seconds=self.settings.consolidation_window_seconds)
        for listing_id in self.store.dirty_listings(limit=MAX_SWEEP_PER_RUN, dirty_before=older_than):
            if self.monotonic() >= deadline:
                report.budget_exhausted = True
                return
            report.swept += 1
            try:
                if ensure_sync_scheduled(
                    listing_id,
                    store=self.store,
                    scheduler=self.scheduler,
                    now=now,
                    delay_seconds=0,
                    hold_seconds=self.hold_seconds,
                ):
                    report.sync_scheduled += 1
            except Exception:
                report.failed += 1
                logger.exception("could not re-schedule dirty listing", extra={"listing_id": listing_id})

    def _reconcile_due(
        self, now: datetime, deadline: float, report: RunReport, aviv_ends_at: float | None = None
    ) -> None:
        concurrency = max(1, self.settings.reconcile_concurrency)
        # One entry per listing and run: a listing's SENT and DESIRED entries handled at once by
        # two threads would both flush the same outbox (a duplicate message). The other entry
        # keeps its watchDue, so it comes first next run.
        started: set[str] = set()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="reconcile") as pool:
            in_flight: set[Future[None]] = set()
            for entry in self.status_store.due_watches(now):
                if entry.listing_id in started:
                    continue
                # Wait for a free thread *before* looking at the clock: the wait can be long.
                while len(in_flight) >= concurrency:
                    _done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                if self.monotonic() >= deadline:
                    report.budget_exhausted = True
                    break
                started.add(entry.listing_id)
                in_flight.add(
                    pool.submit(self._reconcile_entry, entry.listing_id, entry.sk, report, aviv_ends_at)
                )
            wait(in_flight)

    def _reconcile_entry(
        self, listing_id: str, sk: str, report: RunReport, aviv_ends_at: float | None = None
    ) -> None:
        try:
            with self._aviv_time_limit(aviv_ends_at):
                listing_report = self.reconcile_listing(
                    listing_id,
                    check_rejection=sk == SK_DESIRED,
                    check_sent=sk == SK_SENT,
                )
        except AvivRetryable as exc:
            # Left as it is: still due, so it comes first next run.
            with self._report_lock:
                report.aviv_unavailable += 1
            logger.warning(
                "AVIV unavailable; listing left for the next run",
                extra={"listing_id": listing_id, "error": str(exc), "traceparent": exc.traceparent},
            )
            return
        except Exception:
            with self._report_lock:
                report.failed += 1
            logger.exception("reconciling a listing failed", extra={"listing_id": listing_id})
            return
        with self._report_lock:
            report.reconciled += 1
            report.notifications += len(listing_report.notifications)
            report.retried_media += len(listing_report.retried_media)
            report.listings.append(listing_report)

    def _run_metrics(self, report: RunReport) -> None:
        metrics.add_metric(name="ReconcileListings", unit=MetricUnit.Count, value=report.reconciled)
        metrics.add_metric(name="ReconcileSwept", unit=MetricUnit.Count, value=report.sync_scheduled)
        metrics.add_metric(
            name="ReconcileAvivUnavailable", unit=MetricUnit.Count, value=report.aviv_unavailable
        )
        metrics.add_metric(name="ReconcileFailed", unit=MetricUnit.Count, value=report.failed)
        metrics.add_metric(name="MediaRetries", unit=MetricUnit.Count, value=report.retried_media)
        if report.budget_exhausted:
            metrics.add_metric(name="ReconcileBudgetExhausted", unit=MetricUnit.Count, value=1)
        counts: dict[str, int] = {}
        for listing in report.listings:
            for notification in listing.notifications:
                counts[notification.kind] = counts.get(notification.kind, 0) + 1
        for kind, count in counts.items():
            metrics.add_metric(name=f"Notification_{kind}", unit=MetricUnit.Count, value=count)

    # ------------------------------------------------------------------ one listing

    def reconcile_listing(
        self,
        listing_id: str,
        *,
        check_rejection: bool = True,
        check_sent: bool = True,
        pushed_status: Mapping[str, Any] | None = None,
    ) -> ListingReport:
        """Reconcile one listing; a lost write race (a push and a run at once) is re-read and redone."""
        for attempt in range(1, MAX_LISTING_ATTEMPTS + 1):
            try:
                return self._reconcile_once(listing_id, check_rejection, check_sent, pushed_status)
            except ConcurrentModification:
                if attempt == MAX_LISTING_ATTEMPTS:
                    raise
                logger.info(
                    "reconciliation state moved meanwhile; re-reading", extra={"listing_id": listing_id}
                )
        raise AssertionError("unreachable")

    def _reconcile_once(
        self,
        listing_id: str,
        check_rejection: bool,
        check_sent: bool,
        pushed_status: Mapping[str, Any] | None,
    ) -> ListingReport:
        report = ListingReport(listing_id)
        now = self.clock()
        state = self._flush_outbox(self.status_store.load(listing_id), now, report)
        desired = self.store.load_desired(listing_id)
        last_sent = self.store.load_last_sent(listing_id)
        context = self._context(listing_id, desired, last_sent, state)

        if check_rejection:
            state = self._reconcile_rejection(listing_id, state, context, last_sent, now, report)
        if check_sent:
            if last_sent is None or not last_sent.classified_id:
                # Nothing AVIV could tell us about (or the index was stale): stop watching it.
                if last_sent is not None:
                    self.status_store.stop_sent_watch(listing_id, last_sent.sent_at)
                report.outcome = "nothing_sent"
                return report
            state = self._reconcile_sent(
                listing_id,
                state,
                context,
                last_sent,
                intermediary_id=desired.intermediary_id if desired is not None else None,
                now=now,
                report=report,
                pushed_status=pushed_status,
            )
        return report

    def _context(
        self,
        listing_id: str,
        desired: DesiredListing | None,
        last_sent: LastSent | None,
        state: StatusState,
    ) -> ListingContext:
        owner_id = (desired.owner_id if desired is not None else None) or state.owner_id or ""
        portals: tuple[str, ...] = ()
        if last_sent is not None and isinstance(last_sent.body.get("portals"), list):
            portals = tuple(str(p) for p in last_sent.body["portals"])
        if not portals and desired is not None and desired.portals:
            portals = tuple(desired.portals)
        classified_id = last_sent.classified_id if last_sent is not None else state.classified_id
        return ListingContext(
            listing_id=listing_id,
            owner_id=owner_id,
            classified_id=classified_id,
            portals=portals or tuple(self.settings.default_portals),
        )

    def _reconcile_rejection(
        self,
        listing_id: str,
        state: StatusState,
        context: ListingContext,
        last_sent: LastSent | None,
        now: datetime,
        report: ListingReport,
    ) -> StatusState:
        """Tell the owner of a rejection once, and keep it watched until a later desired version is
        handled without being refused: that ends it even when nothing is sent (the CRM's fix gave
        back the body AVIV already holds), which no send's status would ever show."""
        rejection = self.store.load_rejection(listing_id)
        if rejection is None:
            self.status_store.stop_desired_watch(listing_id)
            return state
        sync_state = self.store.load_sync_state(listing_id)
        decision = reconcile_rejection(
            state,
            rejection,
            context,
            now=now,
            last_sent_version=last_sent.desired_version if last_sent is not None else None,
            handled_version=sync_state.sent_version if sync_state is not None else None,
            policy=self.policy,
        )
        state = self._commit(decision, now, report)
        if state.outbox:
            # Not published yet: the DESIRED entry stays due, so the outbox is retried next run.
            return state
        if decision.watch.due is None:
            self.status_store.finish_rejection(listing_id, rejection.desired_version)
        else:
            self.status_store.watch_rejection(listing_id, rejection.desired_version, decision.watch.due)
        if report.outcome == "nothing":
            if decision.watch.due is None:
                report.outcome = "rejection_resolved" if decision.notifications else "rejection_over"
            else:
                report.outcome = "rejection_notified" if decision.notifications else "rejection_known"
        return state

    def _reconcile_sent(
        self,
        listing_id: str,
        state: StatusState,
        context: ListingContext,
        last_sent: LastSent,
        *,
        intermediary_id: str | None,
        now: datetime,
        report: ListingReport,
        pushed_status: Mapping[str, Any] | None,
    ) -> StatusState:
        classified_id = last_sent.classified_id
        assert classified_id is not None
        if state.classified_id != classified_id:
            self.status_store.remember_classified(classified_id, listing_id)
        item = (
            pushed_status
            if pushed_status is not None
            else self._latest_status(classified_id, intermediary_id, last_sent, now)
        )
        rolled = roll_to_send(state.copy(), last_sent, self.policy.clock_tolerance)
        reading = interpret_status(item, last_sent, rolled, self.policy)
        to_check = media_due_for_check(rolled, reading, now, self.policy)
        url_checks = self._check_urls(to_check[:MAX_URL_CHECKS_PER_LISTING])
        decision = reconcile_send(
            state, last_sent, reading, context, now=now, policy=self.policy, url_checks=url_checks
        )
        state = self._commit(decision, now, report)
        report.outcome = reading.outcome
        report.status = reading.status

        if state.outbox:
            due: datetime | None = now + OUTBOX_RETRY
        else:
            due = decision.watch.due
        if due is None:
            self.status_store.stop_sent_watch(listing_id, last_sent.sent_at)
            report.watch = "stopped"
        else:
            self.status_store.reschedule_sent_watch(listing_id, last_sent.sent_at, due)
            report.watch = format_moment(due)
        if decision.retry_media:
            attempts = {m_id: r.attempts for m_id, r in decision.state.retries.items()}
            report.retried_media = self._renew_media(listing_id, decision.retry_media, attempts, now)
        return state

    def _latest_status(
        self, classified_id: str, intermediary_id: str | None, last_sent: LastSent, now: datetime
    ) -> Mapping[str, Any] | None:
        try:
            return self.aviv.latest_status(classified_id, intermediary_id=intermediary_id)
        except AvivNotFound:
            if last_sent.deleted:
                # Gone is what a DELETE asked for.
                return {"status": "DELETED", "statusDate": format_moment(now), "classifiedId": classified_id}
            return None  # not visible (yet): processing, and eventually "stuck"

    def _check_urls(self, due: Iterable[FailedMedia]) -> dict[str, UrlCheck]:
        checks: dict[str, UrlCheck] = {}
        for failed in due:
            if failed.media_id is None:
                continue
            result = self.probe.probe(failed.sent_url)
            checks[failed.media_id] = UrlCheck(usable=bool(result.usable), reason=str(result.reason))
            logger.info(
                "media URL checked",
                extra={"media_id": failed.media_id, "usable": result.usable, "answer": result.reason},
            )
        return checks

    def _commit(self, decision: Decision, now: datetime, report: ListingReport) -> StatusState:
        """Store the decision (its notifications in the outbox), then publish and empty the outbox."""
        stored = self.status_store.save(decision.state, now=now)
        return self._flush_outbox(stored, now, report)

    def _flush_outbox(self, state: StatusState, now: datetime, report: ListingReport) -> StatusState:
        if not state.outbox:
            return state
        published: set[str] = set()
        for notification in state.outbox:
            try:
                self.notifier.publish(notification)
            except Exception:
                logger.exception(
                    "publishing a notification failed; it stays in the outbox",
                    extra={"listing_id": state.listing_id, "kind": notification.kind},
                )
                break
            published.add(notification.id)
            report.notifications.append(notification)
            logger.info(
                "owner notified",
                extra={
                    "listing_id": notification.listing_id,
                    "owner_id": notification.owner_id,
                    "kind": notification.kind,
                    "notification_id": notification.id,
                    "subject": notification.subject,
                },
            )
        return self.status_store.without_outbox(state, published, now=now)

    def _renew_media(
        self, listing_id: str, retry: tuple[FailedMedia, ...], attempts: Mapping[str, int], now: datetime
    ) -> list[str]:
        """Give the media a new retry version (conditional desired write) and schedule a sync."""
        for _attempt in range(MAX_LISTING_ATTEMPTS):
            desired = self.store.load_desired(listing_id)
            if desired is None or desired.deleted:
                return []
            media, renewed = with_retry_versions(desired.media, retry, attempts)
            if not renewed:
                return []  # the CRM changed them meanwhile: its change re-stamps them anyway
            updated = replace(desired, media=media, version=desired.version + 1)
            try:
                self.store.save_desired(updated, desired.version, now=now)
            except ConcurrentModification:
                continue
            ensure_sync_scheduled(
                listing_id,
                store=self.store,
                scheduler=self.scheduler,
                now=now,
                delay_seconds=self.settings.consolidation_window_seconds,
                hold_seconds=self.hold_seconds,
            )
            logger.info(
                "media re-stamped for an automatic retry",
                extra={"listing_id": listing_id, "media_ids": renewed},
            )
            return renewed
        logger.warning("could not renew media: the listing kept changing", extra={"listing_id": listing_id})
        return []

    # ------------------------------------------------------------------ AVIV status push

    def handle_push(self, token: str, classified_id: str, raw_body: bytes) -> Response:
        """``POST /aviv/{token}/classifieds/{classifiedId}/statuses``: 403 on a wrong token, else 201.

        AVIV signs nothing, so the secret path segment is the only proof the call is AVIV's; it is
        compared in constant time and never logged.
        """
        from aws_lambda_powertools.event_handler import Response

        from vitrine.service.http import problem

        expected = self.expected_push_token()
        if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
            metrics.add_metric(name="PushUnauthorized", unit=MetricUnit.Count, value=1)
            return problem(403, "unknown push URL")
        try:
            status = json.loads(raw_body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return problem(400, f"body is not valid JSON: {exc}")
        if not isinstance(status, dict) or not isinstance(status.get("status"), str):
            return problem(400, "body is not an AVIV status object (no 'status')")
        metrics.add_metric(name="PushReceived", unit=MetricUnit.Count, value=1)
        outcome = self.apply_push(classified_id, status)
        body = {"accepted": True, "classifiedId": classified_id, "applied": outcome}
        return Response(status_code=201, content_type="application/json", body=json.dumps(body))

    def apply_push(self, classified_id: str, status: Mapping[str, Any]) -> str:
        """Apply a pushed status with the polling code; what happened, in one word."""
        listing_id = self.status_store.listing_for_classified(classified_id) or self._listing_from_aviv(
            classified_id
        )
        if listing_id is None:
            logger.info(
                "status push for a classified vitrine does not know", extra={"classified_id": classified_id}
            )
            return "unknown_classified"
        last_sent = self.store.load_last_sent(listing_id)
        if last_sent is None or last_sent.classified_id != classified_id:
            return "not_current"
        item = {**status, "classifiedId": classified_id}
        try:
            report = self.reconcile_listing(listing_id, check_rejection=False, pushed_status=item)
        except AvivRetryable:
            return "deferred"  # polling will get it
        logger.info("status push applied", extra={"reconcile": report.to_log()})
        return report.outcome

    def _listing_from_aviv(self, classified_id: str) -> str | None:
        """A push may come before the first run remembered the classified: ask AVIV whose it is."""
        try:
            copy = self.aviv.get(classified_id)
        except AvivNotFound:
            # Not visible with the default intermediary: the next run (polling) covers it.
            return None
        except Exception:
            logger.info("could not look the pushed classified up on AVIV", exc_info=True)
            return None
        body = getattr(copy, "body", None)
        source = (
            (body or {}).get("data", {}).get("metaData", {}).get("source", {})
            if isinstance(body, dict)
            else {}
        )
        candidate = source.get("offererEstateId") if isinstance(source, dict) else None
        if not isinstance(candidate, str) or not candidate:
            return None
        last_sent = self.store.load_last_sent(candidate)
        if last_sent is None or last_sent.classified_id != classified_id:
            return None
        self.status_store.remember_classified(classified_id, candidate)
        return candidate


_instance: PerInstance[ReconcileService] = PerInstance(ReconcileService)


def get_reconcile_service() -> ReconcileService:
    """One service per Lambda instance (settings parsed once, clients reused)."""
    return _instance.get()


def reset_reconcile_service() -> None:
    """For tests that change the environment."""
    _instance.reset()
