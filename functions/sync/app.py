"""Sync function (SQS → Lambda): one consolidated AVIV call per editing burst, partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vitrine.observability import metrics, per_invocation
from vitrine.service.sqs_batch import PartialBatchResponse, SqsMessage, process_partial_batch
from vitrine.service.sync import get_sync_service


def record_handler(record: SqsMessage) -> str:
    return get_sync_service().process_record(record)


@per_invocation
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    return process_partial_batch(event, record_handler)
