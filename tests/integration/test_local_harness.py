"""The local harness behind `make local`: API Gateway stand-in, Lambda runtime, SQS event source,
resources from template.yaml, notifications inbox, and the whole LocalStack started twice in a process.

Handlers here are small stand-ins defined in this file, so the harness is tested on its own; the
real functions are exercised by the end-to-end tests. AWS is a real moto server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools import Logger
from moto.server import ThreadedMotoServer

from devtools import template as cfn
from devtools.apigw import MAX_PAYLOAD_BYTES, ApiGateway
from devtools.lambda_runtime import FakeLambdaContext, LambdaFunction, load_handler
from devtools.local_stack.cli import curl_example
from devtools.local_stack.environment import local_function_environment
from devtools.local_stack.event_sources.inbox import SnsInbox
from devtools.local_stack.event_sources.schedule import scheduler_event
from devtools.local_stack.event_sources.sqs import SqsEventSourceMapping
from devtools.local_stack.settings import LocalSettings, LocalStackError
from devtools.local_stack.stack import LocalStack
from devtools.proxy_event import header_value

REGION = "eu-west-3"


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request at INFO
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    server._server.server_close()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> dict[str, Any]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return {name: session.client(name, endpoint_url=moto_endpoint) for name in ("sqs", "sns")}


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return f"t{abs(hash(request.node.name)) % 10**8}-{time.monotonic_ns() % 10**6}-"


@pytest.fixture
def sync_queues(aws: dict[str, Any], prefix: str) -> tuple[dict[str, str], dict[str, str]]:
    """The template's queues (SyncQueue redriving to SyncDeadLetterQueue after 2 receives), with a
    1 s visibility timeout instead of 540 s so failed messages come back quickly."""
    urls, arns = cfn.create_queues(aws["sqs"], prefix=prefix, parameters={"SyncMaxReceives": "2"})
    aws["sqs"].set_queue_attributes(QueueUrl=urls["SyncQueue"], Attributes={"VisibilityTimeout": "1"})
    return urls, arns


@pytest.fixture
def gateway() -> Iterator[Callable[..., ApiGateway]]:
    started: list[ApiGateway] = []

    def start(routes: list[Any], ready: bool = True) -> ApiGateway:
        api = ApiGateway(routes)
        api.start()
        if ready:
            api.ready.set()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


class Recorder:
    """A stand-in handler that records its events and answers what it is told to."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.answer = answer if answer is not None else {"statusCode": 200, "body": "{}"}
        self.error = error

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(copy.deepcopy(event))
        self.contexts.append(context)
        if self.error is not None:
            raise self.error
        return self.answer


# ---------------------------------------------------------------------------------------------
# lambda_runtime


def test_load_handler_gives_each_app_py_its_own_module(tmp_path: Path) -> None:
    for name in ("alpha", "beta"):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "helper.py").write_text(f"WHO = {name!r}\n")
        (directory / "app.py").write_text(
            "import helper\n"
            "calls = []\n"
            "def lambda_handler(event, context):\n"
            "    calls.append(event)\n"
            "    return {'who': helper.WHO, 'module': __name__, 'calls': len(calls)}\n"
        )
    alpha = load_handler(tmp_path / "alpha")
    beta = load_handler(tmp_path / "beta")

    assert alpha({}, None) == {"who": "alpha", "module": "vitrine_fn_alpha_app", "calls": 1}
    # The second app.py did not shadow the first; its sibling module is the one it imported.
    assert beta({}, None)["module"] == "vitrine_fn_beta_app"
    assert alpha({}, None)["calls"] == 2
    # Loading again is a cold start: fresh module globals.
    assert load_handler(tmp_path / "alpha")({}, None)["calls"] == 1


def test_load_handler_fails_loudly_without_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_handler(tmp_path)


def test_fake_context_satisfies_powertools_logger() -> None:
    logger = Logger(service="harness-test")

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"remaining": context.get_remaining_time_in_millis(), "name": context.function_name}

    context = FakeLambdaContext(function_name="vitrine-x-IngestFunction", timeout_seconds=15)
    result = handler({}, context)

    assert result["name"] == "vitrine-x-IngestFunction"
    assert 0 < result["remaining"] <= 15_000
    assert (
        context.invoked_function_arn
        == "arn:aws:lambda:eu-west-3:123456789012:function:vitrine-x-IngestFunction"
    )
    assert context.memory_limit_in_mb == 512
    assert len(context.aws_request_id) == 36
    assert FakeLambdaContext(timeout_seconds=0).get_remaining_time_in_millis() == 0


def test_lambda_function_runs_one_invocation_at_a_time() -> None:
    active = 0
    most = 0
    lock = threading.Lock()

    def handler(event: Any, context: Any) -> Any:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return context.function_name

    function = LambdaFunction("one-instance", handler)
    threads = [threading.Thread(target=function.invoke, args=({},)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == 1
    assert function.invoke({}) == "one-instance"


# ---------------------------------------------------------------------------------------------
# API Gateway stand-in


def test_request_becomes_a_rest_api_proxy_event(gateway: Callable[..., ApiGateway]) -> None:
    media = Recorder()
    other = Recorder()
    api = gateway(
        [("GET", "/listings/{listingId}/media/{mediaId}", media), ("POST", "/webhooks/listings", other)]
    )

    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    connection.putrequest("GET", "/listings/AGC%20LYON/media/med-1?x=1&x=2&empty=&q=a%26b")
    connection.putheader("X-Custom-Header", "first")
    connection.putheader("X-Custom-Header", "second")
    connection.putheader("webhook-ID", "msg_1")
    connection.endheaders()
    assert connection.getresponse().status == 200
    connection.close()

    (event,) = media.events
    assert other.events == []
    assert event["resource"] == "/listings/{listingId}/media/{mediaId}"
    assert event["path"] == "/listings/AGC LYON/media/med-1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"listingId": "AGC LYON", "mediaId": "med-1"}
    assert event["queryStringParameters"] == {"x": "2", "empty": "", "q": "a&b"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "empty": [""], "q": ["a&b"]}
    # Names as sent (not lower-cased); the single-value map keeps the last value.
    assert event["headers"]["X-Custom-Header"] == "second"
    assert event["multiValueHeaders"]["X-Custom-Header"] == ["first", "second"]
    assert "webhook-ID" in event["headers"] and "webhook-id" not in event["headers"]
    assert header_value(event, "WEBHOOK-id") == "msg_1"
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["stage"] == "local"
    assert context["resourcePath"] == "/listings/{listingId}/media/{mediaId}"
    assert context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(context["requestTimeEpoch"], int) and context["requestTimeEpoch"] > 1_600_000_000_000
    assert context["requestId"]
    assert media.contexts[0].get_remaining_time_in_millis() > 0


def test_no_query_and_no_params_are_null(gateway: Callable[..., ApiGateway]) -> None:
    handler = Recorder()
    api = gateway([("POST", "/webhooks/listings", handler)])

    requests.post(api.base_url + "/webhooks/listings", data=b'{"a": "\xc3\xa9"}', timeout=5)

    (event,) = handler.events
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] == '{"a": "é"}'
    assert event["isBase64Encoded"] is False


def test_non_utf8_body_arrives_base64_encoded(gateway: Callable[..., ApiGateway]) -> None:
    handler = Recorder()
    api = gateway([("POST", "/webhooks/listings", handler)])
    raw = b"\xff\xfe\x00binary"

    requests.post(api.base_url + "/webhooks/listings", data=raw, timeout=5)

    (event,) = handler.events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_proxy_response_is_mapped_back(gateway: Callable[..., ApiGateway]) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00"
    handler = Recorder(
        answer={
            "statusCode": 201,
            "headers": {"Content-Type": "image/png", "X-Single": "one", "X-Both": "from-headers"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Both": ["from-multi"]},
            "body": base64.b64encode(png).decode(),
            "isBase64Encoded": True,
        }
    )
    api = gateway([("ANY", "/thing", handler)])

    answer = requests.put(api.base_url + "/thing", timeout=5)

    assert answer.status_code == 201
    assert answer.content == png
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["X-Single"] == "one"
    assert answer.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert answer.raw.headers.getlist("X-Both") == ["from-multi"]


def test_unknown_route_function_error_and_malformed_answer(gateway: Callable[..., ApiGateway]) -> None:
    api = gateway(
        [
            ("POST", "/webhooks/listings", Recorder(error=RuntimeError("boom"))),
            ("GET", "/malformed", Recorder(answer={"body": "no status code"})),
        ]
    )

    missing = requests.get(api.base_url + "/nowhere", timeout=5)
    wrong_method = requests.get(api.base_url + "/webhooks/listings", timeout=5)
    failing = requests.post(api.base_url + "/webhooks/listings", data=b"{}", timeout=5)
    malformed = requests.get(api.base_url + "/malformed", timeout=5)

    assert (missing.status_code, wrong_method.status_code) == (404, 404)
    assert missing.json() == {"message": "Not Found"}
    assert failing.status_code == 502
    assert failing.json() == {"message": "Internal server error"}
    assert malformed.status_code == 502


def test_payload_limits_are_api_gateways_not_the_handlers(gateway: Callable[..., ApiGateway]) -> None:
    handler = Recorder()
    api = gateway([("POST", "/webhooks/listings", handler)])

    over_one_mb = requests.post(api.base_url + "/webhooks/listings", data=b"x" * 1_500_000, timeout=10)
    over_ten_mb = requests.post(
        api.base_url + "/webhooks/listings", data=b"x" * (MAX_PAYLOAD_BYTES + 1), timeout=10
    )

    assert over_one_mb.status_code == 200  # the handler enforces its own 1 MiB limit
    assert len(handler.events) == 1 and len(handler.events[0]["body"]) == 1_500_000
    assert over_ten_mb.status_code == 413
    assert over_ten_mb.json() == {"message": "Request Too Long"}
    assert len(handler.events) == 1


def test_health_is_503_until_ready(gateway: Callable[..., ApiGateway]) -> None:
    api = gateway([], ready=False)

    before = requests.get(api.health_url, timeout=5)
    api.ready.set()
    after = requests.get(api.health_url, timeout=5)

    assert before.status_code == 503
    assert (after.status_code, after.json()) == (200, {"status": "ok"})


# ---------------------------------------------------------------------------------------------
# SQS event source mapping (real moto server)


def _mapping(
    aws: dict[str, Any], urls: dict[str, str], arns: dict[str, str], handler: Any
) -> SqsEventSourceMapping:
    return SqsEventSourceMapping(aws["sqs"], urls["SyncQueue"], arns["SyncQueue"], handler, batch_size=10)


def test_sqs_event_has_lambdas_shape(aws: dict[str, Any], sync_queues: Any) -> None:
    urls, arns = sync_queues
    handler = Recorder(answer={"batchItemFailures": []})
    aws["sqs"].send_message(
        QueueUrl=urls["SyncQueue"],
        MessageBody='{"listingId": "L1"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "sync"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )

    result = _mapping(aws, urls, arns, handler).poll_once()

    assert len(result.received) == 1 and result.deleted == result.received and result.failed == []
    (record,) = handler.events[0]["Records"]
    assert record["messageId"] == result.received[0]
    assert record["body"] == '{"listingId": "L1"}'
    assert record["receiptHandle"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arns["SyncQueue"]
    assert record["awsRegion"] == REGION
    assert record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SentTimestamp"].isdigit()
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "sync",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert aws["sqs"].receive_message(QueueUrl=urls["SyncQueue"], WaitTimeSeconds=0).get("Messages") is None


def test_delayed_message_is_not_delivered_early(aws: dict[str, Any], sync_queues: Any) -> None:
    urls, arns = sync_queues
    handler = Recorder(answer={})
    mapping = _mapping(aws, urls, arns, handler)
    aws["sqs"].send_message(QueueUrl=urls["SyncQueue"], MessageBody="later", DelaySeconds=2)

    early = mapping.poll_once(wait_time_seconds=0)
    assert early.received == [] and handler.events == []

    late = eventually(lambda: mapping.poll_once(wait_time_seconds=1).received)
    assert len(late) == 1
    assert [r["body"] for r in handler.events[0]["Records"]] == ["later"]


def test_batch_item_failures_stay_queued_and_come_back(aws: dict[str, Any], sync_queues: Any) -> None:
    urls, arns = sync_queues
    seen: list[tuple[str, str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        seen.extend((r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in records)
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]
        }

    for body in ("good-1", "bad", "good-2"):
        aws["sqs"].send_message(QueueUrl=urls["SyncQueue"], MessageBody=body)
    mapping = _mapping(aws, urls, arns, handler)

    def polled_until(condition: Callable[[], bool]) -> Callable[[], bool]:
        return lambda: bool(mapping.poll_once(wait_time_seconds=1)) and condition()

    eventually(polled_until(lambda: {"good-1", "bad", "good-2"} <= {body for body, _ in seen}))
    eventually(polled_until(lambda: ("bad", "2") in seen), timeout=10)

    assert sorted(body for body, count in seen if count == "1") == ["bad", "good-1", "good-2"]
    assert [body for body, count in seen if count != "1"] == ["bad"]  # the good ones were deleted


def test_a_handler_error_keeps_the_whole_batch(aws: dict[str, Any], sync_queues: Any) -> None:
    urls, arns = sync_queues
    aws["sqs"].send_message(QueueUrl=urls["SyncQueue"], MessageBody="one")
    aws["sqs"].send_message(QueueUrl=urls["SyncQueue"], MessageBody="two")
    failing = _mapping(aws, urls, arns, Recorder(error=RuntimeError("sync crashed")))

    received: list[str] = []
    eventually(lambda: received.extend(failing.poll_once().failed) or len(received) >= 2)

    succeeding = Recorder(answer={"batchItemFailures": []})
    ok = _mapping(aws, urls, arns, succeeding)
    redelivered: list[str] = []
    eventually(lambda: redelivered.extend(ok.poll_once().deleted) or len(redelivered) >= 2)
    assert sorted(redelivered) == sorted(received)


def test_malformed_batch_item_failures_fail_the_whole_batch(aws: dict[str, Any], sync_queues: Any) -> None:
    urls, arns = sync_queues
    aws["sqs"].send_message(QueueUrl=urls["SyncQueue"], MessageBody="x")
    mapping = _mapping(
        aws, urls, arns, Recorder(answer={"batchItemFailures": [{"itemIdentifier": "not-mine"}]})
    )

    result = eventually(lambda: mapping.poll_once())

    assert result.deleted == [] and result.failed == result.received


def test_redrive_policy_moves_a_message_to_the_dlq(aws: dict[str, Any], sync_queues: Any) -> None:
    urls, arns = sync_queues
    redrive = json.loads(
        aws["sqs"].get_queue_attributes(QueueUrl=urls["SyncQueue"], AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    assert redrive == {"deadLetterTargetArn": arns["SyncDeadLetterQueue"], "maxReceiveCount": 2}
    counts: list[str] = []

    def always_fails(event: dict[str, Any], context: Any) -> dict[str, Any]:
        counts.extend(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    aws["sqs"].send_message(QueueUrl=urls["SyncQueue"], MessageBody="poison")
    mapping = _mapping(aws, urls, arns, always_fails)

    def in_dlq() -> list[dict[str, Any]]:
        mapping.poll_once(wait_time_seconds=1)
        messages = aws["sqs"].receive_message(QueueUrl=urls["SyncDeadLetterQueue"], WaitTimeSeconds=0)
        return messages.get("Messages") or []

    (dead,) = eventually(in_dlq, timeout=15)
    assert dead["Body"] == "poison"
    assert counts == ["1", "2"]  # received maxReceiveCount times, then dead-lettered


def test_mapping_thread_starts_and_stops(aws: dict[str, Any], sync_queues: Any) -> None:
    urls, arns = sync_queues
    handler = Recorder(answer={})
    mapping = _mapping(aws, urls, arns, handler)
    mapping.start()
    try:
        aws["sqs"].send_message(QueueUrl=urls["SyncQueue"], MessageBody="background")
        eventually(lambda: handler.events)
    finally:
        mapping.stop()
    assert handler.events[0]["Records"][0]["body"] == "background"


# ---------------------------------------------------------------------------------------------
# Inbox


def test_inbox_appends_one_json_line_per_publish(aws: dict[str, Any], prefix: str, tmp_path: Path) -> None:
    topic = aws["sns"].create_topic(Name=f"{prefix}Topic")["TopicArn"]
    path = tmp_path / "inbox" / "notifications.jsonl"
    printed: list[str] = []
    inbox = SnsInbox(aws["sqs"], aws["sns"], topic, f"{prefix}Inbox", path=path, echo=printed.append)

    first = {"type": "media.failed", "listingId": "L1", "media": [{"id": "m1"}]}
    aws["sns"].publish(
        TopicArn=topic,
        Message=json.dumps(first),
        Subject="media failed",
        MessageAttributes={"ownerId": {"DataType": "String", "StringValue": "agency-1"}},
    )
    aws["sns"].publish(TopicArn=topic, Message="plain text")

    eventually(lambda: inbox.poll_once() is not None and len(inbox.notifications) >= 2)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [first, "plain text"]
    notification = inbox.wait_for(lambda n: n.subject == "media failed", timeout=1)
    assert notification.attributes == {"ownerId": "agency-1"}
    assert notification.envelope["Type"] == "Notification"  # not raw delivery: the SNS envelope
    assert "ownerId=agency-1" in printed[0] and "media.failed" in printed[0]


# ---------------------------------------------------------------------------------------------
# Function environment and schedule event


def test_function_environment_covers_every_template_variable() -> None:
    resources = cfn.LocalResources(
        tables={"StateTable": "p-StateTable", "TokenTable": "p-TokenTable"},
        queues={"SyncQueue": "http://q/SyncQueue"},
        topics={"NotificationsTopic": "arn:topic"},
        secrets={
            "WebhookSecret": "arn:w",
            "AvivCredentialsSecret": "arn:a",
            "AvivPushTokenSecret": "arn:p",
            "OwnerPageSecret": "arn:o",
        },
        parameters={"PublicApiUrlParameter": "/p-PublicApiUrlParameter"},
    )
    settings = LocalSettings(aviv_api_url="http://127.0.0.1:1/caas/v4/", debounce_seconds=3)

    environment = local_function_environment(resources, settings)
    assert environment["VITRINE_OWNER_PAGE_SECRET_ARN"] == "arn:o"
    assert environment["VITRINE_PUBLIC_URL_PARAMETER"] == "/p-PublicApiUrlParameter"

    assert set(environment) == cfn.function_environment_keys()
    assert environment["VITRINE_STATE_TABLE"] == "p-StateTable"
    assert environment["VITRINE_SYNC_QUEUE_URL"] == "http://q/SyncQueue"
    assert environment["VITRINE_AVIV_SECRET_ARN"] == "arn:a"
    assert environment["AVIV_API_URL"] == "http://127.0.0.1:1/caas/v4"
    assert environment["VITRINE_DEBOUNCE_SECONDS"] == "3"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "vitrine"

    template = copy.deepcopy(cfn.load_template())
    template["Globals"]["Function"]["Environment"]["Variables"]["VITRINE_NEW_THING"] = {
        "Ref": "SomeNewResource"
    }
    with pytest.raises(LocalStackError, match="VITRINE_NEW_THING"):
        local_function_environment(resources, settings, template)


def test_scheduler_event_shapes() -> None:
    default = scheduler_event("arn:aws:scheduler:eu-west-3:123456789012:schedule/default/r")
    assert default["source"] == "aws.scheduler" and default["detail-type"] == "Scheduled Event"
    assert default["resources"] == ["arn:aws:scheduler:eu-west-3:123456789012:schedule/default/r"]
    with_input = scheduler_event(
        "arn:s", '{"at": "<aws.scheduler.scheduled-time>", "arn": "<aws.scheduler.schedule-arn>"}'
    )
    assert with_input["arn"] == "arn:s" and with_input["at"].endswith("Z")


def test_curl_example_is_correctly_signed() -> None:
    from vitrine.core.webhook_signing import verify

    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    command = curl_example("http://127.0.0.1:3000/webhooks/listings", secret)

    headers = dict(
        line.strip().removeprefix("-H '").removesuffix("' \\").split(": ", 1)
        for line in command.splitlines()
        if line.strip().startswith("-H 'webhook-")
    )
    body = command.split("--data-raw '", 1)[1].rstrip("'").encode()
    verify(headers, body, [secret], now=time.time())
    assert json.loads(body)["type"] == "listing.upserted"


# ---------------------------------------------------------------------------------------------
# The whole stack, twice in one process, with stand-in handlers


def _stand_ins() -> tuple[dict[str, Callable[[Any, Any], Any]], dict[str, list[Any]]]:
    """An ingest that verifies the signature with the secret from Secrets Manager and queues the
    body; a sync that publishes each record to the topic; a reconcile that counts its runs. They use
    plain boto3 clients: the stack's environment alone must point them at moto and the resources."""
    calls: dict[str, list[Any]] = {"ingest": [], "sync": [], "reconcile": []}

    def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from vitrine.core.webhook_signing import verify

        secret = boto3.client("secretsmanager").get_secret_value(
            SecretId=os.environ["VITRINE_WEBHOOK_SECRET_ARN"]
        )
        verify(
            event["headers"],
            event["body"].encode(),
            json.loads(secret["SecretString"])["secrets"],
            time.time(),
        )
        boto3.client("sqs").send_message(
            QueueUrl=os.environ["VITRINE_SYNC_QUEUE_URL"], MessageBody=event["body"]
        )
        calls["ingest"].append(context.function_name)
        return {"statusCode": 202, "body": json.dumps({"accepted": True})}

    def sync(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls["sync"].append(context.function_name)  # before publishing: the test waits on the inbox
        for record in event["Records"]:
            boto3.client("sns").publish(
                TopicArn=os.environ["VITRINE_TOPIC_ARN"],
                Message=record["body"],
                MessageAttributes={"ownerId": {"DataType": "String", "StringValue": "owner-1"}},
            )
        return {"batchItemFailures": []}

    def reconcile(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls["reconcile"].append(event["source"])
        return {"checked": 0}

    return {"ingest": ingest, "sync": sync, "reconcile": reconcile}, calls


def _port_is_closed(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def test_local_stack_starts_and_stops_twice_in_one_process(tmp_path: Path) -> None:
    from vitrine.core.webhook_signing import signed_headers

    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    prefixes = []
    for attempt in (1, 2):
        handlers, calls = _stand_ins()
        inbox_path = tmp_path / f"inbox-{attempt}.jsonl"
        secret_file = tmp_path / "webhook-secret"
        # The second run passes the webhook route explicitly instead of taking it from template.yaml.
        routes = None if attempt == 1 else [("POST", "/webhooks/listings", handlers["ingest"])]
        stack = LocalStack(
            handlers=handlers,
            routes=routes,
            inbox_path=inbox_path,
            secret_file=secret_file,
            reconcile_seconds=0.2,
        )
        with stack:
            info = stack.info
            assert info is not None
            prefixes.append(info.prefix)

            # Resources come from template.yaml, named after its logical ids.
            assert set(info.resources.tables) == set(cfn.resources_of_type("AWS::DynamoDB::Table"))
            assert set(info.resources.queues) == set(cfn.resources_of_type("AWS::SQS::Queue"))
            assert set(info.resources.topics) == set(cfn.resources_of_type("AWS::SNS::Topic"))
            assert set(info.resources.secrets) == set(cfn.resources_of_type("AWS::SecretsManager::Secret"))
            assert all(name == f"{info.prefix}{lid}" for lid, name in info.resources.tables.items())
            assert stack.dynamodb.describe_table(TableName=info.resources.tables["StateTable"])["Table"][
                "GlobalSecondaryIndexes"
            ]
            redrive = stack.sqs.get_queue_attributes(
                QueueUrl=info.queue_urls["SyncQueue"], AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
            )["Attributes"]
            template_queue = cfn.resources_of_type("AWS::SQS::Queue")["SyncQueue"]["Properties"]
            max_receives = cfn.load_template()["Parameters"]["SyncMaxReceives"]["Default"]
            assert json.loads(redrive["RedrivePolicy"]) == {
                "deadLetterTargetArn": info.resources.queue_arns["SyncDeadLetterQueue"],
                "maxReceiveCount": int(max_receives),
            }
            assert redrive["VisibilityTimeout"] == str(template_queue["VisibilityTimeout"])
            webhook_secret = stack.secretsmanager.get_secret_value(
                SecretId=info.resources.secrets["WebhookSecret"]
            )
            assert json.loads(webhook_secret["SecretString"]) == {"secrets": [info.secret]}
            credentials = stack.secretsmanager.get_secret_value(
                SecretId=info.resources.secrets["AvivCredentialsSecret"]
            )
            assert json.loads(credentials["SecretString"]) == {
                "client_id": "vitrine-local",
                "client_secret": "vitrine-local-secret",
            }
            assert secret_file.read_text().strip() == info.secret

            # The handlers' environment is the template's Globals, pointing at this stack.
            assert set(info.function_environment) == cfn.function_environment_keys()
            assert os.environ["VITRINE_STATE_TABLE"] == info.resources.tables["StateTable"]
            assert os.environ["AWS_ENDPOINT_URL"] == info.moto_endpoint
            assert info.emulator is not None and info.aviv_api_url == info.emulator.base_url
            assert os.environ["AVIV_AUTH_URL"] == info.emulator.auth_url

            # webhook → ingest → SyncQueue → sync (real SQS batch) → SNS → inbox
            assert requests.get(info.health_url, timeout=5).status_code == 200
            body = json.dumps({"type": "listing.deleted", "listingId": f"L-{attempt}"}).encode()
            answer = requests.post(
                info.webhook_url, data=body, headers=signed_headers(info.secret, body), timeout=10
            )
            assert (answer.status_code, answer.json()) == (202, {"accepted": True})

            assert stack.inbox is not None
            notification = stack.inbox.wait_for(lambda n, a=attempt: n.message.get("listingId") == f"L-{a}")
            assert notification.attributes == {"ownerId": "owner-1"}
            assert json.loads(inbox_path.read_text().splitlines()[0]) == json.loads(body)
            assert calls["ingest"] and calls["sync"]
            assert calls["sync"][0].startswith(info.prefix)

            eventually(lambda c=calls: c["reconcile"])
            assert calls["reconcile"][0] == "aws.scheduler"
            assert stack.fire_schedules() == [{"checked": 0}]

        assert _port_is_closed(info.health_url)
        assert _port_is_closed(info.moto_endpoint)
        assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before
        assert (
            "VITRINE_STATE_TABLE" not in os.environ
            or os.environ["VITRINE_STATE_TABLE"] != (info.resources.tables["StateTable"])
        )

    assert prefixes[0] != prefixes[1]


# ---------------------------------------------------------------------------------------------
# make demo


def test_demo_selects_and_rewrites_samples() -> None:
    from devtools import demo

    samples = demo.load_samples()
    default = demo.select_samples(samples, [])

    assert [s.sequence for s in default] == sorted(s.sequence for s in default)
    assert "listing-deleted" not in [s.name for s in default]
    assert [s.name for s in demo.select_samples(samples, ["listing-deleted.json", "media-added"])] == [
        "listing-deleted",
        "media-added",
    ]
    with pytest.raises(demo.DemoError):
        demo.select_samples(samples, ["no-such-sample"])

    event = {"listingId": "L", "listing": {"media": [{"url": "https://photos.example.fr/a/b.jpg?w=1&q=2"}]}}
    rewritten = demo.rewrite_media_urls(event, "http://127.0.0.1:9999")
    assert rewritten["listing"]["media"][0]["url"] == "http://127.0.0.1:9999/a/b.jpg?w=1&q=2"
    assert event["listing"]["media"][0]["url"].startswith("https://photos")  # the sample is not modified
    renamed = demo.with_listing_id({"listingId": "L", "source": {"offererEstateId": "L", "x": "LL"}}, "L-2")
    assert renamed == {"listingId": "L-2", "source": {"offererEstateId": "L-2", "x": "LL"}}


def test_demo_posts_signed_samples_in_order(gateway: Callable[..., ApiGateway], capsys: Any) -> None:
    from devtools import demo
    from vitrine.core.webhook_signing import verify

    secret = "whsec_" + base64.b64encode(b"demo-key-" * 4).decode()
    received: list[dict[str, Any]] = []

    def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
        verify(event["headers"], event["body"].encode(), [secret], time.time())
        received.append(json.loads(event["body"]))
        return {"statusCode": 202, "body": json.dumps({"accepted": True})}

    api = gateway([("POST", "/webhooks/listings", ingest)])
    url = api.base_url + "/webhooks/listings"

    assert demo.main(["--url", url, "--secret", secret, "--listing-id", "DEMO-1", "--no-wait"]) == 0

    expected = [s.event["type"] for s in demo.select_samples(demo.load_samples(), [])]
    assert [e["type"] for e in received] == expected
    assert {e["listingId"] for e in received} == {"DEMO-1"}
    assert "listing-deleted" in capsys.readouterr().out  # how to send the delete next
