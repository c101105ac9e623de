"""API Gateway's Lambda proxy events (REST API, payload 1.0) routed to the few routes a function has.

Why not Powertools' event handler: for one or two POST routes it costs about a quarter of
``import boto3`` on every cold start (docs/benchmarks.md). This keeps what the routes relied on:
paths matched as ``APIGatewayRestResolver`` matches them (trailing slashes ignored, a ``<name>``
parameter holding only URI-safe characters), the method in any case, the body as the exact bytes
sent, and a problem+json 404 for anything else.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vitrine.service.http import HttpAnswer, route_not_found

# The characters APIGatewayRestResolver accepts in a path parameter (RFC 3986's unreserved and
# sub-delims, ":" "@", and what API Gateway passes decoded); a path holding another is no route's.
_PARAMETER_VALUE = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PARAMETER = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class ProxyRequest:
    """What a route reads: headers (names in lower case, as Powertools gave them), the body as the
    exact bytes the sender signed, and the path's parameters."""

    headers: Mapping[str, str]
    body: bytes
    path_parameters: Mapping[str, str]

    @classmethod
    def of(cls, event: Mapping[str, Any], path_parameters: Mapping[str, str]) -> ProxyRequest:
        # The single-value map holds the last value of a repeated header, as API Gateway sends it.
        headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
        return cls(headers=headers, body=raw_body(event), path_parameters=path_parameters)


Route = Callable[[ProxyRequest], HttpAnswer]


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body as the exact bytes the sender signed."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode("utf-8")


def _compile(rule: str) -> re.Pattern[str]:
    """``/a/<name>/b`` → a pattern matching the whole path, any trailing slashes ignored."""
    literal_parts = _PARAMETER.split(rule.rstrip("/"))
    pattern = "".join(
        f"(?P<{part}>{_PARAMETER_VALUE})" if index % 2 else re.escape(part)
        for index, part in enumerate(literal_parts)
    )
    return re.compile(f"^{pattern}/*$")


class ProxyRouter:
    """A function's routes; :meth:`resolve` turns a proxy event into the proxy result."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []

    def route(self, method: str, rule: str) -> Callable[[Route], Route]:
        """Register ``route`` for ``method`` on ``rule`` (``<name>`` marks a path parameter)."""

        def register(route: Route) -> Route:
            self._routes.append((method.upper(), _compile(rule), route))
            return route

        return register

    def resolve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The first route matching the method and path answers; a route's exception propagates
        (Lambda reports the invocation as failed, API Gateway answers 502)."""
        method = str(event.get("httpMethod") or "").upper()
        path = str(event.get("path") or "")
        for route_method, pattern, route in self._routes:
            match = pattern.match(path) if route_method == method else None
            if match:
                return route(ProxyRequest.of(event, match.groupdict())).to_proxy_result()
        return route_not_found().to_proxy_result()
