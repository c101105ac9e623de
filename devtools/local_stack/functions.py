"""The functions template.yaml declares, and what triggers them, as far as local hosting needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools import template as cfn
from devtools.lambda_runtime import REPO_ROOT
from devtools.local_stack.settings import LocalStackError

SYNC_QUEUE_ID = "SyncQueue"
SYNC_FUNCTION = "sync"
SCHEDULED_FUNCTION = "reconcile"


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
