"""Ingest service: one signed CRM webhook → the listing's desired state, answered fast.

Order matters: size → signature → media type → JSON → event validation → the listing the event
produces checked against AVIV's schema (all before anything is stored), then one conditional write
that applies the event, records its ``webhook-id`` (dedupe, kept 48 h) and claims the listing's sync;
then the one sync message. A rejected request changes nothing; an accepted one hears the listing's
quality warnings.

Why not Powertools Idempotency: it costs two extra writes to a second table on every webhook,
while the listing's own conditional write can carry the delivery record for free, and the CRM is
waiting for the answer (bench/ingest_latency.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

from vitrine.adapters.dynamo.ingest_store import IngestStateStore
from vitrine.adapters.secrets import webhook_secrets
from vitrine.adapters.sqs_scheduler import SqsSyncScheduler
from vitrine.core.errors import ConcurrentModification, FieldError, RefusedByAvivSchema, ValidationFailed
from vitrine.core.events.parse import MalformedBody, decode_body, parse_event
from vitrine.core.events.vocabulary import ListingEvent
from vitrine.core.ingest import DeliveryConflict, IngestResult, RecentListings, ingest_event
from vitrine.core.model import Delivery, body_digest
from vitrine.core.scheduling import SyncSchedulingFailed
from vitrine.core.strict_json import TooDeep
from vitrine.core.webhook_signing import MAX_BODY_BYTES, SignatureError, verify
from vitrine.observability import MetricUnit, add_dimensioned_metric, log_keys, logger, metrics
from vitrine.service import PerInstance
from vitrine.service.http import HttpAnswer, accepted, header_value, problem, refuse_unless_json
from vitrine.settings import Settings

RefusalReason = Literal[
    "too_large", "not_json", "too_deep", "unsupported_media_type", "signature", "misconfigured",
    "invalid", "conflict", "busy", "scheduling_failed",
]  # fmt: skip
"""Why a webhook was refused: the ``reason`` dimension of ``WebhookRefused`` (docs/operations.md)."""


def refusal(reason: RefusalReason, answer: HttpAnswer) -> HttpAnswer:
    """Count a refused webhook once, by reason, on its own EMF line (``WebhookRefused``); pass the
    answer through. Every non-2xx answer of ingest goes through here."""
    add_dimensioned_metric("WebhookRefused", MetricUnit.Count, 1, {"reason": reason})
    return answer


class IngestService:
    """Built once per Lambda instance: settings, adapters, and the recently written listings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.recent = RecentListings()
        self.hold_seconds = settings.sync_claim_hold_seconds
        self.defaults = settings.classified_defaults()

    @cached_property
    def store(self) -> IngestStateStore:
        # Only the ingest part of the state table's stores: the sync's is not loaded on a cold start.
        return IngestStateStore(self.settings.state_table)

    @cached_property
    def scheduler(self) -> SqsSyncScheduler:
        return SqsSyncScheduler(self.settings.sync_queue_url)

    def secrets(self) -> list[str]:
        return webhook_secrets(self.settings.webhook_secret_arn)

    def handle(self, headers: Mapping[str, str], raw_body: bytes) -> HttpAnswer:
        """Verify, validate, dedupe, apply; map every failure to a specific problem+json answer."""
        refused = self._refuse_unverified(headers, raw_body)
        if refused is not None:
            return refused
        not_json = refuse_unless_json(headers)
        if not_json is not None:
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            return refusal("unsupported_media_type", not_json)
        webhook_id = header_value(headers, "webhook-id")
        log_keys(correlation_id=webhook_id)
        try:
            event = parse_event(decode_body(raw_body))
        except MalformedBody as exc:  # not JSON, a repeated key, or nested too deep
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            reason: RefusalReason = "too_deep" if isinstance(exc, TooDeep) else "not_json"
            return refusal(reason, problem(400, str(exc)))
        except ValidationFailed as exc:
            return self._invalid(exc.errors)
        log_keys(listing_id=event.listing_id, event_type=event.type)
        delivery = Delivery(
            webhook_id=webhook_id,
            body_digest=body_digest(raw_body),
            received_at=datetime.now(UTC),
        )
        return self._ingest(event, delivery)

    def _refuse_unverified(self, headers: Mapping[str, str], raw_body: bytes) -> HttpAnswer | None:
        """The answer to a body too large or not signed by the CRM; None when it may be read."""
        if len(raw_body) > MAX_BODY_BYTES:
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            detail = f"body is {len(raw_body)} bytes; the limit is {MAX_BODY_BYTES}"
            return refusal("too_large", problem(413, detail))
        try:
            verify(headers, raw_body, self.secrets(), now=time.time())
        except SignatureError as exc:
            if exc.reason == "bad_secret":
                # Our misconfiguration (no or malformed secret), not the sender's fault: alert, 500.
                logger.error("webhook signing secrets are missing or malformed")
                metrics.add_metric(name="WebhookMisconfigured", unit=MetricUnit.Count, value=1)
                return refusal("misconfigured", problem(500, "webhook verification is not configured"))
            metrics.add_metric(name="WebhookUnauthorized", unit=MetricUnit.Count, value=1)
            logger.warning("webhook signature refused", extra={"reason": exc.reason})
            return refusal("signature", problem(401, f"webhook signature refused: {exc.reason}"))
        return None

    def _ingest(self, event: ListingEvent, delivery: Delivery) -> HttpAnswer:
        """Apply the event in one conditional write and answer 202, or the problem that stopped it."""
        try:
            result = ingest_event(
                event,
                delivery,
                store=self.store,
                scheduler=self.scheduler,
                clock=lambda: datetime.now(UTC),
                consolidation_window=self.settings.consolidation_window_seconds,
                hold_seconds=self.hold_seconds,
                defaults=self.defaults,
                recent=self.recent,
            )
        except RefusedByAvivSchema as exc:
            return self._invalid(
                exc.errors, "AVIV would refuse the listing this event produces; nothing was changed"
            )
        except ValidationFailed as exc:
            return self._invalid(exc.errors)
        except DeliveryConflict:
            return refusal("conflict", problem(409, "this webhook-id was already used for a different body"))
        except ConcurrentModification:
            detail = "too many concurrent changes to this listing; retry"
            return refusal("busy", problem(503, detail, headers={"Retry-After": "1"}))
        except SyncSchedulingFailed:
            # Nothing is recorded as delivered: the sender's retry re-applies (harmlessly) and schedules.
            logger.exception("sync could not be scheduled")
            metrics.add_metric(name="WebhookSchedulingFailed", unit=MetricUnit.Count, value=1)
            detail = "the change could not be scheduled; retry"
            return refusal("scheduling_failed", problem(503, detail, headers={"Retry-After": "5"}))
        if result.unreadable is not None:
            _log_unreadable(result)
        body = {**result.to_body(), "webhookId": delivery.webhook_id}
        if body.get("duplicate"):
            metrics.add_metric(name="WebhookDuplicate", unit=MetricUnit.Count, value=1)
        elif body.get("ignored"):
            metrics.add_metric(name="WebhookIgnored", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
        logger.info("webhook accepted", extra={"answer": body})
        return accepted(body)

    def _invalid(
        self, errors: list[FieldError], detail: str = "the event is invalid; nothing was changed"
    ) -> HttpAnswer:
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        logger.info("webhook rejected", extra={"detail": detail, "errors": [e.to_dict() for e in errors]})
        return refusal("invalid", problem(422, detail, errors=errors))


def _log_unreadable(result: IngestResult) -> None:
    """A stored listing that could not be read is our defect (or a partial write): say so loudly."""
    outcome = (
        "this event's state replaced it"
        if result.changed
        else "left as is: the next event that gives the listing a state replaces it"
    )
    logger.error(
        f"listing {result.listing_id}: its stored desired state was unreadable; {outcome}",
        extra={"reason": result.unreadable, "version": result.version},
    )
    metrics.add_metric(name="UnreadableListing", unit=MetricUnit.Count, value=1)


_instance: PerInstance[IngestService] = PerInstance(IngestService)


def get_ingest_service() -> IngestService:
    """One service per Lambda instance (settings parsed once, clients reused)."""
    return _instance.get()


def reset_ingest_service() -> None:
    """For tests that change the environment."""
    _instance.reset()
