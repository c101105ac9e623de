"""Migration: an agency's catalogue, published by its previous software, adopted by vitrine's first sync.

Against a local stack (moto's server, the real ingest and sync handlers, the AVIV emulator which
really downloads each media from a loopback photo host): 100 listings of 20 photos are pre-loaded
in the emulator as classifieds another sender created (same offererEstateId, same photo URLs with
that sender's timestamps). For 10 of them the CRM has since added 2 photos. The CRM then posts one
``listing.upserted`` per listing and vitrine makes its first sync of each.

Targets: AVIV downloads only the media the CRM added (20 here; 0 for an unchanged listing), against
the naive first send that re-stamps every media (2,000 + 20 downloads); at most 3 AVIV calls per
listing (the refused POST, the GET of what AVIV holds, the PUT).

Run: ``make bench`` or ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/migration.py``.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections import Counter
from typing import Any

import requests

from devtools.bench_support import handler_output_discarded
from devtools.local_stack.stack import LocalStack
from tests.e2e.support import Stack, upsert, wait_for
from tests.support.migration import desired_of_upsert, other_sender_body

LISTINGS = 100
PHOTOS = 20
LISTINGS_WITH_ADDITIONS = 10
ADDED_PHOTOS = 2
MAX_CALLS_PER_LISTING = 3
SYNC_TIMEOUT_SECONDS = 120.0


def preload(stack: Stack) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The CRM's events, and each listing's classified as the previous software left it."""
    events: list[dict[str, Any]] = []
    held: dict[str, str] = {}
    for n in range(LISTINGS):
        listing_id = f"MIG-{n:03d}"
        added = ADDED_PHOTOS if n < LISTINGS_WITH_ADDITIONS else 0
        event = upsert(stack, listing_id, PHOTOS + added)
        desired = desired_of_upsert(event)
        body = other_sender_body(desired, desired.media[:PHOTOS])
        held[listing_id] = stack.emulator.preload_classified(body, intermediary_id="agency-1")
        events.append(event)
    return events, held


def calls_per_listing(stack: Stack, held: dict[str, str]) -> Counter[str]:
    """AVIV calls on classifieds, by listing (a POST by its offererEstateId, the rest by classified)."""
    by_classified = {f"/classifieds/{cid}": listing_id for listing_id, cid in held.items()}
    counted: Counter[str] = Counter()
    for request in stack.emulator.requests():
        if not request.path.startswith("/classifieds") or request.path.endswith("/statuses"):
            continue
        if request.method == "POST":
            counted[request.body["data"]["metaData"]["source"]["offererEstateId"]] += 1
        elif request.path == "/classifieds":
            counted[request.query["offererEstateId"][0]] += 1
        else:
            counted[by_classified.get(request.path, request.path)] += 1
    return counted


def measure(local: LocalStack) -> tuple[Counter[str], list[Any], float]:
    stack = Stack(local)
    events, held = preload(stack)
    started = time.monotonic()
    with requests.Session() as session:
        for event in events:
            answer = stack.post(event, session=session)
            if answer.status_code != 202:
                raise SystemExit(f"webhook answered {answer.status_code}: {answer.text[:500]}")
    wait_for(
        lambda: all(stack.synced(listing_id) for listing_id in held),
        timeout=SYNC_TIMEOUT_SECONDS,
        interval=0.5,
        what="every listing to be synced",
    )
    stack.emulator.wait_idle(timeout=SYNC_TIMEOUT_SECONDS)
    seconds = time.monotonic() - started
    return calls_per_listing(stack, held), stack.emulator.downloads(), seconds


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with handler_output_discarded():
        local = LocalStack(debounce_seconds=1, max_delay_seconds=10, reconcile_seconds=3600)
        local.start()
        try:
            calls, downloads, seconds = measure(local)
        finally:
            local.stop()

    added = LISTINGS_WITH_ADDITIONS * ADDED_PHOTOS
    naive = LISTINGS * PHOTOS + added
    per_listing = sorted(calls.values())
    distribution = ", ".join(
        f"{count} calls: {n} listings" for count, n in sorted(Counter(per_listing).items())
    )
    print(
        f"migration: {LISTINGS} listings x {PHOTOS} photos published by another sender; the CRM added"
        f" {ADDED_PHOTOS} photos to {LISTINGS_WITH_ADDITIONS} of them; first sync of each in {seconds:.1f} s"
    )
    print(
        f"AVIV calls per listing: min {per_listing[0]}, max {per_listing[-1]} ({distribution}); target <= 3"
    )
    print(
        f"downloads: {len(downloads)} (media added by the CRM: {added}; naive re-stamping: {naive};"
        f" downloads/naive = {len(downloads) / naive:.4f})"
    )
    passed = (
        len(calls) == LISTINGS
        and per_listing[-1] <= MAX_CALLS_PER_LISTING
        and len(downloads) == added
        and all(d.ok for d in downloads)
    )
    print(
        f"{'PASS' if passed else 'FAIL'}: downloads = only the media the CRM added;"
        f" at most {MAX_CALLS_PER_LISTING} AVIV calls per listing"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
