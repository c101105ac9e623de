"""Crashes at a named step and AWS failures with botocore's own error classes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devtools.faults.injection import (
    ArmedFailure,
    CrashingPort,
    CrashPlan,
    FaultyClient,
    Invocation,
    SimulatedCrash,
)


class Store:
    def __init__(self) -> None:
        self.written: list[str] = []

    def acquire_lease(self) -> bool:
        self.written.append("lease")
        return True

    def release_lease(self) -> None:
        self.written.append("release")

    def refuse(self) -> None:
        raise LookupError("not there")


def test_an_invocation_dies_right_after_its_planned_step_and_stays_dead() -> None:
    store = Store()
    plan = CrashPlan("lease")
    port = CrashingPort(store, Invocation(plan), {"acquire_lease": "lease"})

    with pytest.raises(SimulatedCrash):
        port.acquire_lease()
    with pytest.raises(SimulatedCrash):
        port.release_lease()  # a finally block of the dead invocation writes nothing

    assert store.written == ["lease"]
    assert plan.fired


def test_only_the_first_invocation_to_reach_the_step_dies() -> None:
    plan = CrashPlan("lease")
    with pytest.raises(SimulatedCrash):
        CrashingPort(Store(), Invocation(plan), {"acquire_lease": "lease"}).acquire_lease()

    assert CrashingPort(Store(), Invocation(plan), {"acquire_lease": "lease"}).acquire_lease()


def test_a_crash_is_not_an_exception_vitrine_could_catch() -> None:
    assert not issubclass(SimulatedCrash, Exception)


def test_an_error_that_is_an_answer_still_counts_as_the_step() -> None:
    invocation = Invocation(CrashPlan("asked"))
    port = CrashingPort(Store(), invocation, {"refuse": "asked"}, (LookupError,))

    with pytest.raises(SimulatedCrash):
        port.refuse()

    assert invocation.steps == ["asked"]


def client() -> Any:
    return boto3.client("dynamodb", region_name="eu-west-3", aws_access_key_id="x", aws_secret_access_key="x")


def test_an_armed_failure_raises_the_class_botocore_models_for_its_code() -> None:
    faulty = FaultyClient(client())
    faulty.arm(ArmedFailure("ProvisionedThroughputExceededException", 400, 1))

    with pytest.raises(faulty.real.exceptions.ProvisionedThroughputExceededException) as raised:
        faulty.get_item(TableName="t", Key={"pk": {"S": "a"}})

    error = raised.value
    assert isinstance(error, ClientError)
    assert error.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert error.operation_name == "GetItem"
    assert faulty.injected == 1


def test_an_unmodeled_code_is_a_plain_client_error_with_its_status() -> None:
    faulty = FaultyClient(client())

    error = faulty.error("ServiceUnavailable", 503, "query")

    assert type(error) is ClientError
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503


class Answering:
    """A client stand-in that answers every call (no AWS needed for a pass-through)."""

    def describe_limits(self) -> dict[str, int]:
        return {"AccountMaxReadCapacityUnits": 80000}


def test_a_race_runs_the_concurrent_writer_once_then_lets_the_call_through() -> None:
    faulty = FaultyClient(Answering())
    raced: list[str] = []
    race = ArmedFailure("", 0, 1, frozenset({"describe_limits"}), before=lambda: raced.append("edit"),
                        pass_through=True)  # fmt: skip
    faulty.arm(race)

    first = faulty.describe_limits()
    second = faulty.describe_limits()

    assert first == second == {"AccountMaxReadCapacityUnits": 80000}
    assert raced == ["edit"] and race.before is None and faulty.injected == 0
