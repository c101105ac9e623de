"""AVIV's status push refuses, with a problem+json answer, every body it could not apply safely.

The refusals come before the push looks anything up, so the collaborators here are never called.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from vitrine.service.http import PROBLEM_JSON, HttpAnswer
from vitrine.service.status_push import StatusPush

TOKEN = "push-token-0123456789abcdefghijklmnopqrstuvwxyzAB"
JSON = {"Content-Type": "application/json"}


class Untouchable:
    """A collaborator a refused push must never reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a refused push called {name}")


def status_push() -> StatusPush:
    never: Any = Untouchable()
    return StatusPush(push_token=lambda: TOKEN, store=never, status_store=never, aviv=never, listings=never)


def problem_of(response: HttpAnswer, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == PROBLEM_JSON
    body: dict[str, Any] = json.loads(str(response.body))
    assert body["status"] == status
    return body


@pytest.mark.parametrize("levels", [65, 999, 100_000])
def test_a_body_nested_too_deep_is_refused_with_400_naming_the_depth_limit(levels: int) -> None:
    body = b'{"status": "CREATED", "x": ' + b"[" * levels + b"]" * levels + b"}"

    problem = problem_of(status_push().handle(TOKEN, "cl-1", body, JSON), 400)

    assert "the limit is 64 levels" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b'{"status": "CREATED", "message": "\\ud800"}', "/message"),
        (b'{"status": "CREATED", "portals": ["SL", NaN]}', "/portals/1"),
        (b'{"status": "CREATED", "count": 1e99999}', "/count"),
    ],
)
def test_text_or_numbers_that_cannot_be_stored_are_refused_with_400_naming_the_field(
    body: bytes, pointer: str
) -> None:
    problem = problem_of(status_push().handle(TOKEN, "cl-1", body, JSON), 400)

    assert [error["pointer"] for error in problem["errors"]] == [pointer]


def test_a_body_that_is_not_json_is_refused_with_400() -> None:
    problem = problem_of(status_push().handle(TOKEN, "cl-1", b"<status/>", JSON), 400)

    assert problem["detail"].startswith("body is not valid JSON")


def test_a_wrong_token_is_refused_with_403_before_the_body_is_read() -> None:
    problem_of(status_push().handle("not-the-token", "cl-1", b"[" * 100_000, {}), 403)


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/xml", "application/json; charset=latin-1"]
)
def test_a_body_that_is_not_declared_json_is_refused_with_415(content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}

    problem = problem_of(status_push().handle(TOKEN, "cl-1", b'{"status": "CREATED"}', headers), 415)

    assert "Content-Type must be application/json" in problem["detail"]
