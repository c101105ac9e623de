"""Ingest service: one signed CRM webhook → the listing's desired state, answered fast.

Order matters: size → signature → JSON → event validation (all before anything is stored), then
dedupe on ``webhook-id`` (Powertools Idempotency, 48 h) around applying the event, which is the
only step that writes. A rejected request changes nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from vitrine.adapters.dynamo_store import DynamoStateStore
from vitrine.adapters.secrets import webhook_secrets
from vitrine.adapters.sqs_scheduler import SqsSyncScheduler
from vitrine.core.errors import ConcurrentModification, FieldError, ValidationFailed
from vitrine.core.events import ListingEvent, MalformedBody, decode_body, parse_event
from vitrine.core.ingest import IngestResult, SyncSchedulingFailed, ingest_event, schedule_hold_seconds
from vitrine.core.webhook_signing import MAX_BODY_BYTES, SignatureError, verify
from vitrine.observability import MetricUnit, logger, metrics
from vitrine.service import PerInstance
from vitrine.service.http import accepted, problem
from vitrine.settings import SYNC_VISIBILITY_TIMEOUT_SECONDS, Settings

# Standard Webhooks senders retry for days; 48 h comfortably covers "at least 24 h".
WEBHOOK_ID_RETENTION_SECONDS = 48 * 3600


def _header(headers: Mapping[str, str], name: str) -> str:
    """Header lookup in any case (API Gateway passes names as the sender wrote them)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools hook: a repeated webhook-id gets the first answer, flagged as a duplicate."""
    if isinstance(response, dict):
        return {**response, "duplicate": True}
    return response


class IngestService:
    """Built once per Lambda instance; holds the adapters and the idempotent apply step."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.idempotency_config = IdempotencyConfig(
            event_key_jmespath="webhookId",
            payload_validation_jmespath="bodySha256",
            expires_after_seconds=WEBHOOK_ID_RETENTION_SECONDS,
            response_hook=_mark_duplicate,
        )
        self.persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
        self._apply_once = idempotent_function(
            data_keyword_argument="delivery",
            config=self.idempotency_config,
            persistence_store=self.persistence,
        )(self._apply)

    @cached_property
    def store(self) -> DynamoStateStore:
        return DynamoStateStore(self.settings.state_table)

    @cached_property
    def scheduler(self) -> SqsSyncScheduler:
        return SqsSyncScheduler(self.settings.sync_queue_url)

    def secrets(self) -> list[str]:
        return webhook_secrets(self.settings.webhook_secret_arn)

    def handle(self, headers: Mapping[str, str], raw_body: bytes) -> Response:
        """Verify, validate, dedupe, apply; map every failure to a specific problem+json answer."""
        if len(raw_body) > MAX_BODY_BYTES:
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            return problem(413, f"body is {len(raw_body)} bytes; the limit is {MAX_BODY_BYTES}")
        try:
            verify(headers, raw_body, self.secrets(), now=time.time())
        except SignatureError as exc:
            if exc.reason == "bad_secret":
                # Our misconfiguration (no or malformed secret), not the sender's fault: alert, 500.
                logger.error("webhook signing secrets are missing or malformed")
                metrics.add_metric(name="WebhookMisconfigured", unit=MetricUnit.Count, value=1)
                return problem(500, "webhook verification is not configured")
            metrics.add_metric(name="WebhookUnauthorized", unit=MetricUnit.Count, value=1)
            logger.warning("webhook signature refused", extra={"reason": exc.reason})
            return problem(401, f"webhook signature refused: {exc.reason}")
        webhook_id = _header(headers, "webhook-id")
        logger.set_correlation_id(webhook_id)
        try:
            raw_event = decode_body(raw_body)
        except MalformedBody as exc:
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            return problem(400, f"body is not valid JSON: {exc}")
        try:
            event = parse_event(raw_event)
        except ValidationFailed as exc:
            return self._invalid(exc.errors)
        logger.append_keys(listing_id=event.listing_id, event_type=event.type)
        delivery = {
            "webhookId": webhook_id,
            "bodySha256": hashlib.sha256(raw_body).hexdigest(),
            "event": raw_event,
        }
        try:
            body = self._apply_once(delivery=delivery)
        except ValidationFailed as exc:
            return self._invalid(exc.errors)
        except IdempotencyValidationError:
            return problem(409, "this webhook-id was already used for a different body")
        except IdempotencyAlreadyInProgressError:
            return problem(409, "this webhook-id is being processed right now; retry later",
                           headers={"Retry-After": "2"})  # fmt: skip
        except ConcurrentModification:
            return problem(
                503, "too many concurrent changes to this listing; retry", headers={"Retry-After": "1"}
            )
        except SyncSchedulingFailed:
            # Stored, but not yet scheduled: the sender's retry re-applies (harmlessly) and schedules.
            logger.exception("sync could not be scheduled")
            metrics.add_metric(name="WebhookSchedulingFailed", unit=MetricUnit.Count, value=1)
            return problem(503, "the change could not be scheduled; retry", headers={"Retry-After": "5"})
        if body.get("duplicate"):
            metrics.add_metric(name="WebhookDuplicate", unit=MetricUnit.Count, value=1)
        elif body.get("ignored"):
            metrics.add_metric(name="WebhookIgnored", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
        logger.info("webhook accepted", extra={"answer": body})
        return accepted(body)

    def _invalid(self, errors: list[FieldError]) -> Response:
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        logger.info("webhook rejected", extra={"errors": [e.to_dict() for e in errors]})
        return problem(422, "the event is invalid; nothing was changed", errors=errors)

    def _apply(self, delivery: dict[str, Any]) -> dict[str, Any]:
        """The idempotent step: durable once it returns (desired state written, sync scheduled)."""
        event: ListingEvent = parse_event(delivery["event"])
        result: IngestResult = ingest_event(
            event,
            store=self.store,
            scheduler=self.scheduler,
            clock=lambda: datetime.now(UTC),
            consolidation_window=self.settings.consolidation_window_seconds,
            hold_seconds=schedule_hold_seconds(
                self.settings.consolidation_window_seconds,
                self.settings.max_delay_seconds,
                SYNC_VISIBILITY_TIMEOUT_SECONDS,
            ),
        )
        return {**result.to_body(), "webhookId": delivery["webhookId"]}


_instance: PerInstance[IngestService] = PerInstance(IngestService)


def get_ingest_service() -> IngestService:
    """One service per Lambda instance (settings parsed once, clients reused)."""
    return _instance.get()


def reset_ingest_service() -> None:
    """For tests that change the environment."""
    _instance.reset()
