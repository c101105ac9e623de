"""Reconciling one listing, for a scheduled run and an AVIV status push alike.

Read the STATUS, SENT and DESIRED items, ask AVIV (or take the pushed status), let the pure core
decide (``vitrine.core.reconcile``), store the decision with its notifications in the outbox and
deliver them, then move or remove the watch entry (conditional on the send still being the one
reconciled).

Automatic media retry (off by default): a DOWNLOADING_FAILED media whose URL now answers with an
image/video gets a new *retry version* (``v3`` → ``v3#retry1``) in the desired state — the same
conditional, versioned write ingestion makes — and a sync is scheduled through the normal
consolidation path. The sync engine gives a media a new timestamp exactly when its version
changes, so AVIV downloads that one media again and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from vitrine.core.errors import AvivNotFound, ConcurrentModification
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.moments import format_moment
from vitrine.core.ports import (
    AvivStatusPort,
    OwnerPageLinks,
    ReconcileStateStore,
    ReconcileStatusStore,
    SyncScheduler,
    UrlProbePort,
)
from vitrine.core.reconcile.aviv_status import FailedMedia, interpret_status, roll_to_send
from vitrine.core.reconcile.media_retry import UrlCheck, media_due_for_check, with_retry_versions
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.reconcile.records import ListingContext, StatusState
from vitrine.core.reconcile.rejection import reconcile_rejection
from vitrine.core.reconcile.send import reconcile_send
from vitrine.core.scheduling import ensure_sync_scheduled
from vitrine.observability import logger
from vitrine.service.reconcile_budget import MAX_URL_CHECKS_PER_LISTING
from vitrine.service.reconcile_outbox import NotificationOutbox
from vitrine.service.reconcile_report import ListingReport
from vitrine.settings import Settings

# Re-reading and re-deciding after a lost write race (a push and a run on the same listing).
MAX_LISTING_ATTEMPTS = 3
# When publishing failed, the listing is looked at again this soon (the outbox is retried).
OUTBOX_RETRY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ListingReconciler:
    """Everything one listing's reconciliation talks to; shared by a run's threads."""

    settings: Settings
    policy: ReconcilePolicy
    clock: Callable[[], datetime]
    store: ReconcileStateStore
    status_store: ReconcileStatusStore
    aviv: AvivStatusPort
    scheduler: SyncScheduler
    probe: UrlProbePort
    outbox: NotificationOutbox
    owner_links: OwnerPageLinks | None = None

    def reconcile(
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
        state = self.outbox.flush(self.status_store.load(listing_id), now, report)
        desired = self.store.load_desired(listing_id)
        last_sent = self.store.load_last_sent(listing_id)
        context = self._context(listing_id, desired, last_sent, state, now)

        if check_rejection:
            state = self._reconcile_rejection(listing_id, state, context, last_sent, now, report)
        if check_sent:
            if last_sent is None or not last_sent.classified_id:
                # Nothing AVIV could tell us about (or the index was stale): stop watching it.
                if last_sent is not None:
                    self.status_store.stop_sent_watch(listing_id, last_sent.sent_at)
                report.outcome = "nothing_sent"
                return report
            self._reconcile_sent(
                listing_id,
                state,
                context,
                last_sent,
                intermediary_id=last_sent.agency(desired.intermediary_id if desired is not None else None),
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
        now: datetime,
    ) -> ListingContext:
        owner_id = (desired.owner_id if desired is not None else None) or state.owner_id or ""
        # The portals sent, an empty list included (on no portal); else the ones the CRM asked for.
        portals: tuple[str, ...] = tuple(self.settings.default_portals)
        if last_sent is not None and isinstance(last_sent.body.get("portals"), list):
            portals = tuple(str(p) for p in last_sent.body["portals"])
        elif desired is not None and desired.portals is not None:
            portals = tuple(desired.portals)
        classified_id = last_sent.classified_id if last_sent is not None else state.classified_id
        return ListingContext(
            listing_id=listing_id,
            owner_id=owner_id,
            classified_id=classified_id,
            portals=portals,
            owner_page_url=self.owner_links.url_for(owner_id, now) if self.owner_links else None,
            locale=(desired.locale if desired is not None else None) or self.settings.default_locale,
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
        state = self.outbox.commit(decision, now, report)
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
    ) -> None:
        """Ask AVIV about the last send (unless its status was pushed) and act on what it says."""
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
        state = self.outbox.commit(decision, now, report)
        report.outcome = reading.outcome
        report.status = reading.status

        due = now + OUTBOX_RETRY if state.outbox else decision.watch.due
        if due is None:
            self.status_store.stop_sent_watch(listing_id, last_sent.sent_at)
            report.watch = "stopped"
        else:
            self.status_store.reschedule_sent_watch(listing_id, last_sent.sent_at, due)
            report.watch = format_moment(due)
        if decision.retry_media:
            attempts = {m_id: r.attempts for m_id, r in decision.state.retries.items()}
            report.retried_media = self._renew_media(listing_id, decision.retry_media, attempts, now)

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
                hold_seconds=self.settings.sync_claim_hold_seconds,
            )
            logger.info(
                "media re-stamped for an automatic retry",
                extra={"listing_id": listing_id, "media_ids": renewed},
            )
            return renewed
        logger.warning("could not renew media: the listing kept changing", extra={"listing_id": listing_id})
        return []
