"""The ``result`` dimension of an AVIV attempt: a small fixed set, whatever AVIV answers."""

from __future__ import annotations

import pytest

from vitrine.adapters.aviv.observer import NoObserver, attempt_result


@pytest.mark.parametrize(
    ("status", "failure", "result"),
    [
        (200, None, "2xx"),
        (202, None, "2xx"),
        (204, None, "2xx"),
        (401, None, "401"),
        (403, None, "403"),
        (404, None, "404"),
        (409, None, "409"),
        (412, None, "412"),
        (429, None, "429"),
        (400, None, "4xx"),
        (422, None, "4xx"),
        (500, None, "5xx"),
        (503, None, "5xx"),
        (302, None, "other"),
        (None, "timeout", "timeout"),
        (None, "connection", "connection"),
    ],
)
def test_an_attempt_result_names_the_statuses_vitrine_acts_on_and_groups_the_rest(
    status: int | None, failure: str | None, result: str
) -> None:
    assert attempt_result(status, failure) == result  # type: ignore[arg-type]


def test_without_an_observer_reports_go_nowhere() -> None:
    observer = NoObserver()
    assert observer.attempt("find", 200, None) is None
    assert observer.refused("token", 401) is None
