"""Generate the sample Lambda events in ``events/`` from the sample webhook bodies.

``events/webhooks/*.json`` are the raw CRM webhook bodies (the contract, see docs/webhooks.md).
This writes, next to them, the events each function receives on AWS:

* ``events/ingest/<name>.json``: the API Gateway (REST, v1) proxy event of that webhook, signed with
  ``SAMPLE_WEBHOOK_SECRET`` at ``SAMPLE_TIMESTAMP`` (use with ``sam local invoke IngestFunction -e``
  after setting that secret, or re-sign: the timestamp is long expired on purpose);
* ``events/sync/sqs-batch.json``: an SQS batch of sync messages, as the sync function receives it.

``python -m devtools.sample_events`` rewrites them; a test fails when they are out of date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devtools.lambda_runtime import REPO_ROOT, ensure_layer_on_path
from devtools.local_stack.event_sources.sqs import sqs_event
from devtools.proxy_event import build_event

EVENTS = REPO_ROOT / "events"
# The Standard Webhooks documentation's example secret: public, for samples only.
SAMPLE_WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105
SAMPLE_TIMESTAMP = 1_770_971_157  # 2026-02-13T08:25:57Z
SAMPLE_QUEUE_ARN = "arn:aws:sqs:eu-west-3:123456789012:vitrine-SyncQueue"


def webhook_samples() -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted((EVENTS / "webhooks").glob("*.json"))}


def ingest_event(name: str, body: bytes) -> dict[str, Any]:
    ensure_layer_on_path()
    from vitrine.core.webhook_signing import signed_headers

    headers = signed_headers(
        SAMPLE_WEBHOOK_SECRET, body, webhook_id=f"msg_sample_{name}", timestamp=SAMPLE_TIMESTAMP
    )
    event = build_event(
        method="POST",
        raw_path="/webhooks/listings",
        resource="/webhooks/listings",
        path_parameters=None,
        header_pairs=[("Content-Type", "application/json"), *headers.items()],
        body=body,
        now=SAMPLE_TIMESTAMP,
    )
    event["requestContext"]["requestId"] = f"sample-{name}"
    event["requestContext"]["extendedRequestId"] = f"sample-{name}"
    event["requestContext"]["stage"] = "v1"
    return event


def sync_batch() -> dict[str, Any]:
    listing_ids = sorted({json.loads(body)["listingId"] for body in webhook_samples().values()})
    messages = [
        {
            "MessageId": f"00000000-0000-4000-8000-{n:012d}",
            "ReceiptHandle": f"sample-receipt-{n}",
            "Body": json.dumps({"listingId": listing_id}, separators=(",", ":")),
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(SAMPLE_TIMESTAMP * 1000),
                "ApproximateFirstReceiveTimestamp": str(SAMPLE_TIMESTAMP * 1000 + 60_000),
                "SenderId": "AIDAEXAMPLE",
            },
            "MD5OfBody": "",
        }
        for n, listing_id in enumerate(listing_ids)
    ]
    return sqs_event(messages, SAMPLE_QUEUE_ARN)


def expected_files() -> dict[Path, str]:
    files = {
        EVENTS / "ingest" / f"{name}.json": json.dumps(ingest_event(name, body), indent=2, ensure_ascii=False)
        + "\n"
        for name, body in webhook_samples().items()
    }
    files[EVENTS / "sync" / "sqs-batch.json"] = json.dumps(sync_batch(), indent=2) + "\n"
    return files


def main() -> None:
    for path, text in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
