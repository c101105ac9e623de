"""``vitrine dlq list`` and ``vitrine dlq redrive``: the sync dead-letter queue, and why each is there.

Messages are read with a short visibility timeout and made visible again at once (``list``), or
moved back to the sync queue and deleted (``redrive``). Why a listing is there is the last failed
attempt the sync function recorded on it (``vitrine status`` shows it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from vitrine.adapters.sqs_scheduler import parse_sync_request
from vitrine_cli.connection import Connection
from vitrine_cli.errors import ExitCode
from vitrine_cli.options import Json, Profile, Region, Stack, open_stack
from vitrine_cli.output import console, emit, guarded, progress

app = typer.Typer(help="The sync dead-letter queue: what is there and why; redrive.", no_args_is_help=True)
HOLD_SECONDS = 60  # long enough to read the whole queue; released right after


def _receive_all(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every message of the DLQ once (each stays hidden until released or deleted)."""
    while True:
        answer = conn.sqs.receive_message(
            QueueUrl=conn.target.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=HOLD_SECONDS,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        if not messages:
            return
        yield from messages


def _release(conn: Connection, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages[start : start + 10])
        ]
        conn.sqs.change_message_visibility_batch(QueueUrl=conn.target.dead_letter_queue_url, Entries=entries)


def _describe(conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes") or {}
    sent = datetime.fromtimestamp(int(attributes.get("SentTimestamp", "0")) / 1000, UTC)
    try:
        request = parse_sync_request(message.get("Body", ""))
    except ValueError:
        return {"listingId": None, "body": message.get("Body", "")[:200], "why": "not a sync message"}
    failure = conn.store.load_sync_failure(request.listing_id)
    return {
        "listingId": request.listing_id,
        "forced": request.force,
        "firstSentAt": sent.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "receives": int(attributes.get("ApproximateReceiveCount", "0")),
        "why": failure.error if failure else "no failure recorded (the listing was handled since)",
    }


def _render_list(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("the dead-letter queue is empty")
        return
    table = Table("listing", "first sent", "why", title=f"{len(rows)} dead-lettered")
    for row in rows:
        table.add_row(str(row.get("listingId")), str(row.get("firstSentAt", "-")), row["why"])
    console.print(table)


@app.command("list")
@guarded
def list_messages(
    as_json: Json = False, stack: Stack = None, profile: Profile = None, region: Region = None
) -> None:
    """What is dead-lettered and why. Exit 1 when the queue is not empty."""
    conn = open_stack(stack, profile, region)
    messages = list(progress(_receive_all(conn), "reading the dead-letter queue"))
    try:
        rows = [_describe(conn, m) for m in messages]
    finally:
        _release(conn, messages)
    emit({"count": len(rows), "messages": rows}, as_json, lambda: _render_list(rows))
    if rows:
        raise typer.Exit(int(ExitCode.NOT_FOUND))


def _redrive_one(conn: Connection, message: dict[str, Any]) -> None:
    """Back to the sync queue first, then out of the DLQ: a crash in between duplicates, never loses."""
    conn.sqs.send_message(QueueUrl=conn.target.sync_queue_url, MessageBody=message["Body"])
    conn.sqs.delete_message(
        QueueUrl=conn.target.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"]
    )


def _listing_of(message: dict[str, Any]) -> str | None:
    try:
        return parse_sync_request(message.get("Body", "")).listing_id
    except ValueError:
        return None


@app.command()
@guarded
def redrive(
    listing: Annotated[str | None, typer.Option("--listing", help="Only this listing's messages.")] = None,
    as_json: Json = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Move dead-lettered sync messages back to the sync queue (all, or one listing's), with counts."""
    conn = open_stack(stack, profile, region)
    messages = list(_receive_all(conn))
    chosen = [m for m in messages if listing is None or _listing_of(m) == listing]
    kept = [m for m in messages if m not in chosen]
    try:
        for message in progress(chosen, "redriving"):
            _redrive_one(conn, message)
    finally:
        _release(conn, kept)
    document = {
        "redriven": len(chosen),
        "left": len(kept),
        "listings": sorted({str(_listing_of(m)) for m in chosen}),
    }
    emit(
        document,
        as_json,
        lambda: console.print(f"redriven {len(chosen)}, left in the dead-letter queue {len(kept)}"),
    )
