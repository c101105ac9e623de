"""``vitrine status LISTING`` and ``vitrine diff LISTING``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from vitrine_cli.listing_status import listing_status, load_desired
from vitrine_cli.options import Json, Profile, Region, Stack, open_stack
from vitrine_cli.output import console, emit, guarded
from vitrine_cli.preview import preview

Listing = Annotated[str, typer.Argument(help="The CRM's listing id.")]


def _pairs(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(key, "-" if value in (None, "", []) else str(value))
    return table


def _render_status(report: dict[str, Any]) -> None:
    aviv, sync = report["aviv"], report["sync"]
    lease = sync["lease"]
    console.print(
        _pairs(
            f"listing {report['listingId']}",
            {
                "owner": report["ownerId"],
                "agency": report["agency"],
                "classifiedId": report["classifiedId"],
                "portals": ", ".join(report["portals"]),
                "desired version": report["desiredVersion"],
                "sent version": report["sentVersion"],
                "sent at": report["sentAt"],
                "AVIV status": " ".join(str(v) for v in (aviv.get("status"), aviv.get("statusDate")) if v),
                "AVIV says": aviv.get("message") or aviv.get("error") or aviv.get("note"),
            },
        )
    )
    console.print(
        _pairs(
            "sync",
            {
                "dirty since": sync["dirtySince"] if sync["dirty"] else "clean",
                "scheduled until": sync["scheduledUntil"],
                "lease": f"{lease['owner']} until {lease['expiresAt']}" if lease else None,
                "attempts": sync["attempts"],
                "last error": sync["lastError"],
                "in DLQ": "yes" if sync["inDeadLetterQueue"] else "no",
                "refused": sync["rejection"]["detail"] if sync["rejection"] else None,
            },
        )
    )
    media = Table("#", "id", "version", "AVIV", "URL as sent", "reason", title="media", title_justify="left")
    media.columns[4].overflow = "fold"  # the timestamp at the URL's end is the point
    for index, item in enumerate(report["media"], start=1):
        status = item["status"] or "-"
        style = "red" if status.endswith("FAILED") else None
        media.add_row(
            str(index),
            item["id"],
            item["version"] or "-",
            status,
            item["url"],
            item["reason"] or "",
            style=style,
        )
    console.print(media)
    _render_problems(report)


def _render_problems(report: dict[str, Any]) -> None:
    if not report["problems"]:
        console.print("no open problem")
    for problem in report["problems"]:
        told = "told" if problem["notified"] else "not told yet"
        console.print(
            f"[red]problem[/] {problem['kind']} since {problem['since']} ({told}): {problem['detail']}"
        )
    notifications = report["notifications"]
    console.print(
        f"notifications sent: {len(notifications['sent'])}, waiting: {len(notifications['pending'])}"
    )


@guarded
def status(
    listing: Listing,
    as_json: Json = False,
    no_aviv: Annotated[
        bool, typer.Option("--no-aviv", help="Do not call AVIV: its status as reconcile saw it.")
    ] = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """A listing's whole state: versions, sync, AVIV's status, every media, open problems."""
    report = listing_status(open_stack(stack, profile, region), listing, read_aviv=not no_aviv)
    emit(report, as_json, lambda: _render_status(report))


def _render_diff(document: dict[str, Any]) -> None:
    console.print(f"[bold]{document['operation']}[/] {document['listingId']}: {document['reason']}")
    for key in ("added", "removed", "moved", "retitled", "redownloaded"):
        ids = document.get(key) or []
        console.print(f"  {key:13} {len(ids):3}  {', '.join(ids)}")
    if document.get("classifiedChanged"):
        console.print("  the listing's own data changed too")
    for error in document.get("errors") or []:
        console.print(f"  [red]error[/] {error}")
    for warning in document.get("warnings") or []:
        console.print(f"  [yellow]warning[/] {warning['message']} ({warning['pointer']})")


@guarded
def diff(
    listing: Listing,
    as_json: Json = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """What the next send would do, without calling AVIV: the operation and the media it changes."""
    conn = open_stack(stack, profile, region)
    desired = load_desired(conn, listing)
    last_sent, pending = conn.store.load_last_sent(listing), conn.store.load_pending(listing)
    document = preview(desired, last_sent, pending, conn.target.defaults, datetime.now(UTC)).to_dict()
    emit(document, as_json, lambda: _render_diff(document))
