"""Reconcile service: one scheduled run (sweep + status polling), and the AVIV status push.

A run does two things, inside a time budget so it never reaches the Lambda timeout
(``service.reconcile_budget``):

1. **Sweep**: listings left dirty (a lost or dead-lettered sync message) get a sync scheduled
   again, found through the sparse DirtyIndex and scheduled with the same claim ingestion uses.
2. **Watch set**: listings whose last send AVIV has not confirmed, whose rejection is not over
   (not told yet, or no later version handled yet), or with an open problem, found through the
   sparse WatchIndex (Query, never Scan), due first = waiting longest. Each is reconciled
   (``service.reconcile_listing``: one ``GET …/statuses?filter=latest`` for a send) on a bounded
   thread pool. When the budget runs out no new listing is started; those not reached keep their
   ``watchDue`` and therefore come first next run.

An AVIV status push is applied by the very same per-listing code (``service.status_push``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from threading import Lock

from vitrine.core.errors import AvivRetryable
from vitrine.core.ports import (
    AvivStatusPort,
    NotifierPort,
    OwnerPageLinks,
    ReconcileStateStore,
    ReconcileStatusStore,
    SyncScheduler,
    UrlProbePort,
    WatchedListing,
)
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.scheduling import ensure_sync_scheduled
from vitrine.observability import MetricUnit, logger, metrics
from vitrine.service import PerInstance
from vitrine.service.reconcile_budget import RunDeadlines, listing_tail_seconds, listing_worst_case_seconds
from vitrine.service.reconcile_listing import ListingReconciler
from vitrine.service.reconcile_outbox import NotificationOutbox
from vitrine.service.reconcile_report import ListingReport, RunReport
from vitrine.service.status_push import StatusPush
from vitrine.settings import Settings

# A run sweeps at most this many dirty listings (the rest next run); each costs one conditional write.
MAX_SWEEP_PER_RUN = 1000


def policy_from_settings(settings: Settings) -> ReconcilePolicy:
    return ReconcilePolicy(
        stuck_after=timedelta(seconds=settings.stuck_after_seconds),
        auto_media_retry=settings.auto_media_retry,
        retry_attempts=settings.auto_media_retry_attempts,
    )


class ReconcileRunFailed(RuntimeError):
    """Some listings failed for a reason other than AVIV being unavailable: fail the invocation
    (after every other listing was handled) so the reconcile-errors alarm fires."""


class ReconcileService:
    """Built once per Lambda instance from ports (:func:`build_reconcile_service` in production;
    tests and benchmarks pass fakes or adapters of their own)."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: ReconcileStateStore,
        status_store: ReconcileStatusStore,
        aviv: AvivStatusPort,
        notifier: NotifierPort,
        scheduler: SyncScheduler,
        probe: UrlProbePort,
        push_token: Callable[[], str],
        owner_links: OwnerPageLinks | None = None,
        policy: ReconcilePolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.policy = policy or policy_from_settings(settings)
        self.store = store
        self.status_store = status_store
        self.aviv = aviv
        self.scheduler = scheduler
        self.probe = probe
        self.clock = clock or (lambda: datetime.now(UTC))
        # The budget is measured on this (tests pass a fake one to exhaust it deterministically).
        self.monotonic = monotonic
        self.listings = ListingReconciler(
            settings=settings,
            policy=self.policy,
            clock=self.clock,
            store=store,
            status_store=status_store,
            aviv=aviv,
            scheduler=scheduler,
            probe=probe,
            outbox=NotificationOutbox(status_store, notifier),
            owner_links=owner_links,
        )
        self.status_push = StatusPush(
            push_token=push_token, store=store, status_store=status_store, aviv=aviv, listings=self.listings
        )
        self._report_lock = Lock()

    def reconcile_listing(
        self, listing_id: str, *, check_rejection: bool = True, check_sent: bool = True
    ) -> ListingReport:
        """Reconcile one listing of the run (a seam: tests count these calls or slow them down)."""
        return self.listings.reconcile(listing_id, check_rejection=check_rejection, check_sent=check_sent)

    # ------------------------------------------------------------------ the time budget

    def listing_margin_seconds(self) -> float:
        """The worst-case time of one listing with the AVIV client and the URL probe this run uses."""
        return listing_worst_case_seconds(self.aviv.config, probe_timeout_seconds=self._probe_timeout())

    def _probe_timeout(self) -> float | None:
        return float(self.probe.timeout_seconds) if self.policy.auto_media_retry else None

    def _deadlines(self, started: float, remaining_ms: int | None) -> RunDeadlines:
        budget = float(self.settings.reconcile_budget_seconds)
        if remaining_ms is None:
            return RunDeadlines.from_budget(started, budget)
        margin = self.listing_margin_seconds()
        if remaining_ms / 1000 <= margin:
            logger.warning(
                "the time left is shorter than one listing's worst case: nothing is started",
                extra={"remaining_ms": remaining_ms, "listing_margin_seconds": margin},
            )
        return RunDeadlines.before_lambda_end(
            started,
            budget,
            remaining_ms / 1000,
            listing_margin_seconds=margin,
            listing_tail_seconds=listing_tail_seconds(probe_timeout_seconds=self._probe_timeout()),
        )

    def _aviv_time_limit(self, aviv_until: float | None) -> AbstractContextManager[None]:
        """The AVIV client's time limit for this thread's calls, when the run knows its end."""
        if aviv_until is None:
            return nullcontext()
        return self.aviv.time_limit(aviv_until - self.monotonic())

    # ------------------------------------------------------------------ the scheduled run

    def run(self, *, remaining_ms: int | None = None) -> RunReport:
        """Sweep, then reconcile due listings until done or out of budget (``reconcile_budget``)."""
        started = self.monotonic()
        report = RunReport()
        deadlines = self._deadlines(started, remaining_ms)
        now = self.clock()
        self._sweep(now, deadlines.start_until, report)
        self._reconcile_due(now, deadlines, report)
        report.open_problems = self._open_problems()
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
                    hold_seconds=self.settings.sync_claim_hold_seconds,
                ):
                    report.sync_scheduled += 1
            except Exception:
                report.failed += 1
                logger.exception("could not re-schedule dirty listing", extra={"listing_id": listing_id})

    def _reconcile_due(self, now: datetime, deadlines: RunDeadlines, report: RunReport) -> None:
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
                if self.monotonic() >= deadlines.start_until:
                    report.budget_exhausted = True
                    break
                started.add(entry.listing_id)
                in_flight.add(pool.submit(self._reconcile_entry, entry, report, deadlines.aviv_until))
            wait(in_flight)

    def _reconcile_entry(self, entry: WatchedListing, report: RunReport, aviv_until: float | None) -> None:
        listing_id = entry.listing_id
        try:
            with self._aviv_time_limit(aviv_until):
                listing_report = self.reconcile_listing(
                    listing_id, check_rejection=entry.watches_rejection, check_sent=entry.watches_sent
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

    def _open_problems(self) -> int | None:
        """The gauge's value at the end of the run; None (no data point) when it cannot be read."""
        try:
            return self.status_store.open_problem_count()
        except Exception:
            logger.exception("could not count the open problems")
            return None

    def _run_metrics(self, report: RunReport) -> None:
        metrics.add_metric(
            name="ReconcileDurationMs", unit=MetricUnit.Milliseconds, value=round(report.seconds * 1000, 1)
        )
        if report.open_problems is not None:
            metrics.add_metric(name="OpenProblems", unit=MetricUnit.Count, value=report.open_problems)
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


def build_reconcile_service(settings: Settings) -> ReconcileService:
    """Production wiring: the DynamoDB stores, the AVIV client, SNS, SQS, the URL probe and the push
    token secret. The adapters are imported here, so importing the handler stays light."""
    from vitrine.adapters.aviv.call_metrics import AvivCallMetrics
    from vitrine.adapters.aviv.wiring import build_aviv_client
    from vitrine.adapters.dynamo.state_store import DynamoStateStore
    from vitrine.adapters.media_probe import MediaProbe
    from vitrine.adapters.sns_notifier import SnsNotifier
    from vitrine.adapters.sqs_scheduler import SqsSyncScheduler
    from vitrine.adapters.status_store import StatusStore
    from vitrine.service.owner_links import owner_links_from_settings

    def push_token() -> str:
        from vitrine.adapters.secrets import push_token  # read on a push only (a run never needs it)

        return push_token(settings.push_token_secret_arn)

    return ReconcileService(
        settings,
        store=DynamoStateStore(settings.state_table),
        status_store=StatusStore(settings.state_table),
        aviv=build_aviv_client(settings, observer=AvivCallMetrics()),
        notifier=SnsNotifier(settings.topic_arn),
        scheduler=SqsSyncScheduler(settings.sync_queue_url),
        probe=MediaProbe(allow_private=settings.allow_private_media_urls),
        push_token=push_token,
        owner_links=owner_links_from_settings(settings),
    )


_instance: PerInstance[ReconcileService] = PerInstance(build_reconcile_service)


def get_reconcile_service() -> ReconcileService:
    """One service per Lambda instance (settings parsed once, clients reused)."""
    return _instance.get()


def reset_reconcile_service() -> None:
    """For tests that change the environment."""
    _instance.reset()
