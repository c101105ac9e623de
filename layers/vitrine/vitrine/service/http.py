"""HTTP shared by the API routes: RFC 9457 problem+json answers that name the field, header
lookups in any case, and the one media type the routes read (JSON)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

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
    415: "Unsupported media type",
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


def route_not_found(_: Exception) -> Response:
    """What a function answers when no route of its own matches (Powertools' own 404 is not
    problem+json): API Gateway passed a path whose parameters hold a character the routes refuse."""
    return problem(404, "no route of this API matches the path")


def accepted(body: dict[str, object], status: int = 202) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def raw_body(event: BaseProxyEvent) -> bytes:
    """The request body as the exact bytes the sender signed."""
    body = event.body or ""
    if event.is_base64_encoded:
        return base64.b64decode(body)
    return body.encode("utf-8")


def header_value(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever the case of its name ("" when absent): API Gateway (REST) passes
    names as the sender wrote them."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or any ``application/<x>+json``, parameters allowed; a ``charset``, when
    given, must be UTF-8 (RFC 8259: JSON between systems is UTF-8, which the routes decode)."""
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    kind, _, subtype = media_type.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return False
    return True


def refuse_unless_json(headers: Mapping[str, str]) -> Response | None:
    """415 problem+json unless the request declares a JSON body; None when it does."""
    content_type = header_value(headers, "content-type")
    if is_json_media_type(content_type):
        return None
    got = f"got {content_type!r}" if content_type else "none was given"
    return problem(
        415,
        f"Content-Type must be application/json (UTF-8); {got}",
        headers={"Accept-Post": "application/json"},
    )
