"""Sync service: one SQS sync message → wait out the consolidation window, or sync the listing.

The message only names a listing; everything else is read from the state table, so a duplicate,
late or redriven message is harmless (level-triggered). Retryable AVIV failures make the message
visible again after a growing delay; past the queue's maxReceiveCount it lands in the DLQ and the
listing stays dirty until a redrive, the next edit or the reconcile sweep schedules it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.sqs_scheduler import SqsSyncScheduler, SyncRequest, parse_sync_request
from vitrine.core.consolidation import ConsolidationPolicy, next_step, retry_delay_seconds
from vitrine.core.errors import AvivRetryable, LeaseHeld
from vitrine.core.model import SyncFailure
from vitrine.core.moments import format_moment
from vitrine.core.scheduling import ensure_sync_scheduled
from vitrine.core.sync import SyncOutcome, sync_listing
from vitrine.observability import MetricUnit, log_keys, logger, metrics
from vitrine.service import PerInstance
from vitrine.service.sqs_batch import SqsMessage
from vitrine.settings import Settings

if TYPE_CHECKING:
    from vitrine.adapters.aviv.client import AvivClient

LEASE_BUSY_RETRY_SECONDS = 5


class SyncService:
    """Built once per Lambda instance (``clock``: tests and the fault matrix move time themselves)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.policy = ConsolidationPolicy.from_seconds(
            settings.consolidation_window_seconds, settings.max_delay_seconds
        )
        self.defaults = settings.classified_defaults()
        self.hold_seconds = settings.sync_claim_hold_seconds
        # Unique per Lambda instance: the lease names who is syncing a listing.
        self.worker_id = f"sync-{uuid.uuid4().hex[:12]}"

    @cached_property
    def store(self) -> DynamoStateStore:
        return DynamoStateStore(self.settings.state_table)

    @cached_property
    def scheduler(self) -> SqsSyncScheduler:
        return SqsSyncScheduler(self.settings.sync_queue_url)

    @cached_property
    def aviv(self) -> AvivClient:
        # Imported on first use: a message that only re-delays itself never needs HTTP.
        from vitrine.adapters.aviv.call_metrics import AvivCallMetrics
        from vitrine.adapters.aviv.wiring import build_aviv_client

        return build_aviv_client(self.settings, observer=AvivCallMetrics())

    def process_record(self, record: SqsMessage) -> str:
        """Handle one message; raising marks it failed (partial batch response) for redelivery.

        Every failure makes the message visible again after a growing delay (not the queue's
        30-minute visibility timeout); past ``SyncMaxReceives`` receives it goes to the DLQ.
        """
        try:
            request = parse_sync_request(record.body)
        except ValueError:
            # Not a sync message (nothing we sent): retrying cannot help; drop it loudly.
            logger.error("dropping a message that is not a sync message", extra={"body": record.body[:500]})
            metrics.add_metric(name="SyncMessageMalformed", unit=MetricUnit.Count, value=1)
            return "malformed"
        listing_id = request.listing_id
        receive_count = int(record.approximate_receive_count or 1)
        log_keys(listing_id=listing_id, receive_count=receive_count, forced=request.force)
        backoff = retry_delay_seconds(receive_count, base=self.settings.sync_retry_base_seconds)
        try:
            if request.force:
                return self.process_forced(request, now=self.clock())
            return self.process(listing_id, now=self.clock())
        except LeaseHeld:
            # Another worker holds the lease (at most the sync timeout): come back after it.
            logger.info("another worker is syncing this listing; retrying later")
            self._give_up_claim_if_last(request, receive_count)
            self._back_off(record, max(LEASE_BUSY_RETRY_SECONDS, backoff))
            raise
        except AvivRetryable as exc:
            delay = max(backoff, int(exc.retry_after or 0))
            logger.warning(
                "AVIV unavailable; message retried later",
                extra={"retry_in_seconds": delay, "error": str(exc), "traceparent": exc.traceparent},
            )
            metrics.add_metric(name="SyncRetried", unit=MetricUnit.Count, value=1)
            self._note_failure(listing_id, receive_count, exc)
            self._give_up_claim_if_last(request, receive_count)
            self._back_off(record, delay)
            raise
        except Exception as exc:
            logger.exception("sync failed; message retried later", extra={"retry_in_seconds": backoff})
            metrics.add_metric(name="SyncFailed", unit=MetricUnit.Count, value=1)
            self._note_failure(listing_id, receive_count, exc)
            self._give_up_claim_if_last(request, receive_count)
            self._back_off(record, backoff)
            raise

    def _note_failure(self, listing_id: str, receive_count: int, error: Exception) -> None:
        """Best effort: the attempt count and error operators read (``vitrine status``, ``dlq list``)."""
        failure = SyncFailure(
            at=format_moment(self.clock()),
            attempts=receive_count,
            error=f"{type(error).__name__}: {error}"[:500],
            dead_lettered=receive_count >= self.settings.sync_max_receives,
        )
        try:
            self.store.record_sync_failure(listing_id, failure)
        except Exception:
            logger.exception("could not record the failed attempt")

    def _give_up_claim_if_last(self, request: SyncRequest, receive_count: int) -> None:
        """On its last receive the message goes to the DLQ: the listing (still dirty) then has no
        pending sync, so the next edit — or the reconcile sweep — must be free to schedule one.
        A forced message never held the claim: it leaves it alone."""
        if receive_count < self.settings.sync_max_receives:
            return
        listing_id = request.listing_id
        if request.force:
            logger.warning("forced sync message dead-lettered after its last receive")
            metrics.add_metric(name="SyncDeadLettered", unit=MetricUnit.Count, value=1)
            return
        logger.warning("sync message dead-lettered after its last receive; the listing stays dirty")
        metrics.add_metric(name="SyncDeadLettered", unit=MetricUnit.Count, value=1)
        try:
            self.store.release_sync_schedule(listing_id)
        except Exception:
            logger.exception("could not release the schedule claim (the sweep will, once it expires)")

    def _back_off(self, record: SqsMessage, delay_seconds: int) -> None:
        """Best effort: if even this fails, the queue's visibility timeout still brings it back."""
        try:
            self.scheduler.back_off(record.receipt_handle, delay_seconds)
        except Exception:
            logger.exception("could not change the message's visibility")

    def process(self, listing_id: str, *, now: datetime) -> str:
        """``dropped`` (clean), ``delayed`` (still being edited) or the sync outcome's status."""
        state = self.store.load_sync_state(listing_id)
        if state is None:
            self.store.release_sync_schedule(listing_id)
            return "dropped"
        step = next_step(
            dirty=state.dirty,
            last_edit_at=state.last_edit_at,
            first_unsent_at=state.first_unsent_at,
            now=now,
            policy=self.policy,
        )
        if step.action == "drop":
            self.store.release_sync_schedule(listing_id)
            return "dropped"
        if step.action == "wait":
            # Edits are still coming: this message re-delays itself instead of a new one per event.
            self.scheduler.schedule(listing_id, step.delay_seconds)
            return "delayed"
        outcome = self._sync(listing_id, now, force=False, first_unsent_at=state.first_unsent_at)
        # Edits that landed while we were talking to AVIV leave the listing dirty: follow up.
        self.store.release_sync_schedule(listing_id)
        self._follow_up(listing_id)
        return outcome.status

    def process_forced(self, request: SyncRequest, *, now: datetime) -> str:
        """An operator's resync: send the desired state now, whatever the consolidation window says
        and even if AVIV already holds that body. The schedule claim belongs to the listing's own
        pending message (if any), so it is not released here."""
        state = self.store.load_sync_state(request.listing_id)
        if state is None:
            return "missing"
        outcome = self._sync(request.listing_id, now, force=True, first_unsent_at=state.first_unsent_at)
        self._follow_up(request.listing_id)
        return outcome.status

    def _sync(
        self, listing_id: str, now: datetime, *, force: bool, first_unsent_at: datetime | None
    ) -> SyncOutcome:
        outcome = sync_listing(
            listing_id,
            store=self.store,
            aviv=self.aviv,
            defaults=self.defaults,
            now=now,
            lease_owner=self.worker_id,
            lease_seconds=self.settings.sync_lease_seconds,
            force=force,
            adopt_held_media=self.settings.adopt_held_media,
        )
        self._record_outcome(outcome, first_unsent_at)
        return outcome

    def _follow_up(self, listing_id: str) -> None:
        """Schedule the listing again if it is still dirty (and no message is pending)."""
        ensure_sync_scheduled(
            listing_id,
            store=self.store,
            scheduler=self.scheduler,
            now=self.clock(),
            delay_seconds=self.settings.consolidation_window_seconds,
            hold_seconds=self.hold_seconds,
        )

    def _record_outcome(self, outcome: SyncOutcome, first_unsent_at: datetime | None) -> None:
        metrics.add_metric(name=f"Sync_{outcome.status}", unit=MetricUnit.Count, value=1)
        lag = sync_lag_seconds(outcome, first_unsent_at, accepted_at=self.clock())
        if lag is not None:
            metrics.add_metric(name="SyncLagSeconds", unit=MetricUnit.Seconds, value=lag)
        if outcome.diff is not None and outcome.status == "sent":
            summary = outcome.diff.summary()
            for key in ("added", "removed", "redownloaded"):
                value = summary.get(key, 0)
                if isinstance(value, int) and value:
                    metrics.add_metric(name=f"Media_{key}", unit=MetricUnit.Count, value=value)
        logger.info("listing synced", extra={"outcome": outcome.to_log()})


def sync_lag_seconds(
    outcome: SyncOutcome, first_unsent_at: datetime | None, *, accepted_at: datetime
) -> float | None:
    """From the listing's oldest unsent edit (when ingest received it) to AVIV accepting the send.

    Only a call AVIV accepted counts (POST, PUT, DELETE): a skipped or refused sync moved nothing to
    the portals. ``first_unsent_at`` is read before the sync, so edits arriving during the call do not
    shorten it; None (the listing was clean: a redrive) measures nothing.
    """
    if outcome.operation is None or outcome.status not in ("sent", "deleted") or first_unsent_at is None:
        return None
    return max(0.0, round((accepted_at - first_unsent_at).total_seconds(), 3))


_instance: PerInstance[SyncService] = PerInstance(SyncService)


def get_sync_service() -> SyncService:
    """One service per Lambda instance (settings parsed once, clients reused)."""
    return _instance.get()


def reset_sync_service() -> None:
    """For tests that change the environment."""
    _instance.reset()
