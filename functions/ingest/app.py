"""Ingest function (API Gateway → Lambda): CRM webhooks in, desired state stored, 202 out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vitrine.observability import metrics, per_invocation
from vitrine.service.http import HttpAnswer
from vitrine.service.ingest import get_ingest_service
from vitrine.service.proxy_router import ProxyRequest, ProxyRouter

app = ProxyRouter()


@app.route("POST", "/webhooks/listings")
def receive_listing_webhook(request: ProxyRequest) -> HttpAnswer:
    # The signature covers the exact bytes, so the body is never re-serialised before verify.
    return get_ingest_service().handle(request.headers, request.body)


@per_invocation
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event)
