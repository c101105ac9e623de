"""The StateTable vocabulary: the UpdateItem builder and what counts as a lost race."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vitrine.adapters.dynamo.table import ItemUpdate, is_condition_failure


def client_error(code: str, *reasons: str) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "refused"}}
    if reasons:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactWriteItems")


def test_every_attribute_and_value_goes_through_a_generated_placeholder() -> None:
    update = ItemUpdate()
    update.set("token", "abc")
    update.remove("leaseOwner")
    update.require(update.equals("version", 3))
    assert update.render() == {
        "UpdateExpression": "SET #n0 = :v0 REMOVE #n1",
        "ConditionExpression": "#n2 = :v1",
        "ExpressionAttributeNames": {"#n0": "token", "#n1": "leaseOwner", "#n2": "version"},
        "ExpressionAttributeValues": {":v0": {"S": "abc"}, ":v1": {"N": "3"}},
    }


def test_a_repeated_attribute_or_value_reuses_its_placeholder() -> None:
    update = ItemUpdate()
    update.set("sentVersion", 4)
    update.require(update.equals("leaseOwner", "sync-a"), update.above("version", 4))
    update.require(update.any_of(update.absent("leaseOwner"), update.equals("leaseOwner", "sync-a")))
    rendered = update.render()
    assert rendered["ExpressionAttributeValues"] == {":v0": {"N": "4"}, ":v1": {"S": "sync-a"}}
    assert rendered["ConditionExpression"] == (
        "#n1 = :v1 AND #n2 > :v0 AND (attribute_not_exists(#n1) OR #n1 = :v1)"
    )


def test_a_document_path_names_each_of_its_parts() -> None:
    update = ItemUpdate()
    update.set("rejection.notified", True)
    update.require(update.equals("rejection.desiredVersion", 2))
    rendered = update.render()
    assert rendered["UpdateExpression"] == "SET #n0.#n1 = :v0"
    assert rendered["ConditionExpression"] == "#n0.#n2 = :v1"


def test_if_not_exists_and_copies_read_the_item_as_it_was() -> None:
    update = ItemUpdate()
    update.set_if_not_exists("firstUnsentAt", "t")
    update.set_if_not_exists("dirtySince", "t", source="firstUnsentAt")
    update.copy("dirtySince", "lastEditAt")
    assert update.render()["UpdateExpression"] == (
        "SET #n0 = if_not_exists(#n0, :v0), #n1 = if_not_exists(#n0, :v0), #n1 = #n2"
    )


def test_a_condition_only_update_renders_no_update_expression() -> None:
    check = ItemUpdate()
    check.require(check.exists("pk"))
    assert check.render() == {
        "ConditionExpression": "attribute_exists(#n0)",
        "ExpressionAttributeNames": {"#n0": "pk"},
    }


def test_a_failed_condition_is_a_lost_race() -> None:
    assert is_condition_failure(client_error("ConditionalCheckFailedException"))


def test_a_transaction_cancelled_by_a_condition_or_a_concurrent_write_is_a_lost_race() -> None:
    cancelled = "TransactionCanceledException"
    assert is_condition_failure(client_error(cancelled, "None", "ConditionalCheckFailed"))
    assert is_condition_failure(client_error(cancelled, "TransactionConflict", "None"))


def test_other_failures_are_not_lost_races() -> None:
    assert not is_condition_failure(client_error("TransactionCanceledException", "None", "ThrottlingError"))
    assert not is_condition_failure(client_error("ProvisionedThroughputExceededException"))
    assert not is_condition_failure(client_error("ValidationException"))
