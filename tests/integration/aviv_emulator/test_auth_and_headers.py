"""Tokens, the User-Agent and bearer checks, traceparents: AVIV's front door."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devtools.aviv_emulator.emulator import AvivEmulator
from tests.integration.aviv_emulator.support import (
    TRACEPARENT_PATTERN,
    USER_AGENT,
    Api,
    assert_problem,
    classified_body,
    get_token,
    token_body,
)


# ---------------------------------------------------------------------------- authentication and headers
def test_token_flow_issues_an_opaque_bearer_token(emulator: AvivEmulator) -> None:
    answer = requests.post(emulator.auth_url, json=token_body(emulator), timeout=5)

    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 32
    assert emulator.token_requests() == 1
    api = Api(emulator, token=body["access_token"])
    assert api.call("GET", "/classifieds").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"client_secret": "wrong"}, 401),
        ({"client_id": "someone-else"}, 401),
        ({"grant_type": "password"}, 401),
        ({"audience": None}, 400),
    ],
)
def test_token_endpoint_refuses_bad_requests(
    emulator: AvivEmulator, overrides: dict[str, Any], status: int
) -> None:
    answer = requests.post(emulator.auth_url, json=token_body(emulator, **overrides), timeout=5)

    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/json"
    assert "access_token" not in answer.json()
    assert emulator.token_requests() == 1


def test_token_endpoint_wants_json(emulator: AvivEmulator) -> None:
    answer = requests.post(emulator.auth_url, data=token_body(emulator), timeout=5)  # form-encoded

    assert answer.status_code == 400


@pytest.mark.parametrize(
    "user_agent",
    [
        None,  # requests' default "python-requests/x.y" is a single token
        "vitrine/1.0.0 python-requests/2.32.3",
        "vitrine/1.0.0  python-requests/2.32.3 linux/6.1",
        "vitrine 1.0.0 python-requests/2.32.3 linux/6.1",
        "vitrine/1.0.0 python-requests/2.32.3 linux/6.1 extra/1",
    ],
)
def test_calls_without_a_valid_user_agent_are_blocked(emulator: AvivEmulator, user_agent: str | None) -> None:
    headers = {"Authorization": f"Bearer {get_token(emulator)}"}
    if user_agent is not None:
        headers["User-Agent"] = user_agent

    answer = requests.get(emulator.base_url + "/classifieds", headers=headers, timeout=5)

    assert_problem(answer, 403, "Forbidden")


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dml0cmluZTp4", "Bearer "])
def test_missing_or_unknown_token_gets_plain_json_401(
    emulator: AvivEmulator, authorization: str | None
) -> None:
    headers = {"User-Agent": USER_AGENT}
    if authorization is not None:
        headers["Authorization"] = authorization

    answer = requests.post(
        emulator.base_url + "/classifieds", json=classified_body(), headers=headers, timeout=5
    )

    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["title"] == "Unauthorized"
    assert answer.json()["instance"] == answer.headers["traceparent"]
    assert emulator.state()["classifieds"] == []


def test_expired_tokens_get_401_until_a_new_one_is_fetched(emulator: AvivEmulator) -> None:
    api = Api(emulator)
    assert api.call("GET", "/classifieds").status_code == 200

    emulator.expire_tokens()

    assert api.call("GET", "/classifieds").status_code == 401
    fresh = Api(emulator)
    assert fresh.call("GET", "/classifieds").status_code == 200
    assert emulator.token_requests() == 2


def test_tokens_expire_after_their_lifetime() -> None:
    with AvivEmulator(token_ttl_seconds=0) as emu:
        answer = requests.post(emu.auth_url, json=token_body(emu), timeout=5)
        assert answer.json()["expires_in"] == 0

        assert Api(emu, token=answer.json()["access_token"]).call("GET", "/classifieds").status_code == 401


def test_every_answer_carries_a_traceparent_reusing_the_callers_trace_id(api: Api) -> None:
    theirs = "00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01"

    echoed = api.call("GET", "/classifieds", headers={"traceparent": theirs}).headers["traceparent"]
    fresh = api.call("GET", "/classifieds").headers["traceparent"]
    refused = api.call("GET", "/classifieds", headers={"User-Agent": "x"}).headers["traceparent"]

    assert TRACEPARENT_PATTERN.fullmatch(echoed) and TRACEPARENT_PATTERN.fullmatch(fresh)
    assert TRACEPARENT_PATTERN.fullmatch(refused)
    assert echoed.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert echoed != theirs  # a new span id
    assert fresh.split("-")[1] != "0af7651916cd43dd8448eb211c80319c"
