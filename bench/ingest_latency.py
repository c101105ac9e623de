"""Ingest acknowledgement latency (p50/p99), as a ratio to one bare DynamoDB PutItem round trip.

A webhook is acknowledged (202) once its event is durable, so the floor is one durable write: a
boto3 ``PutItem`` of the same raw body to the same moto server. This starts a local stack (moto's
server, the real ingest handler behind the API Gateway stand-in), creates a few listings, then
posts signed edits on them -- mostly ``media.updated``, plus a ``media.added`` and, later, the
``media.removed`` of that media, so listings keep their size -- each with a fresh ``webhook-id``,
on one keep-alive session, timing each until its 202. Round by round the webhooks alternate with
bare ``PutItem`` calls, so both series face the same machine noise. Target: webhook p50 <= 3x the
PutItem p50.

The consolidation window is set far beyond the run, so no sync competes for the CPU: every webhook
after a listing's first is the steady state of an editing burst (the sync is already scheduled).

Diagnostics, not judged: the same handler invoked in process (no HTTP), ``GET /health`` through the
stand-in (its HTTP cost alone), and the AWS calls one accepted webhook makes. ``--profile`` prints a
cProfile of the handler run in process.

Run: ``make bench`` or ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/ingest_latency.py [--profile]``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import logging
import pstats
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.client
import requests

from devtools.bench_support import handler_output_discarded
from devtools.lambda_runtime import LambdaFunction
from devtools.local_stack.settings import WEBHOOK_PATH
from devtools.local_stack.stack import LocalStack
from devtools.proxy_event import build_event
from tests.e2e.support import Stack, envelope, media, upsert
from vitrine.core.webhook_signing import signed_headers

TARGET_RATIO = 3.0
ROUNDS = 300
WARMUP_ROUNDS = 20
DIAGNOSTIC_EVERY = 3  # the diagnostic series run every third round, to keep the whole under a minute
LISTINGS = 3
MEDIA_PER_LISTING = 10
PROFILED_WEBHOOKS = 100


@dataclass
class Series:
    label: str
    samples: list[float] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile, in ms."""
        ordered = sorted(self.samples)
        rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
        return ordered[rank - 1] * 1000


@dataclass(frozen=True)
class Webhook:
    body: bytes
    headers: dict[str, str]


class WebhookFactory:
    """Signed edit webhooks on a few listings, cycling media.updated, media.added, media.updated,
    media.removed (of the media just added), so listings keep their size for the whole run."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.count = 0
        self.added: dict[str, int] = {}

    @staticmethod
    def listing_ids() -> list[str]:
        return [f"BENCH-INGEST-{n}" for n in range(LISTINGS)]

    def creations(self) -> list[Webhook]:
        return [self.sign(upsert(self.stack, listing, MEDIA_PER_LISTING)) for listing in self.listing_ids()]

    def next(self) -> Webhook:
        self.count += 1
        listing = self.listing_ids()[self.count % LISTINGS]
        step = (self.count // LISTINGS) % 4
        if step == 1:
            number = MEDIA_PER_LISTING + self.count  # a new media id and URL every time
            self.added[listing] = number
            event = envelope("media.added", listing, media=media(self.stack, listing, number))
        elif step == 3 and listing in self.added:
            event = envelope("media.removed", listing, mediaId=f"{listing}-m{self.added.pop(listing)}")
        else:
            number = self.count % MEDIA_PER_LISTING
            retitled = media(self.stack, listing, number, title=f"Photo {number}, retouche {self.count}")
            event = envelope("media.updated", listing, media=retitled)
        return self.sign(event)

    def sign(self, event: dict[str, Any]) -> Webhook:
        body = json.dumps(event, ensure_ascii=False).encode()
        signed = signed_headers(self.stack.info.webhook_secret, body, webhook_id=f"msg_{uuid.uuid4().hex}")
        return Webhook(body, {"content-type": "application/json", **signed})


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def ingest_function(local: LocalStack) -> LambdaFunction:
    """The function the stand-in runs for the webhook route (to invoke it without HTTP)."""
    assert local.api is not None
    for route in local.api.routes:
        if route.resource == WEBHOOK_PATH:
            return route.function
    raise SystemExit(f"template.yaml has no route for {WEBHOOK_PATH}")


def proxy_event(webhook: Webhook) -> dict[str, Any]:
    return build_event(
        method="POST",
        raw_path=WEBHOOK_PATH,
        resource=WEBHOOK_PATH,
        path_parameters=None,
        header_pairs=list(webhook.headers.items()),
        body=webhook.body,
    )


def require_accepted(status: int, text: str) -> None:
    if status != 202:
        raise SystemExit(f"webhook answered {status}, not 202: {text[:500]}")


@contextlib.contextmanager
def aws_calls_counted(counts: Counter[str]) -> Iterator[None]:
    """Count the AWS calls made by this thread (the local stack's pollers run in others)."""
    original = botocore.client.BaseClient._make_api_call
    me = threading.get_ident()

    def counting(self: Any, operation: str, params: Any) -> Any:
        if threading.get_ident() == me:
            counts[f"{self.meta.service_model.service_name} {operation}"] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counting
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original


def measure(local: LocalStack, profile: bool) -> tuple[list[Series], Counter[str], str]:
    stack = Stack(local)
    info = stack.info
    floor_client = boto3.client("dynamodb", endpoint_url=info.moto_endpoint, region_name=info.region)
    table = info.function_environment["VITRINE_STATE_TABLE"]
    function = ingest_function(local)
    factory = WebhookFactory(stack)
    floor, webhook, in_process, health = (
        Series("floor    PutItem of the raw body, boto3 -> moto"),
        Series("webhook  POST -> API stand-in -> ingest -> 202"),
        Series("  ingest handler invoked in process (no HTTP)"),
        Series("  GET /health through the API stand-in"),
    )

    with requests.Session() as session:

        def post(hook: Webhook) -> None:
            answer = session.post(info.webhook_url, data=hook.body, headers=hook.headers, timeout=30)
            require_accepted(answer.status_code, answer.text)

        def put_floor(hook: Webhook, n: int) -> None:
            floor_client.put_item(
                TableName=table,
                Item={"pk": {"S": f"BENCH#FLOOR#{n}"}, "sk": {"S": "FLOOR"}, "body": {"B": hook.body}},
            )

        def invoke(hook: Webhook) -> None:
            answer = function.invoke(proxy_event(hook))
            require_accepted(answer["statusCode"], str(answer.get("body")))

        def get_health() -> None:
            session.get(info.health_url, timeout=30).raise_for_status()

        for hook in factory.creations():
            post(hook)
        for n in range(WARMUP_ROUNDS + ROUNDS):
            hook = factory.next()
            pairs: list[tuple[Series, Callable[[], None]]] = [
                (floor, functools.partial(put_floor, hook, n)),
                (webhook, functools.partial(post, hook)),
            ]
            if n % DIAGNOSTIC_EVERY == 0:
                pairs += [(in_process, functools.partial(invoke, factory.next())), (health, get_health)]
            if n % 2:
                pairs.reverse()  # neither series always runs right after the other
            for series, action in pairs:
                elapsed = timed(action)
                if n >= WARMUP_ROUNDS:
                    series.samples.append(elapsed)

        counts: Counter[str] = Counter()
        counted = 10
        with aws_calls_counted(counts):
            for _ in range(counted):
                invoke(factory.next())
        per_webhook = Counter({name: count / counted for name, count in counts.items()})

        profile_text = ""
        if profile:
            profiler = cProfile.Profile()
            for _ in range(PROFILED_WEBHOOKS):
                event = proxy_event(factory.next())
                profiler.enable()
                function.invoke(event)
                profiler.disable()
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("cumulative").print_stats(30)  # where the time goes, call tree first
            stats.sort_stats("tottime").print_stats(20)  # then the hottest functions themselves
            profile_text = text.getvalue()
    return [floor, webhook, in_process, health], per_webhook, profile_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the ingest handler in process")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    with handler_output_discarded():
        local = LocalStack(debounce_seconds=600, max_delay_seconds=1200, reconcile_seconds=3600)
        local.start()
        try:
            series, per_webhook, profile_text = measure(local, args.profile)
        finally:
            local.stop()

    floor = series[0]
    floor_p50, floor_p99 = floor.percentile(0.50), floor.percentile(0.99)
    print(f"ingest acknowledgement latency: {ROUNDS} signed webhooks vs {ROUNDS} bare PutItem, interleaved")
    print(f"{'series':47} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>6} {'p99 x':>6}")
    for one in series:
        p50, p99 = one.percentile(0.50), one.percentile(0.99)
        print(
            f"{one.label:47} {len(one.samples):>4} {p50:>8.2f} {p99:>8.2f}"
            f" {p50 / floor_p50:>6.2f} {p99 / floor_p99:>6.2f}"
        )
    calls = ", ".join(f"{name} {count:g}" for name, count in sorted(per_webhook.items()))
    print(f"AWS calls per accepted webhook: {sum(per_webhook.values()):g} ({calls}); the floor makes 1")
    if profile_text:
        print(profile_text)
    ratio = series[1].percentile(0.50) / floor_p50
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"{verdict}: webhook p50 is {ratio:.2f}x the PutItem p50 (target <= {TARGET_RATIO:g}x)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
