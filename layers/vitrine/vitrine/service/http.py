"""HTTP answers shared by the API routes: RFC 9457 problem+json bodies that name the field."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from vitrine.core.errors import FieldError

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Malformed request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    422: "Invalid event",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response; ``errors`` lists each bad field as ``{pointer, reason}``."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [e.to_dict() for e in errors]
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body), headers=headers)


def accepted(body: dict[str, object], status: int = 202) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def raw_body(event: BaseProxyEvent) -> bytes:
    """The request body as the exact bytes the sender signed."""
    body = event.body or ""
    if event.is_base64_encoded:
        return base64.b64decode(body)
    return body.encode("utf-8")
