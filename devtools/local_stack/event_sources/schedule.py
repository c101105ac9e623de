"""EventBridge Scheduler, locally: what runs the scheduled function (reconcile) every interval."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devtools.lambda_runtime import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Handler, LambdaFunction
from devtools.local_stack.event_sources.background import BackgroundThread, invoke

log = logging.getLogger(__name__)


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


def scheduler_event_factory(arn: str, raw_input: str | None, region: str) -> Callable[[], Any]:
    """A fresh :func:`scheduler_event` per run (its time and execution id change every time)."""
    return lambda: scheduler_event(arn, raw_input, region)


class ScheduledInvoker(BackgroundThread):
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
        return invoke(self.function, self.event_factory(), self.name)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.fire_once()
            except Exception:
                log.exception("%s: scheduled run failed", self.name)
