"""Reconcile function: the scheduled run (EventBridge Scheduler) and AVIV's status push (API Gateway).

One function because both apply AVIV statuses through the same code; the event's shape says which:
an API Gateway proxy event is the push, anything else is the schedule.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vitrine.observability import metrics, per_invocation
from vitrine.service.reconcile import get_reconcile_service

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver


@cache
def push_api() -> APIGatewayRestResolver:
    """The push route, built on the first push: a scheduled run never loads powertools' event handler."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

    from vitrine.service.http import raw_body, route_not_found

    app = APIGatewayRestResolver()
    app.not_found(route_not_found)

    @app.post("/aviv/<token>/classifieds/<classified_id>/statuses")
    def receive_status_push(token: str, classified_id: str) -> Response:
        # The token is a secret: it is compared in constant time and never logged.
        return get_reconcile_service().status_push.handle(
            token, classified_id, raw_body(app.current_event), app.current_event.headers
        )

    return app


def is_api_event(event: Any) -> bool:
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event


@per_invocation
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_api_event(event):
        return push_api().resolve(event, context)
    report = get_reconcile_service().run(remaining_ms=context.get_remaining_time_in_millis())
    return report.to_dict()
