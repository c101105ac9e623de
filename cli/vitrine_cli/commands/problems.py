"""``vitrine problems`` (every open problem) and ``vitrine renotify LISTING`` (tell the owner again)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.reconcile.aviv_status import StatusReading, interpret_status, roll_to_send
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.reconcile.records import ListingContext, StatusState
from vitrine.core.reconcile.reminders import ReminderFacts, reminder_notifications
from vitrine_cli.connection import Connection
from vitrine_cli.errors import ExitCode
from vitrine_cli.listing_status import load_desired
from vitrine_cli.listings import listings_with_open_problems
from vitrine_cli.options import Json, Profile, Region, Stack, open_stack
from vitrine_cli.output import console, emit, guarded, progress

# The send's problems are about what AVIV says of it now: renotify reads that first.
_NEEDS_AVIV = frozenset({"media_error", "classified_error"})


def _problem_rows(conn: Connection, listing_ids: list[str]) -> list[dict[str, Any]]:
    rows = []
    for listing_id in progress(listing_ids, "reading problems"):
        state = conn.statuses.load(listing_id)
        for problem in sorted(state.problems.values(), key=lambda p: p.detected_at):
            rows.append(
                {
                    "listingId": listing_id,
                    "ownerId": state.owner_id,
                    "kind": problem.kind,
                    "since": problem.detected_at,
                    "detail": problem.subject,
                    "status": problem.status,
                    "notified": problem.notified,
                    "mediaIds": list(problem.media_ids),
                    "id": problem.fingerprint,
                }
            )
    return rows


def _render_problems(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no open problem")
        return
    table = Table("listing", "owner", "kind", "since", "detail")
    for row in rows:
        table.add_row(row["listingId"], row["ownerId"] or "-", row["kind"], row["since"], row["detail"])
    console.print(table)


@guarded
def problems(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's listings.")] = None,
    as_json: Json = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Every open problem, with its listing, kind, since and detail. Exit 1 when there is any."""
    conn = open_stack(stack, profile, region)
    rows = _problem_rows(conn, listings_with_open_problems(conn, owner))
    emit({"problems": rows}, as_json, lambda: _render_problems(rows))
    if rows:
        raise typer.Exit(int(ExitCode.NOT_FOUND))


def _reading(
    conn: Connection, desired: DesiredListing, sent: LastSent | None, state: StatusState
) -> StatusReading | None:
    if sent is None or not sent.classified_id or not _NEEDS_AVIV & {p.kind for p in state.problems.values()}:
        return None
    latest = conn.aviv.latest_status(sent.classified_id, intermediary_id=desired.intermediary_id)
    policy = ReconcilePolicy()
    return interpret_status(latest, sent, roll_to_send(state.copy(), sent, policy.clock_tolerance), policy)


def _render_renotify(document: dict[str, Any]) -> None:
    for item in document["published"]:
        console.print(
            f"told {document['ownerId']} again: {item['kind']} {item['subject']} (SNS {item['messageId']})"
        )
    for why in document["leftOut"]:
        console.print(f"[yellow]left out[/] {why}")
    if not document["published"] and not document["leftOut"]:
        console.print(f"listing {document['listingId']} has no open problem: nothing to tell")


@guarded
def renotify(
    listing: Annotated[str, typer.Argument(help="The CRM's listing id.")],
    as_json: Json = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Send the owner the listing's current open problems again (through SNS, marked reminder)."""
    conn = open_stack(stack, profile, region)
    desired = load_desired(conn, listing)
    state = conn.statuses.load(listing)
    sent = conn.store.load_last_sent(listing)
    facts = ReminderFacts(
        reading=_reading(conn, desired, sent, state), rejection=conn.store.load_rejection(listing)
    )
    portals = tuple(desired.portals or conn.target.defaults.default_portals)
    context = ListingContext(listing, desired.owner_id, sent.classified_id if sent else None, portals)
    reminders = reminder_notifications(state, context, facts, datetime.now(UTC))
    published = [
        {"id": n.id, "kind": n.kind, "subject": n.subject, "messageId": conn.notifier.publish(n)}
        for n in reminders.notifications
    ]
    document = {
        "listingId": listing,
        "ownerId": desired.owner_id,
        "published": published,
        "leftOut": reminders.left_out,
    }
    emit(document, as_json, lambda: _render_renotify(document))
    if reminders.left_out:
        raise typer.Exit(int(ExitCode.NOT_FOUND))
