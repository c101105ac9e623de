"""Load on loopback: 2,000 signed webhooks over 200 listings, from 20 concurrent senders, through the
local stack (API Gateway stand-in, the real ingest and sync handlers, moto's server, the AVIV
emulator), twice: AVIV healthy, then AVIV answering 20 % of its calls with 503.

Each sender owns 10 listings and sends each one's burst in a row on a keep-alive session: a
``listing.upserted`` with 4 photos, then 9 edits (retitles, additions, reorders). Reported per run:

* accepted: webhooks answered 202 (target: all);
* ack p50 and p99 (ms), measured by the senders;
* AVIV write calls per listing burst: accepted POST/PUT at the emulator per listing (target: 1);
* listings whose final AVIV state is not their last edit (target: 0): media titles and order;
* the time from the last edit's 202 to AVIV's last 202;
* the 503 run also counts the AVIV calls answered 503 (each one retried, in the call or later).

Targets also: the 2,000 webhooks sent within 60 s. Exit status 1 on FAIL. Writes ``load.json``
into ``$VITRINE_PROOF_FIGURES_DIR`` when set. ``--webhooks/--listings/--senders`` shrink the run.

Run: ``make bench`` or ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/load.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devtools.bench_support import handler_output_discarded
from devtools.local_stack.stack import LocalStack
from tests.e2e.support import Stack, envelope, media, upsert, wait_for
from vitrine.core.webhook_signing import signed_headers

CONSOLIDATION_WINDOW_SECONDS = 2
MAX_DELAY_SECONDS = 60  # only the quiet window closes a burst here
SEND_WITHIN_SECONDS = 60.0
SYNC_TIMEOUT_SECONDS = 180.0
STARTING_MEDIA = 4
FAULT_SHARE = 0.2
WRITE_METHODS = ("POST", "PUT")


@dataclass
class ListingPlan:
    """One listing's burst, and the media titles (in order) its last edit leaves."""

    listing_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    final_titles: list[str] = field(default_factory=list)


def plan_burst(stack: Stack, listing_id: str, edits: int) -> ListingPlan:
    """An upsert, then ``edits - 1`` edits cycling retitle / add / reorder."""
    first = upsert(stack, listing_id, STARTING_MEDIA)
    titles = {m["id"]: m["title"] for m in first["listing"]["media"]}
    order = [m["id"] for m in first["listing"]["media"]]
    plan = ListingPlan(listing_id, [first])
    for edit in range(1, edits):
        kind = edit % 3
        if kind == 0:
            number = len(titles)
            added = media(stack, listing_id, number)
            titles[added["id"]], order = added["title"], [*order, added["id"]]
            plan.events.append(envelope("media.added", listing_id, media=added))
        elif kind == 1:
            number = edit % len(order)
            retitled = media(stack, listing_id, number, title=f"Pièce {number}, retouche {edit}")
            titles[retitled["id"]] = retitled["title"]
            plan.events.append(envelope("media.updated", listing_id, media=retitled))
        else:
            order = order[1:] + order[:1]
            plan.events.append(envelope("media.reordered", listing_id, order=order))
    plan.final_titles = [titles[media_id] for media_id in order]
    return plan


@dataclass
class Sent:
    acks: list[float] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)
    last_ack_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_all(stack: Stack, plans: list[ListingPlan], senders: int) -> tuple[Sent, float]:
    """Every sender posts its listings' bursts in a row; the acks and the time it all took."""
    sent = Sent()

    def sender(mine: list[ListingPlan]) -> None:
        with requests.Session() as session:
            for plan in mine:
                for event in plan.events:
                    body = json.dumps(event, ensure_ascii=False).encode()
                    signed = signed_headers(
                        stack.info.webhook_secret, body, webhook_id=f"msg_{uuid.uuid4().hex}"
                    )
                    headers = {"content-type": "application/json", **signed}
                    started = time.monotonic()
                    answer = session.post(stack.info.webhook_url, data=body, headers=headers, timeout=60)
                    elapsed = time.monotonic() - started
                    with sent.lock:
                        if answer.status_code == 202:
                            sent.acks.append(elapsed)
                            sent.last_ack_at = max(sent.last_ack_at, time.time())
                        else:
                            sent.refused[answer.status_code] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="sender") as pool:
        list(pool.map(sender, [plans[i::senders] for i in range(senders)]))
    return sent, time.monotonic() - started


def percentile_ms(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1] * 1000


def shown_titles(body: dict[str, Any] | None) -> list[Any]:
    return [m.get("title") for m in (body or {}).get("media", [])]


def aviv_results(stack: Stack, plans: list[ListingPlan]) -> dict[str, Any]:
    """Writes per listing, listings not at their last edit, 503s and the last accepted write's time."""
    state = stack.emulator.state()
    listing_of = {c["classifiedId"]: c["offererEstateId"] for c in state["classifieds"]}
    live = {c["offererEstateId"]: c["body"] for c in state["classifieds"] if not c["deleted"]}
    writes: Counter[str] = Counter()
    last_write_at = 0.0
    answered_503 = 0
    for call in stack.emulator.requests():
        if call.status == 503:
            answered_503 += 1
        if call.method not in WRITE_METHODS or call.status != 202 or not call.path.startswith("/classifieds"):
            continue
        if call.method == "POST":
            listing = call.body["data"]["metaData"]["source"]["offererEstateId"]
        else:
            listing = listing_of.get(call.path.rsplit("/", 1)[-1], "?")
        writes[listing] += 1
        last_write_at = max(last_write_at, call.at.timestamp())
    wrong = [p.listing_id for p in plans if shown_titles(live.get(p.listing_id)) != p.final_titles]
    per_listing = [writes[p.listing_id] for p in plans]
    return {
        "writes_per_burst_min": min(per_listing),
        "writes_per_burst_max": max(per_listing),
        "writes_per_burst_mean": sum(per_listing) / len(per_listing),
        "listings_not_at_last_edit": len(wrong),
        "answered_503": answered_503,
        "last_write_at": last_write_at,
    }


def run_once(label: str, args: argparse.Namespace, fault_share: float) -> dict[str, Any]:
    with handler_output_discarded():
        local = LocalStack(
            debounce_seconds=CONSOLIDATION_WINDOW_SECONDS,
            max_delay_seconds=MAX_DELAY_SECONDS,
            reconcile_seconds=3600,
        )
        local.start()
        try:
            stack = Stack(local)
            if fault_share:
                stack.emulator.inject_faults(10**9, status=503, paths="/classifieds", probability=fault_share)
            edits = args.webhooks // args.listings
            plans = [plan_burst(stack, f"LOAD-{n:04d}", edits) for n in range(args.listings)]
            sent, send_seconds = send_all(stack, plans, args.senders)
            for plan in plans:
                wait_for(lambda p=plan: stack.synced(p.listing_id), SYNC_TIMEOUT_SECONDS, 0.1,  # type: ignore[misc]
                         what=f"{plan.listing_id} synced")  # fmt: skip
            stack.emulator.wait_idle(timeout=SYNC_TIMEOUT_SECONDS)
            aviv = aviv_results(stack, plans)
        finally:
            local.stop()
    total = len(plans) * edits
    figures = {
        "run": label,
        "webhooks": total,
        "listings": len(plans),
        "senders": args.senders,
        "accepted": len(sent.acks),
        "refused": dict(sent.refused),
        "send_seconds": round(send_seconds, 1),
        "ack_p50_ms": round(percentile_ms(sent.acks, 0.50), 1),
        "ack_p99_ms": round(percentile_ms(sent.acks, 0.99), 1),
        "writes_per_burst_min": aviv["writes_per_burst_min"],
        "writes_per_burst_max": aviv["writes_per_burst_max"],
        "writes_per_burst_mean": round(aviv["writes_per_burst_mean"], 3),
        "listings_not_at_last_edit": aviv["listings_not_at_last_edit"],
        "last_edit_to_last_aviv_202_seconds": round(max(0.0, aviv["last_write_at"] - sent.last_ack_at), 2),
        "aviv_calls_answered_503": aviv["answered_503"],
        "fault_share": fault_share,
    }
    figures["passed"] = (
        figures["accepted"] == total
        and aviv["writes_per_burst_max"] == 1
        and aviv["writes_per_burst_min"] == 1
        and aviv["listings_not_at_last_edit"] == 0
        and send_seconds <= SEND_WITHIN_SECONDS
        and (not fault_share or aviv["answered_503"] > 0)
    )
    return figures


def report(figures: dict[str, Any]) -> None:
    f = figures
    print(f"== {f['run']}: {f['webhooks']} webhooks over {f['listings']} listings, {f['senders']} senders")
    print(f"  accepted              {f['accepted']}/{f['webhooks']} (refused: {f['refused'] or 'none'})"
          f", sent in {f['send_seconds']} s (target <= {SEND_WITHIN_SECONDS:.0f} s)")  # fmt: skip
    print(f"  ack p50 / p99         {f['ack_p50_ms']} ms / {f['ack_p99_ms']} ms")
    print(f"  AVIV writes per burst min {f['writes_per_burst_min']}, max {f['writes_per_burst_max']},"
          f" mean {f['writes_per_burst_mean']} (target 1)")  # fmt: skip
    print(f"  not at last edit      {f['listings_not_at_last_edit']} listing(s) (target 0)")
    print(f"  last edit -> last AVIV 202  {f['last_edit_to_last_aviv_202_seconds']} s"
          f" (consolidation window {CONSOLIDATION_WINDOW_SECONDS} s)")  # fmt: skip
    if f["fault_share"]:
        print(f"  AVIV calls answered 503 (each retried): {f['aviv_calls_answered_503']}")
    print(f"  {'PASS' if f['passed'] else 'FAIL'}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--listings", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.setdefault("VITRINE_SYNC_RETRY_BASE_SECONDS", "1")
    runs = []
    for label, share in (
        ("AVIV healthy", 0.0),
        (f"AVIV answering {FAULT_SHARE:.0%} of calls 503", FAULT_SHARE),
    ):
        figures = run_once(label, args, share)
        report(figures)
        runs.append(figures)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (stack, emulator, senders): {peak_mb:.0f} MB")
    passed = all(r["passed"] for r in runs)
    directory = os.environ.get("VITRINE_PROOF_FIGURES_DIR")
    if directory:
        document = {"runs": runs, "peak_rss_mb": round(peak_mb), "passed": passed}
        Path(directory, "load.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    verdict = "PASS" if passed else "FAIL"
    print(f"{verdict}: every webhook accepted, 1 AVIV write per burst, every listing at its last edit")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
