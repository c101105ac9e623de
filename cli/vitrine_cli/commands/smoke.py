"""``vitrine smoke``: the first thing to run after ``make deploy`` (or against ``make local``).

Posts the sample webhooks of ``events/webhooks/`` (one listing's story, under a fresh listing id)
signed with the stack's secret, waits for the consolidated send, reads AVIV's status of it, then
deletes the listing again (``--keep`` leaves it). Exit 0 when every webhook was accepted, the send
reached AVIV and AVIV's final status is not a failure; 1 otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import requests
import typer

from vitrine.core.reconcile.aviv_status import FAILED_STATUSES
from vitrine.core.webhook_signing import signed_headers
from vitrine_cli.connection import Connection
from vitrine_cli.errors import ExitCode
from vitrine_cli.listing_status import aviv_latest
from vitrine_cli.options import Json, Profile, Region, Stack, open_stack
from vitrine_cli.output import console, emit, errors, guarded, progress
from vitrine_cli.samples import Sample, load_samples, sample_body

T = TypeVar("T")
DELETE_SAMPLE = "listing-deleted"
IN_PROGRESS = frozenset({"RECEIVING", "RECEIVED", "CREATING", "UPDATING", "DELETING"})


def _wait(check: Callable[[], T | None], timeout: float, what: str) -> T | None:
    deadline = time.monotonic() + timeout
    with errors.status(what):
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.5)
    return None


def _post(session: requests.Session, conn: Connection, secret: str, body: bytes) -> dict[str, Any]:
    headers = {"content-type": "application/json", **signed_headers(secret, body)}
    answer = session.post(conn.target.webhook_url, data=body, headers=headers, timeout=30)
    return {"status": answer.status_code, "body": answer.text[:300]}


def _sent(conn: Connection, listing_id: str, deleted: bool) -> dict[str, Any] | None:
    """The send of the listing's current version, once recorded."""
    desired, sent = conn.store.load_desired(listing_id), conn.store.load_last_sent(listing_id)
    if desired is None or sent is None or sent.desired_version != desired.version or sent.deleted != deleted:
        return None
    return {
        "classifiedId": sent.classified_id,
        "sentAt": sent.sent_at,
        "desiredVersion": sent.desired_version,
    }


def _final_status(conn: Connection, listing_id: str, classified_id: str) -> dict[str, Any] | None:
    desired = conn.store.load_desired(listing_id)
    latest = aviv_latest(conn, classified_id, desired.intermediary_id if desired else None)
    return latest if latest.get("status") and latest["status"] not in IN_PROGRESS else None


def _story(
    conn: Connection, samples: list[Sample], listing_id: str, media_base: str | None
) -> dict[str, Any]:
    secret = conn.webhook_secret()
    report: dict[str, Any] = {"listingId": listing_id, "webhookUrl": conn.target.webhook_url, "webhooks": []}
    with requests.Session() as session:
        session.trust_env = not conn.target.is_local  # loopback never goes through a proxy
        for sample in progress(samples, "posting webhooks"):
            answer = _post(session, conn, secret, sample_body(sample, listing_id, media_base))
            report["webhooks"].append({"sample": sample.name, **answer})
    return report


def _verdict(report: dict[str, Any]) -> bool:
    refused = [w for w in report["webhooks"] if w["status"] >= 300]
    status = (report.get("aviv") or {}).get("status")
    return not refused and bool(report.get("sent")) and status is not None and status not in FAILED_STATUSES


def _render(report: dict[str, Any]) -> None:
    console.print(f"smoke test of {report['webhookUrl']} with listing {report['listingId']}")
    for hook in report["webhooks"]:
        console.print(f"  {hook['sample']:18} -> {hook['status']}")
    sent = report.get("sent")
    reached = f"classified {sent['classifiedId']} at {sent['sentAt']}" if sent else "no"
    console.print(f"reached AVIV: {reached}")
    aviv = report.get("aviv") or {}
    console.print(
        f"AVIV's status: {aviv.get('status') or aviv.get('error') or 'none yet'} {aviv.get('message') or ''}"
    )
    for media in aviv.get("mediaStatuses") or []:
        console.print(f"  {media.get('status', '?'):20} {media.get('url')}")
    if "deleted" in report:
        console.print(f"deleted again: {'yes' if report['deleted'] else 'not confirmed'}")
    console.print("[green]smoke test passed[/]" if report["passed"] else "[red]smoke test failed[/]")


@guarded
def smoke(
    keep: Annotated[bool, typer.Option("--keep", help="Leave the test listing on AVIV (no delete).")] = False,
    media_base: Annotated[
        str | None,
        typer.Option(
            "--media-base", help="Serve the samples' media from here (default: make local's media server)."
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Seconds to wait for each step, beyond the consolidation window."),
    ] = 90.0,
    as_json: Json = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Post the sample webhooks and report what reached AVIV and which statuses came back."""
    conn = open_stack(stack, profile, region)
    samples = load_samples()
    story = [s for s in samples if s.name != DELETE_SAMPLE]
    media = media_base or conn.target.media_url
    listing_id = f"{story[0].event['listingId']}-smoke-{datetime.now(UTC):%Y%m%d%H%M%S}"
    report = _story(conn, story, listing_id, media)
    wait = conn.target.consolidation_seconds + timeout
    report["sent"] = _wait(lambda: _sent(conn, listing_id, False), wait, "waiting for the send to AVIV")
    if report["sent"] and report["sent"]["classifiedId"]:
        report["aviv"] = _wait(
            lambda: _final_status(conn, listing_id, report["sent"]["classifiedId"]),
            timeout,
            "waiting for AVIV's status",
        )
    report["passed"] = _verdict(report)
    if not keep:
        deletion = [s for s in samples if s.name == DELETE_SAMPLE]
        report["webhooks"] += _story(conn, deletion, listing_id, media)["webhooks"]
        report["deleted"] = bool(
            _wait(lambda: _sent(conn, listing_id, True), wait, "deleting the test listing")
        )
    emit(report, as_json, lambda: _render(report))
    if not report["passed"]:
        raise typer.Exit(int(ExitCode.NOT_FOUND))
