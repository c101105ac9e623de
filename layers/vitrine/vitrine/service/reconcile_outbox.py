"""The notification outbox of one listing: a decision is stored with its notifications, then they
are published and the outbox emptied.

A crash between publishing and emptying can repeat a notification; nothing can lose one. A failed
publish leaves that notification (and the ones after it) in the outbox for the next attempt.
"""

from __future__ import annotations

from datetime import datetime

from vitrine.core.ports import NotifierPort, ReconcileStatusStore
from vitrine.core.reconcile.decision import Decision
from vitrine.core.reconcile.records import StatusState
from vitrine.observability import logger
from vitrine.service.reconcile_report import ListingReport


class NotificationOutbox:
    """Stores decisions and delivers their notifications, over the status store and the notifier."""

    def __init__(self, status_store: ReconcileStatusStore, notifier: NotifierPort) -> None:
        self.status_store = status_store
        self.notifier = notifier

    def commit(self, decision: Decision, now: datetime, report: ListingReport) -> StatusState:
        """Store the decision (its notifications in the outbox), then publish and empty the outbox."""
        stored = self.status_store.save(decision.state, now=now)
        return self.flush(stored, now, report)

    def flush(self, state: StatusState, now: datetime, report: ListingReport) -> StatusState:
        """Publish what the outbox holds, in order, until one fails; keep what was not published."""
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
