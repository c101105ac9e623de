"""Plan one sync: timestamps, body, validation, warnings and diff, without side effects.

This is the hot path of every sync (and of every no-op sync), so it is linear in the media count
and does each per-media step once. ``bench/sync_core.py`` holds it to a small multiple of the cost
of ``json.dumps`` of the body it builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.diff import ClassifiedDiff, diff_classified
from vitrine.core.errors import FieldError
from vitrine.core.model import DesiredListing, LastSent, SentMedia, StampedMedia
from vitrine.core.moments import format_moment
from vitrine.core.quality import QualityWarning, quality_warnings
from vitrine.core.timestamps import assign_timestamps, sent_media_records, strip_timestamp
from vitrine.core.validation import duplicated_media_ids, validate_classified


@dataclass(frozen=True)
class SyncPlan:
    """Everything the sync needs to decide and to record: the exact body and what it changes."""

    body: dict[str, Any]
    stamped: tuple[StampedMedia, ...]
    sent_media: tuple[SentMedia, ...]
    diff: ClassifiedDiff
    errors: tuple[FieldError, ...]
    warnings: tuple[QualityWarning, ...]

    @property
    def is_valid(self) -> bool:
        """No error: AVIV should accept the body (warnings never block)."""
        return not self.errors

    def record(
        self, desired: DesiredListing, classified_id: str | None, agency: str | None, now: datetime
    ) -> LastSent:
        """What sending this plan leaves as last-sent (or writes ahead as pending)."""
        return LastSent(
            listing_id=desired.listing_id,
            classified_id=classified_id,
            body=self.body,
            media=list(self.sent_media),
            desired_version=desired.version,
            sent_at=format_moment(now),
            intermediary_id=agency,
            intermediary_recorded=True,
        )


def plan_sync(
    desired: DesiredListing,
    last_sent: LastSent | None,
    pending: LastSent | None,
    defaults: ClassifiedDefaults,
    now: datetime,
) -> SyncPlan:
    """Build the body ``desired`` should be sent as and compare it with what AVIV was last sent.

    Timestamps are kept from ``last_sent`` (when it is live) or reused from ``pending`` (the
    write-ahead copy of a send whose answer was lost), so planning again gives the same body.
    """
    last_media = last_sent.media_by_id() if last_sent is not None and not last_sent.deleted else {}
    pending_media = pending.media_by_id() if pending is not None else {}
    stamped = assign_timestamps(desired.media, last_media, pending_media, now)
    body = build_classified(desired, stamped, defaults)
    # strip_timestamp(aviv_url) == strip_timestamp(crm_url): the CRM URL is the cheaper one to strip.
    identities = [strip_timestamp(s.media.url) for s in stamped]
    errors = duplicated_media_ids(desired.media) + validate_classified(body, media_identities=identities)
    return SyncPlan(
        body=body,
        stamped=tuple(stamped),
        sent_media=tuple(sent_media_records(stamped, last_media)),
        diff=diff_classified(last_sent, body, stamped),
        errors=tuple(errors),
        warnings=tuple(quality_warnings(desired.media)),
    )
