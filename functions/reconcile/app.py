"""Reconcile function: the scheduled run (EventBridge Scheduler) and AVIV's status push (API Gateway).

One function because both apply AVIV statuses through the same code; the event's shape says which:
an API Gateway proxy event is the push, anything else is the schedule.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vitrine.observability import metrics, per_invocation
from vitrine.service.http import HttpAnswer
from vitrine.service.proxy_router import ProxyRequest, ProxyRouter
from vitrine.service.reconcile import get_reconcile_service

push_api = ProxyRouter()


@push_api.route("POST", "/aviv/<token>/classifieds/<classified_id>/statuses")
def receive_status_push(request: ProxyRequest) -> HttpAnswer:
    # The token is a secret: it is compared in constant time and never logged.
    parameters = request.path_parameters
    return get_reconcile_service().status_push.handle(
        parameters["token"], parameters["classified_id"], request.body, request.headers
    )


def is_api_event(event: Any) -> bool:
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event


@per_invocation
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_api_event(event):
        return push_api.resolve(event)
    report = get_reconcile_service().run(remaining_ms=context.get_remaining_time_in_millis())
    return report.to_dict()
