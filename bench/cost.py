"""What vitrine costs at scale: each function's peak memory on its heaviest input (→ MemorySize), the
AWS units one webhook, one sync and one reconcile run actually use, and the bill they make.

1. **Memory.** Each function runs in a fresh process (``devtools.function_probe``: cold import,
   one invocation, ``ru_maxrss``, which is what Lambda's "Max Memory Used" counts) on its heaviest
   input: ingest on a 300-media listing and on a 6 MB webhook (refused over 1 MiB, before parsing),
   sync sending that 300-media listing, reconcile polling 100 pending listings, the owner page of
   an owner with 101 listings. Proposed ``MemorySize``: peak x MEMORY_MARGIN, rounded up to 64 MB.
2. **Units.** In this process, against the same local stack, warm handlers invoked directly:
   DynamoDB read/write units **computed from item sizes** (``devtools.aws_meter``: moto does not
   report consumed capacity), SQS and SNS requests counted, durations measured (this machine, not
   Lambda's arm64: an upper bound on a loaded 2-core host).
3. **Cost model.** eu-west-3 on-demand prices (``PRICES``: stated from AWS's public pricing pages,
   not fetched; check them before relying on the figures) for $ per 1 million webhooks and $ per
   month for 10,000 and 1,000,000 listings at 20 edits per listing a month, against a naive design:
   one AVIV PUT per webhook, Powertools Idempotency's two extra writes, a Scan-based poller.

Run: ``make bench`` or ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/cost.py``. Writes
``cost.json`` into ``$VITRINE_PROOF_FIGURES_DIR`` when set. PASS when every measurement ran and each
template.yaml MemorySize is at least its function's measured peak.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from devtools import template as cfn
from devtools.aws_meter import AwsMeter, item_size, metered
from devtools.bench_support import handler_output_discarded
from devtools.cost_model import MEMORY_MARGIN, cost_model, proposed_memory, render_model
from devtools.function_probe import run_in_fresh_process
from devtools.lambda_runtime import LambdaFunction, load_handler
from devtools.local_stack.event_sources.schedule import scheduler_event
from devtools.local_stack.event_sources.sqs import sqs_event
from devtools.local_stack.settings import WEBHOOK_PATH
from devtools.local_stack.stack import LocalStack
from devtools.proxy_event import build_event
from tests.e2e.support import Stack, envelope, media, upsert
from vitrine.core.webhook_signing import signed_headers

HEAVY_MEDIA = 300
RECONCILE_PENDING = 100
HUGE_BODY_BYTES = 6 * 1024 * 1024
UNIT_LISTINGS = 20
UNIT_MEDIA = 20
EDITS_PER_BURST = 5
FUNCTIONS = ("ingest", "sync", "reconcile", "owner_page")
LOGICAL_IDS = {
    "ingest": "IngestFunction",
    "sync": "SyncFunction",
    "reconcile": "ReconcileFunction",
    "owner_page": "OwnerPageFunction",
}


def webhook_event(stack: Stack, event: dict[str, Any] | bytes) -> dict[str, Any]:
    body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
    headers = signed_headers(stack.info.webhook_secret, body, webhook_id=f"msg_{uuid.uuid4().hex}")
    pairs = [("content-type", "application/json"), *headers.items()]
    return build_event(
        method="POST",
        raw_path=WEBHOOK_PATH,
        resource=WEBHOOK_PATH,
        path_parameters=None,
        header_pairs=pairs,
        body=body,
    )


def sync_event(listing_id: str) -> dict[str, Any]:
    message = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "Body": json.dumps({"listingId": listing_id}),
        "Attributes": {"ApproximateReceiveCount": "1"},
    }
    return sqs_event([message], "arn:aws:sqs:eu-west-3:123456789012:vitrine-SyncQueue")


def owner_page_event(stack: Stack, owner_id: str) -> dict[str, Any]:
    url = stack.info.owner_page_url(owner_id)
    raw_path = url.removeprefix(stack.info.api_url)
    return build_event(
        method="GET",
        raw_path=raw_path,
        resource="/owners/{ownerId}/listings",
        path_parameters={"ownerId": owner_id},
        header_pairs=[("accept", "text/html")],
        body=b"",
    )


def heavy_listing(stack: Stack, listing_id: str) -> dict[str, Any]:
    return upsert(stack, listing_id, HEAVY_MEDIA)


def huge_webhook(stack: Stack) -> bytes:
    event = upsert(stack, "COST-HUGE", 1)
    event["listing"]["data"]["description"] = "x" * HUGE_BODY_BYTES
    return json.dumps(event).encode()


def measure_memory(stack: Stack, workdir: Path) -> dict[str, list[dict[str, Any]]]:
    """Each function's heaviest inputs, each in a fresh process; its state prepared in this one."""
    from vitrine.service.sync import get_sync_service

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in FUNCTIONS}
    runs["ingest"].append(
        {
            "input": f"{HEAVY_MEDIA}-media upsert",
            **run_in_fresh_process("ingest", webhook_event(stack, heavy_listing(stack, "COST-300")), workdir),
        }
    )
    runs["ingest"].append(
        {
            "input": "6 MB webhook (refused)",
            **run_in_fresh_process("ingest", webhook_event(stack, huge_webhook(stack)), workdir),
        }
    )
    runs["sync"].append(
        {
            "input": f"{HEAVY_MEDIA}-media listing (POST)",
            **run_in_fresh_process("sync", sync_event("COST-300"), workdir),
        }
    )
    stack.emulator.wait_idle(timeout=120)
    service = get_sync_service()
    for n in range(RECONCILE_PENDING):
        listing_id = f"COST-P{n:03d}"
        stack.post(upsert(stack, listing_id, 10))
        service.process(listing_id, now=service.clock())
    stack.emulator.wait_idle(timeout=120)
    runs["reconcile"].append(
        {
            "input": f"run with {RECONCILE_PENDING} pending listings",
            **run_in_fresh_process("reconcile", scheduler_event("arn:aws:scheduler:::schedule/x"), workdir),
        }
    )
    runs["owner_page"].append(
        {
            "input": f"owner with {RECONCILE_PENDING + 1} listings",
            **run_in_fresh_process("owner_page", owner_page_event(stack, "agence-presquile"), workdir),
        }
    )
    return runs


class Units:
    """Warm handlers of this process, metered one operation at a time."""

    def __init__(self, stack: Stack, meter: AwsMeter) -> None:
        self.stack = stack
        self.meter = meter
        self.handlers = {
            name: LambdaFunction(name, load_handler(Path("functions") / name), timeout_seconds=900)
            for name in ("ingest", "sync", "reconcile")
        }

    def invoke(self, name: str, event: Any) -> tuple[dict[str, Any], float]:
        self.meter.reset()
        started = time.monotonic()
        answer = self.handlers[name].invoke(event)
        elapsed_ms = (time.monotonic() - started) * 1000
        if name == "ingest" and answer.get("statusCode") != 202:
            raise SystemExit(f"ingest answered {answer.get('statusCode')}: {answer.get('body')}")
        return self.meter.snapshot(), elapsed_ms

    def measure(self) -> dict[str, Any]:
        listings = [f"COST-U{n:02d}" for n in range(UNIT_LISTINGS)]
        for listing_id in listings:  # created and sent once, unmetered: the steady state follows
            self.invoke("ingest", webhook_event(self.stack, upsert(self.stack, listing_id, UNIT_MEDIA)))
            self.invoke("sync", sync_event(listing_id))
        self.stack.emulator.wait_idle(timeout=120)
        self.invoke("reconcile", scheduler_event("arn:aws:scheduler:::schedule/x"))
        webhooks, syncs = [], []
        for listing_id in listings:
            for edit in range(EDITS_PER_BURST):
                retitled = media(self.stack, listing_id, edit, title=f"Pièce {edit}, retouche")
                webhooks.append(
                    self.invoke(
                        "ingest",
                        webhook_event(self.stack, envelope("media.updated", listing_id, media=retitled)),
                    )
                )
            syncs.append(self.invoke("sync", sync_event(listing_id)))
        self.stack.emulator.wait_idle(timeout=120)
        pending_run = self.invoke("reconcile", scheduler_event("arn:aws:scheduler:::schedule/x"))
        idle_runs = [
            self.invoke("reconcile", scheduler_event("arn:aws:scheduler:::schedule/x")) for _ in range(5)
        ]
        return {
            "webhook": summarize(webhooks),
            "sync": summarize(syncs),
            "reconcile_idle_run": summarize(idle_runs),
            "reconcile_per_pending_listing": per_listing(pending_run, summarize(idle_runs), UNIT_LISTINGS),
            "bytes_per_listing": self.bytes_per_listing(listings),
        }

    def bytes_per_listing(self, listings: list[str]) -> float:
        table = self.stack.info.function_environment["VITRINE_STATE_TABLE"]
        items = self.stack.local.dynamodb.scan(TableName=table)["Items"]
        mine = [i for i in items if any(i["pk"]["S"].endswith(listing_id) for listing_id in listings)]
        return sum(item_size(i) for i in mine) / len(listings)


def summarize(samples: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    count = len(samples)
    requests: dict[str, float] = {}
    for snapshot, _ in samples:
        for name, value in snapshot["requests"].items():
            requests[name] = requests.get(name, 0) + value / count
    return {
        "rcu": sum(s["rcu"] for s, _ in samples) / count,
        "wcu": sum(s["wcu"] for s, _ in samples) / count,
        "requests": requests,
        "duration_ms": statistics.median(ms for _, ms in samples),
    }


def per_listing(run: tuple[dict[str, Any], float], idle: dict[str, Any], listings: int) -> dict[str, Any]:
    snapshot, ms = run
    return {
        "rcu": max(0.0, snapshot["rcu"] - idle["rcu"]) / listings,
        "wcu": max(0.0, snapshot["wcu"] - idle["wcu"]) / listings,
        "requests": {
            k: v / listings for k, v in snapshot["requests"].items() if not k.startswith("dynamodb")
        },
        "duration_ms": max(0.0, ms - idle["duration_ms"]) / listings,
    }


def template_memory() -> dict[str, int]:
    template = cfn.load_template()
    default = int(template["Globals"]["Function"].get("MemorySize", 128))
    functions = cfn.resources_of_type("AWS::Serverless::Function", template)
    return {
        name: int(functions[LOGICAL_IDS[name]]["Properties"].get("MemorySize", default)) for name in FUNCTIONS
    }


def noop_handler(event: Any, context: Any) -> dict[str, Any]:
    """Stands in for sync and reconcile in the stack's own pollers: this script invokes them itself."""
    return {"batchItemFailures": []}


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with tempfile.TemporaryDirectory() as workdir, handler_output_discarded():
        local = LocalStack(
            handlers={"sync": noop_handler, "reconcile": noop_handler},
            debounce_seconds=0,
            max_delay_seconds=0,
            reconcile_seconds=3600,
        )
        local.start()
        try:
            with metered() as meter:  # once boto3 points at the stack, before a handler makes a client
                stack = Stack(local)
                memory_runs = measure_memory(stack, Path(workdir))
                units = Units(stack, meter).measure()
        finally:
            local.stop()
    configured = template_memory()
    memory = {
        name: {
            "runs": runs,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "proposed_mb": proposed_memory(max(r["peak_rss_mb"] for r in runs)),
            "template_mb": configured[name],
        }
        for name, runs in memory_runs.items()
    }
    model = cost_model(units, {name: m["template_mb"] for name, m in memory.items()})
    print(render_model(memory, units, model))
    passed = all(m["template_mb"] >= m["peak_rss_mb"] for m in memory.values())
    print(
        f"{'PASS' if passed else 'FAIL'}: every MemorySize covers its function's measured peak"
        f" (proposed: peak x {MEMORY_MARGIN}, rounded up to 64 MB)"
    )
    directory = os.environ.get("VITRINE_PROOF_FIGURES_DIR")
    if directory:
        document = {"memory": memory, "units": units, "model": model, "passed": passed}
        Path(directory, "cost.json").write_text(
            json.dumps(document, indent=1, default=str) + "\n", encoding="utf-8"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
