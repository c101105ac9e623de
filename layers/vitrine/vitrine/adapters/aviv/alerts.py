"""AVIV refusing vitrine itself rather than a listing (401, 403): the operators' signals.

No listing change can fix these, and no owner can: each one logs one line that says what to check,
with the ``traceparent`` AVIV's support asks for. The metrics their alarms watch
(``AvivUnauthorized``, ``AvivForbidden``; docs/operations.md) are counted by the client's
observer (``adapters/aviv/observer.py``), so the client itself never imports a metrics library.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from vitrine.core.errors import AvivError

logger = Logger(service="vitrine", child=True)

UNAUTHORIZED_CHECK = (
    "AVIV refused a freshly fetched token (401): check the client id and secret in the AVIV "
    "credentials secret, that they are for this stack's AVIV environment (sandbox or production), "
    "and with AVIV that the client is active"
)
FORBIDDEN_CHECK = (
    "AVIV answered 403 (forbidden): check with AVIV that these client credentials are linked to the "
    "agency's intermediaryId {intermediary!r} (and that the classified belongs to that agency), and "
    "that no firewall or IP allow-list at AVIV blocks this stack's outbound address; if both look "
    "right, contact AVIV support with the traceparent {traceparent}"
)


def report_refusal(
    status: int, method: str, path: str, intermediary_id: str | None, error: AvivError
) -> None:
    """Explain a final 401 or 403 (other statuses are not refusals of vitrine itself)."""
    if status == 401:
        message = UNAUTHORIZED_CHECK
    elif status == 403:
        message = FORBIDDEN_CHECK.format(intermediary=intermediary_id, traceparent=error.traceparent)
    else:
        return
    problem = error.problem
    logger.error(
        message,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "intermediary_id": intermediary_id,
            "traceparent": error.traceparent,
            "aviv_title": problem.title if problem else None,
            "aviv_detail": problem.detail if problem else None,
        },
    )
