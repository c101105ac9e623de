"""Ingest function (API Gateway → Lambda): CRM webhooks in, desired state stored, 202 out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from vitrine.observability import metrics, per_invocation
from vitrine.service.http import raw_body, route_not_found
from vitrine.service.ingest import get_ingest_service

app = APIGatewayRestResolver()
app.not_found(route_not_found)


@app.post("/webhooks/listings")
def receive_listing_webhook() -> Response:
    # The signature covers the exact bytes, so the body is never re-serialised before verify.
    return get_ingest_service().handle(app.current_event.headers, raw_body(app.current_event))


@per_invocation
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
