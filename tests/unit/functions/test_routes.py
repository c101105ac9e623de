"""The functions answer every request that reaches them with problem+json, even one no route of
theirs matches (API Gateway passes a path parameter holding a character the routes refuse)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.lambda_runtime import FakeLambdaContext, load_handler
from devtools.proxy_event import build_event
from vitrine.service.http import PROBLEM_JSON


def invoke(function: str, raw_path: str, resource: str) -> dict[str, Any]:
    handler = load_handler(f"functions/{function}")
    event = build_event(
        method="POST",
        raw_path=raw_path,
        resource=resource,
        path_parameters=None,
        header_pairs=[("Content-Type", "application/json")],
        body=b"{}",
    )
    answer: dict[str, Any] = handler(event, FakeLambdaContext(function_name=function))
    return answer


@pytest.mark.parametrize(
    ("function", "raw_path", "resource"),
    [
        (
            "reconcile",
            "/aviv/a%22b/classifieds/cl-1/statuses",
            "/aviv/{token}/classifieds/{classifiedId}/statuses",
        ),
        (
            "reconcile",
            "/aviv/a%5Cb/classifieds/cl-1/statuses",
            "/aviv/{token}/classifieds/{classifiedId}/statuses",
        ),
        (
            "reconcile",
            "/aviv/token/classifieds/cl%601/statuses",
            "/aviv/{token}/classifieds/{classifiedId}/statuses",
        ),
        ("ingest", "/webhooks/listings/extra", "/webhooks/listings"),
    ],
)
def test_a_path_no_route_matches_is_a_404_problem(
    monkeypatch: pytest.MonkeyPatch, function: str, raw_path: str, resource: str
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    answer = invoke(function, raw_path, resource)

    assert answer["statusCode"] == 404
    assert answer["multiValueHeaders"]["Content-Type"] == [PROBLEM_JSON]
    problem = json.loads(answer["body"])
    assert problem["status"] == 404 and problem["title"] == "Not found"
    assert "no route" in problem["detail"]
