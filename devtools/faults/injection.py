"""Killing an invocation between two durable steps, and AWS calls failing as botocore makes them fail.

A crash is a :class:`SimulatedCrash`, a ``BaseException``: no ``except Exception`` of vitrine sees
it, as none sees a Lambda killed by a timeout or an out-of-memory. Once an :class:`Invocation` has
crashed, every port it wraps raises again, so the ``finally`` blocks of the dead invocation (a lease
released "quietly", a visibility change) cannot make a durable effect a real crash would not make.

:class:`FaultyClient` wraps a real (moto) boto3 client: an armed failure raises the exception class
the client itself models for that error code (``client.exceptions.from_code``), with botocore's
error response shape, so the adapters' error handling runs exactly as against AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# The durable steps of each port, by method: what "crash after <step>" names.
STORE_STEPS = {
    "acquire_lease": "lease",
    "record_pending": "write-ahead",
    "record_sent": "record sent",
    "record_skipped": "record skipped",
    "release_lease": "lease release",
    "release_sync_schedule": "claim release",
    "claim_sync_schedule": "schedule claim",
}
AVIV_STEPS = {
    "create": "AVIV write",
    "update": "AVIV write",
    "delete": "AVIV write",
    "latest_status": "AVIV status read",
}
SCHEDULER_STEPS = {"schedule": "sync message sent"}
STATUS_STEPS = {
    "remember_classified": "alias saved",
    "save": "status save",
    "without_outbox": "outbox emptied",
    "reschedule_sent_watch": "watch update",
    "stop_sent_watch": "watch update",
}
NOTIFIER_STEPS = {"publish": "notification publish"}
SQS_DELETE_STEP = "SQS delete"


class SimulatedCrash(BaseException):
    """The invocation's process died here (Lambda timeout, out of memory, a killed host)."""


@dataclass
class CrashPlan:
    """Kill the first invocation that reaches ``step`` (in the operation under test or its recovery:
    a failure may stop the first invocation before the step), once."""

    step: str
    fired: bool = False


class Invocation:
    """One function invocation; it dies right after its plan's step, if it is the first to reach it."""

    def __init__(self, plan: CrashPlan | None = None) -> None:
        self.plan = plan
        self.steps: list[str] = []
        self.crashed = False

    def check_alive(self) -> None:
        if self.crashed:
            raise SimulatedCrash("the invocation is dead")

    def done(self, step: str) -> None:
        """Record a durable step; die here when it is the planned one and no invocation died yet."""
        self.steps.append(step)
        plan = self.plan
        if plan is not None and step == plan.step and not plan.fired:
            plan.fired = True
            self.crashed = True
            raise SimulatedCrash(f"killed after {step}")


class CrashingPort:
    """A port (store, AVIV client, scheduler, notifier) whose calls belong to one invocation."""

    def __init__(
        self,
        target: Any,
        invocation: Invocation,
        steps: Mapping[str, str],
        answers: tuple[type[Exception], ...] = (),
    ) -> None:
        """``answers``: errors that are still an answer (AVIV's 404 to a DELETE it already did), so
        the step happened and the invocation may die right after it."""
        self._target = target
        self._invocation = invocation
        self._steps = steps
        self._answers = answers

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        step = self._steps.get(name)
        invocation = self._invocation

        answers = self._answers

        def call(*args: Any, **kwargs: Any) -> Any:
            invocation.check_alive()
            try:
                result = value(*args, **kwargs)
            except answers:
                if step is not None:
                    invocation.done(step)
                raise
            if step is not None:
                invocation.done(step)
            return result

        return call


@dataclass
class ArmedFailure:
    """The next ``remaining`` calls of ``operations`` (boto3 method names; None: any) fail with
    ``code``/``status`` — or, with ``before`` set, first run ``before`` (a concurrent writer) once."""

    code: str
    status: int
    remaining: int
    operations: frozenset[str] | None = None
    before: Callable[[], None] | None = None
    pass_through: bool = False

    def matches(self, operation: str) -> bool:
        return self.remaining > 0 and (self.operations is None or operation in self.operations)


class FaultyClient:
    """A boto3 client whose calls fail as armed; every other call goes to the real client."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failures: list[ArmedFailure] = []
        self.injected = 0

    @property
    def real(self) -> Any:
        return self._client

    def arm(self, failure: ArmedFailure) -> None:
        self.failures.append(failure)

    def disarm(self) -> None:
        self.failures.clear()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._client, name)
        if name in ("meta", "exceptions") or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._maybe_fail(name)
            return value(*args, **kwargs)

        return call

    def _maybe_fail(self, operation: str) -> None:
        failure = next((f for f in self.failures if f.matches(operation)), None)
        if failure is None:
            return
        failure.remaining -= 1
        if failure.before is not None:
            before, failure.before = failure.before, None
            before()
        if failure.pass_through:
            return
        self.injected += 1
        raise self.error(failure.code, failure.status, operation)

    def error(self, code: str, status: int, operation: str) -> Exception:
        """The exception botocore raises for ``code`` on this client (modeled class, else ClientError)."""
        operation_name = self._client.meta.method_to_api_mapping.get(operation, operation)
        response = {
            "Error": {"Code": code, "Message": f"injected by the fault matrix: {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "fault-matrix"},
        }
        error_class = self._client.exceptions.from_code(code)
        error: Exception = error_class(response, operation_name)
        return error
