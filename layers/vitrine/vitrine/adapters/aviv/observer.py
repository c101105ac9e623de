"""What the AVIV client tells about its calls, for whoever measures them: a port, not a metrics library.

The client stays usable anywhere (scripts, the CLI, tests) with :class:`NoObserver`; the Lambda
services pass ``call_metrics.AvivCallMetrics`` instead, which turns these reports into CloudWatch
metrics. Two moments are reported: every HTTP attempt (each retry included), and a logical call
that ends refused for lack of rights (401 after its one token refresh, 403, or a token refused).
"""

from __future__ import annotations

from vitrine.core.ports import AttemptFailure, AvivOperation

_NAMED_STATUSES = frozenset({401, 403, 404, 409, 412, 429})


class NoObserver:
    """Reports go nowhere: the default outside the Lambda functions."""

    def attempt(self, operation: AvivOperation, status: int | None, failure: AttemptFailure | None) -> None:
        return None

    def refused(self, operation: AvivOperation, status: int) -> None:
        return None


def attempt_result(status: int | None, failure: AttemptFailure | None) -> str:
    """An attempt's ``result`` dimension: ``2xx``, the statuses vitrine acts on by name (401, 403,
    404, 409, 412, 429), ``4xx`` and ``5xx`` for the others, ``timeout`` or ``connection`` without an
    answer, ``other`` for anything else (AVIV never redirects: a 3xx would be a surprise)."""
    if status is None:
        return failure or "connection"
    if 200 <= status < 300:
        return "2xx"
    if status in _NAMED_STATUSES:
        return str(status)
    if 400 <= status < 500:
        return "4xx"
    if 500 <= status < 600:
        return "5xx"
    return "other"
