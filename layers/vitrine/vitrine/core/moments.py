"""The one way vitrine writes and reads a moment in time.

Every time vitrine stores or sends (DynamoDB conditions and keys, records, notifications) is a
fixed-width UTC string, ``2026-02-13T09:25:57.000000Z``, so that string order is time order: the
conditional writes and the sparse indexes compare these strings directly. Reading is lenient:
AVIV's dates, offsets, ``Z`` and the ``isoformat()`` strings older items carry all parse.
(The media ``timestamp`` in a URL is another thing, AVIV's second-precision value:
``core.timestamps``.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

MOMENT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_moment(moment: datetime) -> str:
    """Fixed-width UTC ISO (``2026-02-13T09:25:57.000000Z``): string order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(MOMENT_FORMAT)


def parse_moment(raw: Any) -> datetime | None:
    """AVIV's and our ISO date-times (``Z`` or offset; naive means UTC); None when absent or garbled."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
