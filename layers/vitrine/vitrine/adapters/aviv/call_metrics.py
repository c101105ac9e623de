"""The AVIV client's reports as CloudWatch metrics (docs/operations.md, "Metrics"): the Lambda services'
:class:`~vitrine.adapters.aviv.observer.AvivCallObserver`.

``AvivCall`` carries its own ``operation`` and ``result`` dimensions, so it is printed on its own
(``add_dimensioned_metric``); the others join the invocation's shared set, flushed by the handler.
"""

from __future__ import annotations

from vitrine.adapters.aviv.observer import attempt_result
from vitrine.core.ports import AttemptFailure, AvivOperation
from vitrine.observability import MetricUnit, add_dimensioned_metric, metrics


class AvivCallMetrics:
    """``AvivCall`` by operation and result, ``AvivRequests`` and ``Aviv5xx`` per attempt;
    ``AvivUnauthorized`` and ``AvivForbidden`` per refused call (what the credentials alarms watch)."""

    def attempt(self, operation: AvivOperation, status: int | None, failure: AttemptFailure | None) -> None:
        result = attempt_result(status, failure)
        add_dimensioned_metric("AvivCall", MetricUnit.Count, 1, {"operation": operation, "result": result})
        metrics.add_metric(name="AvivRequests", unit=MetricUnit.Count, value=1)
        if result == "5xx":
            metrics.add_metric(name="Aviv5xx", unit=MetricUnit.Count, value=1)

    def refused(self, operation: AvivOperation, status: int) -> None:
        name = "AvivForbidden" if status == 403 else "AvivUnauthorized"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
