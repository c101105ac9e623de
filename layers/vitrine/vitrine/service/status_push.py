"""AVIV's status push: ``POST /aviv/{token}/classifieds/{classifiedId}/statuses``.

AVIV signs nothing, so the secret path segment is the only proof the call is AVIV's; it is compared
in constant time and never logged. A pushed status is applied by the very same per-listing code as
polling, with the pushed status in place of the polled one.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from vitrine.core.errors import AvivNotFound, AvivRetryable, ValidationFailed
from vitrine.core.ports import AvivStatusPort, ReconcileStateStore, ReconcileStatusStore
from vitrine.core.strict_json import MalformedBody, decode_strict_json
from vitrine.observability import MetricUnit, logger, metrics
from vitrine.service.http import HttpAnswer, accepted, problem, refuse_unless_json
from vitrine.service.reconcile_listing import ListingReconciler


class StatusPush:
    """Checks a push's token and body, finds the listing its classified belongs to, applies it."""

    def __init__(
        self,
        *,
        push_token: Callable[[], str],
        store: ReconcileStateStore,
        status_store: ReconcileStatusStore,
        aviv: AvivStatusPort,
        listings: ListingReconciler,
    ) -> None:
        self.push_token = push_token
        self.store = store
        self.status_store = status_store
        self.aviv = aviv
        self.listings = listings

    def handle(
        self, token: str, classified_id: str, raw_body: bytes, headers: Mapping[str, str]
    ) -> HttpAnswer:
        """403 on a wrong token, 415 on a body that is not JSON, 400 on one that is not an AVIV
        status, else 201."""
        expected = self.push_token()
        if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
            metrics.add_metric(name="PushUnauthorized", unit=MetricUnit.Count, value=1)
            return problem(403, "unknown push URL")
        not_json = refuse_unless_json(headers)
        if not_json is not None:
            return not_json
        try:
            status = decode_strict_json(raw_body)
        except MalformedBody as exc:  # not JSON, or nested too deep
            return problem(400, str(exc))
        except ValidationFailed as exc:  # text or numbers that could not be stored
            return problem(400, "body holds values that cannot be stored", errors=exc.errors)
        if not isinstance(status, dict) or not isinstance(status.get("status"), str):
            return problem(400, "body is not an AVIV status object (no 'status')")
        metrics.add_metric(name="PushReceived", unit=MetricUnit.Count, value=1)
        outcome = self.apply(classified_id, status)
        body = {"accepted": True, "classifiedId": classified_id, "applied": outcome}
        return accepted(body, status=201)

    def apply(self, classified_id: str, status: Mapping[str, Any]) -> str:
        """Apply a pushed status with the polling code; what happened, in one word."""
        listing_id = self.status_store.listing_for_classified(classified_id) or self._listing_from_aviv(
            classified_id
        )
        if listing_id is None:
            logger.info(
                "status push for a classified vitrine does not know", extra={"classified_id": classified_id}
            )
            return "unknown_classified"
        last_sent = self.store.load_last_sent(listing_id)
        if last_sent is None or last_sent.classified_id != classified_id:
            return "not_current"
        item = {**status, "classifiedId": classified_id}
        try:
            report = self.listings.reconcile(listing_id, check_rejection=False, pushed_status=item)
        except AvivRetryable:
            return "deferred"  # polling will get it
        logger.info("status push applied", extra={"reconcile": report.to_log()})
        return report.outcome

    def _listing_from_aviv(self, classified_id: str) -> str | None:
        """A push may come before the first run remembered the classified: ask AVIV whose it is."""
        try:
            copy = self.aviv.get(classified_id)
        except AvivNotFound:
            # Not visible with the default intermediary: the next run (polling) covers it.
            return None
        except Exception:
            logger.info("could not look the pushed classified up on AVIV", exc_info=True)
            return None
        body = copy.body
        source = (
            (body or {}).get("data", {}).get("metaData", {}).get("source", {})
            if isinstance(body, dict)
            else {}
        )
        candidate = source.get("offererEstateId") if isinstance(source, dict) else None
        if not isinstance(candidate, str) or not candidate:
            return None
        last_sent = self.store.load_last_sent(candidate)
        if last_sent is None or last_sent.classified_id != classified_id:
            return None
        self.status_store.remember_classified(classified_id, candidate)
        return candidate
