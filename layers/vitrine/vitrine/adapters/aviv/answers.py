"""AVIV's answers read back: JSON bodies, classified ids, and the typed errors of ``vitrine.core.errors``.

POST is not idempotent at AVIV: a POST retried after a lost answer may meet "Duplicated
classified", raised as ``AvivDuplicatedClassified`` with the existing classifiedId for the caller.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from vitrine.core.errors import (
    AvivDuplicatedClassified,
    AvivDuplicatedMedia,
    AvivError,
    AvivForbidden,
    AvivNotFound,
    AvivPreconditionFailed,
    AvivProblem,
    AvivRejected,
    AvivRetryable,
    AvivUnauthorized,
    FieldError,
)

_DUPLICATED_CLASSIFIED_ID = re.compile(r"classifiedId\s*:\s*([A-Za-z0-9][A-Za-z0-9_-]*)")


def problem_field_errors(problem: AvivProblem | None) -> list[FieldError]:
    """AVIV's ``errors: [{name, reason}]`` as FieldErrors (``name`` is a JSON pointer or a dotted path)."""
    if problem is None:
        return []
    return [
        FieldError(pointer=str(e.get("name") or e.get("pointer") or ""), reason=str(e.get("reason") or ""))
        for e in problem.errors
    ]


def encode_json(body: Any) -> bytes:
    """Standard JSON only: a NaN or an infinity raises ValueError rather than going out as ``NaN``."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def json_of(response: requests.Response) -> Any:
    """JSON whatever the declared content type (AVIV says ``application/json+problem``); else text."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text


def classified_id_of(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("classifiedId"):
        return str(body["classifiedId"])
    return None


def _traceparent_of(response: requests.Response, problem: AvivProblem | None, sent: str) -> str:
    return response.headers.get("traceparent") or (problem.instance if problem else None) or sent


def retryable_error(
    method: str, path: str, response: requests.Response, sent: str, retry_after: float | None, attempts: int
) -> AvivRetryable:
    problem = AvivProblem.from_response(response.status_code, json_of(response))
    return AvivRetryable(
        f"{method} {path}: {response.status_code} {problem.title or problem.detail}".rstrip()
        + f" after {attempts} attempt(s)",
        problem,
        _traceparent_of(response, problem, sent),
        retry_after=retry_after,
    )


def error_for(method: str, path: str, response: requests.Response, sent: str) -> AvivError:
    """Map a final non-success answer to vitrine's typed errors (by status code, then title)."""
    status = response.status_code
    problem = AvivProblem.from_response(status, json_of(response))
    traceparent = _traceparent_of(response, problem, sent)
    summary = f"{method} {path}: {status} {problem.title}: {problem.detail}".strip().rstrip(":")
    if status == 409:
        # A conflicting operation on the classified is still under way at AVIV: transient.
        return AvivRetryable(summary, problem, traceparent)
    if status == 400 or (400 <= status < 500 and status not in (401, 403, 404, 412)):
        title = problem.title.strip().lower()
        if title == "duplicated classified" or "duplicated-classifieds" in problem.type.lower():
            match = _DUPLICATED_CLASSIFIED_ID.search(problem.detail)
            return AvivDuplicatedClassified(summary, match.group(1) if match else None, problem, traceparent)
        if title == "duplicated media" or "duplicated-media" in problem.type.lower():
            return AvivDuplicatedMedia(summary, problem, traceparent)
        pointers = "; ".join(f"{e.pointer}: {e.reason}" for e in problem_field_errors(problem))
        return AvivRejected(summary + (f" [{pointers}]" if pointers else ""), problem, traceparent)
    if status == 401:
        return AvivUnauthorized(summary, problem, traceparent)
    if status == 403:
        return AvivForbidden(summary, problem, traceparent)
    if status == 404:
        return AvivNotFound(summary, problem, traceparent)
    if status == 412:
        return AvivPreconditionFailed(summary, problem, traceparent)
    if status >= 500:
        return AvivRetryable(summary, problem, traceparent)
    return AvivError(f"{method} {path}: unexpected status {status}", problem, traceparent)
