"""The ingest service answers every refused webhook with its own status and a problem+json body.

In-process: moto with the tables, queue and secret of template.yaml, the service built from the
environment as a Lambda instance builds it; only the signature's clock is the real one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from jsonschema import Draft202012Validator

from devtools.template import create_queues, create_secrets
from tests.support.aws import REGION, make_tables, mocked_aws
from tests.support.emf import flushed, single_metrics
from tests.support.listings import sample_data
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.core.errors import ConcurrentModification
from vitrine.core.ingest import plan_write
from vitrine.core.model import Delivery, DesiredListing, IngestWrite
from vitrine.core.webhook_signing import MAX_BODY_BYTES, signed_headers
from vitrine.observability import logger
from vitrine.service.http import PROBLEM_JSON, HttpAnswer
from vitrine.service.ingest import IngestService
from vitrine.settings import Settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ANSWER_SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "webhook-answer.schema.json"


@dataclass
class Aws:
    """What the template gives the ingest function, and the environment that points at it."""

    env: dict[str, str]
    state_table: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mocked_aws():
        tables = make_tables()
        queues, _arns = create_queues(boto3.client("sqs", region_name=REGION))
        yield Aws(
            env={
                "VITRINE_STATE_TABLE": tables["StateTable"],
                "VITRINE_SYNC_QUEUE_URL": queues["SyncQueue"],
                "POWERTOOLS_METRICS_DISABLED": "true",
            },
            state_table=tables["StateTable"],
        )


def ingest_service(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, secret: str = SECRET, **env: str
) -> IngestService:
    """A service as one Lambda instance builds it, with ``secret`` stored as the webhook secret."""
    arns = create_secrets(
        boto3.client("secretsmanager", region_name=REGION),
        {"WebhookSecret": json.dumps({"secrets": [secret]})},
    )
    for name, value in {**aws.env, "VITRINE_WEBHOOK_SECRET_ARN": arns["WebhookSecret"], **env}.items():
        monkeypatch.setenv(name, value)
    return IngestService(Settings.from_env())


def upserted(listing_id: str = "L-1", **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "listing.upserted",
        "listingId": listing_id,
        "ownerId": "agency-1",
        "occurredAt": "2026-11-27T10:00:00Z",
        "listing": {"data": sample_data(listing_id), "media": []},
    }
    event.update(fields)
    return event


def signed(body: bytes, webhook_id: str = "msg_1", secret: str = SECRET) -> dict[str, str]:
    """The headers a CRM sends with ``body``: its JSON media type and its signature."""
    return {"Content-Type": "application/json", **signed_headers(secret, body, webhook_id=webhook_id)}


@cache
def answer_validator() -> Draft202012Validator:
    schema = json.loads(ANSWER_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def answer_of(response: HttpAnswer, status: int = 202) -> dict[str, Any]:
    """The body of ``response``, once its status is checked and the body found as documented in
    schemas/webhook-answer.schema.json."""
    assert response.status_code == status, response.body
    body: dict[str, Any] = json.loads(str(response.body))
    answer_validator().validate(body)
    return body


def problem_of(response: HttpAnswer, status: int) -> dict[str, Any]:
    """The problem+json body of ``response``, once its status and content type are checked."""
    body = answer_of(response, status)
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert body["status"] == status
    assert body["type"] == "about:blank"
    return body


def test_a_body_over_the_size_limit_is_refused_with_413_before_its_signature_is_read(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    too_large = b" " * (MAX_BODY_BYTES + 1)

    problem = problem_of(service.handle({}, too_large), 413)

    assert problem["title"] == "Payload too large"
    assert str(MAX_BODY_BYTES) in problem["detail"]


def test_a_body_signed_with_another_secret_is_refused_with_401(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(upserted()).encode()
    other_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUA=="

    problem = problem_of(service.handle(signed(body, secret=other_secret), body), 401)

    assert problem["title"] == "Unauthorized"
    assert problem["detail"] == "webhook signature refused: no_valid_signature"


def test_unsigned_headers_are_refused_with_401_naming_what_is_missing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)

    problem = problem_of(service.handle({"content-type": "application/json"}, b"{}"), 401)

    assert problem["detail"] == "webhook signature refused: missing_headers"


def test_a_malformed_configured_secret_is_our_misconfiguration_and_answers_500(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch, secret="not-a-webhook-secret")
    body = json.dumps(upserted()).encode()

    problem = problem_of(service.handle(signed(body), body), 500)

    assert problem["title"] == "Internal error"
    assert problem["detail"] == "webhook verification is not configured"


def test_a_signed_body_that_is_not_json_is_refused_with_400(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = b'{"type": "listing.upserted", "type": "listing.deleted"}'

    problem = problem_of(service.handle(signed(body), body), 400)

    assert problem["title"] == "Malformed request"
    assert problem["detail"].startswith("body is not valid JSON")


def test_an_invalid_event_is_refused_with_422_naming_every_bad_field_by_its_json_pointer(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    event = upserted(ownerId="", sequence=-1)
    del event["occurredAt"]
    body = json.dumps(event).encode()

    problem = problem_of(service.handle(signed(body), body), 422)

    assert problem["title"] == "Invalid event"
    assert problem["detail"] == "the event is invalid; nothing was changed"
    assert sorted(error["pointer"] for error in problem["errors"]) == ["/occurredAt", "/ownerId", "/sequence"]
    assert DynamoStateStore(aws.state_table).load_desired("L-1") is None, "nothing was stored"


def test_an_event_that_does_not_fit_the_stored_listing_is_refused_with_422(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    first = json.dumps(upserted()).encode()
    assert service.handle(signed(first, "msg_1"), first).status_code == 202
    media_updated = {key: value for key, value in upserted().items() if key != "listing"}
    media_updated["type"] = "media.updated"
    media_updated["media"] = {"id": "m-404", "url": "https://photos.example/a.jpg", "mediaType": "PICTURE"}
    body = json.dumps(media_updated).encode()

    problem = problem_of(service.handle(signed(body, "msg_2"), body), 422)

    assert [error["pointer"] for error in problem["errors"]] == ["/media/id"]


def test_a_webhook_id_reused_for_another_body_is_refused_with_409(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    first = json.dumps(upserted()).encode()
    assert service.handle(signed(first, "msg_same"), first).status_code == 202
    other = json.dumps(upserted(ownerId="agency-2")).encode()

    problem = problem_of(service.handle(signed(other, "msg_same"), other), 409)

    assert problem["title"] == "Conflict"
    assert problem["detail"] == "this webhook-id was already used for a different body"


def test_the_same_delivery_twice_is_answered_as_a_duplicate_not_a_conflict(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(upserted()).encode()
    headers = signed(body, "msg_again")
    assert service.handle(headers, body).status_code == 202

    again = service.handle(headers, body)

    assert answer_of(again)["duplicate"] is True


class AlwaysLosingStore(DynamoStateStore):
    """Every conditional write loses to another writer, however often it is retried."""

    def commit_ingest(self, write: IngestWrite) -> Any:
        raise ConcurrentModification(f"listing {write.listing_id} changed under us")


def test_a_write_race_lost_on_every_attempt_answers_503_with_a_short_retry_after(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    service.store = AlwaysLosingStore(aws.state_table)
    body = json.dumps(upserted()).encode()

    response = service.handle(signed(body), body)

    problem = problem_of(response, 503)
    assert problem["title"] == "Service unavailable"
    assert problem["detail"] == "too many concurrent changes to this listing; retry"
    assert response.headers["Retry-After"] == "1"


def test_a_sync_queue_that_cannot_be_reached_answers_503_and_records_nothing_as_delivered(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing_queue = aws.env["VITRINE_SYNC_QUEUE_URL"] + "-gone"
    service = ingest_service(aws, monkeypatch, VITRINE_SYNC_QUEUE_URL=missing_queue)
    body = json.dumps(upserted()).encode()

    response = service.handle(signed(body), body)

    problem = problem_of(response, 503)
    assert problem["detail"] == "the change could not be scheduled; retry"
    assert response.headers["Retry-After"] == "5"
    snapshot = DynamoStateStore(aws.state_table).load_ingest_snapshot("L-1")
    assert snapshot is not None and not snapshot.deliveries, "the sender's retry is not taken for a duplicate"


# -- WebhookRefused ---------------------------------------------------------------------------


@pytest.mark.usefixtures("emf")
def test_every_refused_webhook_is_counted_once_by_its_reason_on_its_own_line(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = ingest_service(aws, monkeypatch, POWERTOOLS_METRICS_DISABLED="false")
    valid = json.dumps(upserted()).encode()
    not_json = b'{"type": "listing.upserted", "type": "listing.deleted"}'
    invalid = json.dumps(upserted(ownerId="")).encode()
    assert service.handle(signed(valid, "msg_first"), valid).status_code == 202
    capsys.readouterr()

    statuses = [
        service.handle({}, b" " * (MAX_BODY_BYTES + 1)).status_code,
        service.handle({"content-type": "application/json"}, valid).status_code,
        service.handle(signed(not_json), not_json).status_code,
        service.handle(signed(invalid), invalid).status_code,
        service.handle(signed(invalid, "msg_first"), invalid).status_code,
    ]
    service.store = AlwaysLosingStore(aws.state_table)
    statuses.append(service.handle(signed(valid, "msg_busy"), valid).status_code)

    assert statuses == [413, 401, 400, 422, 422, 503]
    refused = single_metrics(capsys.readouterr().out, "WebhookRefused")
    assert [r["reason"] for r in refused] == [
        "too_large",
        "signature",
        "not_json",
        "invalid",
        "invalid",
        "busy",
    ]
    assert all(set(r) == {"service", "reason"} and r["service"] == "vitrine" for r in refused)
    shared = flushed(capsys)
    assert "reason" not in shared and shared["WebhookRejected"] == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.usefixtures("emf")
def test_a_misconfigured_secret_and_an_unreachable_queue_are_refusals_of_their_own(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps(upserted()).encode()
    missing_queue = aws.env["VITRINE_SYNC_QUEUE_URL"] + "-gone"
    service = ingest_service(
        aws, monkeypatch, VITRINE_SYNC_QUEUE_URL=missing_queue, POWERTOOLS_METRICS_DISABLED="false"
    )
    assert service.handle(signed(body), body).status_code == 503
    service.secrets = lambda: ["not-a-webhook-secret"]  # type: ignore[method-assign]
    assert service.handle(signed(body), body).status_code == 500

    refused = single_metrics(capsys.readouterr().out, "WebhookRefused")
    assert [r["reason"] for r in refused] == ["scheduling_failed", "misconfigured"]


def queued_messages(aws: Aws) -> list[Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    answer = sqs.receive_message(QueueUrl=aws.env["VITRINE_SYNC_QUEUE_URL"], MaxNumberOfMessages=10)
    return list(answer.get("Messages", []))


def media_event(event_type: str, listing_id: str = "L-1", **fields: Any) -> dict[str, Any]:
    event = {key: value for key, value in upserted(listing_id).items() if key != "listing"}
    return {**event, "type": event_type, **fields}


def test_a_listing_avivs_schema_refuses_gets_422_with_every_error_in_the_webhook_body_and_changes_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    event = upserted()
    data = event["listing"]["data"]
    data["prices"]["buy"]["price"]["amount"] = "420000"
    data["estateType"] = "CASTLE"
    data["energy"] = {"countrySpecific": {"fr": {"energyCertificate": {"efficiencyClass": "H"}}}}
    data["garden"] = True
    body = json.dumps(event).encode()

    problem = problem_of(service.handle(signed(body), body), 422)

    assert problem["detail"] == "AVIV would refuse the listing this event produces; nothing was changed"
    reasons = {error["pointer"]: error["reason"] for error in problem["errors"]}
    assert reasons == {
        "/listing/data/energy/countrySpecific/fr/energyCertificate/efficiencyClass": (
            "must be one of: A, B, C, D, E, F, G"
        ),
        "/listing/data/estateType": reasons["/listing/data/estateType"],
        "/listing/data/garden": "unknown property 'garden'",
        "/listing/data/prices/buy/price/amount": "must be a number",
    }
    assert reasons["/listing/data/estateType"].startswith("must be one of: HOUSE, APARTMENT")
    assert DynamoStateStore(aws.state_table).load_ingest_snapshot("L-1") is None, "nothing was stored"
    assert queued_messages(aws) == [], "no sync was scheduled"


def test_a_media_event_on_a_listing_stored_before_the_check_names_the_stored_field(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    store = DynamoStateStore(aws.state_table)
    now = datetime.now(UTC)
    legacy = DesiredListing("L-1", "agency-1", data={**sample_data("L-1"), "estateType": "CASTLE"}, version=1)
    store.commit_ingest(plan_write(None, legacy, Delivery("msg_0", "0" * 16, now), now, 60))
    body = json.dumps(media_event("media.added", media={"id": "m-1", "url": "https://a.fr/1.jpg",
                                                        "mediaType": "PICTURE"})).encode()  # fmt: skip

    problem = problem_of(service.handle(signed(body), body), 422)

    assert [error["pointer"] for error in problem["errors"]] == [""]
    assert problem["errors"][0]["reason"].startswith("the listing as stored, at /listing/data/estateType: ")
    after = store.load_desired("L-1")
    assert after is not None and (after.version, after.media) == (1, []), "nothing was changed"


def test_a_media_url_with_its_own_timestamp_parameter_is_refused_naming_that_url(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    signed_url = "https://cdn.example/1.jpg?expires=1770971157&timestamp=1770967557&signature=c2ln"
    body = json.dumps(
        media_event("media.added", media={"id": "m-1", "url": signed_url, "mediaType": "PICTURE"})
    ).encode()

    problem = problem_of(service.handle(signed(body), body), 422)

    assert [error["pointer"] for error in problem["errors"]] == ["/media/url"]
    assert "own 'timestamp' query parameter" in problem["errors"][0]["reason"]
    assert DynamoStateStore(aws.state_table).load_ingest_snapshot("L-1") is None


def test_an_accepted_event_lists_the_quality_warnings_of_the_listing_it_produces(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    event = upserted()
    event["listing"]["media"] = [
        {"id": f"v-{n}", "url": f"https://videos.example/{n}.mp4", "mediaType": "VIDEO"} for n in (1, 2)
    ]
    body = json.dumps(event).encode()

    answer = service.handle(signed(body), body)

    assert answer_of(answer)["warnings"] == [
        {
            "code": "extra_video",
            "pointer": "/listing/media/1",
            "reason": "only the first video (media 'v-1') is displayed by the portals",
        }
    ]
    duplicate = answer_of(service.handle(signed(body), body))
    assert duplicate["duplicate"] is True and "warnings" not in duplicate


def test_media_sent_before_the_listing_are_checked_for_what_they_are_and_accepted(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(
        media_event("media.added", media={"id": "m-1", "url": "https://a.fr/1.jpg", "mediaType": "PICTURE"})
    ).encode()

    assert answer_of(service.handle(signed(body), body))["warnings"] == []


def test_an_unchanged_listing_still_hears_its_warnings_and_a_stale_event_only_that_it_was_ignored(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    event = upserted(sequence=5)
    event["listing"]["media"] = [
        {"id": "plan", "url": "https://a.fr/plan.png", "mediaType": "PICTURE", "category": "FLOOR_PLAN"}
    ]
    body = json.dumps(event).encode()
    assert answer_of(service.handle(signed(body, "msg_1"), body))["version"] == 1
    again = json.dumps({key: value for key, value in event.items() if key != "sequence"}).encode()
    stale = json.dumps({**event, "sequence": 4}).encode()

    unchanged = answer_of(service.handle(signed(again, "msg_2"), again))
    ignored = answer_of(service.handle(signed(stale, "msg_3"), stale))

    assert unchanged["unchanged"] is True
    assert [(w["code"], w["pointer"]) for w in unchanged["warnings"]] == [
        ("poor_first_picture", "/listing/media/0")
    ]
    assert ignored["ignored"] == "stale_sequence" and "warnings" not in ignored


# --------------------------------------------------------------------------------------------------
# Values that are JSON but cannot be stored, and documents nested too deep
# --------------------------------------------------------------------------------------------------

LONE_SURROGATE = "\ud800"


def stored_items(aws: Aws) -> list[dict[str, Any]]:
    """Every item of the state table, read raw (a partial write would show here)."""
    items: list[dict[str, Any]] = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=aws.state_table
    )["Items"]
    return items


def with_media(**fields: Any) -> dict[str, Any]:
    media = {"id": "m-1", "url": "https://photos.example/a.jpg", "mediaType": "PICTURE", "title": "Séjour"}
    media.update(fields)
    return upserted(listing={"data": {"estateType": "HOUSE"}, "media": [media]})


@pytest.mark.parametrize(
    ("event", "pointer"),
    [
        (upserted(listingId="L-" + LONE_SURROGATE), "/listingId"),
        (upserted(ownerId="agency-" + LONE_SURROGATE), "/ownerId"),
        (upserted(intermediaryId=LONE_SURROGATE + "x"), "/intermediaryId"),
        (upserted(listing={"data": {"title": "a" + LONE_SURROGATE}, "media": []}), "/listing/data/title"),
        (upserted(listing={"data": {"k" + LONE_SURROGATE: 1}, "media": []}), "/listing/data"),
        (with_media(title="Séjour \udfff"), "/listing/media/0/title"),
        (with_media(url="https://photos.example/\ud83d.jpg"), "/listing/media/0/url"),
        (with_media(id="m-\udc00"), "/listing/media/0/id"),
    ],
    ids=["listingId", "ownerId", "intermediaryId", "data", "data key", "title", "url", "media id"],
)
def test_a_lone_surrogate_anywhere_is_refused_with_422_naming_its_field_and_stores_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], pointer: str
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(event).encode()  # ensure_ascii: the surrogate travels as a valid \\udXXX escape

    problem = problem_of(service.handle(signed(body), body), 422)

    assert [error["pointer"] for error in problem["errors"]] == [pointer]
    assert "surrogate" in problem["errors"][0]["reason"]
    assert stored_items(aws) == [], "nothing was written, not even part of an item"


def test_a_listing_once_sent_a_surrogate_owner_takes_the_next_valid_webhook(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    bad = json.dumps(upserted(ownerId="agency-" + LONE_SURROGATE)).encode()
    problem_of(service.handle(signed(bad, "msg_bad"), bad), 422)
    good = json.dumps(upserted()).encode()

    response = service.handle(signed(good, "msg_good"), good)

    assert response.status_code == 202, response.body
    desired = DynamoStateStore(aws.state_table).load_desired("L-1")
    assert desired is not None and desired.owner_id == "agency-1"


@pytest.mark.parametrize(
    ("literal", "pointer"),
    [
        ("1e99999", "/listing/data/price"),
        ("-1e99999", "/listing/data/price"),
        ("NaN", "/listing/data/price"),
        ("Infinity", "/listing/data/price"),
        ("-Infinity", "/listing/data/price"),
        ("1" * 400 + ".5", "/listing/data/price"),
    ],
)
def test_a_number_that_is_not_finite_is_refused_with_422_naming_its_field(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, literal: str, pointer: str
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(upserted(listing={"data": {"price": 0}, "media": []})).encode()
    body = body.replace(b'"price": 0', b'"price": ' + literal.encode())

    problem = problem_of(service.handle(signed(body), body), 422)

    assert [error["pointer"] for error in problem["errors"]] == [pointer]
    assert "finite" in problem["errors"][0]["reason"]
    assert stored_items(aws) == []


def deep_body(levels: int) -> bytes:
    """An upsert whose ``listing.data`` holds objects nested ``levels`` deep."""
    template = json.dumps(upserted(listing={"data": {"x": "HOLE"}, "media": []}))
    deep = '{"a":' * levels + "1" + "}" * levels
    return template.replace('"HOLE"', deep).encode()


@pytest.mark.parametrize("levels", [70, 500, 999, 5000])
def test_a_body_nested_too_deep_is_refused_with_400_naming_the_depth_limit(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, levels: int
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = deep_body(levels)

    problem = problem_of(service.handle(signed(body), body), 400)

    assert "the limit is 64 levels" in problem["detail"]
    assert stored_items(aws) == []


def test_a_body_just_within_the_depth_limit_passes_the_depth_check(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = deep_body(64 - 3)  # the envelope, listing and data objects are the first three levels

    answer = service.handle(signed(body), body)
    # Read and checked field by field: AVIV's schema (not the depth limit) is what refuses this data.
    assert answer.status_code == 422
    assert "deep" not in json.dumps(json.loads(answer.body))


# --------------------------------------------------------------------------------------------------
# Media type
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
        "application/json; charset=iso-8859-1",
        "",
    ],
)
def test_a_body_not_declared_as_json_is_refused_with_415_and_changes_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, content_type: str
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(upserted()).encode()
    headers = {**signed(body), "Content-Type": content_type}

    response = service.handle(headers, body)

    problem = problem_of(response, 415)
    assert problem["title"] == "Unsupported media type"
    assert "Content-Type must be application/json" in problem["detail"]
    assert response.headers["Accept-Post"] == "application/json"
    assert stored_items(aws) == []


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("content-type", "application/json"),
        ("CONTENT-TYPE", "Application/JSON"),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Type", 'application/json;charset="UTF-8"'),
        ("Content-Type", "application/cloudevents+json"),
    ],
)
def test_json_is_accepted_in_any_case_with_parameters_or_as_a_json_suffix(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, name: str, content_type: str
) -> None:
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(upserted()).encode()
    headers = {**signed_headers(SECRET, body), name: content_type}

    assert service.handle(headers, body).status_code == 202


def test_an_unsigned_body_of_any_type_is_refused_with_401_first(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ingest_service(aws, monkeypatch)

    problem_of(service.handle({"Content-Type": "text/plain"}, b"hello"), 401)


# --------------------------------------------------------------------------------------------------
# A stored DESIRED item that cannot be read never blocks the listing
# --------------------------------------------------------------------------------------------------

STUB = {"pk": {"S": "LISTING#L-1"}, "sk": {"S": "DESIRED"}, "listingId": {"S": "L-1"}}
CORRUPT = {
    **STUB,
    "version": {"N": "3"},
    "sentVersion": {"N": "2"},
    "ownerId": {"S": "agency-1"},
    "hasData": {"BOOL": True},
    "data": {"B": b"not gzip"},
    "media": {"B": b"\x1f\x8b truncated"},
    "ingestSeq": {"N": "7"},
    "deliveryLog": {"B": b"\x09 an unknown format"},
}


class ErrorLines(logging.Handler):
    """The ERROR lines the service's Powertools logger writes."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def error_lines() -> Iterator[ErrorLines]:
    recorder = ErrorLines()
    logger._logger.addHandler(recorder)
    try:
        yield recorder
    finally:
        logger._logger.removeHandler(recorder)


@pytest.mark.parametrize("item", [STUB, CORRUPT], ids=["stub left by a partial write", "corrupt documents"])
def test_a_valid_webhook_replaces_an_unreadable_item_as_the_listings_state(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, error_lines: ErrorLines, item: dict[str, Any]
) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=aws.state_table, Item=item)
    service = ingest_service(aws, monkeypatch)
    body = json.dumps(upserted(listing={"data": sample_data("L-1"), "media": []})).encode()

    response = service.handle(signed(body), body)

    assert response.status_code == 202, response.body
    store = DynamoStateStore(aws.state_table)
    desired = store.load_desired("L-1")
    assert desired is not None and desired.data == sample_data("L-1") and desired.media == []
    assert desired.version == int(item.get("version", {"N": "0"})["N"]) + 1, "a new version for sync"
    state = store.load_sync_state("L-1")
    assert state is not None and state.dirty and state.sync_scheduled_until is not None
    assert any("unreadable" in message and "L-1" in message for message in error_lines.messages)


def test_an_event_that_changes_nothing_leaves_an_unreadable_item_for_the_next_one(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=aws.state_table, Item=STUB)
    service = ingest_service(aws, monkeypatch)
    removal = {key: value for key, value in upserted().items() if key != "listing"}
    removal.update(type="media.removed", mediaId="m-9")
    first = json.dumps(removal).encode()

    ignored = service.handle(signed(first, "msg_1"), first)

    assert ignored.status_code == 202 and json.loads(str(ignored.body))["ignored"] == "unknown_media"
    second = json.dumps(upserted()).encode()
    assert service.handle(signed(second, "msg_2"), second).status_code == 202
    assert DynamoStateStore(aws.state_table).load_desired("L-1") is not None
