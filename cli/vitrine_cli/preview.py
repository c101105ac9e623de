"""What the next send of a listing would be: the sync's own plan, computed here with no AVIV call.

``plan_sync`` is the function the sync function runs; given the same desired state, last-sent and
pending records and the stack's defaults, it builds the same body with the same timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.plan import SyncPlan, plan_sync


@dataclass(frozen=True)
class Preview:
    """The operation the sync would make now (``none`` when AVIV already has it) and its plan."""

    listing_id: str
    operation: str
    reason: str
    plan: SyncPlan | None
    live_classified_id: str | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "listingId": self.listing_id,
            "operation": self.operation,
            "reason": self.reason,
            "classifiedId": self.live_classified_id,
        }
        plan = self.plan
        if plan is not None:
            diff = plan.diff
            out.update(
                firstSend=diff.first_send,
                classifiedChanged=diff.classified_changed,
                added=list(diff.added),
                removed=list(diff.removed),
                moved=list(diff.moved),
                retitled=list(diff.metadata_changed),
                redownloaded=list(diff.redownloaded),
                errors=[e.to_dict() for e in plan.errors],
                warnings=[
                    {"code": w.code, "pointer": w.pointer, "message": w.message} for w in plan.warnings
                ],
            )
        return out


def live_classified(last_sent: LastSent | None) -> str | None:
    return last_sent.classified_id if last_sent is not None and not last_sent.deleted else None


def preview(
    desired: DesiredListing,
    last_sent: LastSent | None,
    pending: LastSent | None,
    defaults: ClassifiedDefaults,
    now: datetime,
    *,
    force: bool = False,
) -> Preview:
    """The sync's decision for ``desired`` (``force``: as ``vitrine resync`` would send it)."""
    live = live_classified(last_sent)
    listing_id = desired.listing_id
    if desired.deleted:
        operation = "DELETE" if live else "none"
        return Preview(listing_id, operation, "deleted in the CRM", None, live)
    if desired.data is None:
        return Preview(
            listing_id, "none", "not ready: the CRM sent media but not the listing yet", None, live
        )
    reusable = pending if pending is not None and not pending.deleted else None
    plan = plan_sync(desired, last_sent, reusable, defaults, now)
    if not plan.is_valid:
        return Preview(listing_id, "none", "refused before sending: it breaks AVIV's contract", plan, live)
    if plan.diff.is_noop and not force:
        return Preview(listing_id, "none", "AVIV already holds exactly this body", plan, live)
    reason = "forced: the same body again" if plan.diff.is_noop else "the listing changed"
    return Preview(listing_id, "PUT" if live else "POST", reason, plan, live)
