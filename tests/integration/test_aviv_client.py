"""AvivClient over real HTTP against the AVIV emulator, with the token shared through a (moto) TokenTable.

moto's ``mock_aws`` lets plain-HTTP calls to other hosts pass through (it only answers AWS
endpoints), so the emulator sees every request; the tests check that it did.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.aviv_emulator.records import RecordedRequest
from tests.support.aws import REGION, dynamodb_client, make_tables, mocked_aws
from tests.support.emf import emf_enabled, flushed, single_metrics
from tests.support.listings import sample_data
from vitrine.adapters.aviv.answers import problem_field_errors
from vitrine.adapters.aviv.call_metrics import AvivCallMetrics
from vitrine.adapters.aviv.client import AvivClient
from vitrine.adapters.aviv.config import AvivClientConfig
from vitrine.adapters.aviv.wiring import build_aviv_client
from vitrine.adapters.secrets import AvivCredentials
from vitrine.adapters.token_cache import DynamoTokenCache
from vitrine.core.errors import (
    AvivDuplicatedClassified,
    AvivDuplicatedMedia,
    AvivForbidden,
    AvivNotFound,
    AvivPreconditionFailed,
    AvivRejected,
    AvivRetryable,
    AvivUnauthorized,
)
from vitrine.core.ports import AvivCallObserver
from vitrine.settings import Settings, get_settings

USER_AGENT = "vitrine/0.1.0 python-requests/2.34.2 linux/6.1"
INTERMEDIARY = "agency-1"
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


@pytest.fixture
def emu(emulator: AvivEmulator) -> AvivEmulator:
    """The module's emulator, emptied (classifieds, faults, recordings, token count)."""
    emulator.reset()
    return emulator


@pytest.fixture
def token_table() -> Iterator[str]:
    with mocked_aws():
        yield make_tables()["TokenTable"]


class Harness:
    """Builds clients that share one TokenTable; records the sleeps they ask for instead of sleeping."""

    def __init__(self, emu: AvivEmulator, table: str) -> None:
        self.emu = emu
        self.table = table
        self.sleeps: list[float] = []
        self.config = AvivClientConfig(
            api_url=emu.base_url,
            auth_url=emu.auth_url,
            audience=emu.base_url,
            user_agent=USER_AGENT,
            default_intermediary_id=INTERMEDIARY,
            backoff_base=0.01,
            backoff_cap=8.0,
        )

    def client(self, observer: AvivCallObserver | None = None, **config: Any) -> AvivClient:
        """A new client with its own memory cache (like another Lambda instance)."""
        return AvivClient(
            replace(self.config, **config),
            lambda: AvivCredentials(self.emu.client_id, self.emu.client_secret),
            DynamoTokenCache(self.table, dynamodb_client=dynamodb_client()),
            sleep=self.sleeps.append,
            observer=observer,
        )


@pytest.fixture
def harness(emu: AvivEmulator, token_table: str) -> Harness:
    return Harness(emu, token_table)


@pytest.fixture
def client(harness: Harness) -> AvivClient:
    return harness.client()


def classified_body(offerer_estate_id: str, media_urls: tuple[str, ...] = ()) -> dict[str, Any]:
    """Minimal valid AvivClassified (no media unless asked: the emulator would download them)."""
    source = {
        "sourceSystem": "vitrine",
        "sourceSystemVersion": "0.1.0",
        "offererMarketingKey": INTERMEDIARY,
        "offererEstateId": offerer_estate_id,
    }
    body: dict[str, Any] = {"portals": ["SL"], "data": sample_data(offerer_estate_id, source=source)}
    if media_urls:
        body["media"] = [{"url": url, "mediaType": "PICTURE"} for url in media_urls]
    return body


def header(recorded: RecordedRequest, name: str) -> str | None:
    return next((v for k, v in recorded.headers.items() if k.lower() == name.lower()), None)


def api_calls(emu: AvivEmulator, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
    return [
        r
        for r in emu.requests()
        if r.path != "/oauth/token"
        and (method is None or r.method == method)
        and (path is None or r.path == path)
    ]


# -- tokens -----------------------------------------------------------------------------------


def test_one_token_across_many_calls_and_two_clients_sharing_the_table(
    harness: Harness, emu: AvivEmulator
) -> None:
    first = harness.client()
    classified_id = first.create(classified_body("L-token")).classified_id
    first.get(classified_id)
    first.latest_status(classified_id)
    first.find_by_offerer_estate_id("L-token")

    second = harness.client()  # another instance: empty memory, same table
    assert second.get(classified_id).classified_id == classified_id
    second.statuses(classified_id)

    assert emu.token_requests() == 1
    assert len(api_calls(emu)) == 6
    tokens = {header(r, "Authorization") for r in api_calls(emu)}
    assert len(tokens) == 1 and (next(iter(tokens)) or "").startswith("Bearer ")


def test_token_request_is_avivs_json_client_credentials_body(client: AvivClient, emu: AvivEmulator) -> None:
    client.find_by_offerer_estate_id("nothing")
    (token_call,) = [r for r in emu.requests() if r.path == "/oauth/token"]
    assert token_call.method == "POST"
    assert header(token_call, "Content-Type") == "application/json"
    assert header(token_call, "Authorization") is None
    assert token_call.body == {
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "grant_type": "client_credentials",
        "audience": emu.base_url,
        "intermediary_id": INTERMEDIARY,
    }


def test_no_intermediary_is_omitted_from_the_token_body(harness: Harness, emu: AvivEmulator) -> None:
    harness.client(default_intermediary_id=None).find_by_offerer_estate_id("nothing")
    (token_call,) = [r for r in emu.requests() if r.path == "/oauth/token"]
    assert "intermediary_id" not in token_call.body


def test_one_token_per_intermediary_and_classifieds_scoped_by_it(
    client: AvivClient, emu: AvivEmulator
) -> None:
    classified_id = client.create(classified_body("L-agency-2"), intermediary_id="agency-2").classified_id
    assert client.get(classified_id, intermediary_id="agency-2").classified_id == classified_id
    with pytest.raises(AvivNotFound):
        client.get(classified_id)  # default intermediary: another agency's classified
    assert emu.token_requests() == 2
    assert emu.classified_id_for("L-agency-2", intermediary_id="agency-2") == classified_id


def test_the_shared_table_holds_no_client_secret(harness: Harness, emu: AvivEmulator) -> None:
    harness.client().find_by_offerer_estate_id("nothing")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=harness.table)["Items"]
    assert len(items) == 1
    assert emu.client_secret not in json.dumps(items)
    assert emu.client_id not in json.dumps(items)


def test_expired_token_401_is_refreshed_once_and_the_call_retried(
    client: AvivClient, emu: AvivEmulator
) -> None:
    classified_id = client.create(classified_body("L-401")).classified_id
    emu.expire_tokens()
    assert client.get(classified_id).classified_id == classified_id
    assert emu.token_requests() == 2
    gets = api_calls(emu, "GET", f"/classifieds/{classified_id}")
    assert [r.status for r in gets] == [401, 200]
    assert header(gets[0], "Authorization") != header(gets[1], "Authorization")


def test_a_refreshed_token_is_shared_with_other_instances(harness: Harness, emu: AvivEmulator) -> None:
    first, second = harness.client(), harness.client()
    classified_id = first.create(classified_body("L-401-shared")).classified_id
    second.get(classified_id)
    emu.expire_tokens()
    first.get(classified_id)  # 401 -> invalidate -> new token stored
    second.get(classified_id)  # 401 with the old token -> must not wipe the new one; picks it up
    first.get(classified_id)
    assert emu.token_requests() == 2


def test_401_after_the_refresh_is_unauthorized(client: AvivClient, emu: AvivEmulator) -> None:
    emu.inject_faults(2, status=401, paths="/classifieds")
    with pytest.raises(AvivUnauthorized) as raised:
        client.find_by_offerer_estate_id("L-x")
    assert raised.value.problem is not None and raised.value.problem.status == 401
    assert emu.token_requests() == 2


def test_403_is_forbidden_without_retry(client: AvivClient, emu: AvivEmulator) -> None:
    emu.inject_faults(1, status=403, paths="/classifieds")
    with pytest.raises(AvivForbidden) as raised:
        client.find_by_offerer_estate_id("L-x")
    assert isinstance(raised.value, AvivUnauthorized)  # still an operator's problem, like a 401
    assert len(api_calls(emu)) == 1 and emu.token_requests() == 1


def test_a_403_log_line_says_what_to_check(
    client: AvivClient, emu: AvivEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # The AvivForbidden metric itself is counted by the client's observer (test_a_403_counts_as_forbidden).
    caplog.set_level(logging.INFO)
    emu.inject_faults(1, status=403, paths="/classifieds")
    with pytest.raises(AvivForbidden) as raised:
        client.find_by_offerer_estate_id("L-x")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    line = record.getMessage()
    assert "403" in line and repr(INTERMEDIARY) in line and "intermediaryId" in line
    assert "firewall" in line and "AVIV support" in line
    assert raised.value.traceparent and raised.value.traceparent in line


def test_wrong_credentials_are_unauthorized(harness: Harness, emu: AvivEmulator) -> None:
    wrong = AvivClient(
        harness.config,
        lambda: AvivCredentials(emu.client_id, "not-the-secret"),
        DynamoTokenCache(harness.table, dynamodb_client=dynamodb_client()),
        sleep=harness.sleeps.append,
    )
    with pytest.raises(AvivUnauthorized) as raised:
        wrong.find_by_offerer_estate_id("L-x")
    assert "not-the-secret" not in str(raised.value)
    assert emu.token_requests() == 1 and api_calls(emu) == []


def test_token_endpoint_5xx_is_retried(client: AvivClient, emu: AvivEmulator, harness: Harness) -> None:
    emu.inject_faults(1, status=503, paths="/oauth/token")
    assert client.find_by_offerer_estate_id("L-x") == []
    assert emu.token_requests() == 2
    assert len(harness.sleeps) == 1


def test_token_endpoint_5xx_beyond_budget_is_retryable(harness: Harness, emu: AvivEmulator) -> None:
    emu.inject_faults(3, status=500, paths="/oauth/token")
    with pytest.raises(AvivRetryable):
        harness.client(max_attempts=3).find_by_offerer_estate_id("L-x")
    assert emu.token_requests() == 3 and api_calls(emu) == []


# -- headers ----------------------------------------------------------------------------------


def test_every_request_carries_user_agent_accept_and_a_unique_traceparent(
    client: AvivClient, emu: AvivEmulator
) -> None:
    classified_id = client.create(classified_body("L-headers")).classified_id
    copy = client.get(classified_id)
    client.update(classified_id, classified_body("L-headers"), if_match=copy.etag)
    client.statuses(classified_id)
    client.subscribe_status_webhook("https://hooks.example/aviv", ["CREATED"])
    client.unsubscribe_status_webhook()
    client.delete(classified_id)

    recorded = emu.requests()
    assert len(recorded) == 8  # 7 API calls + 1 token
    assert {header(r, "User-Agent") for r in recorded} == {USER_AGENT}
    assert {header(r, "Accept") for r in recorded} == {"application/json"}
    traceparents = [header(r, "traceparent") or "" for r in recorded]
    assert all(TRACEPARENT.match(t) for t in traceparents)
    assert len(set(traceparents)) == len(traceparents)
    assert len({t.split("-")[1] for t in traceparents}) == len(traceparents)  # one trace per call
    assert all((header(r, "Authorization") or "").startswith("Bearer ") for r in api_calls(emu))


def test_retries_keep_the_trace_id_with_a_new_span(client: AvivClient, emu: AvivEmulator) -> None:
    emu.inject_faults(1, status=503, paths="/classifieds")
    client.find_by_offerer_estate_id("L-x")
    first, second = (header(r, "traceparent") or "" for r in api_calls(emu))
    assert first.split("-")[1] == second.split("-")[1]
    assert first.split("-")[2] != second.split("-")[2]


def test_accepted_answers_carry_avivs_traceparent(client: AvivClient, emu: AvivEmulator) -> None:
    accepted = client.create(classified_body("L-trace"))
    (post,) = api_calls(emu, "POST")
    assert accepted.traceparent is not None and TRACEPARENT.match(accepted.traceparent)
    assert accepted.traceparent.split("-")[1] == (header(post, "traceparent") or "").split("-")[1]


def test_invalid_user_agent_is_refused_at_construction(harness: Harness) -> None:
    with pytest.raises(ValueError, match="User-Agent"):
        harness.client(user_agent="vitrine python-requests/2.34.2")


def test_logs_never_contain_the_token_or_secret(
    client: AvivClient, emu: AvivEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    classified_id = client.create(classified_body("L-logs")).classified_id
    emu.expire_tokens()
    client.get(classified_id)
    tokens = {(header(r, "Authorization") or "").split(" ", 1)[-1] for r in api_calls(emu)}
    # vitrine's own records (botocore's DEBUG logs do print request bodies, token included).
    logged = " ".join(repr(record.__dict__) for record in caplog.records if record.name.startswith("vitrine"))
    assert "aviv request" in logged and "aviv_traceparent" in logged
    for secret in (*tokens, emu.client_secret):
        assert secret not in logged
    assert all(secret not in repr(client) for secret in tokens)


# -- retries ----------------------------------------------------------------------------------


def test_429_honours_retry_after(client: AvivClient, emu: AvivEmulator, harness: Harness) -> None:
    emu.inject_faults(1, status=429, retry_after=2, paths="/classifieds")
    assert client.find_by_offerer_estate_id("L-x") == []
    assert len(harness.sleeps) == 1 and harness.sleeps[0] >= 2
    assert [r.status for r in api_calls(emu)] == [429, 200]


def test_retry_after_beyond_what_a_call_waits_is_left_to_the_queue(
    harness: Harness, emu: AvivEmulator
) -> None:
    emu.inject_faults(1, status=429, retry_after=120, paths="/classifieds")
    with pytest.raises(AvivRetryable) as raised:
        harness.client(backoff_cap=8.0).find_by_offerer_estate_id("L-x")
    assert raised.value.retry_after == 120
    assert harness.sleeps == [] and len(api_calls(emu)) == 1


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_a_body_with_a_non_finite_number_is_never_sent_as_non_standard_json(
    client: AvivClient, emu: AvivEmulator, number: float
) -> None:
    body = classified_body("L-nan")
    body["data"]["location"]["latitude"] = number

    with pytest.raises(ValueError, match="JSON"):
        client.create(body)

    assert api_calls(emu) == [], "nothing reached AVIV"


def test_5xx_is_retried_then_succeeds(client: AvivClient, emu: AvivEmulator, harness: Harness) -> None:
    emu.inject_faults(2, status=503, paths="/classifieds")
    accepted = client.create(classified_body("L-5xx"))
    assert emu.classified_id_for("L-5xx") == accepted.classified_id
    assert [r.status for r in api_calls(emu)] == [503, 503, 202]
    assert len(harness.sleeps) == 2 and all(s > 0 for s in harness.sleeps)


def test_409_is_retried_as_transient_then_succeeds(
    client: AvivClient, emu: AvivEmulator, harness: Harness
) -> None:
    emu.inject_faults(2, status=409, paths="/classifieds")
    accepted = client.create(classified_body("L-409"))
    assert emu.classified_id_for("L-409") == accepted.classified_id
    assert [r.status for r in api_calls(emu)] == [409, 409, 202]
    assert len(harness.sleeps) == 2 and all(s > 0 for s in harness.sleeps)


def test_409_beyond_the_budget_is_retryable_never_a_rejection(
    client: AvivClient, emu: AvivEmulator, harness: Harness
) -> None:
    emu.inject_faults(3, status=409, paths="/classifieds")
    with pytest.raises(AvivRetryable) as raised:
        client.create(classified_body("L-409-busy"))
    assert not isinstance(raised.value, AvivRejected)
    assert raised.value.problem is not None and raised.value.problem.status == 409
    assert len(api_calls(emu)) == 3 and len(harness.sleeps) == 2


def test_5xx_beyond_the_budget_is_retryable(client: AvivClient, emu: AvivEmulator, harness: Harness) -> None:
    emu.inject_faults(3, status=500, paths="/classifieds")
    with pytest.raises(AvivRetryable) as raised:
        client.find_by_offerer_estate_id("L-x")
    assert raised.value.problem is not None and raised.value.problem.status == 500
    assert raised.value.traceparent and TRACEPARENT.match(raised.value.traceparent)
    assert len(api_calls(emu)) == 3 and len(harness.sleeps) == 2


def test_backoff_grows_and_stays_under_the_cap(harness: Harness, emu: AvivEmulator) -> None:
    emu.inject_faults(5, status=502, paths="/classifieds")
    assert (
        harness.client(max_attempts=6, backoff_base=1.0, backoff_cap=4.0).find_by_offerer_estate_id("L-x")
        == []
    )
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(harness.sleeps) == 5
    assert all(
        ceiling / 2 <= slept <= ceiling for slept, ceiling in zip(harness.sleeps, ceilings, strict=True)
    )


def test_timeout_is_retried_then_succeeds(harness: Harness, emu: AvivEmulator) -> None:
    emu.inject_faults(1, timeout=True, paths="/classifieds", hang_seconds=5)
    client = harness.client(read_timeout=1.0)
    assert client.find_by_offerer_estate_id("L-x") == []
    assert [r.status for r in api_calls(emu)] == [None, 200]
    assert len(harness.sleeps) == 1


def test_timeouts_beyond_the_budget_are_retryable(harness: Harness, emu: AvivEmulator) -> None:
    emu.inject_faults(2, timeout=True, paths="/classifieds", hang_seconds=5)
    with pytest.raises(AvivRetryable, match="Timeout"):
        harness.client(read_timeout=1.0, max_attempts=2).find_by_offerer_estate_id("L-x")
    assert len(api_calls(emu)) == 2


def test_connection_refused_is_retryable(harness: Harness, emu: AvivEmulator) -> None:
    client = harness.client()
    client.find_by_offerer_estate_id("L-x")  # token cached
    dead = harness.client(api_url="http://127.0.0.1:9/caas/v4", connect_timeout=0.5)
    with pytest.raises(AvivRetryable):
        dead.find_by_offerer_estate_id("L-x")
    assert len(harness.sleeps) == 2


def test_retry_after_as_an_http_date_or_garbage() -> None:
    from vitrine.adapters.aviv.transport import _retry_after_seconds

    now = 1_770_000_000.0
    assert _retry_after_seconds(email.utils.formatdate(now + 5, usegmt=True), now) == 5
    assert _retry_after_seconds("-3", now) == 0
    assert _retry_after_seconds("soon", now) is None
    assert _retry_after_seconds(None, now) is None


# -- errors -----------------------------------------------------------------------------------


def test_duplicated_classified_names_the_existing_one(client: AvivClient, emu: AvivEmulator) -> None:
    existing = client.create(classified_body("L-dup")).classified_id
    with pytest.raises(AvivDuplicatedClassified) as raised:
        client.create(classified_body("L-dup"))
    assert raised.value.classified_id == existing == emu.classified_id_for("L-dup")
    assert isinstance(raised.value, AvivRejected)
    assert raised.value.problem is not None and raised.value.problem.title == "Duplicated classified"


def test_duplicated_media(client: AvivClient) -> None:
    url = "http://127.0.0.1:9999/photo.jpg"  # AVIV's url format wants a port of 2 to 5 digits
    with pytest.raises(AvivDuplicatedMedia):
        client.create(classified_body("L-dup-media", (url, url + "?timestamp=2026-02-13T09:25:57")))


def test_stale_if_match_is_precondition_failed(client: AvivClient, emu: AvivEmulator) -> None:
    classified_id = client.create(classified_body("L-412")).classified_id
    stale = client.get(classified_id).etag
    assert stale is not None
    client.update(classified_id, classified_body("L-412"), if_match=stale)
    with pytest.raises(AvivPreconditionFailed):
        client.update(classified_id, classified_body("L-412"), if_match=stale)
    (_, put_412) = api_calls(emu, "PUT")
    assert header(put_412, "If-Match") == stale and put_412.status == 412


def test_unknown_classified_is_not_found(client: AvivClient) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(AvivNotFound):
        client.get(unknown)
    with pytest.raises(AvivNotFound):
        client.update(unknown, classified_body("L-404"))
    with pytest.raises(AvivNotFound):
        client.delete(unknown)
    with pytest.raises(AvivNotFound):
        client.latest_status(unknown)


def test_validation_400_is_rejected_with_pointers(client: AvivClient) -> None:
    body = classified_body("L-400")
    body["data"]["estateType"] = "CASTLE"
    body["media"] = [{"url": "http://127.0.0.1:9/a.jpg", "mediaType": "PICTURE", "displayOrder": 1}]
    with pytest.raises(AvivRejected) as raised:
        client.create(body)
    assert type(raised.value) is AvivRejected
    pointers = [error.pointer for error in problem_field_errors(raised.value.problem)]
    assert pointers and any("estateType" in p or "displayOrder" in p for p in pointers)
    assert all(p.startswith("/") for p in pointers)
    assert raised.value.traceparent and TRACEPARENT.match(raised.value.traceparent)


# -- the API ----------------------------------------------------------------------------------


def test_create_get_update_delete(client: AvivClient, emu: AvivEmulator) -> None:
    body = classified_body("L-crud")
    accepted = client.create(body)
    copy = client.get(accepted.classified_id)
    assert copy.classified_id == accepted.classified_id
    assert copy.body == body  # the stored classified, without its classifiedId
    assert copy.etag == emu.etag(accepted.classified_id)

    changed = classified_body("L-crud")
    changed["portals"] = ["SL", "BD"]
    assert client.update(accepted.classified_id, changed).classified_id == accepted.classified_id
    assert emu.classified(accepted.classified_id) == changed

    assert client.delete(accepted.classified_id).classified_id == accepted.classified_id
    with pytest.raises(AvivNotFound):
        client.get(accepted.classified_id)


def test_find_by_offerer_estate_id(client: AvivClient) -> None:
    ids = {ref: client.create(classified_body(ref)).classified_id for ref in ("L-a", "L-b", "L-c")}
    found = client.find_by_offerer_estate_id("L-b")
    assert [item["classifiedId"] for item in found] == [ids["L-b"]]
    assert found[0]["data"]["metaData"]["source"]["offererEstateId"] == "L-b"
    assert client.find_by_offerer_estate_id("L-none") == []


def test_latest_status_and_statuses_across_pages(client: AvivClient, emu: AvivEmulator) -> None:
    classified_id = client.create(classified_body("L-status")).classified_id
    emu.wait_idle()
    client.update(classified_id, classified_body("L-status"))
    emu.wait_idle()

    latest = client.latest_status(classified_id)
    assert latest is not None and latest == emu.statuses(classified_id)[-1]
    assert latest["status"] == "UPDATED"
    assert api_calls(emu, "GET")[-1].query == {"filter": ["latest"]}

    every = client.statuses(classified_id, page_size=1)  # one item per page: follows nextToken
    assert [s["status"] for s in every] == [s["status"] for s in reversed(emu.statuses(classified_id))]
    assert len(every) == 8  # RECEIVING, RECEIVED, CREATING/UPDATING and the outcome, twice
    assert client.statuses(classified_id, limit=2) == every[:2]
    assert client.statuses(classified_id, filter_latest=True) == [latest]


def test_subscribe_and_unsubscribe_status_webhook(client: AvivClient, emu: AvivEmulator) -> None:
    client.subscribe_status_webhook("https://hooks.example/aviv", ["CREATED", "UPDATED", "DELETED"])
    assert emu.state()["webhooks"] == {
        INTERMEDIARY: {"url": "https://hooks.example/aviv", "statuses": ["CREATED", "UPDATED", "DELETED"]}
    }
    (put,) = api_calls(emu, "PUT", "/webhooks")
    assert put.body == {"url": "https://hooks.example/aviv", "statuses": ["CREATED", "UPDATED", "DELETED"]}
    client.unsubscribe_status_webhook()
    assert emu.state()["webhooks"] == {}


def test_media_error_statuses_cannot_be_subscribed(client: AvivClient, emu: AvivEmulator) -> None:
    with pytest.raises(ValueError, match="CREATED_WITH_MEDIA_ERROR"):
        client.subscribe_status_webhook("https://hooks.example/aviv", ["CREATED_WITH_MEDIA_ERROR"])
    assert emu.requests() == []


# -- wiring -----------------------------------------------------------------------------------


def settings_for(emu: AvivEmulator, table: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("AVIV_API_URL", emu.base_url)
    monkeypatch.setenv("AVIV_AUTH_URL", emu.auth_url)
    monkeypatch.setenv("AVIV_INTERMEDIARY_ID", INTERMEDIARY)
    monkeypatch.setenv("VITRINE_TOKEN_TABLE", table)
    for name in ("AVIV_AUDIENCE", "AVIV_CLIENT_ID", "AVIV_CLIENT_SECRET", "VITRINE_AVIV_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return Settings.from_env()


def test_build_from_settings_with_local_credentials(
    emu: AvivEmulator, token_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(
        emu, token_table, monkeypatch, AVIV_CLIENT_ID=emu.client_id, AVIV_CLIENT_SECRET=emu.client_secret
    )
    client = build_aviv_client(settings)
    assert client.config.user_agent == settings.user_agent
    client.create(classified_body("L-wired"))
    assert emu.token_requests() == 1
    assert {header(r, "User-Agent") for r in emu.requests()} == {settings.user_agent}


def test_build_from_settings_with_secrets_manager(
    emu: AvivEmulator, token_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="vitrine-aviv",
        SecretString=json.dumps({"client_id": emu.client_id, "client_secret": emu.client_secret}),
    )["ARN"]
    settings = settings_for(emu, token_table, monkeypatch, VITRINE_AVIV_SECRET_ARN=secret_arn)
    build_aviv_client(settings).find_by_offerer_estate_id("L-x")
    build_aviv_client(settings).find_by_offerer_estate_id("L-x")  # a second instance reuses the token
    assert emu.token_requests() == 1


# ---------------------------------------------------------------------------- time limit
def test_a_time_limit_cuts_a_hanging_call_short(harness: Harness, emu: AvivEmulator) -> None:
    client = harness.client()
    client.find_by_offerer_estate_id("L-x")  # token cached
    emu.inject_faults(3, timeout=True, paths="/classifieds", hang_seconds=5)
    started = time.monotonic()
    with pytest.raises(AvivRetryable), client.time_limit(0.5):
        client.find_by_offerer_estate_id("L-x")
    assert time.monotonic() - started < 2.5, "the 10 s read timeout was cut to the time left"
    assert len(api_calls(emu, "GET")) == 2, "one attempt within the limit, none after it"
    assert harness.sleeps == []


def test_a_time_limit_skips_a_retry_whose_wait_would_reach_it(harness: Harness, emu: AvivEmulator) -> None:
    client = harness.client()
    client.find_by_offerer_estate_id("L-x")
    emu.inject_faults(1, status=503, retry_after=2.0, paths="/classifieds")
    with pytest.raises(AvivRetryable, match="503"), client.time_limit(1.5):
        client.find_by_offerer_estate_id("L-x")
    assert harness.sleeps == [], "waiting 2 s would pass the 1.5 s limit: not retried"
    with client.time_limit(30):
        emu.inject_faults(1, status=503, retry_after=2.0, paths="/classifieds")
        assert client.find_by_offerer_estate_id("L-x") == []
    assert harness.sleeps == [2.0], "with time left, Retry-After is honoured as usual"


def test_a_time_limit_covers_the_token_fetch_and_ends_with_its_block(
    harness: Harness, emu: AvivEmulator
) -> None:
    client = harness.client()
    emu.inject_faults(3, timeout=True, paths="/oauth/token", hang_seconds=5)
    started = time.monotonic()
    with pytest.raises(AvivRetryable), client.time_limit(0.5):
        client.find_by_offerer_estate_id("L-x")
    assert time.monotonic() - started < 2.5
    emu.reset()
    assert client.find_by_offerer_estate_id("L-x") == [], "outside the block, no limit applies"


# -- metrics ----------------------------------------------------------------------------------


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from emf_enabled(monkeypatch)


@pytest.fixture
def measured(harness: Harness, emf: None) -> AvivClient:
    """A client reporting to the functions' metrics, with EMF printed as when deployed."""
    return harness.client(observer=AvivCallMetrics())


def calls_of(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    return [(c["operation"], c["result"]) for c in single_metrics(capsys.readouterr().out, "AvivCall")]


def test_every_attempt_is_one_aviv_call_by_operation_and_result(
    measured: AvivClient, emu: AvivEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.inject_faults(1, status=503, paths="/classifieds")
    assert measured.find_by_offerer_estate_id("L-x") == []
    classified_id = measured.create(classified_body("L-metrics")).classified_id
    measured.update(classified_id, classified_body("L-metrics"))
    measured.statuses(classified_id)
    measured.delete(classified_id)
    with pytest.raises(AvivNotFound):
        measured.get("00000000-0000-4000-8000-000000000000")

    assert calls_of(capsys) == [
        ("token", "2xx"), ("find", "5xx"), ("find", "2xx"), ("create", "2xx"), ("update", "2xx"),
        ("statuses", "2xx"), ("delete", "2xx"), ("get", "404"),
    ]  # fmt: skip
    shared = flushed(capsys)
    assert shared["AvivRequests"] == [1.0] * 8 and shared["Aviv5xx"] == [1.0]
    assert "operation" not in shared and "AvivUnauthorized" not in shared


def test_a_401_after_the_token_refresh_counts_as_unauthorized_once(
    measured: AvivClient, emu: AvivEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.inject_faults(2, status=401, paths="/classifieds")
    with pytest.raises(AvivUnauthorized):
        measured.find_by_offerer_estate_id("L-x")

    assert calls_of(capsys) == [("token", "2xx"), ("find", "401"), ("token", "2xx"), ("find", "401")]
    assert flushed(capsys)["AvivUnauthorized"] == [1.0]


def test_a_403_counts_as_forbidden(
    measured: AvivClient, emu: AvivEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.inject_faults(1, status=403, paths="/classifieds")
    with pytest.raises(AvivUnauthorized):
        measured.find_by_offerer_estate_id("L-x")

    assert calls_of(capsys)[-1] == ("find", "403")
    shared = flushed(capsys)
    assert shared["AvivForbidden"] == [1.0] and "AvivUnauthorized" not in shared


@pytest.mark.usefixtures("emf")
def test_credentials_the_token_endpoint_refuses_count_as_unauthorized(
    harness: Harness, emu: AvivEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = AvivClient(
        harness.config,
        lambda: AvivCredentials(emu.client_id, "not-the-secret"),
        DynamoTokenCache(harness.table, dynamodb_client=dynamodb_client()),
        observer=AvivCallMetrics(),
    )
    with pytest.raises(AvivUnauthorized):
        wrong.find_by_offerer_estate_id("L-x")

    assert calls_of(capsys) == [("token", "401")]
    assert flushed(capsys)["AvivUnauthorized"] == [1.0]


@pytest.mark.usefixtures("emf")
def test_attempts_without_an_answer_are_counted_as_connection_failures(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    unreachable = harness.client(
        observer=AvivCallMetrics(), api_url=f"http://127.0.0.1:{port}/caas/v4", max_attempts=2
    )
    with pytest.raises(AvivRetryable):
        unreachable.find_by_offerer_estate_id("L-x")

    assert calls_of(capsys) == [("token", "2xx"), ("find", "connection"), ("find", "connection")]
    assert flushed(capsys)["AvivRequests"] == [1.0, 1.0, 1.0]
