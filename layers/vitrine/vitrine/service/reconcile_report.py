"""What a reconcile run and each listing in it did: returned by the handler, logged, measured, tested."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vitrine.core.reconcile.records import Notification


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
    open_problems: int | None = None
    """Across all listings at the end of the run (None: could not be read)."""
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
            "openProblems": self.open_problems,
        }
