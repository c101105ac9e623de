"""The scenarios the reconciliation core is tested with: a last send, AVIV statuses for it, one decision."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from vitrine.core.model import LastSent, SentMedia
from vitrine.core.reconcile.aviv_status import interpret_status, roll_to_send
from vitrine.core.reconcile.media_retry import UrlCheck
from vitrine.core.reconcile.policy import ReconcilePolicy
from vitrine.core.reconcile.records import ListingContext, Notification, StatusState
from vitrine.core.reconcile.send import reconcile_send
from vitrine.core.reconcile.wording import SUBJECT_MAX_LENGTH

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[4] / "schemas" / "notification.schema.json").read_text()
)


VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


LISTING = "ABC-12"


POLICY = ReconcilePolicy()


CONTEXT = ListingContext(listing_id=LISTING, owner_id="owner-7", classified_id="cl-1", portals=("SL",))


def photo_url(index: int) -> str:
    return f"https://media.crm.example/ABC-12/photo-{index}.jpg"


def sent(
    *, count: int = 3, at: datetime = T0, stamp: str = "2026-03-02T09:00:00", version: int = 4, **kw: Any
) -> LastSent:
    """A last-sent record whose body and per-media records agree (photo i sent at position i)."""
    items = [
        {
            "url": f"{photo_url(i)}?timestamp={stamp}",
            "mediaType": "PICTURE",
            "title": f"Séjour {i}" if i != 2 else None,
        }
        for i in range(count)
    ]
    for item in items:
        if item["title"] is None:
            del item["title"]
    body = {"portals": ["SL"], "data": {"estateType": "APARTMENT"}, "media": items}
    media = [SentMedia(f"m{i}", photo_url(i), f"v{i}", stamp, i) for i in range(count)]
    return LastSent(
        listing_id=LISTING,
        classified_id="cl-1",
        body=body,
        media=media,
        desired_version=version,
        sent_at=at.isoformat(),
        **kw,
    )


def status(
    name: str,
    *,
    at: datetime | None = None,
    failed: dict[int, str] | None = None,
    last: LastSent | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An AVIV status item for ``last`` (default ``sent()``), photos in ``failed`` with their media status."""
    last = last or sent()
    item: dict[str, Any] = {
        "statusId": "st-1",
        "classifiedId": "cl-1",
        "portals": ["SL"],
        "status": name,
        "message": f"message of {name}",
        "statusDate": ((at or T0 + timedelta(seconds=30)).isoformat(timespec="milliseconds")).replace(
            "+00:00", "Z"
        ),
    }
    if failed is not None:
        item["mediaStatuses"] = [
            {"url": entry["url"], "status": failed.get(i, "UPDATED")}
            for i, entry in enumerate(last.body["media"])
        ]
    item.update(extra)
    return item


def decide(
    state: StatusState,
    item: dict[str, Any] | None,
    *,
    last: LastSent | None = None,
    now: datetime = T0 + timedelta(minutes=1),
    policy: ReconcilePolicy = POLICY,
    checks: dict[str, UrlCheck] | None = None,
) -> Any:
    last = last or sent()
    reading = interpret_status(item, last, roll_to_send(state.copy(), last), policy)
    return reconcile_send(state, last, reading, CONTEXT, now=now, policy=policy, url_checks=checks)


def assert_valid(notification: Notification) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(dict(notification.body))]
    assert not errors, errors
    assert notification.subject == notification.body["subject"]
    assert len(notification.subject) <= SUBJECT_MAX_LENGTH and notification.subject.isascii()


def fresh() -> StatusState:
    return StatusState(listing_id=LISTING)


RETRY = ReconcilePolicy(auto_media_retry=True, retry_attempts=3, retry_backoff=timedelta(minutes=5))


FAILING = {1: "DOWNLOADING_FAILED"}
