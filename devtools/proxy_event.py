"""API Gateway's Lambda proxy integration on the wire (REST API, payload format 1.0): the event a
request becomes, and the HTTP answer a handler's result becomes. Used by the API Gateway stand-in, and
alone to build sample events and benchmark inputs."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devtools.lambda_runtime import DEFAULT_ACCOUNT_ID

STAGE = "local"

log = logging.getLogger(__name__)


def header_value(event: Mapping[str, Any], name: str) -> str | None:
    """A header of a proxy event, whatever the case it was sent in (test helper)."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def build_event(
    *,
    method: str,
    raw_path: str,
    resource: str,
    path_parameters: Mapping[str, str] | None,
    header_pairs: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
    stage: str = STAGE,
    now: float | None = None,
) -> dict[str, Any]:
    """The REST API (v1) proxy event for one request; ``raw_path`` may carry a query string."""
    now = time.time() if now is None else now
    split = urlsplit(raw_path)
    path = unquote(split.path) or "/"
    # API Gateway keeps the last value of a repeated name in the single-value maps.
    headers, multi_headers = _single_and_multi(header_pairs)
    query, multi_query = _single_and_multi(parse_qsl(split.query, keep_blank_values=True))
    body_text, is_base64 = _event_body(body)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": _request_context(method, path, resource, header_pairs, source_ip, stage, now),
        "body": body_text,
        "isBase64Encoded": is_base64,
    }


def _single_and_multi(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _event_body(body: bytes) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded``: text when it is UTF-8, base64 otherwise."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _request_context(
    method: str,
    path: str,
    resource: str,
    header_pairs: Sequence[tuple[str, str]],
    source_ip: str,
    stage: str,
    now: float,
) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    user_agent = next((v for k, v in header_pairs if k.lower() == "user-agent"), None)
    host = next((v for k, v in header_pairs if k.lower() == "host"), "127.0.0.1")
    return {
        "accountId": DEFAULT_ACCOUNT_ID,
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "extendedRequestId": request_id,
        "httpMethod": method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": source_ip,
            "user": None,
            "userAgent": user_agent,
            "userArn": None,
        },
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": "local",
        "resourcePath": resource,
        "stage": stage,
    }


@dataclass(frozen=True)
class ProxyResponse:
    """What API Gateway would send back for a handler's result."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


INTERNAL_ERROR = ProxyResponse(
    HTTPStatus.BAD_GATEWAY,
    [("Content-Type", "application/json")],
    b'{"message": "Internal server error"}',
)


def map_response(result: Any) -> ProxyResponse:
    """A Lambda proxy result → HTTP answer; anything malformed is a 502, as on API Gateway."""
    if not isinstance(result, Mapping):
        log.error("malformed Lambda proxy response (not an object): %r", result)
        return INTERNAL_ERROR
    try:
        status = int(result["statusCode"])
    except (KeyError, TypeError, ValueError):
        log.error("malformed Lambda proxy response (statusCode): %r", result)
        return INTERNAL_ERROR
    if not 100 <= status <= 599:
        log.error("malformed Lambda proxy response (statusCode %s)", status)
        return INTERNAL_ERROR

    # Both maps merge; for a name in multiValueHeaders its values win over headers'.
    multi = {
        str(k): [str(v) for v in (vs or [])] for k, vs in (result.get("multiValueHeaders") or {}).items()
    }
    pairs: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        if str(name) not in multi:
            pairs.append((str(name), str(value)))
    for name, values in multi.items():
        pairs.extend((name, value) for value in values)

    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif result.get("isBase64Encoded"):
        try:
            body = base64.b64decode(str(raw_body), validate=True)
        except ValueError:
            log.error("malformed Lambda proxy response (body is not base64)")
            return INTERNAL_ERROR
    else:
        body = (raw_body if isinstance(raw_body, str) else json.dumps(raw_body)).encode("utf-8")
    return ProxyResponse(status, pairs, body)


def json_response(status: int, payload: Any) -> ProxyResponse:
    return ProxyResponse(status, [("Content-Type", "application/json")], json.dumps(payload).encode())
