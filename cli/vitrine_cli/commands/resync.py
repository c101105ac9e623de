"""``vitrine resync``: send the current desired state now, even when nothing changed.

Each listing gets a forced sync message on the sync queue: the sync function handles it the normal
way (lease, write-ahead, one AVIV call) with ``force``, so it sends the same body with the same
timestamps and nothing is downloaded again. The command then waits for each send to be recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from vitrine_cli.connection import Connection
from vitrine_cli.errors import ExitCode, UsageError
from vitrine_cli.listings import listing_ids
from vitrine_cli.options import Json, Profile, Region, Stack, open_stack
from vitrine_cli.output import console, emit, guarded, progress
from vitrine_cli.preview import preview

POLL_SECONDS = 0.5


@dataclass
class Resync:
    """One listing's resync: what it would send, what happened."""

    listing_id: str
    operation: str
    result: str
    detail: str
    marks: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "listingId": self.listing_id,
            "operation": self.operation,
            "result": self.result,
            "detail": self.detail,
        }


def _marks(conn: Connection, listing_id: str) -> tuple[Any, ...]:
    """What moves when the sync function handles the message: the send, the refusal, a failure."""
    sent = conn.store.load_last_sent(listing_id)
    rejection = conn.store.load_rejection(listing_id)
    failure = conn.store.load_sync_failure(listing_id)
    return (sent.sent_at if sent else None, rejection.at if rejection else None, failure)


def _plan(conn: Connection, listing_id: str) -> Resync:
    desired = conn.store.load_desired(listing_id)
    if desired is None:
        return Resync(listing_id, "none", "not found", "no such listing")
    last_sent, pending = conn.store.load_last_sent(listing_id), conn.store.load_pending(listing_id)
    found = preview(desired, last_sent, pending, conn.target.defaults, datetime.now(UTC), force=True)
    result = "planned" if found.operation != "none" else "nothing to send"
    return Resync(listing_id, found.operation, result, found.reason, _marks(conn, listing_id))


def _settled(conn: Connection, resync: Resync) -> bool:
    """Update ``resync`` from the state table; True once the sync function has handled it."""
    sent_at, rejected_at, failure = _marks(conn, resync.listing_id)
    before_sent, before_rejected, before_failure = resync.marks
    if sent_at != before_sent:
        resync.result, resync.detail = "sent", f"AVIV accepted it at {sent_at}"
    elif rejected_at != before_rejected:
        rejection = conn.store.load_rejection(resync.listing_id)
        resync.result, resync.detail = "refused", rejection.detail if rejection else "refused"
    elif failure is not None and failure != before_failure and failure.dead_lettered:
        resync.result, resync.detail = "dead-lettered", failure.error
    else:
        if failure is not None and failure != before_failure:
            resync.detail = f"attempt {failure.attempts} failed ({failure.error}); retried"
        return False
    return True


def _wait(conn: Connection, queued: list[Resync], timeout: float) -> None:
    """Until each queued send is handled, or ``timeout`` seconds for them all."""
    deadline = time.monotonic() + timeout
    for resync in progress(queued, "waiting for the sends", total=len(queued)):
        while not _settled(conn, resync):
            if time.monotonic() > deadline:
                resync.result = "not confirmed"
                resync.detail = f"queued; not handled within {timeout:g} s (see `vitrine status`)"
                break
            time.sleep(POLL_SECONDS)


def _check_selection(listings: list[str], owner: str | None, everything: bool) -> None:
    if sum((bool(listings), owner is not None, everything)) != 1:
        raise UsageError("name listings, or --owner OWNER, or --all (exactly one of them)")


def _selected(conn: Connection, listings: list[str], owner: str | None, everything: bool) -> list[str]:
    if listings:
        return list(dict.fromkeys(listings))
    return listing_ids(conn, owner)


def _render(resyncs: list[Resync], dry_run: bool) -> None:
    table = Table("listing", "operation", "would" if dry_run else "result", "detail")
    for resync in resyncs:
        style = "red" if resync.result in ("refused", "dead-lettered", "not found", "not confirmed") else None
        table.add_row(resync.listing_id, resync.operation, resync.result, resync.detail, style=style)
    console.print(table)


@guarded
def resync(
    listings: Annotated[list[str] | None, typer.Argument(help="Listing ids.", show_default=False)] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Every listing of this owner.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every listing of the stack.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent; send nothing.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the sends.")] = 120.0,
    as_json: Json = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Send the current desired state now, even when nothing changed (same timestamps: no re-download)."""
    _check_selection(listings or [], owner, everything)
    conn = open_stack(stack, profile, region)
    ids = _selected(conn, listings or [], owner, everything)
    resyncs = [_plan(conn, listing_id) for listing_id in progress(ids, "reading listings")]
    queued = [r for r in resyncs if r.result == "planned"]
    if not dry_run:
        for item in progress(queued, "queuing forced syncs"):
            conn.scheduler.request_resync(item.listing_id)
            item.result = "queued"
        _wait(conn, queued, timeout)
    emit(
        {"dryRun": dry_run, "listings": [r.to_dict() for r in resyncs]},
        as_json,
        lambda: _render(resyncs, dry_run),
    )
    failed = [r for r in resyncs if r.result in ("refused", "dead-lettered", "not found", "not confirmed")]
    if failed:
        raise typer.Exit(int(ExitCode.NOT_FOUND))
