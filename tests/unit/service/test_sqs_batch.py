"""An SQS batch is handled record by record, and only the failed records come back — the semantics of
Powertools' BatchProcessor(EventType.SQS) with process_partial_response, which it replaces."""

from __future__ import annotations

from typing import Any

import pytest

from vitrine.service.sqs_batch import EntireBatchFailed, SqsMessage, process_partial_batch


def record(number: int, body: str, receive_count: str = "1") -> dict[str, Any]:
    return {
        "messageId": f"m{number}",
        "receiptHandle": f"rh{number}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


class Handler:
    """Records what it saw; raises on a body of ``bad``."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, message: SqsMessage) -> str:
        self.seen.append(message.message_id)
        if message.body == "bad":
            raise RuntimeError(f"cannot handle {message.message_id}")
        return "done"


def test_a_batch_that_all_succeeds_reports_no_failure() -> None:
    handler = Handler()

    response = process_partial_batch({"Records": [record(1, "a"), record(2, "b")]}, handler)

    assert response == {"batchItemFailures": []}
    assert handler.seen == ["m1", "m2"]


def test_every_record_is_tried_in_order_and_only_the_failed_ones_are_reported() -> None:
    handler = Handler()
    records = [record(1, "a"), record(2, "bad"), record(3, "b"), record(4, "bad")]

    response = process_partial_batch({"Records": records}, handler)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m4"}]}
    assert handler.seen == ["m1", "m2", "m3", "m4"]


def test_a_batch_whose_every_record_failed_fails_the_invocation_with_the_first_error_as_cause() -> None:
    handler = Handler()

    with pytest.raises(EntireBatchFailed, match="all 2 records failed") as raised:
        process_partial_batch({"Records": [record(1, "bad"), record(2, "bad")]}, handler)

    assert handler.seen == ["m1", "m2"]
    assert str(raised.value.__cause__) == "cannot handle m1"


def test_a_record_missing_a_field_fails_alone_when_its_handler_reads_it() -> None:
    broken = {"messageId": "m9", "receiptHandle": "rh9", "attributes": {}}

    response = process_partial_batch({"Records": [broken, record(2, "a")]}, Handler())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m9"}]}


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": {"m1": {}}}, {"Records": None}])
def test_an_event_that_is_not_an_sqs_batch_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not an SQS event"):
        process_partial_batch(event, Handler())


def test_a_message_reads_the_fields_the_sync_service_uses() -> None:
    message = SqsMessage(record(7, '{"listingId":"L1"}', receive_count="3"))

    assert message.message_id == "m7"
    assert message.body == '{"listingId":"L1"}'
    assert message.receipt_handle == "rh7"
    assert message.approximate_receive_count == "3"


def test_a_message_without_its_receive_count_fails_when_it_is_read() -> None:
    message = SqsMessage({**record(1, "a"), "attributes": {}})

    with pytest.raises(KeyError):
        _ = message.approximate_receive_count
