"""The sync use case: make AVIV show what the CRM wants, with at most one call per consolidated change.

``sync_listing`` is level-triggered: it reads the listing's desired state and what AVIV was last
sent, plans the exact body (timestamps kept stable, so unchanged media are never re-downloaded),
and only calls AVIV when that body differs from the last one sent. It runs under the listing's
sync lease, so two workers never send the same listing at once.

Crash safety: before any POST/PUT the exact body and its media timestamps are written ahead
(``record_pending``). If the call's answer or the final ``record_sent`` is lost, the queue
redelivers the message and the plan reuses the pending timestamps, so the retry sends the same
body again and AVIV re-downloads nothing. A POST whose answer was lost is found again through
AVIV's "Duplicated classified" answer (offererEstateId is unique) and turned into a PUT.

Only ports are used (SyncStore, AvivPort); the clock is passed in.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.diff import ClassifiedDiff
from vitrine.core.errors import (
    AvivDuplicatedClassified,
    AvivNotFound,
    AvivRejected,
    FieldError,
    LeaseHeld,
)
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.moments import format_moment
from vitrine.core.plan import SyncPlan, plan_sync
from vitrine.core.ports import AvivAccepted, AvivPort, StateStore, SyncStore
from vitrine.core.quality import QualityWarning

logger = logging.getLogger(__name__)

SyncStatus = Literal["sent", "skipped", "rejected", "deleted", "not_ready", "missing"]
Operation = Literal["POST", "PUT", "DELETE"]

# Used as the rejection detail when vitrine's own validation stops a body before AVIV sees it.
INVALID_BEFORE_SEND = "the classified breaks AVIV's contract; it was not sent"


@dataclass(frozen=True)
class SyncOutcome:
    """What one sync did, for the handler (ack, metrics) and for a structured log line.

    ``status``: ``sent`` (POST/PUT accepted), ``skipped`` (nothing to send), ``rejected`` (refused by
    validation or AVIV; not retried for this version), ``deleted`` (DELETE accepted or already gone),
    ``not_ready`` (no ``data`` yet), ``missing`` (no such listing).
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
    """
    if not store.acquire_lease(listing_id, lease_owner, now, lease_seconds):
        raise LeaseHeld(f"listing {listing_id} is being synced by another worker")
    try:
        outcome = _sync_under_lease(listing_id, store, aviv, defaults, now, lease_owner, force)
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


def _sync_under_lease(
    listing_id: str,
    store: SyncStore,
    aviv: AvivPort,
    defaults: ClassifiedDefaults,
    now: datetime,
    lease_owner: str,
    force: bool = False,
) -> SyncOutcome:
    desired = store.load_desired(listing_id)
    if desired is None:
        return SyncOutcome(listing_id, "missing")
    last_sent = store.load_last_sent(listing_id)
    pending = store.load_pending(listing_id)

    if desired.deleted:
        return _sync_deletion(desired, last_sent, pending, store, aviv, now, lease_owner)
    if desired.data is None:
        return SyncOutcome(listing_id, "not_ready", desired_version=desired.version)

    # A pending deletion carries no media timestamps worth reusing.
    reusable_pending = pending if pending is not None and not pending.deleted else None
    plan = plan_sync(desired, last_sent, reusable_pending, defaults, now)
    if plan.diff.is_noop and not force:
        # AVIV already holds exactly this body.
        store.record_skipped(listing_id, desired.version, lease_owner)
        return _outcome(
            desired, plan, "skipped", classified_id=last_sent.classified_id if last_sent else None
        )
    state = store.load_sync_state(listing_id)
    if state is not None and state.sent_version >= desired.version and not force:
        # Only a refused version still plans a change once handled: do not refuse (and notify) or
        # send it twice when a duplicate message got the lease right after the first one.
        detail = f"version {desired.version} was already handled (last rejected: {state.rejected_version})"
        return _outcome(desired, plan, "skipped", detail=detail)
    if not plan.is_valid:
        store.record_rejection(
            listing_id, desired.version, list(plan.errors), INVALID_BEFORE_SEND, now, lease_owner
        )
        return _outcome(desired, plan, "rejected", errors=plan.errors, detail=INVALID_BEFORE_SEND)
    return _send(desired, last_sent, plan, store, aviv, now, lease_owner)


def _send(
    desired: DesiredListing,
    last_sent: LastSent | None,
    plan: SyncPlan,
    store: StateStore,
    aviv: AvivPort,
    now: datetime,
    lease_owner: str,
) -> SyncOutcome:
    """Write ahead, then POST (no live classified) or PUT (full replacement), then commit."""
    live_classified_id = last_sent.classified_id if last_sent is not None and not last_sent.deleted else None
    record = LastSent(
        listing_id=desired.listing_id,
        classified_id=live_classified_id,
        body=plan.body,
        media=list(plan.sent_media),
        desired_version=desired.version,
        sent_at=format_moment(now),
    )
    store.record_pending(record, lease_owner)
    try:
        accepted, operation = _write_classified(desired, live_classified_id, plan.body, aviv)
    except AvivRejected as refused:
        errors = _field_errors(refused)
        detail = _detail(refused)
        store.record_rejection(desired.listing_id, desired.version, list(errors), detail, now, lease_owner)
        logger.warning(
            "AVIV refused listing %s v%s: %s", desired.listing_id, desired.version, detail,
            extra={"traceparent": refused.traceparent, "errors": [e.to_dict() for e in errors]},
        )  # fmt: skip
        return _outcome(
            desired, plan, "rejected", classified_id=live_classified_id, errors=errors, detail=detail
        )
    sent = dataclasses.replace(record, classified_id=accepted.classified_id, media=list(plan.sent_media))
    store.record_sent(sent, lease_owner)
    return _outcome(desired, plan, "sent", operation=operation, classified_id=accepted.classified_id)


def _write_classified(
    desired: DesiredListing, live_classified_id: str | None, body: dict[str, Any], aviv: AvivPort
) -> tuple[AvivAccepted, Operation]:
    """PUT onto the live classified; POST when there is none, or when AVIV lost the one we knew."""
    intermediary_id = desired.intermediary_id
    if live_classified_id is None:
        return _create(body, aviv, intermediary_id)
    try:
        return aviv.update(live_classified_id, body, intermediary_id=intermediary_id), "PUT"
    except AvivNotFound:
        logger.warning(
            "classified %s of listing %s is gone from AVIV; creating it again",
            live_classified_id,
            desired.listing_id,
        )
        return _create(body, aviv, intermediary_id)


def _create(
    body: dict[str, Any], aviv: AvivPort, intermediary_id: str | None
) -> tuple[AvivAccepted, Operation]:
    """POST; if AVIV already has this offererEstateId (our earlier POST whose answer was lost, or a
    classified created elsewhere), PUT the same body onto that classified instead."""
    try:
        return aviv.create(body, intermediary_id=intermediary_id), "POST"
    except AvivDuplicatedClassified as duplicate:
        classified_id = duplicate.classified_id or _find_classified_id(body, aviv, intermediary_id)
        if classified_id is None:
            raise
        logger.info(
            "classified %s already exists for this offererEstateId; replacing it with PUT", classified_id
        )
        return aviv.update(classified_id, body, intermediary_id=intermediary_id), "PUT"


def _offerer_estate_id(body: dict[str, Any]) -> str | None:
    source = body.get("data", {}).get("metaData", {}).get("source", {})
    value = source.get("offererEstateId") if isinstance(source, dict) else None
    return value if isinstance(value, str) and value else None


def _find_classified_id(body: dict[str, Any], aviv: AvivPort, intermediary_id: str | None) -> str | None:
    offerer_estate_id = _offerer_estate_id(body)
    if offerer_estate_id is None:
        return None
    for found in aviv.find_by_offerer_estate_id(offerer_estate_id, intermediary_id=intermediary_id):
        classified_id = found.get("classifiedId")
        if isinstance(classified_id, str) and classified_id:
            return classified_id
    return None


def _sync_deletion(
    desired: DesiredListing,
    last_sent: LastSent | None,
    pending: LastSent | None,
    store: StateStore,
    aviv: AvivPort,
    now: datetime,
    lease_owner: str,
) -> SyncOutcome:
    """DELETE the classified if AVIV may hold one; a 404 means it is already gone (done)."""
    listing_id = desired.listing_id
    classified_id = _classified_to_delete(last_sent, pending, aviv, desired.intermediary_id)
    if classified_id is None:
        store.record_skipped(listing_id, desired.version, lease_owner)
        return SyncOutcome(listing_id, "skipped", desired_version=desired.version)
    tombstone = LastSent(
        listing_id=listing_id,
        classified_id=classified_id,
        body={},
        media=[],
        desired_version=desired.version,
        sent_at=format_moment(now),
        deleted=True,
    )
    # Write-ahead here too: it proves the lease is still ours before AVIV is touched.
    store.record_pending(tombstone, lease_owner)
    try:
        aviv.delete(classified_id, intermediary_id=desired.intermediary_id)
    except AvivNotFound:
        logger.info("classified %s of listing %s was already gone from AVIV", classified_id, listing_id)
    store.record_sent(tombstone, lease_owner)
    return SyncOutcome(
        listing_id,
        "deleted",
        operation="DELETE",
        classified_id=classified_id,
        desired_version=desired.version,
    )


def _classified_to_delete(
    last_sent: LastSent | None, pending: LastSent | None, aviv: AvivPort, intermediary_id: str | None
) -> str | None:
    """The live classified, if any. Without a live last-sent one, a pending (unconfirmed) send may
    still have created one on AVIV: its id, or AVIV's answer for its offererEstateId, tells."""
    if last_sent is not None and not last_sent.deleted and last_sent.classified_id:
        return last_sent.classified_id
    if pending is None or pending.deleted:
        return None
    if pending.classified_id:
        return pending.classified_id
    return _find_classified_id(pending.body, aviv, intermediary_id)


def _field_errors(refused: AvivRejected) -> tuple[FieldError, ...]:
    """AVIV's ``errors: [{name: <JSON pointer>, reason}]`` as FieldErrors."""
    problem = refused.problem
    if problem is None:
        return ()
    return tuple(
        FieldError(str(item.get("name") or ""), str(item.get("reason") or ""))
        for item in problem.errors
        if item.get("name") or item.get("reason")
    )


def _detail(refused: AvivRejected) -> str:
    problem = refused.problem
    if problem is not None:
        detail = problem.detail or problem.title
        if detail:
            return detail
    return str(refused)


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
