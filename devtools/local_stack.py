"""Run the whole of vitrine on one machine, with no AWS account and no Docker (``make local``).

What runs, all in this process and on loopback only:

* moto's server stands in for DynamoDB, SQS, SNS and Secrets Manager; every table, queue, topic and
  secret is created *from template.yaml* (``devtools.template``), under a fresh name prefix;
* the AVIV emulator (``devtools.aviv_emulator``) stands in for AVIV, unless ``AVIV_API_URL`` is set;
* an API Gateway stand-in (``devtools.apigw``) serves the template's ``Api`` routes with the real
  handlers (``functions/<name>/app.py``), plus ``GET /health``;
* an SQS event-source mapping feeds the sync function real batches from the sync queue, with
  ``ReportBatchItemFailures`` semantics (moto applies delays, visibility timeouts and the redrive
  policy to the dead-letter queue);
* the scheduled function (reconcile) runs every ``VITRINE_RECONCILE_SECONDS``;
* a local inbox (an SQS queue subscribed to the notifications topic) prints every notification and
  appends its message, one JSON document per line, to ``VITRINE_INBOX``;
* a static media server (``devtools.media_server``) plays the CRM's photo host: ``make demo`` points
  the sample media URLs at it, so the emulator's downloads succeed without leaving loopback.

``make local`` saves the webhook secret to ``.local/webhook-secret`` and where everything listens to
``.local/stack.json`` (both read by ``make demo``).

The handlers see exactly the environment variables template.yaml's ``Globals`` give them (see
:func:`local_function_environment`), pointing at the local resources.

Settings (environment variables, with their defaults):

``AVIV_API_URL``
    AVIV base URL. Unset (default): start the AVIV emulator on a free loopback port and use it.
``AVIV_AUTH_URL``
    Full OAuth token URL. Default: the emulator's, or ``https://auth.api.aviv-group.com/oauth/token``
    when ``AVIV_API_URL`` is set.
``AVIV_CLIENT_ID`` / ``AVIV_CLIENT_SECRET``
    OAuth client credentials, stored in the AVIV credentials secret. Default ``vitrine-local`` /
    ``vitrine-local-secret`` (what the emulator is started with).
``AVIV_INTERMEDIARY_ID``
    Agency to act for when a webhook names none. Default: empty (webhooks name their own).
``VITRINE_WEBHOOK_SECRET``
    Webhook signing secret (``whsec_<base64 key>``). Default: the one saved in
    ``.local/webhook-secret`` by an earlier run, else a new random one; either way it is saved there
    for ``make demo``.
``VITRINE_DEBOUNCE_SECONDS``
    Consolidation window: a listing is synced once its edits have been quiet this long. Default ``5``
    (the deployed default is 60; locally you want to see the sync happen).
``VITRINE_MAX_DELAY_SECONDS``
    A listing edited without pause is still synced once its oldest unsent edit is this old. Default ``60``.
``VITRINE_DEFAULT_PORTALS``
    Portals used when a webhook names none. Default ``SL``.
``VITRINE_LOCAL_PORT``
    Port of the webhook API on 127.0.0.1. Default ``3000``.
``VITRINE_MOTO_PORT``
    Port of the moto server on 127.0.0.1. Default: a free port.
``VITRINE_RECONCILE_SECONDS``
    Interval between runs of the reconcile function. Default ``30``.
``VITRINE_INBOX``
    File the notifications are appended to. Default ``.local/notifications.jsonl``.

Any other variable template.yaml gives the functions (``VITRINE_STUCK_AFTER_SECONDS``,
``POWERTOOLS_LOG_LEVEL``…) takes its value from the environment when set there, else the template
parameter's default. Tracing and metrics output are off locally (``POWERTOOLS_TRACE_DISABLED``,
``POWERTOOLS_METRICS_DISABLED``) unless set in the environment.

In-process use (end-to-end tests): ``with LocalStack(debounce_seconds=1) as stack:`` starts
everything on free ports with fresh resource names, ``stack.info`` says where things are, and
leaving the block stops it all and restores ``os.environ``. It can be started many times in a process.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import os
import secrets
import shlex
import signal
import string
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from devtools import template as cfn
from devtools.apigw import ApiGateway, Route
from devtools.lambda_runtime import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    REPO_ROOT,
    FakeLambdaContext,
    Handler,
    LambdaFunction,
    ensure_layer_on_path,
    load_handler,
    reset_layer_state,
)

log = logging.getLogger(__name__)  # not under "vitrine": that is the handlers' Powertools logger

LOCAL_DIR = REPO_ROOT / ".local"
SECRET_FILE = LOCAL_DIR / "webhook-secret"
STACK_FILE = LOCAL_DIR / "stack.json"
INBOX_FILE = LOCAL_DIR / "notifications.jsonl"
WEBHOOK_PATH = "/webhooks/listings"
DEFAULT_LOCAL_PORT = 3000
DEFAULT_RECONCILE_SECONDS = 30.0
LOCAL_CLIENT_ID = "vitrine-local"
LOCAL_CLIENT_SECRET = "vitrine-local-secret"  # noqa: S105 - a fixed credential of the local emulator
PRODUCTION_AUTH_URL = "https://auth.api.aviv-group.com/oauth/token"
INBOX_QUEUE_ID = "LocalInbox"

SYNC_QUEUE_ID = "SyncQueue"
SYNC_FUNCTION = "sync"
SCHEDULED_FUNCTION = "reconcile"

LOCAL_ONLY_ENVIRONMENT = {
    # No X-Ray daemon locally, and EMF metrics would drown the terminal.
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    # The local media host is on 127.0.0.1: let automatic media retry probe it. Deployed stacks
    # never set this (it is not a template parameter), so there private addresses stay refused.
    "VITRINE_ALLOW_PRIVATE_MEDIA_URLS": "true",
}
"""Set for the handlers unless the environment already says otherwise."""

AWS_ENVIRONMENT_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
"""Removed while a stack runs: any of them could send a client to real AWS or to a missing profile."""


class LocalStackError(RuntimeError):
    """The local stack cannot start as configured."""


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise LocalStackError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise LocalStackError(f"{name} must be a number, got {raw!r}") from exc


def generate_webhook_secret() -> str:
    """A new Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _generated_password(length: int = 48) -> str:
    """Like Secrets Manager's GenerateSecretString with ExcludePunctuation."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _saved_secret(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if text.startswith("whsec_") else None


@dataclass(frozen=True)
class LocalSettings:
    """How to run the local stack. The defaults suit in-process use (free ports, no files written);
    :meth:`from_env` gives ``make local``'s defaults (port 3000, files under ``.local/``)."""

    aviv_api_url: str | None = None
    """``None`` starts the AVIV emulator."""
    aviv_auth_url: str | None = None
    aviv_client_id: str = LOCAL_CLIENT_ID
    aviv_client_secret: str = LOCAL_CLIENT_SECRET
    aviv_intermediary_id: str = ""
    webhook_secret: str | None = None
    """``None`` generates one."""
    debounce_seconds: int = 5
    max_delay_seconds: int = 60
    default_portals: str = "SL"
    host: str = "127.0.0.1"
    local_port: int = 0
    moto_port: int = 0
    reconcile_seconds: float = DEFAULT_RECONCILE_SECONDS
    inbox_path: Path | None = None
    """Where notifications are appended (``None``: kept in memory only)."""
    secret_file: Path | None = None
    """Where the webhook secret is saved for ``make demo`` (``None``: not saved)."""
    region: str = DEFAULT_REGION
    parameters: Mapping[str, str] = field(default_factory=dict)
    """template.yaml parameter overrides, e.g. ``{"SyncMaxReceives": "2"}``."""
    queue_attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """SQS attributes set after creation, by logical id: ``{"SyncQueue": {"VisibilityTimeout": "1"}}``."""
    function_environment: Mapping[str, str] = field(default_factory=dict)
    """Values for template Globals variables that are not resolved otherwise (see module docstring)."""
    function_concurrency: int | None = 1
    """Concurrent invocations per function (1: one warm instance; ``None``: unbounded)."""
    print_notifications: bool = False
    media_server: bool = True
    """Run a loopback media server (the CRM's photo host) and report its URL."""

    @classmethod
    def from_env(cls) -> LocalSettings:
        """``make local``'s settings: the environment variables of the module docstring."""
        secret_file = SECRET_FILE
        handled = {
            "AVIV_API_URL",
            "AVIV_AUTH_URL",
            "AVIV_INTERMEDIARY_ID",
            "VITRINE_DEBOUNCE_SECONDS",
            "VITRINE_MAX_DELAY_SECONDS",
            "VITRINE_DEFAULT_PORTALS",
        }
        passthrough = {
            key: value
            for key in cfn.function_environment_keys() - handled
            if (value := os.environ.get(key)) is not None
        }
        inbox = _env("VITRINE_INBOX")
        return cls(
            aviv_api_url=_env("AVIV_API_URL"),
            aviv_auth_url=_env("AVIV_AUTH_URL"),
            aviv_client_id=_env("AVIV_CLIENT_ID") or LOCAL_CLIENT_ID,
            aviv_client_secret=_env("AVIV_CLIENT_SECRET") or LOCAL_CLIENT_SECRET,
            aviv_intermediary_id=_env("AVIV_INTERMEDIARY_ID") or "",
            webhook_secret=_env("VITRINE_WEBHOOK_SECRET") or _saved_secret(secret_file),
            debounce_seconds=_env_int("VITRINE_DEBOUNCE_SECONDS", 5),
            max_delay_seconds=_env_int("VITRINE_MAX_DELAY_SECONDS", 60),
            default_portals=_env("VITRINE_DEFAULT_PORTALS") or "SL",
            local_port=_env_int("VITRINE_LOCAL_PORT", DEFAULT_LOCAL_PORT),
            moto_port=_env_int("VITRINE_MOTO_PORT", 0),
            reconcile_seconds=_env_float("VITRINE_RECONCILE_SECONDS", DEFAULT_RECONCILE_SECONDS),
            inbox_path=Path(inbox) if inbox else INBOX_FILE,
            secret_file=secret_file,
            function_environment=passthrough,
            print_notifications=True,
        )


def local_function_environment(
    resources: cfn.LocalResources, settings: LocalSettings, template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Every variable template.yaml's ``Globals`` give the functions, with its local value.

    ``settings.aviv_api_url`` must be resolved (the emulator's URL once it runs). A template variable
    this function cannot give a value raises :class:`LocalStackError`: a handler must never start
    with a setting silently missing.
    """
    if not settings.aviv_api_url:
        raise LocalStackError("aviv_api_url must be resolved before building the function environment")
    template = template or cfn.load_template()
    variables: dict[str, Any] = template["Globals"]["Function"]["Environment"]["Variables"]
    parameters: dict[str, Any] = template.get("Parameters", {})

    def require(mapping: Mapping[str, str], logical_id: str, what: str) -> str:
        if logical_id not in mapping:
            raise LocalStackError(f"template {what} {logical_id} was not created locally")
        return mapping[logical_id]

    local: dict[str, Callable[[], str]] = {
        "VITRINE_STATE_TABLE": lambda: require(resources.tables, "StateTable", "table"),
        "VITRINE_TOKEN_TABLE": lambda: require(resources.tables, "TokenTable", "table"),
        "VITRINE_SYNC_QUEUE_URL": lambda: require(resources.queues, SYNC_QUEUE_ID, "queue"),
        "VITRINE_TOPIC_ARN": lambda: require(resources.topics, "NotificationsTopic", "topic"),
        "VITRINE_WEBHOOK_SECRET_ARN": lambda: require(resources.secrets, "WebhookSecret", "secret"),
        "VITRINE_AVIV_SECRET_ARN": lambda: require(resources.secrets, "AvivCredentialsSecret", "secret"),
        "VITRINE_PUSH_TOKEN_SECRET_ARN": lambda: require(resources.secrets, "AvivPushTokenSecret", "secret"),
        "AVIV_API_URL": lambda: str(settings.aviv_api_url).rstrip("/"),
        "AVIV_AUTH_URL": lambda: settings.aviv_auth_url or PRODUCTION_AUTH_URL,
        "AVIV_INTERMEDIARY_ID": lambda: settings.aviv_intermediary_id,
        "VITRINE_DEFAULT_PORTALS": lambda: settings.default_portals,
        "VITRINE_DEBOUNCE_SECONDS": lambda: str(settings.debounce_seconds),
        "VITRINE_MAX_DELAY_SECONDS": lambda: str(settings.max_delay_seconds),
    }

    environment: dict[str, str] = {}
    for key, expression in variables.items():
        if key in local:
            environment[key] = local[key]()
        elif key in settings.function_environment:
            environment[key] = str(settings.function_environment[key])
        elif isinstance(expression, str | int | float | bool):
            environment[key] = str(expression).lower() if isinstance(expression, bool) else str(expression)
        elif isinstance(expression, dict) and set(expression) == {"Ref"} and expression["Ref"] in parameters:
            name = expression["Ref"]
            environment[key] = str(settings.parameters.get(name, parameters[name].get("Default", "")))
        else:
            raise LocalStackError(
                f"template.yaml gives the functions {key} = {expression!r}, which the local stack cannot "
                "resolve: add it to devtools.local_stack.local_function_environment"
            )
    return environment


# --------------------------------------------------------------------------------------------
# Functions declared in template.yaml


@dataclass(frozen=True)
class TemplateFunction:
    """An ``AWS::Serverless::Function`` of the template, as far as local hosting needs it."""

    logical_id: str
    name: str
    """Its code directory's name (``functions/<name>/``): ``ingest``, ``sync``, ``reconcile``."""
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    events: Mapping[str, Mapping[str, Any]]


def _number(value: Any, fallback: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else fallback


def template_functions(template: dict[str, Any] | None = None) -> dict[str, TemplateFunction]:
    """Functions of the template by logical id (their Globals applied)."""
    template = template or cfn.load_template()
    globals_ = template.get("Globals", {}).get("Function", {})
    functions: dict[str, TemplateFunction] = {}
    for logical_id, resource in cfn.resources_of_type("AWS::Serverless::Function", template).items():
        props = resource.get("Properties", {})
        code_uri = str(props.get("CodeUri") or globals_.get("CodeUri") or f"functions/{logical_id}")
        code_dir = (REPO_ROOT / code_uri).resolve()
        functions[logical_id] = TemplateFunction(
            logical_id=logical_id,
            name=code_dir.name,
            code_dir=code_dir,
            handler=str(props.get("Handler") or globals_.get("Handler") or "app.lambda_handler"),
            timeout_seconds=_number(props.get("Timeout"), _number(globals_.get("Timeout"), 3.0)),
            memory_mb=int(_number(props.get("MemorySize"), _number(globals_.get("MemorySize"), 128))),
            events=props.get("Events") or {},
        )
    return functions


@dataclass(frozen=True)
class SqsTrigger:
    function: str
    """Function logical id (or name, for a handler override with no template function)."""
    queue_id: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class ScheduleTrigger:
    function: str
    name: str
    input: str | None
    """The schedule's ``Input`` JSON text, or ``None`` for EventBridge Scheduler's default notification."""


def sqs_triggers(functions: Mapping[str, TemplateFunction]) -> list[SqsTrigger]:
    triggers = []
    for fn in functions.values():
        for event in fn.events.values():
            if event.get("Type") != "SQS":
                continue
            props = event.get("Properties", {})
            queue = props.get("Queue")
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
                raise LocalStackError(
                    f"{fn.logical_id}: SQS event Queue must be !GetAtt <Queue>.Arn, got {queue!r}"
                )
            triggers.append(
                SqsTrigger(
                    function=fn.logical_id,
                    queue_id=queue["Fn::GetAtt"][0],
                    batch_size=int(_number(props.get("BatchSize"), 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                )
            )
    return triggers


def schedule_triggers(functions: Mapping[str, TemplateFunction]) -> list[ScheduleTrigger]:
    triggers = []
    for fn in functions.values():
        for event_name, event in fn.events.items():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                raw_input = event.get("Properties", {}).get("Input")
                triggers.append(
                    ScheduleTrigger(
                        fn.logical_id, event_name, raw_input if isinstance(raw_input, str) else None
                    )
                )
    return triggers


# --------------------------------------------------------------------------------------------
# SQS → Lambda


@dataclass
class BatchResult:
    """What one poll did: message ids received, deleted (processed) and left for a retry."""

    received: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str | None = None


def _lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        converted[name] = item
    return converted


def sqs_event(
    messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The event Lambda's SQS event source gives a function for ``receive_message``'s messages."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {k: str(v) for k, v in (message.get("Attributes") or {}).items()},
            "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes") or {}),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def _failed_item_ids(response: Any, batch_ids: Sequence[str]) -> list[str]:
    """``batchItemFailures`` → ids to keep; a malformed answer fails the whole batch, as on Lambda."""
    if response is None or response == "" or (isinstance(response, Mapping) and not response):
        return []
    if not isinstance(response, Mapping):
        log.error("SQS handler returned %r; treating the whole batch as failed", response)
        return list(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        log.error("batchItemFailures is not a list (%r); treating the whole batch as failed", failures)
        return list(batch_ids)
    failed: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in batch_ids:
            log.error(
                "batchItemFailures names %r, not a message of the batch: whole batch failed", identifier
            )
            return list(batch_ids)
        failed.append(identifier)
    return failed


def _invoke(handler: Handler | LambdaFunction, event: Any, name: str) -> Any:
    if isinstance(handler, LambdaFunction):
        return handler.invoke(event)
    return handler(event, FakeLambdaContext(function_name=name))


class _BackgroundThread:
    """A daemon thread running :meth:`_run` until asked to stop.

    The SQS mapping, the schedule and the inbox share this lifecycle, so the stack starts and stops
    them all the same way: :meth:`request_stop` everywhere first, then :meth:`stop` (which waits).
    """

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to finish (its current poll completes); :meth:`stop` also waits for it."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError

    def _poll_until_stopped(self, poll: Callable[[], object], failure: str) -> None:
        """Call ``poll`` again and again; a failure is logged and retried half a second later, unless
        it came because the stack is stopping."""
        while not self._stop.is_set():
            try:
                poll()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception(failure)
                self._stop.wait(0.5)


class SqsEventSourceMapping(_BackgroundThread):
    """Lambda's SQS event source: poll a queue, invoke the handler per batch, delete what succeeded.

    With ``report_batch_item_failures`` (the template's ``FunctionResponseTypes``), the ids in the
    answer's ``batchItemFailures`` stay in the queue; a handler error keeps the whole batch. Kept
    messages come back once their visibility timeout ends, and moto moves them to the dead-letter
    queue after the redrive policy's ``maxReceiveCount``. At most 10 messages per batch (one receive).
    """

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler | LambdaFunction,
        batch_size: int = 10,
        *,
        report_batch_item_failures: bool = True,
        wait_time_seconds: int = 1,
        region: str = DEFAULT_REGION,
        name: str | None = None,
    ) -> None:
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.batch_size = max(1, min(batch_size, 10))
        self.report_batch_item_failures = report_batch_item_failures
        self.wait_time_seconds = wait_time_seconds
        self.region = region
        self.name = name or queue_arn.rsplit(":", 1)[-1]
        super().__init__(thread_name=f"sqs-{self.name}")

    def poll_once(self, wait_time_seconds: int | None = None) -> BatchResult:
        """One receive, one invocation (if anything came), one delete of what succeeded."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_time_seconds if wait_time_seconds is None else wait_time_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        result = BatchResult(received=[m["MessageId"] for m in messages])
        if not messages:
            return result
        try:
            response = _invoke(self.handler, sqs_event(messages, self.queue_arn, self.region), self.name)
        except Exception:
            result.error = traceback.format_exc()
            log.error(
                "%s: function error, the batch of %d stays queued\n%s", self.name, len(messages), result.error
            )
            result.failed = list(result.received)
            return result
        result.failed = _failed_item_ids(response, result.received) if self.report_batch_item_failures else []
        done = [m for m in messages if m["MessageId"] not in result.failed]
        if done:
            deleted = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
            for failure in deleted.get("Failed") or []:
                log.error("%s: could not delete a processed message: %s", self.name, failure)
            failed_indexes = {int(f["Id"]) for f in deleted.get("Failed") or []}
            result.deleted = [m["MessageId"] for i, m in enumerate(done) if i not in failed_indexes]
        return result

    def _run(self) -> None:
        self._poll_until_stopped(self.poll_once, f"{self.name}: polling failed; retrying")


# --------------------------------------------------------------------------------------------
# Schedules


def scheduler_event(
    schedule_arn: str, raw_input: str | None = None, region: str = DEFAULT_REGION, attempt: int = 1
) -> Any:
    """What EventBridge Scheduler delivers to a Lambda target.

    With an ``Input``, that JSON with its context attributes (``<aws.scheduler.scheduled-time>``…)
    filled in; without, Scheduler's default notification.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    execution_id = uuid.uuid4().hex[:16]
    if raw_input is not None:
        filled = (
            raw_input.replace("<aws.scheduler.schedule-arn>", schedule_arn)
            .replace("<aws.scheduler.scheduled-time>", now)
            .replace("<aws.scheduler.execution-id>", execution_id)
            .replace("<aws.scheduler.attempt-number>", str(attempt))
        )
        return json.loads(filled)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": DEFAULT_ACCOUNT_ID,
        "time": now,
        "region": region,
        "resources": [schedule_arn],
        "detail": "{}",
    }


class ScheduledInvoker(_BackgroundThread):
    """Invoke a function every ``interval_seconds`` (first run one interval after start)."""

    def __init__(
        self,
        function: Handler | LambdaFunction,
        interval_seconds: float,
        event_factory: Callable[[], Any],
        name: str = "schedule",
    ) -> None:
        self.function = function
        self.interval_seconds = interval_seconds
        self.event_factory = event_factory
        self.name = name
        super().__init__(thread_name=f"schedule-{self.name}")

    def fire_once(self) -> Any:
        """Run the function now (tests, or to skip the wait)."""
        return _invoke(self.function, self.event_factory(), self.name)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.fire_once()
            except Exception:
                log.exception("%s: scheduled run failed", self.name)


# --------------------------------------------------------------------------------------------
# Notifications inbox


@dataclass(frozen=True)
class InboxNotification:
    """One SNS notification as the owner would receive it."""

    message: Any
    """The SNS ``Message``, parsed when it is JSON."""
    attributes: dict[str, str]
    subject: str | None
    envelope: dict[str, Any]


def describe_notification(notification: InboxNotification) -> str:
    """A readable multi-line rendering for the terminal."""
    header = " ".join(f"{k}={v}" for k, v in sorted(notification.attributes.items()))
    title = f"[notification] {notification.subject or ''} {header}".rstrip()
    body = (
        json.dumps(notification.message, indent=2, ensure_ascii=False)
        if not isinstance(notification.message, str)
        else notification.message
    )
    return title + "\n" + "\n".join("    " + line for line in body.splitlines())


class SnsInbox(_BackgroundThread):
    """An SQS queue subscribed to a topic (non-raw delivery), drained by a thread.

    Every notification is kept in :attr:`notifications`, optionally printed, and its message is
    appended as one JSON line to ``path``.
    """

    def __init__(
        self,
        sqs_client: Any,
        sns_client: Any,
        topic_arn: str,
        queue_name: str,
        path: Path | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.sqs = sqs_client
        self.path = path
        self.echo = echo
        self.notifications: list[InboxNotification] = []
        self._lock = threading.Condition()
        super().__init__(thread_name="sns-inbox")
        self.queue_url: str = sqs_client.create_queue(QueueName=queue_name)["QueueUrl"]
        self.queue_arn: str = sqs_client.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.subscription_arn: str = sns_client.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def poll_once(self, wait_time_seconds: int = 1) -> list[InboxNotification]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_time_seconds
        )
        received = []
        for message in answer.get("Messages") or []:
            notification = self._parse(message["Body"])
            self._record(notification)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            received.append(notification)
        return received

    def wait_for(
        self, predicate: Callable[[InboxNotification], bool] = lambda _: True, timeout: float = 10.0
    ) -> InboxNotification:
        """The first notification (already received or still to come) matching ``predicate``.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for notification in self.notifications:
                    if predicate(notification):
                        return notification
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching notification within {timeout} s")
                self._lock.wait(remaining)

    @staticmethod
    def _parse(body: str) -> InboxNotification:
        envelope: dict[str, Any] = json.loads(body)
        raw_message = envelope.get("Message", "")
        try:
            message: Any = json.loads(raw_message)
        except (TypeError, ValueError):
            message = raw_message
        attributes = {
            name: str(value.get("Value")) for name, value in (envelope.get("MessageAttributes") or {}).items()
        }
        return InboxNotification(message, attributes, envelope.get("Subject"), envelope)

    def _record(self, notification: InboxNotification) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(notification.message, ensure_ascii=False, separators=(",", ":")) + "\n")
        if self.echo is not None:
            self.echo(describe_notification(notification))
        with self._lock:
            self.notifications.append(notification)
            self._lock.notify_all()

    def _run(self) -> None:
        self._poll_until_stopped(self.poll_once, "inbox polling failed; retrying")


# --------------------------------------------------------------------------------------------
# The stack


@dataclass(frozen=True)
class LocalStackInfo:
    """Where everything of a started :class:`LocalStack` is."""

    api_url: str
    webhook_url: str
    health_url: str
    webhook_secret: str
    aviv_api_url: str
    aviv_auth_url: str
    emulator: Any | None
    """The running ``AvivEmulator``, or ``None`` when ``AVIV_API_URL`` points elsewhere."""
    moto_endpoint: str
    region: str
    prefix: str
    resources: cfn.LocalResources
    queue_urls: dict[str, str]
    """By logical id (``SyncQueue``, ``SyncDeadLetterQueue``) plus ``LocalInbox``."""
    function_environment: dict[str, str]
    inbox_path: Path | None
    media_url: str | None
    """Base URL of the local media server (``None`` if disabled)."""
    wiring: list[str]
    """What runs what, one line each (``POST /webhooks/listings -> vitrine-…-IngestFunction``)."""
    skipped: list[str]
    """What could not be wired (e.g. a function whose code is not written yet), one line each."""

    @property
    def secret(self) -> str:
        return self.webhook_secret


class LocalStack:
    """vitrine on loopback. ``start()`` returns :class:`LocalStackInfo`; ``stop()`` undoes everything.

    ``handlers`` replaces functions by name (``ingest``, ``sync``, ``reconcile``) or logical id; a
    ``sync``/``reconcile`` override is wired to the sync queue / the schedule even before template.yaml
    declares the function. ``routes`` replaces the template's Api routes entirely. Keyword
    ``overrides`` replace fields of ``settings`` (default :class:`LocalSettings()`: free ports, no files).
    """

    def __init__(
        self,
        settings: LocalSettings | None = None,
        *,
        handlers: Mapping[str, Handler] | None = None,
        routes: Sequence[Route] | None = None,
        **overrides: Any,
    ) -> None:
        base = settings or LocalSettings()
        self.settings = dataclasses.replace(base, **overrides) if overrides else base
        self.handler_overrides = dict(handlers or {})
        self.explicit_routes = list(routes) if routes is not None else None
        self.info: LocalStackInfo | None = None
        self.functions: dict[str, LambdaFunction] = {}
        self.sync_mappings: list[SqsEventSourceMapping] = []
        self.schedules: list[ScheduledInvoker] = []
        self.inbox: SnsInbox | None = None
        self.api: ApiGateway | None = None
        self.emulator: Any | None = None
        self.media: Any | None = None
        self.sqs: Any = None
        self.sns: Any = None
        self.dynamodb: Any = None
        self.secretsmanager: Any = None
        self._moto: Any = None
        self._saved_environment: dict[str, str | None] = {}
        self._skipped: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStackInfo:
        if self.info is not None:
            raise LocalStackError("this LocalStack is already started")
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalStackInfo:
        settings = self.settings
        prefix = f"vitrine-{secrets.token_hex(3)}-"
        # Bind the webhook port first: a port in use fails before anything else starts.
        self.api = ApiGateway([], host=settings.host, port=settings.local_port)
        self.api.start()

        moto_endpoint = self._start_moto()
        self._set_environment(
            {
                "AWS_ENDPOINT_URL": moto_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": settings.region,
                "AWS_REGION": settings.region,
            },
            clear=AWS_ENVIRONMENT_CLEARED + tuple(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")),
        )
        self._make_clients(moto_endpoint)

        resources = self._create_resources(prefix)
        webhook_secret = settings.webhook_secret or generate_webhook_secret()
        _check_webhook_secret(webhook_secret)
        aviv_api_url, aviv_auth_url = self._start_aviv()
        if settings.media_server:
            from devtools.media_server import MediaServer

            self.media = MediaServer(host=settings.host, port=0).start()
        resources.secrets = cfn.create_secrets(
            self.secretsmanager,
            {
                "WebhookSecret": json.dumps({"secrets": [webhook_secret]}),
                "AvivCredentialsSecret": json.dumps(
                    {"client_id": settings.aviv_client_id, "client_secret": settings.aviv_client_secret}
                ),
                "AvivPushTokenSecret": _generated_password(),
            },
            prefix=prefix,
        )

        resolved = dataclasses.replace(settings, aviv_api_url=aviv_api_url, aviv_auth_url=aviv_auth_url)
        function_environment = local_function_environment(resources, resolved)
        extras = {k: v for k, v in LOCAL_ONLY_ENVIRONMENT.items() if k not in os.environ}
        self._set_environment({**function_environment, **extras})
        reset_layer_state()  # a new stack is a cold start: nothing cached from an earlier one

        self.inbox = SnsInbox(
            self.sqs,
            self.sns,
            resources.topics["NotificationsTopic"],
            queue_name=f"{prefix}{INBOX_QUEUE_ID}",
            path=settings.inbox_path,
            echo=print if settings.print_notifications else None,
        )
        self._wire_functions(prefix, resources)
        self.api.set_routes(self._routes(prefix))

        if settings.secret_file is not None:
            _write_private(settings.secret_file, webhook_secret + "\n")

        self.inbox.start()
        for mapping in self.sync_mappings:
            mapping.start()
        for schedule in self.schedules:
            schedule.start()

        self.info = LocalStackInfo(
            api_url=self.api.base_url,
            webhook_url=self.api.base_url + WEBHOOK_PATH,
            health_url=self.api.health_url,
            webhook_secret=webhook_secret,
            aviv_api_url=aviv_api_url,
            aviv_auth_url=aviv_auth_url,
            emulator=self.emulator,
            moto_endpoint=moto_endpoint,
            region=settings.region,
            prefix=prefix,
            resources=resources,
            queue_urls={**resources.queues, INBOX_QUEUE_ID: self.inbox.queue_url},
            function_environment=function_environment,
            inbox_path=settings.inbox_path,
            media_url=self.media.base_url if self.media is not None else None,
            wiring=self._describe_wiring(),
            skipped=list(self._skipped),
        )
        for line in self._skipped:
            log.warning("%s", line)
        self.api.ready.set()
        return self.info

    def stop(self) -> None:
        """Stop threads and servers (each step independent of the others' success), restore os.environ."""
        # Every poller is told first, so their last long polls end together rather than one by one.
        for mapping in self.sync_mappings:
            mapping.request_stop()
        for schedule in self.schedules:
            schedule.request_stop()
        if self.inbox is not None:
            self.inbox.request_stop()
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.api is not None:
            steps.append(("webhook API", self.api.stop))
        steps += [(f"sqs {m.name}", m.stop) for m in self.sync_mappings]
        steps += [(f"schedule {s.name}", s.stop) for s in self.schedules]
        if self.inbox is not None:
            steps.append(("inbox", self.inbox.stop))
        if self.emulator is not None:
            steps.append(("AVIV emulator", self.emulator.stop))
        if self.media is not None:
            steps.append(("media server", self.media.stop))
        if self._moto is not None:
            steps.append(("moto", self._stop_moto))
        for label, step in steps:
            try:
                step()
            except Exception:
                log.exception("stopping %s failed", label)
        self.api = None
        self.sync_mappings = []
        self.schedules = []
        self.inbox = None
        self.emulator = None
        self.media = None
        self.functions = {}
        self.info = None
        self._skipped = []
        self._restore_environment()
        reset_layer_state()

    # -- pieces ----------------------------------------------------------------------------

    def _start_moto(self) -> str:
        from moto.server import ThreadedMotoServer

        from devtools.moto_atomic import make_moto_dynamodb_writes_atomic

        make_moto_dynamodb_writes_atomic()  # DynamoDB's per-item atomicity, which moto lacks

        # moto's request handler logs every call at INFO through werkzeug: keep the terminal readable.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(
            ip_address=self.settings.host, port=self.settings.moto_port, verbose=False
        )
        server.start()
        self._moto = server
        host, port = server.get_host_and_port()
        return f"http://{host}:{port}"

    def _stop_moto(self) -> None:
        server, self._moto = self._moto, None
        server.stop()
        inner = getattr(server, "_server", None)
        if inner is not None:
            inner.server_close()  # ThreadedMotoServer.stop() leaves the socket open

    def _make_clients(self, endpoint: str) -> None:
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's conventional fake credentials
            region_name=self.settings.region,
        )
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.sns = session.client("sns", endpoint_url=endpoint)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.secretsmanager = session.client("secretsmanager", endpoint_url=endpoint)

    def _create_resources(self, prefix: str) -> cfn.LocalResources:
        resources = cfn.LocalResources()
        resources.tables = cfn.create_tables(self.dynamodb, prefix=prefix)
        resources.queues, resources.queue_arns = cfn.create_queues(
            self.sqs, prefix=prefix, parameters=dict(self.settings.parameters)
        )
        for logical_id, attributes in self.settings.queue_attributes.items():
            if logical_id not in resources.queues:
                raise LocalStackError(f"queue_attributes names {logical_id}, not a queue of template.yaml")
            self.sqs.set_queue_attributes(QueueUrl=resources.queues[logical_id], Attributes=dict(attributes))
        resources.topics = cfn.create_topics(self.sns, prefix=prefix)
        return resources

    def _start_aviv(self) -> tuple[str, str]:
        settings = self.settings
        if settings.aviv_api_url:
            return settings.aviv_api_url.rstrip("/"), settings.aviv_auth_url or PRODUCTION_AUTH_URL
        from devtools.aviv_emulator.emulator import AvivEmulator

        emulator = AvivEmulator(
            host=settings.host,
            port=0,
            client_id=settings.aviv_client_id,
            client_secret=settings.aviv_client_secret,
        )
        emulator.start()
        self.emulator = emulator
        return str(emulator.base_url).rstrip("/"), str(emulator.auth_url)

    def _function(self, key: str, fn: TemplateFunction | None, prefix: str) -> LambdaFunction | None:
        """The hosted function for a template function or a bare override; ``None`` if its code is missing."""
        cache_key = fn.logical_id if fn is not None else key
        if cache_key in self.functions:
            return self.functions[cache_key]
        override = self.handler_overrides.get(fn.name if fn else key) or (
            self.handler_overrides.get(fn.logical_id) if fn else None
        )
        if override is not None:
            handler: Handler = override
        elif fn is None:
            return None
        else:
            module_file = fn.code_dir / (fn.handler.rpartition(".")[0].replace(".", "/") + ".py")
            if not module_file.is_file():
                self._skipped.append(
                    f"{fn.logical_id}: {module_file.relative_to(REPO_ROOT)} does not exist yet: not run"
                )
                return None
            handler = load_handler(fn.code_dir, fn.handler)
        function = LambdaFunction(
            name=f"{prefix}{fn.logical_id if fn else key}",
            handler=handler,
            timeout_seconds=fn.timeout_seconds if fn else 30.0,
            memory_mb=fn.memory_mb if fn else 512,
            max_concurrency=self.settings.function_concurrency,
            region=self.settings.region,
        )
        self.functions[cache_key] = function
        return function

    def _wire_functions(self, prefix: str, resources: cfn.LocalResources) -> None:
        functions = template_functions()
        by_name = {fn.name: fn for fn in functions.values()}

        triggers = sqs_triggers(functions)
        if not triggers and SYNC_FUNCTION in self.handler_overrides:
            triggers = [SqsTrigger(SYNC_FUNCTION, SYNC_QUEUE_ID, 10, True)]
        if not triggers:
            self._skipped.append(
                f"no function of template.yaml reads {SYNC_QUEUE_ID} yet: its messages stay queued"
            )
        for trigger in triggers:
            fn = functions.get(trigger.function) or by_name.get(trigger.function)
            function = self._function(trigger.function, fn, prefix)
            if function is None:
                continue
            if trigger.queue_id not in resources.queues:
                raise LocalStackError(
                    f"{trigger.function} reads {trigger.queue_id}, not a queue of template.yaml"
                )
            self.sync_mappings.append(
                SqsEventSourceMapping(
                    self.sqs,
                    resources.queues[trigger.queue_id],
                    resources.queue_arns[trigger.queue_id],
                    function,
                    trigger.batch_size,
                    report_batch_item_failures=trigger.report_batch_item_failures,
                    region=self.settings.region,
                    name=function.name,
                )
            )

        schedules = schedule_triggers(functions)
        if not schedules and SCHEDULED_FUNCTION in self.handler_overrides:
            schedules = [ScheduleTrigger(SCHEDULED_FUNCTION, "Schedule", None)]
        if not schedules:
            self._skipped.append(
                f"no scheduled function ({SCHEDULED_FUNCTION}) in template.yaml yet: no periodic run"
            )
        for schedule in schedules:
            fn = functions.get(schedule.function) or by_name.get(schedule.function)
            function = self._function(schedule.function, fn, prefix)
            if function is None:
                continue
            region = self.settings.region
            arn = f"arn:aws:scheduler:{region}:{DEFAULT_ACCOUNT_ID}:schedule/default/{function.name}"
            self.schedules.append(
                ScheduledInvoker(
                    function,
                    self.settings.reconcile_seconds,
                    _event_factory(arn, schedule.input, self.settings.region),
                    name=function.name,
                )
            )

    def _routes(self, prefix: str) -> list[Route]:
        if self.explicit_routes is not None:
            return [
                (
                    method,
                    path,
                    handler if isinstance(handler, LambdaFunction) else self._named(handler, prefix, path),
                )
                for method, path, handler in self.explicit_routes
            ]
        functions = template_functions()
        routes: list[Route] = []
        for method, path, logical_id in cfn.api_routes():
            function = self._function(logical_id, functions.get(logical_id), prefix)
            if function is not None:
                routes.append((method, path, function))
        if not routes:
            self._skipped.append("no Api route in template.yaml yet: the webhook API only answers /health")
        return routes

    def _named(self, handler: Handler, prefix: str, path: str) -> LambdaFunction:
        key = f"route:{path}:{id(handler)}"
        if key not in self.functions:
            self.functions[key] = LambdaFunction(
                name=f"{prefix}{getattr(handler, '__name__', 'handler')}",
                handler=handler,
                max_concurrency=self.settings.function_concurrency,
                region=self.settings.region,
            )
        return self.functions[key]

    def _describe_wiring(self) -> list[str]:
        lines = []
        if self.api is not None:
            lines += [f"{r.method} {r.resource} -> {r.function.name}" for r in self.api.routes]
        lines += [
            f"{m.queue_arn.rsplit(':', 1)[-1]} -> {m.name} (batches of up to {m.batch_size})"
            for m in self.sync_mappings
        ]
        lines += [f"every {s.interval_seconds:g} s -> {s.name}" for s in self.schedules]
        return lines

    def fire_schedules(self) -> list[Any]:
        """Run every scheduled function now (instead of waiting for the interval); their results."""
        return [schedule.fire_once() for schedule in self.schedules]

    # -- environment -----------------------------------------------------------------------

    def _set_environment(self, values: Mapping[str, str], clear: Sequence[str] = ()) -> None:
        for key in [*values, *clear]:
            if key not in self._saved_environment:
                self._saved_environment[key] = os.environ.get(key)
        for key in clear:
            os.environ.pop(key, None)
        os.environ.update(values)

    def _restore_environment(self) -> None:
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment = {}


def _event_factory(arn: str, raw_input: str | None, region: str) -> Callable[[], Any]:
    return lambda: scheduler_event(arn, raw_input, region)


def _check_webhook_secret(secret: str) -> None:
    """A malformed secret would only surface as a 500 on the first webhook: refuse to start instead."""
    ensure_layer_on_path()
    from vitrine.core.webhook_signing import parse_secret

    try:
        parse_secret(secret)
    except ValueError as exc:
        raise LocalStackError(f"VITRINE_WEBHOOK_SECRET is not a whsec_<base64 key> secret: {exc}") from exc


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
        fh.write(text)


# --------------------------------------------------------------------------------------------
# make local


def curl_example(webhook_url: str, secret: str, now: datetime | None = None) -> str:
    """A signed ``listing.upserted`` as a ready-to-paste curl command (valid for 5 minutes)."""
    ensure_layer_on_path()
    from vitrine.core.webhook_signing import signed_headers

    now = now or datetime.now(UTC)
    listing_id = "LOCAL-CURL-0001"
    event = {
        "type": "listing.upserted",
        "listingId": listing_id,
        "ownerId": "local-owner",
        "occurredAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sequence": 1,
        "listing": {
            "portals": ["SL"],
            "data": {
                "estateType": "APARTMENT",
                "distributionType": "BUY",
                "prices": {"currency": "EUR", "buy": {"price": {"amount": 250000, "isVatIncluded": True}}},
                "location": {
                    "postalcode": "69002",
                    "city": "Lyon",
                    "street": "Rue Merciere",
                    "houseNumber": "12",
                    "country": "FR",
                },
                "metaData": {
                    "source": {
                        "sourceSystem": "curl",
                        "sourceSystemVersion": "1.0.0",
                        "offererMarketingKey": listing_id,
                        "offererEstateId": listing_id,
                    }
                },
            },
            "media": [
                {
                    "id": "photo-1",
                    "url": "https://example.com/photos/facade.jpg",
                    "mediaType": "PICTURE",
                    "version": "1",
                }
            ],
        },
    }
    body = json.dumps(event, separators=(",", ":"))
    headers = signed_headers(secret, body.encode("utf-8"), timestamp=int(now.timestamp()))
    lines = [f"curl -sS -i -X POST {shlex.quote(webhook_url)}", "-H 'content-type: application/json'"]
    lines += [shlex.quote(f"{name}: {value}").join(("-H ", "")) for name, value in headers.items()]
    lines.append(f"--data-raw {shlex.quote(body)}")
    return " \\\n    ".join(lines)


def banner(info: LocalStackInfo, settings: LocalSettings) -> str:
    aviv = f"{info.aviv_api_url} ({'emulator' if info.emulator is not None else 'AVIV_API_URL'})"
    saved = f" (saved in {settings.secret_file})" if settings.secret_file else ""
    inbox = str(info.inbox_path) if info.inbox_path else "(memory only)"
    lines = [
        "",
        "vitrine is running locally: no AWS account, everything on 127.0.0.1.",
        "",
        f"  webhook URL      {info.webhook_url}",
        f"  health           {info.health_url}",
        f"  signing secret   {info.webhook_secret}{saved}",
        f"  AVIV             {aviv}",
        f"  AWS (moto)       {info.moto_endpoint}  region {info.region}, resources {info.prefix}*",
        f"  notifications    {inbox}",
        f"  media host       {info.media_url or '(off)'}",
        f"  consolidation    quiet {settings.debounce_seconds} s, at most {settings.max_delay_seconds} s",
    ]
    lines += [f"  runs             {line}" for line in info.wiring]
    lines += [f"  not running      {line}" for line in info.skipped]
    lines += [
        "",
        "In another terminal, `make demo` posts the sample webhooks (events/webhooks/) and shows what",
        "reached AVIV. Or send one yourself (the signature is valid for 5 minutes):",
        "",
        "  " + curl_example(info.webhook_url, info.webhook_secret),
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``make local``: start, print the banner, run until SIGINT/SIGTERM, stop cleanly."""
    logging.basicConfig(
        level=os.environ.get("VITRINE_LOCAL_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("botocore", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for a clean shutdown
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    argparse.ArgumentParser(
        prog="python -m devtools.local_stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    try:
        settings = LocalSettings.from_env()
        stack = LocalStack(settings)
        info = stack.start()
    except (LocalStackError, OSError) as exc:
        print(f"make local: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        _write_private(STACK_FILE, json.dumps(stack_description(info, settings), indent=2) + "\n")
        print(banner(info, settings), flush=True)
        while not stopping.wait(0.5):
            pass
        print("stopping…", flush=True)
    finally:
        stack.stop()
        STACK_FILE.unlink(missing_ok=True)
    print("stopped.", flush=True)
    return 0


def stack_description(info: LocalStackInfo, settings: LocalSettings) -> dict[str, Any]:
    """What ``.local/stack.json`` holds for ``make demo`` (and anyone scripting against ``make local``)."""
    emulator = info.emulator
    return {
        "pid": os.getpid(),
        "webhook_url": info.webhook_url,
        "health_url": info.health_url,
        "aviv_api_url": info.aviv_api_url,
        "aviv_inspect_url": f"{emulator.root_url}/_emulator" if emulator is not None else None,
        "media_url": info.media_url,
        "moto_endpoint": info.moto_endpoint,
        "inbox": str(info.inbox_path) if info.inbox_path else None,
        "secret_file": str(settings.secret_file) if settings.secret_file else None,
        "debounce_seconds": settings.debounce_seconds,
        "max_delay_seconds": settings.max_delay_seconds,
    }


if __name__ == "__main__":
    raise SystemExit(main())
