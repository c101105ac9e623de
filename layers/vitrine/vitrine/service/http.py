"""HTTP shared by the API routes: the answer a route returns, RFC 9457 problem+json answers that
name the field, header lookups in any case, and the one media type the routes read (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class HttpAnswer:
    """A route's answer; :meth:`to_proxy_result` is what API Gateway's Lambda proxy integration
    (REST API, payload 1.0) reads back. ``body`` is text: every answer of vitrine's routes is."""

    status_code: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, status: int, content_type: str, body: str, headers: Mapping[str, str] | None = None
    ) -> HttpAnswer:
        """An answer with its ``Content-Type`` (one given in ``headers`` wins)."""
        merged = dict(headers or {})
        merged.setdefault("Content-Type", content_type)
        return cls(status_code=status, body=body, headers=merged)

    def to_proxy_result(self) -> dict[str, Any]:
        return {
            "statusCode": self.status_code,
            "body": self.body,
            "isBase64Encoded": False,
            "multiValueHeaders": {name: [value] for name, value in self.headers.items()},
        }


def problem(
    status: int,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """A problem+json response; ``errors`` lists each bad field as ``{pointer, reason}``."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [e.to_dict() for e in errors]
    return HttpAnswer.of(status, PROBLEM_JSON, json.dumps(body), headers)


def route_not_found() -> HttpAnswer:
    """What a function answers when no route of its own matches: a path or method it does not
    serve, or a path parameter holding a character the routes refuse."""
    return problem(404, "no route of this API matches the path")


def accepted(body: dict[str, object], status: int = 202) -> HttpAnswer:
    return HttpAnswer.of(status, "application/json", json.dumps(body))


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


def refuse_unless_json(headers: Mapping[str, str]) -> HttpAnswer | None:
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
