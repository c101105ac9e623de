"""The one pending sync message of a listing: claim it, send it, or give the claim back.

Ingest, the sync follow-up and the reconcile sweep all schedule through here, so "at most one
sync message pending per listing" is decided in one place (the claim, ``syncScheduledUntil``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from vitrine.core.errors import VitrineError

if TYPE_CHECKING:  # Protocols named in annotations only: not loaded on the ingest function's cold start
    from vitrine.core.ports import ScheduleClaims, SyncScheduler


class SyncSchedulingFailed(VitrineError):
    """The desired state is stored but no sync message could be sent: the caller must retry."""


def ensure_sync_scheduled(
    listing_id: str,
    *,
    store: ScheduleClaims,
    scheduler: SyncScheduler,
    now: datetime,
    delay_seconds: int,
    hold_seconds: int,
) -> bool:
    """Send a sync message unless one is already pending. If sending fails, release the claim and raise."""
    if not store.claim_sync_schedule(listing_id, now, hold_seconds):
        return False
    try:
        scheduler.schedule(listing_id, delay_seconds)
    except Exception as exc:
        store.release_sync_schedule(listing_id)
        raise SyncSchedulingFailed(f"listing {listing_id}: could not schedule its sync: {exc}") from exc
    return True
