"""Owner status page function (API Gateway → Lambda): ``GET /owners/{ownerId}/listings`` → HTML.

No event-handler framework: one GET route, so the proxy event is read directly and the cold start
loads only the state-table reader, the secrets adapter and the page renderer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vitrine.observability import metrics, per_invocation
from vitrine.service.owner_page import get_owner_page_service


@per_invocation
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return get_owner_page_service().handle_event(event)
