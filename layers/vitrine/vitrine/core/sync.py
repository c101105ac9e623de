"""The sync use case: make AVIV show what the CRM wants, with at most one call per consolidated change.

``sync_listing`` is level-triggered: it reads the listing's desired state and what AVIV was last
sent, plans the exact body (timestamps kept stable, so unchanged media are never re-downloaded),
and only calls AVIV when that body differs from the last one sent. It runs under the listing's
sync lease, so two workers never send the same listing at once.

Crash safety: before any POST/PUT/DELETE the exact body and its media timestamps are written
ahead (``record_pending``). If the call's answer or the final ``record_sent`` is lost, the queue
redelivers the message and the plan reuses the pending timestamps, so the retry sends the same
body again and AVIV re-downloads nothing. A POST whose answer was lost is found again through
AVIV's "Duplicated classified" answer (offererEstateId is unique) and turned into a PUT; on a
first send, that answer also leads to adopting what AVIV holds (``vitrine.core.adoption``), whose
plan is written ahead again before its PUT.

An agency move (the listing's ``intermediaryId`` differs from the one its classified was sent
under) is a DELETE under the old agency's token, then a POST under the new one. The DELETE is
written ahead as a pending tombstone and committed as the last-sent tombstone without marking the
version handled (``record_withdrawn``): a crash before the DELETE's answer repeats it (404 = done),
a crash after it finds no live classified and POSTs.

A refusal vitrine cannot fix (``Refused``) is recorded as a rejection: reconcile tells the owner
once, and the version is not sent again.

Only ports are used (SyncStore, AvivPort); the clock is passed in.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from vitrine.core.adoption import adopted_count, plan_adoption
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.classified_writes import (
    Adopt,
    Operation,
    delete_classified,
    find_classified_id,
    write_classified,
)
from vitrine.core.diff import ClassifiedDiff
from vitrine.core.errors import FieldError, LeaseHeld
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.moments import format_moment
from vitrine.core.plan import SyncPlan, plan_sync
from vitrine.core.ports import AvivClassifiedCopy, AvivPort, StateStore, SyncStore
from vitrine.core.quality import QualityWarning
from vitrine.core.refusals import Refusal, Refused

logger = logging.getLogger(__name__)

SyncStatus = Literal["sent", "skipped", "rejected", "deleted", "not_ready", "missing"]

# Used as the rejection detail when vitrine's own validation stops a body before AVIV sees it.
INVALID_BEFORE_SEND = "the classified breaks AVIV's contract; it was not sent"


@dataclass(frozen=True)
class SyncOutcome:
    """What one sync did, for the handler (ack, metrics) and for a structured log line.

    ``status``: ``sent`` (POST/PUT accepted), ``skipped`` (nothing to send, AVIV held it already),
    ``rejected`` (refused by validation or AVIV; not retried for this version), ``deleted`` (DELETE
    accepted or already gone), ``not_ready`` (no ``data`` yet), ``missing`` (no such listing).
    ``adopted``: media whose URL AVIV already held was kept (a first send onto AVIV's classified);
    ``withdrawn``: the classified deleted under the previous agency (an agency move).
    """

    listing_id: str
    status: SyncStatus
    operation: Operation | None = None
    classified_id: str | None = None
    diff: ClassifiedDiff | None = None
    warnings: tuple[QualityWarning, ...] = ()
    errors: tuple[FieldError, ...] = ()
    desired_version: int | None = None
    detail: str | None = field(default=None)
    adopted: int | None = None
    withdrawn: str | None = None

    def to_log(self) -> dict[str, Any]:
        """A flat, JSON-ready summary (media ids are left out: counts are what dashboards need)."""
        entry: dict[str, Any] = {
            "listing_id": self.listing_id,
            "status": self.status,
            "operation": self.operation,
            "classified_id": self.classified_id,
            "desired_version": self.desired_version,
        }
        if self.diff is not None:
            entry["diff"] = self.diff.summary()
        if self.warnings:
            entry["warnings"] = [
                {"code": w.code, "pointer": w.pointer, "message": w.message} for w in self.warnings
            ]
        if self.errors:
            entry["errors"] = [e.to_dict() for e in self.errors]
        if self.detail:
            entry["detail"] = self.detail
        if self.adopted is not None:
            entry["adopted_media"] = self.adopted
        if self.withdrawn:
            entry["withdrawn_classified_id"] = self.withdrawn
        return entry


def sync_listing(
    listing_id: str,
    *,
    store: SyncStore,
    aviv: AvivPort,
    defaults: ClassifiedDefaults,
    now: datetime,
    lease_owner: str,
    lease_seconds: int = 120,
    adopt_held_media: bool = True,
    force: bool = False,
) -> SyncOutcome:
    """Bring AVIV in line with the listing's desired state; at most one accepted AVIV write.

    ``force`` (an operator's resync) sends the desired state even when AVIV was already sent exactly
    that body, or this version was already handled: the plan is the same, timestamps included, so
    the portals re-download nothing; it repairs a classified changed or deleted outside vitrine.

    Raises LeaseHeld when another worker holds the listing (the caller retries later),
    ConcurrentModification when the lease was lost mid-way, and AvivRetryable / other AVIV
    errors for the queue to retry (the pending record stays, so the retry sends the same body).
    A ``not_ready`` listing (media known, ``data`` not yet) records nothing and stays dirty; the
    caller should drop the message rather than retry it: the ``listing.upserted`` that brings the
    data makes a new version and schedules a new sync.

    ``adopt_held_media``: on a first send onto a classified AVIV already holds, keep AVIV's media
    URLs where the CRM's are the same (see ``vitrine.core.adoption``).
    """
    if not store.acquire_lease(listing_id, lease_owner, now, lease_seconds):
        raise LeaseHeld(f"listing {listing_id} is being synced by another worker")
    try:
        context = _Context(store, aviv, defaults, now, lease_owner, adopt_held_media, force)
        outcome = _sync_under_lease(listing_id, context)
    finally:
        _release_quietly(store, listing_id, lease_owner)
    logger.info("sync %s: %s", listing_id, outcome.status, extra={"sync": outcome.to_log()})
    return outcome


def _release_quietly(store: StateStore, listing_id: str, lease_owner: str) -> None:
    """Releasing is a courtesy (the lease expires anyway): a failure must not hide the real outcome."""
    try:
        store.release_lease(listing_id, lease_owner)
    except Exception:
        logger.warning("could not release the sync lease of %s", listing_id, exc_info=True)


@dataclass(frozen=True)
class _Context:
    """What every step of one sync needs."""

    store: SyncStore
    aviv: AvivPort
    defaults: ClassifiedDefaults
    now: datetime
    lease_owner: str
    adopt_held_media: bool
    force: bool = False


def _sync_under_lease(listing_id: str, ctx: _Context) -> SyncOutcome:
    store = ctx.store
    desired = store.load_desired(listing_id)
    if desired is None:
        return SyncOutcome(listing_id, "missing")
    last_sent = store.load_last_sent(listing_id)
    pending = store.load_pending(listing_id)
    agency = desired.intermediary_id or ctx.defaults.default_intermediary_id

    if desired.deleted:
        return _sync_deletion(desired, last_sent, pending, ctx)
    if desired.data is None:
        return SyncOutcome(listing_id, "not_ready", desired_version=desired.version)

    # A pending deletion carries no media timestamps worth reusing.
    reusable_pending = pending if pending is not None and not pending.deleted else None
    plan = plan_sync(desired, last_sent, reusable_pending, ctx.defaults, ctx.now)
    previous = _under_another_agency(last_sent, reusable_pending, agency)
    if plan.diff.is_noop and previous is None and not ctx.force:
        # AVIV already holds exactly this body, under this agency.
        store.record_skipped(listing_id, desired.version, ctx.lease_owner)
        return _outcome(
            desired, plan, "skipped", classified_id=last_sent.classified_id if last_sent else None
        )
    if _already_handled(desired, ctx) and not ctx.force:
        return _outcome(desired, plan, "skipped", detail=f"version {desired.version} was already handled")
    if not plan.is_valid:
        store.record_rejection(
            listing_id, desired.version, list(plan.errors), INVALID_BEFORE_SEND, ctx.now, ctx.lease_owner
        )
        return _outcome(desired, plan, "rejected", errors=plan.errors, detail=INVALID_BEFORE_SEND)
    withdrawn: str | None = None
    if previous is not None:
        try:
            tombstone = _withdraw(desired, previous, ctx)
        except Refused as refused:
            return _reject(desired, plan, refused.refusal, ctx, previous.classified_id)
        if tombstone is not None:
            last_sent, withdrawn = tombstone, tombstone.classified_id
        plan = plan_sync(desired, last_sent, reusable_pending, ctx.defaults, ctx.now)
    outcome = _send(desired, last_sent, reusable_pending, plan, agency, ctx)
    return dataclasses.replace(outcome, withdrawn=withdrawn) if withdrawn else outcome


def _already_handled(desired: DesiredListing, ctx: _Context) -> bool:
    """Only a refused version still plans a change once handled: do not refuse (and notify) or send
    it twice when a duplicate message got the lease right after the first one."""
    state = ctx.store.load_sync_state(desired.listing_id)
    return state is not None and state.sent_version >= desired.version


def _under_another_agency(
    last_sent: LastSent | None, pending: LastSent | None, agency: str | None
) -> LastSent | None:
    """The send (live last-sent, else an unconfirmed pending one) made under a recorded agency other
    than ``agency``: its classified belongs to that agency, where the new one cannot update it."""
    if last_sent is not None and not last_sent.deleted:
        return last_sent if last_sent.moved_from(agency) else None
    if pending is not None and pending.moved_from(agency):
        return pending
    return None


def _withdraw(desired: DesiredListing, previous: LastSent, ctx: _Context) -> LastSent | None:
    """First half of an agency move: DELETE the classified under the old agency's token.

    Written ahead as a pending tombstone; committed as the last-sent tombstone without marking the
    version handled, so the POST under the new agency follows now, or on the retry after a crash.
    Returns the tombstone, or None when the old agency holds no classified for the listing.
    """
    old_agency = previous.intermediary_id
    classified_id = previous.classified_id or find_classified_id(previous.body, ctx.aviv, old_agency)
    if classified_id is None:
        return None
    tombstone = LastSent.tombstone(desired, classified_id, old_agency, format_moment(ctx.now))
    ctx.store.record_pending(tombstone, ctx.lease_owner)
    logger.info(
        "listing %s moved from agency %s to %s: deleting classified %s under the old agency",
        desired.listing_id, old_agency, desired.intermediary_id, classified_id,
    )  # fmt: skip
    delete_classified(classified_id, ctx.aviv, old_agency, moving=True)
    ctx.store.record_withdrawn(tombstone, ctx.lease_owner)
    return tombstone


def _send(
    desired: DesiredListing,
    last_sent: LastSent | None,
    pending: LastSent | None,
    plan: SyncPlan,
    agency: str | None,
    ctx: _Context,
) -> SyncOutcome:
    """Write ahead, then POST (no live classified) or PUT (full replacement), then commit."""
    live_classified_id = last_sent.classified_id if last_sent is not None and not last_sent.deleted else None
    store, lease_owner = ctx.store, ctx.lease_owner
    store.record_pending(plan.record(desired, live_classified_id, agency, ctx.now), lease_owner)

    def before_put(adopted: SyncPlan, classified_id: str) -> None:
        store.record_pending(adopted.record(desired, classified_id, agency, ctx.now), lease_owner)

    adopt: Adopt | None = None
    if ctx.adopt_held_media and last_sent is None:

        def adopt(held: AvivClassifiedCopy) -> SyncPlan:
            return plan_adoption(desired, held, pending, ctx.defaults, ctx.now, agency)

    try:
        written = write_classified(
            live_classified_id, plan, ctx.aviv, agency, adopt=adopt, before_put=before_put
        )
    except Refused as refused:
        return _reject(desired, plan, refused.refusal, ctx, live_classified_id)
    sent = written.plan.record(desired, written.classified_id, agency, ctx.now)
    store.record_sent(sent, lease_owner)
    status: SyncStatus = "sent" if written.operation is not None else "skipped"
    adopted = adopted_count(written.plan) if written.plan is not plan else None
    detail = None if written.operation else "AVIV already holds this exact body: nothing was sent"
    outcome = _outcome(
        desired, written.plan, status, operation=written.operation, classified_id=written.classified_id,
        detail=detail,
    )  # fmt: skip
    return dataclasses.replace(outcome, adopted=adopted)


def _reject(
    desired: DesiredListing, plan: SyncPlan | None, refusal: Refusal, ctx: _Context, classified_id: str | None
) -> SyncOutcome:
    """Record a refusal vitrine cannot fix: not retried for this version, the owner told once."""
    ctx.store.record_rejection(
        desired.listing_id, desired.version, list(refusal.errors), refusal.detail, ctx.now,
        ctx.lease_owner, action=refusal.action,
    )  # fmt: skip
    logger.warning(
        "AVIV refused listing %s v%s: %s", desired.listing_id, desired.version, refusal.detail,
        extra={"traceparent": refusal.traceparent, "errors": [e.to_dict() for e in refusal.errors]},
    )  # fmt: skip
    if plan is None:
        return SyncOutcome(
            desired.listing_id, "rejected", classified_id=classified_id, errors=refusal.errors,
            desired_version=desired.version, detail=refusal.detail,
        )  # fmt: skip
    return _outcome(
        desired, plan, "rejected", classified_id=classified_id, errors=refusal.errors, detail=refusal.detail
    )


def _sync_deletion(
    desired: DesiredListing, last_sent: LastSent | None, pending: LastSent | None, ctx: _Context
) -> SyncOutcome:
    """DELETE the classified if AVIV may hold one, under the agency it was sent under; a 404 means
    it is already gone (done), a 400 is recorded as a rejection."""
    listing_id = desired.listing_id
    sent = last_sent if last_sent is not None and not last_sent.deleted else pending
    agency = sent.agency(desired.intermediary_id) if sent is not None else desired.intermediary_id
    classified_id = _classified_to_delete(last_sent, pending, ctx.aviv, agency)
    if classified_id is None:
        ctx.store.record_skipped(listing_id, desired.version, ctx.lease_owner)
        return SyncOutcome(listing_id, "skipped", desired_version=desired.version)
    if _already_handled(desired, ctx):  # a refused DELETE: not again until the listing changes
        return SyncOutcome(listing_id, "skipped", desired_version=desired.version, detail="already handled")
    tombstone = LastSent.tombstone(desired, classified_id, agency, format_moment(ctx.now))
    # Write-ahead here too: it proves the lease is still ours before AVIV is touched.
    ctx.store.record_pending(tombstone, ctx.lease_owner)
    try:
        delete_classified(classified_id, ctx.aviv, agency, moving=False)
    except Refused as refused:
        return _reject(desired, None, refused.refusal, ctx, classified_id)
    ctx.store.record_sent(tombstone, ctx.lease_owner)
    return SyncOutcome(
        listing_id,
        "deleted",
        operation="DELETE",
        classified_id=classified_id,
        desired_version=desired.version,
    )


def _classified_to_delete(
    last_sent: LastSent | None, pending: LastSent | None, aviv: AvivPort, agency: str | None
) -> str | None:
    """The live classified, if any. Without a live last-sent one, a pending (unconfirmed) send may
    still have created one on AVIV: its id, or AVIV's answer for its offererEstateId, tells."""
    if last_sent is not None and not last_sent.deleted and last_sent.classified_id:
        return last_sent.classified_id
    if pending is None or pending.deleted:
        return None
    if pending.classified_id:
        return pending.classified_id
    return find_classified_id(pending.body, aviv, agency)


def _outcome(
    desired: DesiredListing,
    plan: SyncPlan,
    status: SyncStatus,
    *,
    operation: Operation | None = None,
    classified_id: str | None = None,
    errors: tuple[FieldError, ...] = (),
    detail: str | None = None,
) -> SyncOutcome:
    return SyncOutcome(
        listing_id=desired.listing_id,
        status=status,
        operation=operation,
        classified_id=classified_id,
        diff=plan.diff,
        warnings=plan.warnings,
        errors=errors,
        desired_version=desired.version,
        detail=detail,
    )
