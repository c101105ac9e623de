"""Consolidation: AVIV calls per editing burst, and media re-downloads per photo edit.

Against a local stack (moto's server, the real ingest and sync handlers, the AVIV emulator which
really downloads each media from a loopback photo host), with a 2 s consolidation window:

* bursts of 5, 20 and 100 edits on one listing already on AVIV (media added, retitled, reordered),
  each posted less than a window after the previous one on a keep-alive session: the AVIV write
  calls (POST/PUT/DELETE at the emulator) are counted against the naive one call per webhook.
  Target: 1 call per burst, carrying the burst's final state, and AVIV downloading only the media
  the burst added (retitling and reordering move no file);
* a 30-photo listing on AVIV gets one photo replaced (its ``version`` bumped): the emulator's media
  downloads are counted against re-stamping every media (30). Target: re-downloads equal to the media
  actually changed (1). A title-only edit (no file changed) must re-download nothing.

Run: ``make bench`` or ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/consolidation.py``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import requests

from devtools.bench_support import handler_output_discarded
from devtools.local_stack.stack import LocalStack
from tests.e2e.support import Stack, envelope, media, upsert, wait_for
from vitrine.core.webhook_signing import signed_headers

CONSOLIDATION_WINDOW_SECONDS = 2
MAX_DELAY_SECONDS = 40  # far above the longest burst: only the quiet window closes a burst here
BURSTS = (5, 20, 100)
STARTING_MEDIA = 4
PHOTO_LISTING_MEDIA = 30
WRITE_METHODS = ("POST", "PUT", "DELETE")
SYNC_TIMEOUT_SECONDS = 30.0


class Poster:
    """Signed webhooks on one keep-alive session; any answer but 202 stops the benchmark."""

    def __init__(self, stack: Stack, session: requests.Session) -> None:
        self.stack = stack
        self.session = session

    def __call__(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            **signed_headers(self.stack.info.webhook_secret, body, webhook_id=f"msg_{uuid.uuid4().hex}"),
        }
        answer = self.session.post(self.stack.info.webhook_url, data=body, headers=headers, timeout=30)
        if answer.status_code != 202:
            raise SystemExit(f"webhook {event['type']} answered {answer.status_code}: {answer.text[:500]}")


def aviv_writes(stack: Stack) -> list[Any]:
    return [
        r
        for r in stack.emulator.requests()
        if r.method in WRITE_METHODS and r.path.startswith("/classifieds")
    ]


def wait_synced(stack: Stack, listing_id: str) -> None:
    wait_for(
        lambda: stack.synced(listing_id),
        timeout=SYNC_TIMEOUT_SECONDS,
        interval=0.05,
        what=f"listing {listing_id} to be synced",
    )
    stack.emulator.wait_idle(timeout=SYNC_TIMEOUT_SECONDS)


@dataclass
class BurstResult:
    edits: int
    calls: list[Any]
    posting_seconds: float
    final_state_sent: bool
    media_added: int
    downloads: int

    @property
    def passed(self) -> bool:
        return len(self.calls) == 1 and self.final_state_sent and self.downloads == self.media_added


def burst(stack: Stack, post: Poster, listing_id: str, edits: int) -> BurstResult:
    """``edits`` webhooks cycling media.added / media.updated (title) / media.reordered."""
    order = [f"{listing_id}-m{n}" for n in range(STARTING_MEDIA)]
    titles = {media_id: media(stack, listing_id, n)["title"] for n, media_id in enumerate(order)}
    next_number = STARTING_MEDIA
    writes_before = len(aviv_writes(stack))
    downloads_before = len(stack.emulator.downloads())
    started = time.monotonic()
    for edit in range(edits):
        kind = edit % 4
        if kind == 0:
            added = media(stack, listing_id, next_number)
            order.append(added["id"])
            titles[added["id"]] = added["title"]
            next_number += 1
            post(envelope("media.added", listing_id, media=added))
        elif kind in (1, 2):
            media_id = order[(edit * 7) % len(order)]
            number = int(media_id.rsplit("-m", 1)[1])
            retitled = media(stack, listing_id, number, title=f"Photo {number}, retouche {edit}")
            titles[media_id] = retitled["title"]
            post(envelope("media.updated", listing_id, media=retitled))
        else:
            order = order[1:] + order[:1]
            post(envelope("media.reordered", listing_id, order=order))
    posting_seconds = time.monotonic() - started
    wait_synced(stack, listing_id)
    calls = aviv_writes(stack)[writes_before:]
    sent_titles = [m.get("title") for m in calls[-1].body.get("media", [])] if calls else []
    return BurstResult(
        edits,
        calls,
        posting_seconds,
        final_state_sent=sent_titles == [titles[i] for i in order],
        media_added=next_number - STARTING_MEDIA,
        downloads=len(stack.emulator.downloads()) - downloads_before,
    )


@dataclass
class DownloadResult:
    edit: str
    changed: int
    downloads: list[Any]
    expected_urls: set[str]

    @property
    def passed(self) -> bool:
        fetched = {d.url.split("?", 1)[0] for d in self.downloads}
        return len(self.downloads) == self.changed and fetched == self.expected_urls


def photo_edits(stack: Stack, post: Poster, listing_id: str) -> list[DownloadResult]:
    results = []
    replaced = media(stack, listing_id, 7, version="v2")
    retitled = media(stack, listing_id, 8, title="Salon, vue sur la Saône")
    for label, event, changed in (
        ("one photo replaced (version v1 -> v2)", replaced, {replaced["url"]}),
        ("one title changed (no file changed)", retitled, set()),
    ):
        downloads_before = len(stack.emulator.downloads())
        post(envelope("media.updated", listing_id, media=event))
        wait_synced(stack, listing_id)
        downloads = stack.emulator.downloads()[downloads_before:]
        results.append(DownloadResult(label, len(changed), downloads, changed))
    return results


def measure(local: LocalStack) -> tuple[list[BurstResult], list[DownloadResult]]:
    stack = Stack(local)
    photo_listing = "BENCH-PHOTOS-30"
    burst_listings = {edits: f"BENCH-BURST-{edits}" for edits in BURSTS}
    with requests.Session() as session:
        post = Poster(stack, session)
        for listing_id in burst_listings.values():
            post(upsert(stack, listing_id, STARTING_MEDIA))
        post(upsert(stack, photo_listing, PHOTO_LISTING_MEDIA))
        for listing_id in [*burst_listings.values(), photo_listing]:
            wait_synced(stack, listing_id)
        bursts = [burst(stack, post, burst_listings[edits], edits) for edits in BURSTS]
        downloads = photo_edits(stack, post, photo_listing)
    return bursts, downloads


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with handler_output_discarded():
        local = LocalStack(
            debounce_seconds=CONSOLIDATION_WINDOW_SECONDS,
            max_delay_seconds=MAX_DELAY_SECONDS,
            reconcile_seconds=3600,
        )
        local.start()
        try:
            bursts, downloads = measure(local)
        finally:
            local.stop()

    print(
        f"consolidation: AVIV write calls per burst on one listing (window {CONSOLIDATION_WINDOW_SECONDS} s,"
        " naive = one call per webhook)"
    )
    print(
        f"{'edits':>5} {'posted in':>9} {'naive':>5} {'calls':>5} {'calls/naive':>11}"
        f" {'final state':>11} {'new media':>9} {'downloads':>9}  verdict"
    )
    for result in bursts:
        methods = "+".join(call.method for call in result.calls) or "none"
        sent = "sent" if result.final_state_sent else "NOT sent"
        verdict = "PASS" if result.passed else "FAIL"
        print(
            f"{result.edits:>5} {result.posting_seconds:>8.1f}s {result.edits:>5} {len(result.calls):>5}"
            f" {len(result.calls) / result.edits:>11.3f} {sent:>11}"
            f" {result.media_added:>9} {result.downloads:>9}  {verdict} ({methods})"
        )
    print(
        f"media re-downloads on a {PHOTO_LISTING_MEDIA}-photo listing"
        f" (naive = re-stamping every media: {PHOTO_LISTING_MEDIA})"
    )
    print(f"{'edit':38} {'changed':>7} {'naive':>5} {'downloads':>9} {'downloads/naive':>15}  verdict")
    for edit in downloads:
        print(
            f"{edit.edit:38} {edit.changed:>7} {PHOTO_LISTING_MEDIA:>5} {len(edit.downloads):>9}"
            f" {len(edit.downloads) / PHOTO_LISTING_MEDIA:>15.3f}  {'PASS' if edit.passed else 'FAIL'}"
        )
    passed = all(r.passed for r in bursts) and all(r.passed for r in downloads)
    print(
        f"{'PASS' if passed else 'FAIL'}: target 1 AVIV call per burst (with its final state);"
        " downloads = media actually added or changed"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
