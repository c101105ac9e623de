"""One call as the routes see it (``Incoming`` → ``Outgoing``) and AVIV's ways of answering: problem
bodies, 202 acknowledgements, query parameters and ``nextToken`` paging."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devtools.aviv_emulator.records import Token

_TRACEPARENT_PATTERN = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

_ERRORS_DOC = (
    "https://caas-api-documentation.kugawana.eu/doc/staging/seloger/ingest-v4/index.html#section/Errors/"
)
_VALIDATION_TYPE = _ERRORS_DOC + "Validation-Error"
DUPLICATED_CLASSIFIED_TYPE = _ERRORS_DOC + "Duplicated-Classifieds-Error"
DUPLICATED_MEDIA_TYPE = _ERRORS_DOC + "Duplicated-Media-Error"

_PROBLEM_CONTENT_TYPE = "application/json+problem"  # AVIV's declared (non-standard) problem type
_JSON_CONTENT_TYPE = "application/json"
_DEFAULT_PAGE_SIZE = 250


@dataclass
class Incoming:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Outgoing:
    status: int
    payload: Any = None
    content_type: str = _JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float | None = None  # hang (until the client gives up) and drop, answering nothing
    reset: bool = False  # close the connection with a TCP RST, answering nothing

    @property
    def unanswered(self) -> bool:
        return self.hang_seconds is not None or self.reset

    def encoded(self) -> bytes:
        if self.payload is None:
            return b""
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")


@dataclass
class Context:
    """Per-call facts every handler needs."""

    traceparent: str
    token: Token | None = None

    @property
    def scope(self) -> str:
        return (self.token.intermediary_id or "") if self.token else ""


class BadBody(Exception):
    """Raised deep in a route to answer with ``response`` at once."""

    def __init__(self, response: Outgoing) -> None:
        super().__init__(response.status)
        self.response = response


def traceparent_for(incoming: str | None) -> str:
    """W3C traceparent for the answer: the caller's trace-id when it sent a valid one, a new span."""
    match = _TRACEPARENT_PATTERN.fullmatch((incoming or "").strip().lower())
    trace_id = match.group(2) if match and match.group(2) != "0" * 32 else secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def parse_json_quietly(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def is_json(incoming: Incoming) -> bool:
    """Whether the call declares ``Content-Type: application/json`` (parameters such as charset allowed)."""
    declared = (incoming.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    return declared == _JSON_CONTENT_TYPE


def parse_body(incoming: Incoming, ctx: Context) -> Any:
    """The JSON body, or BadBody with AVIV's wording: a missing or other Content-Type is a validation
    error of source ``contentType`` (the spec declares only application/json request bodies)."""
    if not is_json(incoming):
        raise BadBody(
            validation_problem(
                [
                    {
                        "name": "Content-Type",
                        "reason": "must be equal to one of the allowed values: application/json.",
                    }
                ],
                ctx,
                source="contentType",
            )
        )
    if not incoming.body.strip():
        raise BadBody(problem(400, "Bad request", "Body is not defined", ctx))
    try:
        return json.loads(incoming.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadBody(problem(400, "Bad request", "Validator could not parse body", ctx)) from None


def problem(
    status: int, title: str, detail: str, ctx: Context, *, type_: str = "about:blank", **extra: Any
) -> Outgoing:
    payload = {
        "type": type_,
        "title": title,
        "detail": detail,
        "instance": ctx.traceparent,
        "status": status,
        **extra,
    }
    return Outgoing(status, payload, content_type=_PROBLEM_CONTENT_TYPE)


def validation_problem(errors: list[dict[str, str]], ctx: Context, *, source: str = "body") -> Outgoing:
    return problem(
        400,
        "Bad request",
        "Your request has not been validated",
        ctx,
        type_=_VALIDATION_TYPE,
        errors=errors,
        errorSource=source,
    )


def not_found(classified_id: str, ctx: Context) -> Outgoing:
    return problem(
        404, "Not found", f"The resource you are trying to operate with doesn't exists: {classified_id}.", ctx
    )


def accepted(classified_id: str) -> Outgoing:
    return Outgoing(
        202,
        {"classifiedId": classified_id, "links": [{"statuses": f"/classifieds/{classified_id}/statuses"}]},
    )


def etag_matches(if_match: str, revision: int) -> bool:
    for candidate in if_match.split(","):
        value = candidate.strip()
        if value == "*":
            return True
        if value.startswith("W/"):
            value = value[2:]
        if value.strip('"') == str(revision):
            return True
    return False


def first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def multi(query: Mapping[str, list[str]], name: str) -> list[str]:
    """``status=A&status=B``, ``status[]=A`` or ``status=A,B``."""
    values = [*query.get(name, []), *query.get(f"{name}[]", [])]
    return [part for value in values for part in value.split(",") if part]


def paging(query: Mapping[str, list[str]], ctx: Context) -> tuple[int, int, Outgoing | None]:
    raw_limit = first(query, "limit")
    limit = _DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if limit < 1:
            refused = validation_problem(
                [{"name": "limit", "reason": "must be integer >= 1"}], ctx, source="requestParameter"
            )
            return 0, 0, refused
    offset = 0
    token = first(query, "nextToken")
    if token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except (ValueError, KeyError, TypeError):
            refused = validation_problem(
                [{"name": "nextToken", "reason": "is not a valid token"}], ctx, source="requestParameter"
            )
            return 0, 0, refused
    return limit, offset, None


def page(items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    selected = items[offset : offset + limit]
    more = offset + limit < len(items)
    token = (
        base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode() if more else None
    )
    return {"items": selected, "nextToken": token}
