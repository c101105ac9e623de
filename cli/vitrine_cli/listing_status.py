"""``vitrine status``: one listing's whole state as one JSON-ready document.

Read from the state table through the layer's stores (desired, sync bookkeeping, last send,
pending write-ahead, refusal, last failed attempt, reconciliation memory) plus, unless told not to,
AVIV's latest status of the classified, read live.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from requests import RequestException

from vitrine.core.errors import AvivError, AvivNotFound
from vitrine.core.model import DesiredListing, LastSent, SyncState
from vitrine.core.moments import format_moment
from vitrine.core.reconcile.aviv_status import FailedMedia
from vitrine.core.reconcile.records import StatusState
from vitrine.core.timestamps import strip_timestamp
from vitrine_cli.connection import Connection
from vitrine_cli.errors import NotFound


def load_desired(conn: Connection, listing_id: str) -> DesiredListing:
    desired = conn.store.load_desired(listing_id)
    if desired is None:
        raise NotFound(f"no listing {listing_id} in {conn.target.label}")
    return desired


def aviv_latest(conn: Connection, classified_id: str | None, intermediary_id: str | None) -> dict[str, Any]:
    """AVIV's latest status of the classified, or why there is none (never raises for AVIV)."""
    if not classified_id:
        return {"status": None, "note": "never accepted by AVIV"}
    try:
        latest = conn.aviv.latest_status(classified_id, intermediary_id=intermediary_id)
    except AvivNotFound:
        return {"status": None, "error": f"AVIV has no classified {classified_id} (resync creates it again)"}
    except (AvivError, RequestException) as error:
        return {"status": None, "error": f"cannot read AVIV: {error}"}
    if latest is None:
        return {"status": None, "note": "no status yet"}
    return dict(latest)


def _moment(value: datetime | None) -> str | None:
    return format_moment(value) if value is not None else None


def _sync_section(conn: Connection, state: SyncState | None) -> dict[str, Any]:
    listing_id = state.listing_id if state else ""
    failure = conn.store.load_sync_failure(listing_id) if state else None
    rejection = conn.store.load_rejection(listing_id) if state else None
    return {
        "dirty": bool(state and state.dirty),
        "dirtySince": _moment(state.first_unsent_at) if state else None,
        "lastEditAt": _moment(state.last_edit_at) if state else None,
        "scheduledUntil": _moment(state.sync_scheduled_until) if state else None,
        "lease": {"owner": state.lease_owner, "expiresAt": _moment(state.lease_expires_at)}
        if state and state.lease_owner
        else None,
        "attempts": failure.attempts if failure else 0,
        "lastError": failure.error if failure else None,
        "lastErrorAt": failure.at if failure else None,
        "inDeadLetterQueue": bool(failure and failure.dead_lettered),
        "rejection": {
            "desiredVersion": rejection.desired_version,
            "detail": rejection.detail,
            "errors": [e.to_dict() for e in rejection.errors],
            "at": _moment(rejection.at),
        }
        if rejection
        else None,
    }


def _media_statuses(latest: Mapping[str, Any]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for entry in latest.get("mediaStatuses") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("url"), str):
            statuses[entry["url"]] = str(entry.get("status"))
            statuses.setdefault(strip_timestamp(entry["url"]), str(entry.get("status")))
    return statuses


def _media_reason(media_id: str, status: str | None, reconcile: StatusState) -> str | None:
    retry = reconcile.retries.get(media_id)
    if retry is not None and retry.last_result:
        return f"{FailedMedia('', status or '').default_reason()}; its URL {retry.last_result}"
    if status in ("DOWNLOADING_FAILED", "CREATING_FAILED"):
        return FailedMedia("", status).default_reason()
    return None


def _media_section(
    desired: DesiredListing, last_sent: LastSent | None, latest: Mapping[str, Any], reconcile: StatusState
) -> list[dict[str, Any]]:
    """Every media in order: as sent (URL with its timestamp) when sent, else as the CRM gave it."""
    if last_sent is None or last_sent.deleted:
        return [
            {
                "id": m.id,
                "url": m.url,
                "timestamp": None,
                "version": m.version,
                "title": m.title,
                "status": None,
                "reason": "not sent yet",
            }
            for m in desired.media
        ]
    items = last_sent.body.get("media") or []
    statuses = _media_statuses(latest)
    out = []
    for record in sorted(last_sent.media, key=lambda m: m.position):
        item = items[record.position] if record.position < len(items) else {}
        url = str(item.get("url") or record.url)
        status = statuses.get(url) or statuses.get(strip_timestamp(url))
        out.append(
            {
                "id": record.id,
                "position": record.position + 1,
                "url": url,
                "timestamp": record.timestamp,
                "version": record.version,
                "title": item.get("title"),
                "status": status,
                "reason": _media_reason(record.id, status, reconcile),
            }
        )
    return out


def _problems(reconcile: StatusState) -> list[dict[str, Any]]:
    return [
        {
            "slot": slot,
            "kind": p.kind,
            "since": p.detected_at,
            "detail": p.subject,
            "status": p.status,
            "notified": p.notified,
            "mediaIds": list(p.media_ids),
            "id": p.fingerprint,
        }
        for slot, p in sorted(reconcile.problems.items())
    ]


_AVIV_KEYS = ("status", "statusDate", "message", "subStatus", "subStatusDetails", "revision", "portals")


def _aviv_section(latest: Mapping[str, Any]) -> dict[str, Any]:
    return {key: latest[key] for key in (*_AVIV_KEYS, "note", "error") if latest.get(key) is not None}


def _last_seen(reconcile: StatusState) -> dict[str, Any]:
    """``--no-aviv``: what reconcile last saw, without calling AVIV."""
    return {
        "status": reconcile.last_status,
        "statusDate": reconcile.last_status_date,
        "note": "last seen by reconcile (--no-aviv)",
    }


def listing_status(conn: Connection, listing_id: str, *, read_aviv: bool = True) -> dict[str, Any]:
    desired = load_desired(conn, listing_id)
    state = conn.store.load_sync_state(listing_id)
    last_sent = conn.store.load_last_sent(listing_id)
    reconcile = conn.statuses.load(listing_id)
    classified_id = last_sent.classified_id if last_sent else reconcile.classified_id
    latest = aviv_latest(conn, classified_id, desired.intermediary_id) if read_aviv else {}
    return {
        "listingId": listing_id,
        "ownerId": desired.owner_id,
        "agency": desired.intermediary_id or conn.target.aviv_intermediary_id,
        "classifiedId": classified_id,
        "portals": list(desired.portals or conn.target.defaults.default_portals),
        "deleted": desired.deleted,
        "desiredVersion": desired.version,
        "sentVersion": last_sent.desired_version if last_sent else None,
        "sentAt": last_sent.sent_at if last_sent else None,
        "pendingSend": conn.store.load_pending(listing_id) is not None,
        "status": latest.get("status") if read_aviv else reconcile.last_status,
        "aviv": _aviv_section(latest) if read_aviv else _last_seen(reconcile),
        "sync": _sync_section(conn, state),
        "media": _media_section(desired, last_sent, latest, reconcile),
        "problems": _problems(reconcile),
        "notifications": {"sent": list(reconcile.notified), "pending": [n.id for n in reconcile.outbox]},
    }
