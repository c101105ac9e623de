"""Memory of the local stack under a stream of webhooks: RSS growth per 1,000 webhooks must stay flat.

``make local`` runs everything in one process (moto's server, the AVIV emulator, the API Gateway
stand-in and the three functions), so this process's resident set size (RSS) is the stack's. The
script starts a stack with a 1 s consolidation window (syncs, with their DynamoDB transactions and
AVIV calls, run throughout), posts signed webhooks from a few concurrent senders over a fixed set
of listings -- first one ``listing.upserted`` each, then ``media.updated`` edits round-robin -- and
samples RSS (after a garbage collection) every ``--every`` webhooks.

Baseline: the RSS once the first ``--baseline`` webhooks are in (every listing exists, every code
path has run once). Judged: the growth from there to the end, scaled to 1,000 webhooks, as a share
of the baseline. Target: at most 5 % of the baseline per 1,000 webhooks (the stack's state grows a
little with each accepted edit: delivery records, the emulator's request log). Before the fixes in
``devtools/moto_memory.py`` and ``devtools/moto_atomic.py`` it grew by hundreds of MB per 1,000
webhooks, faster as the table grew (moto kept every item version and every transaction's copy of
the whole table).

Also printed, not judged: how long the stack takes to stop.

Run: ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/local_stack_memory.py [--webhooks N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from devtools.bench_support import handler_output_discarded
from devtools.local_stack.stack import LocalStack
from tests.e2e.support import Stack, envelope, media, upsert
from vitrine.core.webhook_signing import signed_headers

TARGET_SHARE_PER_1000 = 0.05
LISTINGS = 200
MEDIA_PER_LISTING = 10
SENDERS = 4


def rss_mb() -> float:
    """This process's resident set size, in MB (Linux ``/proc``; ``ru_maxrss`` would be the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS in /proc/self/status: this benchmark needs Linux")


def events(stack: Stack, count: int) -> Iterator[dict[str, Any]]:
    """One upsert per listing, then title edits round-robin (listings keep their size)."""
    for n in range(count):
        listing = f"BENCH-MEM-{n % LISTINGS}"
        if n < LISTINGS:
            yield upsert(stack, listing, MEDIA_PER_LISTING)
        else:
            number = n % MEDIA_PER_LISTING
            yield envelope("media.updated", listing, media=media(stack, listing, number, title=f"edit {n}"))


class Sender:
    """Posts signed webhooks on one keep-alive session per thread; any answer but 202 stops the run."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sessions = threading.local()

    def post(self, event: dict[str, Any]) -> None:
        session = getattr(self.sessions, "session", None)
        if session is None:
            session = self.sessions.session = requests.Session()
        body = json.dumps(event, ensure_ascii=False).encode()
        signed = signed_headers(self.stack.info.webhook_secret, body, webhook_id=f"msg_{uuid.uuid4().hex}")
        headers = {"content-type": "application/json", **signed}
        answer = session.post(self.stack.info.webhook_url, data=body, headers=headers, timeout=60)
        if answer.status_code != 202:
            raise SystemExit(f"webhook answered {answer.status_code}, not 202: {answer.text[:500]}")


def measure(local: LocalStack, webhooks: int, every: int) -> list[tuple[int, float]]:
    """(webhooks posted so far, RSS MB) after each batch of ``every``."""
    stack = Stack(local)
    sender = Sender(stack)
    samples: list[tuple[int, float]] = []
    stream = events(stack, webhooks)
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        for done in range(every, webhooks + 1, every):
            batch = [next(stream) for _ in range(every)]
            list(pool.map(sender.post, batch))
            gc.collect()
            samples.append((done, rss_mb()))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--webhooks", type=int, default=1000, help="webhooks to post (default 1000)")
    parser.add_argument("--baseline", type=int, default=LISTINGS, help="webhooks before the baseline")
    parser.add_argument("--every", type=int, default=200, help="RSS sample interval, in webhooks")
    args = parser.parse_args(argv)
    if args.baseline % args.every or args.webhooks <= args.baseline or args.baseline < LISTINGS:
        parser.error(f"--baseline must be a multiple of --every, >= {LISTINGS} and < --webhooks")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    with handler_output_discarded():
        local = LocalStack(debounce_seconds=1, max_delay_seconds=5, reconcile_seconds=3600)
        local.start()
        try:
            samples = measure(local, args.webhooks, args.every)
        finally:
            stopping = time.monotonic()
            local.stop()
            stop_seconds = time.monotonic() - stopping

    baseline = dict(samples)[args.baseline]
    done, final = samples[-1]
    per_1000 = (final - baseline) / (done - args.baseline) * 1000
    share = per_1000 / baseline
    print(f"local stack memory: {done} webhooks over {LISTINGS} listings, {SENDERS} senders, RSS after gc")
    print(f"{'webhooks':>8} {'RSS MB':>8} {'vs baseline':>12}")
    for count, rss in samples:
        marker = "  <- baseline" if count == args.baseline else ""
        print(f"{count:>8} {rss:>8.1f} {rss - baseline:>+12.1f}{marker}")
    print(f"growth per 1,000 webhooks after the baseline: {per_1000:+.1f} MB ({share:+.1%} of the baseline)")
    print(f"stack stopped in {stop_seconds:.1f} s")
    verdict = "PASS" if share <= TARGET_SHARE_PER_1000 else "FAIL"
    target = f"target <= {TARGET_SHARE_PER_1000:.0%}"
    print(f"{verdict}: RSS grows {share:+.1%} of the baseline per 1,000 webhooks ({target})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
